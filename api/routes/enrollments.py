"""Enrollment (投保): an agent takes a customer from consultation to an effective policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, status
from pydantic import BaseModel, Field

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
from domain.enrollment import EnrollmentState, MaskedCustomer, PaymentMethod, Stage, Status
from services import enrollments

router = APIRouter(prefix="/v1/enrollments", tags=["enrollments"])

# The problems these routes answer with themselves. What every route of its kind answers
# (401, 403, 503, body and validation errors, 500) is documented app-wide: see
# api.errors.install_problem_openapi. `process_refused`: an Update refused for a reason
# with no code of its own (services.processes.refusal); `process_closed`: one the process ended
# before taking (services.processes.run_update).
_NOT_FOUND = {404: "enrollment_not_found"}
_REFUSED = {409: ["process_refused", "process_closed"]}
_NOT_YOURS = {403: "not_your_case"}


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
    started = await enrollments.start_enrollment(
        client,
        user,
        enrollments.NewCustomer(**body.customer.model_dump()),
        body.needs,
        idempotency_key=idempotency_key,
        secret=settings.resolved_jwt_secret(),
        task_queue=settings.task_queue,
        clocks=settings.clocks,
    )
    return EnrollmentAccepted(
        enrollment_id=started.enrollment_id,
        workflow_id=started.workflow_id,
        stage=started.stage,
        status=started.status,
    )


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
    rows, next_cursor = await enrollments.list_enrollments(
        session, user, stage=stage, status=status_, cursor=cursor, limit=limit
    )
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
    state = await enrollments.read_enrollment(temporal, session, enrollment_id, user)
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
    q = await enrollments.quote(
        client,
        enrollment_id,
        user,
        product_code=body.product_code,
        sum_insured=body.sum_insured,
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
    request: Request,
    enrollment_id: str,
    body: ApplicationCreate,
    user: AgentUser,
    client: TemporalDep,
    session: SessionDep,
) -> EnrollmentRead:
    """Submit the signed application; verification and underwriting then run by themselves.
    The query password is stored as an argon2id hash for the customer's policy look-up and
    never enters the process."""
    state = await enrollments.submit_application(
        client,
        session,
        enrollment_id,
        user,
        quote_id=body.quote_id,
        payment_method=body.payment_method,
        bank_account=body.bank_account,
        consent=body.consent,
        start_date=body.start_date,
        query_password=body.query_password,
        cipher=request.app.state.field_cipher,
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
    state = await enrollments.withdraw(client, enrollment_id, user, body.reason)
    return EnrollmentRead.of(state)
