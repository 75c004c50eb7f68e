"""Enrollment (投保): an agent takes a customer from consultation to an effective policy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import (
    AgentUser,
    CurrentUser,
    LazyTemporalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.openapi import problem_responses
from api.schemas import FreeText, Money, NameText, StrictDate, StrictModel
from core.passwords import hash_password
from db.repositories import credentials, enrollments
from domain.enrollment import (
    CustomerDetails,
    EnrollmentState,
    MaskedCustomer,
    PaymentMethod,
    Quote,
    Stage,
    Status,
)
from domain.identity import InvalidIdNumber, parse_id_number
from services.enrollments import enrollment_handle, enrollment_state, read_enrollment
from services.problems import ProblemError
from services.processes import require_own_case, run_update, sees_all
from workflows import search_attributes as sa
from workflows.enrollment import EnrollmentWorkflow, workflow_id_for
from workflows.inputs import ApplicationSubmit, EnrollmentStart, QuoteRequest, Withdrawal

router = APIRouter(prefix="/v1/enrollments", tags=["enrollments"])

# The problems these routes answer with themselves. What every route of its kind answers
# (401, 403, 503, body and validation errors, 500) is documented app-wide: see
# api.errors.install_problem_openapi. `process_refused`: an Update refused for a reason
# with no code of its own (services.processes.refusal); `process_closed`: one the process ended
# before taking (services.processes.run_update).
_NOT_FOUND = {404: "enrollment_not_found"}
_REFUSED = {409: ["process_refused", "process_closed"]}
_NOT_YOURS = {403: "not_your_case"}

_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
# 5-20 characters with at least five digits: spaces and dashes only separate them.
_PHONE_RE = re.compile(r"^(?=(?:[^0-9]*[0-9]){5})\+?[0-9 -]{5,20}$")
_ACCOUNT_RE = re.compile(r"^[0-9]{12,19}$")


# --- request and response bodies ------------------------------------------------------


class CustomerIn(StrictModel):
    name: NameText = Field(min_length=1, max_length=100)
    id_number: str = Field(description="18-character PRC resident ID (GB 11643)")
    phone: str
    email: str | None = Field(default=None, max_length=254)


class EnrollmentCreate(StrictModel):
    customer: CustomerIn
    needs: dict[str, Any] | None = Field(
        default=None,
        description="What the customer wants covered; `health_conditions` (a list) "
        "sends the case to a person for underwriting.",
    )


class EnrollmentAccepted(BaseModel):
    enrollment_id: str
    workflow_id: str
    stage: Stage
    status: Status


class QuoteCreate(StrictModel):
    product_code: str
    sum_insured: Annotated[Money, Field(gt=0)]


class QuoteRead(BaseModel):
    quote_id: str
    product_code: str
    sum_insured: Money
    premium: Money
    valid_until: datetime


class ApplicationCreate(StrictModel):
    quote_id: str
    payment_method: PaymentMethod
    bank_account: str | None = None
    query_password: str = Field(min_length=6, max_length=128)
    consent: bool
    start_date: StrictDate | None = None


class WithdrawalCreate(StrictModel):
    reason: FreeText = Field(default="", max_length=500)


class UnderwritingRead(BaseModel):
    decision: Literal["approve", "reject"] | None = None
    decided_by: str | None = None
    reason: str | None = None


class PaymentRead(BaseModel):
    method: PaymentMethod | None = None
    order_id: str | None = None
    status: str
    amount: Money | None = None
    due_at: datetime | None = None


class HistoryRead(BaseModel):
    stage: Stage
    status: Status
    at: datetime
    by: str
    note: str | None = None


class EnrollmentRead(BaseModel):
    enrollment_id: str
    workflow_id: str
    agent: str
    stage: Stage
    status: Status
    customer: MaskedCustomer
    quote: QuoteRead | None = None
    verification: list[dict[str, Any]] = []
    underwriting: UnderwritingRead
    payment: PaymentRead
    policy_number: str | None = None
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    failure_code: str | None = None
    history: list[HistoryRead]

    @classmethod
    def of(cls, state: EnrollmentState) -> EnrollmentRead:
        return cls(
            enrollment_id=state.enrollment_id,
            workflow_id=state.workflow_id,
            agent=state.agent,
            stage=state.stage,
            status=state.status,
            customer=state.customer,
            quote=QuoteRead.model_validate(state.quote.model_dump()) if state.quote else None,
            verification=[c.model_dump() for c in state.verification.checks]
            if state.verification
            else [],
            underwriting=UnderwritingRead.model_validate(state.underwriting.model_dump()),
            payment=PaymentRead.model_validate(state.payment.model_dump()),
            policy_number=state.policy_number,
            effective_at=state.effective_at,
            expires_at=state.expires_at,
            failure_code=state.failure_code,
            history=[HistoryRead.model_validate(h.model_dump()) for h in state.history],
        )


class EnrollmentSummary(BaseModel):
    enrollment_id: str
    workflow_id: str
    agent: str
    stage: str
    status: str
    product_code: str | None
    sum_insured: Money | None
    premium: Money | None
    policy_number: str | None
    created_at: datetime
    updated_at: datetime


class EnrollmentPage(BaseModel):
    items: list[EnrollmentSummary]
    next_cursor: str | None


# --- routes ---------------------------------------------------------------------------


def _application_no(secret: str, agent: str, idempotency_key: str | None) -> str:
    """A business key for the new enrollment. With an Idempotency-Key it is derived from
    (agent, key), so a retried request names the same workflow and gets the same case."""
    if idempotency_key is None:
        raw = secrets.token_bytes(8)
    else:
        raw = hmac.new(
            secret.encode(), f"{agent}\n{idempotency_key}".encode(), hashlib.sha256
        ).digest()
    return "E" + base64.b32encode(raw).decode()[:12]


def _customer_digest(secret: str, customer: CustomerDetails) -> str:
    """A keyed hash of who the customer really is (ID number and name), so an
    Idempotency-Key retried for another person is caught even when the masked details
    coincide, without the ID number in clear in the process state."""
    identity = f"customer\n{customer.id_number.upper()}\n{customer.name.strip()}"
    return hmac.new(secret.encode(), identity.encode(), hashlib.sha256).hexdigest()


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EnrollmentAccepted,
    responses=problem_responses(
        {
            422: [
                "invalid_idempotency_key",
                "invalid_id_number",
                "invalid_phone",
                "idempotency_key_reused",
            ]
        },
    ),
)
async def create_enrollment(
    body: EnrollmentCreate,
    user: AgentUser,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> EnrollmentAccepted:
    """Start an enrollment at consultation. The ID number gives birth date and age; it is
    checked here (GB 11643) and never echoed back. `Idempotency-Key` makes a retry return
    the same enrollment."""
    if idempotency_key is not None and not _KEY_RE.match(idempotency_key):
        raise ProblemError(422, "invalid_idempotency_key", "Invalid Idempotency-Key",
                           "8-128 characters: letters, digits and _ . : -")  # fmt: skip
    try:
        identity = parse_id_number(body.customer.id_number)
    except InvalidIdNumber as err:
        raise ProblemError(422, "invalid_id_number", "Invalid ID number", str(err)) from None
    if not _PHONE_RE.match(body.customer.phone):
        raise ProblemError(422, "invalid_phone", "Invalid phone number", "5-20 digits")
    conditions = (body.needs or {}).get("health_conditions") or []
    if not isinstance(conditions, list) or not all(isinstance(c, str) for c in conditions):
        raise ProblemError(422, "validation_error", "Invalid needs",
                           "needs.health_conditions must be a list of strings")  # fmt: skip

    secret = settings.resolved_jwt_secret()
    application_no = _application_no(secret, user.username, idempotency_key)
    details = CustomerDetails(
        **body.customer.model_dump() | {"id_number": body.customer.id_number.upper()}
    )
    start = EnrollmentStart(
        application_no=application_no,
        agent=user.username,
        customer=details,
        birth_date=identity.birth_date,
        declared_conditions=conditions,
        clocks=settings.clocks,
        customer_digest=_customer_digest(secret, details),
    )
    workflow_id = workflow_id_for(application_no)
    try:
        handle = await client.start_workflow(
            EnrollmentWorkflow.run,
            start,
            id=workflow_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.PROCESS, "enrollment"),
                    SearchAttributePair(sa.AGENT, user.username),
                    SearchAttributePair(sa.STAGE, Stage.CONSULTATION.value),
                    SearchAttributePair(sa.STATUS, Status.IN_PROGRESS.value),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        handle = enrollment_handle(client, application_no)  # closed already: same case
    if idempotency_key is None:
        return EnrollmentAccepted(
            enrollment_id=application_no,
            workflow_id=workflow_id,
            stage=Stage.CONSULTATION,
            status=Status.IN_PROGRESS,
        )
    state = await handle.query(EnrollmentWorkflow.state)
    # A process started before the digest existed has none: its masked customer is all
    # there is to compare.
    same = (
        state.customer_digest == start.customer_digest
        if state.customer_digest is not None
        else state.customer == start.customer.masked()
    )
    if not same:
        raise ProblemError(422, "idempotency_key_reused", "Idempotency-Key reused",
                           "this key was used for a different customer")  # fmt: skip
    return EnrollmentAccepted(
        enrollment_id=application_no, workflow_id=workflow_id, stage=state.stage,
        status=state.status,
    )  # fmt: skip


@router.get("", response_model=EnrollmentPage, responses=problem_responses({422: "invalid_cursor"}))
async def list_enrollments(
    user: CurrentUser,
    session: SessionDep,
    stage: Stage | None = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EnrollmentPage:
    """The caller's enrollments (an agent) or all of them (supervisor, ops), newest first."""
    try:
        rows, next_cursor = await enrollments.list_enrollments(
            session,
            agent=None if sees_all(user) else user.username,
            stage=stage.value if stage else None,
            status=status_.value if status_ else None,
            cursor=cursor or None,  # an empty `cursor=` is the first page
            limit=limit,
        )
    except ValueError:
        raise ProblemError(422, "invalid_cursor", "Invalid cursor", "") from None
    return EnrollmentPage(
        items=[
            EnrollmentSummary(
                enrollment_id=r.application_no,
                workflow_id=r.workflow_id,
                agent=r.agent,
                stage=r.stage,
                status=r.status,
                product_code=r.product_code,
                sum_insured=r.sum_insured,
                premium=r.premium,
                policy_number=r.policy_number,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/{enrollment_id}", response_model=EnrollmentRead, responses=problem_responses(_NOT_FOUND)
)
async def get_enrollment(
    enrollment_id: str, user: CurrentUser, temporal: LazyTemporalDep, session: SessionDep
) -> EnrollmentRead:
    """One enrollment as the process sees it now: stage, quote, underwriting, payment, history.
    Personal data is masked. A finished enrollment is read from the read model (its final
    state), even while the workflow service is down; a running one from the process."""
    state = await read_enrollment(temporal, session, enrollment_id, user)
    return EnrollmentRead.of(state)


@router.post(
    "/{enrollment_id}/quote",
    response_model=QuoteRead,
    responses=problem_responses(
        _NOT_FOUND,
        _NOT_YOURS,
        {409: "invalid_stage"},
        _REFUSED,
        {422: ["sum_insured_out_of_range", "age_not_eligible", "unknown_product"]},
    ),
)
async def quote(
    enrollment_id: str, body: QuoteCreate, user: AgentUser, client: TemporalDep
) -> QuoteRead:
    """Price a product for the customer. Out-of-range sum or age: 422
    `sum_insured_out_of_range` / `age_not_eligible`."""
    handle, current = await enrollment_state(client, enrollment_id, user)
    require_own_case(current.agent, user)
    q: Quote = await run_update(
        handle,
        EnrollmentWorkflow.quote,
        QuoteRequest(
            product_code=body.product_code, sum_insured=body.sum_insured, by=user.username
        ),
    )
    return QuoteRead.model_validate(q.model_dump())


@router.post(
    "/{enrollment_id}/application",
    response_model=EnrollmentRead,
    responses=problem_responses(
        _NOT_FOUND,
        _NOT_YOURS,
        {409: "invalid_stage"},
        _REFUSED,
        {
            422: [
                "invalid_bank_account",
                "unknown_quote",
                "quote_expired",
                "consent_required",
                "bank_account_required",
                "invalid_start_date",
            ]
        },
    ),
)
async def submit_application(
    enrollment_id: str,
    body: ApplicationCreate,
    user: AgentUser,
    client: TemporalDep,
    session: SessionDep,
) -> EnrollmentRead:
    """Submit the signed application; verification and underwriting then run by themselves.
    The query password is stored as an argon2id hash for the customer's policy look-up and
    never enters the process."""
    if body.bank_account is not None and not _ACCOUNT_RE.match(body.bank_account):
        raise ProblemError(422, "invalid_bank_account", "Invalid bank account", "12-19 digits")
    handle, current = await enrollment_state(client, enrollment_id, user)
    require_own_case(current.agent, user)
    state = await run_update(
        handle,
        EnrollmentWorkflow.submit_application,
        ApplicationSubmit(
            quote_id=body.quote_id,
            payment_method=body.payment_method,
            bank_account=body.bank_account,
            consent=body.consent,
            start_date=body.start_date,
            by=user.username,
        ),
    )
    # argon2id takes ~0.2 s of CPU: off the event loop, and before the write lock is taken.
    password_hash = await run_in_threadpool(hash_password, body.query_password)
    async with session.begin():
        await credentials.store_query_credential(
            session, application_no=enrollment_id, password_hash=password_hash
        )
    return EnrollmentRead.of(state)


@router.post(
    "/{enrollment_id}/withdraw",
    response_model=EnrollmentRead,
    responses=problem_responses(_NOT_FOUND, _NOT_YOURS, {409: "withdraw_not_allowed"}, _REFUSED),
)
async def withdraw(
    enrollment_id: str, body: WithdrawalCreate, user: AgentUser, client: TemporalDep
) -> EnrollmentRead:
    """Withdraw the application; allowed until the premium is being collected."""
    handle, current = await enrollment_state(client, enrollment_id, user)
    require_own_case(current.agent, user)
    state = await run_update(
        handle, EnrollmentWorkflow.withdraw, Withdrawal(by=user.username, reason=body.reason)
    )
    return EnrollmentRead.of(state)
