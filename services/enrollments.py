"""Enrollments (投保): start a case's process, find it, read its state, and act on it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from core.crypto import FieldCipher
from core.passwords import hash_password_async
from db.models import Enrollment
from db.repositories import credentials, enrollments
from domain.clocks import ProcessClocks
from domain.enrollment import CustomerDetails, EnrollmentState, PaymentMethod, Quote, Stage, Status
from domain.identity import InvalidIdNumber, parse_id_number
from domain.texts import N_
from domain.underwriting import Actor
from services.contact import check_bank_account, check_phone, seal_account
from services.problems import ProblemError
from services.processes import is_not_found, run_own_update, sees_all
from workflows import search_attributes as sa
from workflows.enrollment import EnrollmentWorkflow, workflow_id_for
from workflows.inputs import ApplicationSubmit, EnrollmentStart, QuoteRequest, Withdrawal

_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


@dataclass(frozen=True)
class NewCustomer:
    """The customer as the agent entered them, not yet checked."""

    name: str
    id_number: str
    phone: str
    email: str | None = None


@dataclass(frozen=True)
class EnrollmentStarted:
    """The enrollment a start named: a new one at consultation, or the one an
    Idempotency-Key names already (where it is now)."""

    enrollment_id: str
    workflow_id: str
    stage: Stage
    status: Status


async def start_enrollment(
    client: Client,
    user: Actor,
    customer: NewCustomer,
    needs: Mapping[str, Any] | None,
    *,
    idempotency_key: str | None,
    secret: str,
    task_queue: str,
    clocks: ProcessClocks,
) -> EnrollmentStarted:
    """Start an enrollment at consultation for `user` (an agent). The ID number gives
    birth date and age; it is checked here (GB 11643). With an `idempotency_key` a retry
    names the same process and gets the same case, and the key used for another customer
    is refused. `secret` keys the application number and the customer's digest."""
    if idempotency_key is not None and not _KEY_RE.match(idempotency_key):
        raise ProblemError(
            422,
            "invalid_idempotency_key",
            N_("Invalid Idempotency-Key"),
            N_("8-128 characters: letters, digits and _ . : -"),
        )
    try:
        identity = parse_id_number(customer.id_number)
    except InvalidIdNumber as err:
        raise ProblemError(422, "invalid_id_number", N_("Invalid ID number"), str(err)) from None
    check_phone(customer.phone)
    conditions = (needs or {}).get("health_conditions") or []
    if not isinstance(conditions, list) or not all(isinstance(c, str) for c in conditions):
        raise ProblemError(
            422,
            "validation_error",
            N_("Invalid needs"),
            N_("needs.health_conditions must be a list of strings"),
        )

    application_no = _application_no(secret, user.username, idempotency_key)
    details = CustomerDetails(
        name=customer.name,
        id_number=customer.id_number.upper(),
        phone=customer.phone,
        email=customer.email,
    )
    start = EnrollmentStart(
        application_no=application_no,
        agent=user.username,
        customer=details,
        birth_date=identity.birth_date,
        declared_conditions=conditions,
        clocks=clocks,
        customer_digest=_customer_digest(secret, details),
    )
    workflow_id = workflow_id_for(application_no)
    try:
        handle = await client.start_workflow(
            EnrollmentWorkflow.run,
            start,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=sa.at_start(
                "enrollment", user.username, Stage.CONSULTATION.value, Status.IN_PROGRESS.value
            ),
        )
    except WorkflowAlreadyStartedError:
        handle = enrollment_handle(client, application_no)  # closed already: same case
    if idempotency_key is None:
        return EnrollmentStarted(
            application_no, workflow_id, Stage.CONSULTATION, Status.IN_PROGRESS
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
        raise ProblemError(
            422,
            "idempotency_key_reused",
            N_("Idempotency-Key reused"),
            N_("this key was used for a different customer"),
        )
    return EnrollmentStarted(application_no, workflow_id, state.stage, state.status)


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


def enrollment_handle(client: Client, enrollment_id: str) -> WorkflowHandle[Any, EnrollmentState]:
    return client.get_workflow_handle_for(EnrollmentWorkflow.run, workflow_id_for(enrollment_id))


async def enrollment_state(
    client: Client, enrollment_id: str, user: Actor
) -> tuple[WorkflowHandle[Any, EnrollmentState], EnrollmentState]:
    """The live state of an enrollment the caller may see; 404 otherwise (an agent asking
    for someone else's case learns nothing, not even that it exists)."""
    handle = enrollment_handle(client, enrollment_id)
    try:
        state = await handle.query(EnrollmentWorkflow.state)
    except RPCError as err:
        if is_not_found(err):
            raise _not_found() from None
        raise
    if not sees_all(user) and state.agent != user.username:
        raise _not_found()
    return handle, state


async def read_enrollment(
    temporal: Callable[[], Awaitable[Client]],
    session: AsyncSession,
    enrollment_id: str,
    user: Actor,
) -> EnrollmentState:
    """An enrollment's state for reading. A finished process's comes from the read model:
    its last record is its final state, written before it completed, and asking the
    process instead would make a worker replay its whole history (it is no longer cached)
    to answer. A running one is asked (a query), as in ``enrollment_state``: only then is
    Temporal needed (`temporal` gives the client), so a finished case reads while it is
    down."""
    row = await enrollments.get_enrollment(session, application_no=enrollment_id)
    await session.commit()
    if row is not None and row.status != Status.IN_PROGRESS.value:
        state = EnrollmentState.model_validate(row.state)
        if not sees_all(user) and state.agent != user.username:
            raise _not_found()
        return state
    _, state = await enrollment_state(await temporal(), enrollment_id, user)
    return state


def _not_found() -> ProblemError:
    return ProblemError(404, "enrollment_not_found", N_("No such enrollment"), "")


async def list_enrollments(
    session: AsyncSession,
    user: Actor,
    *,
    stage: Stage | None,
    status: Status | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Enrollment], str | None]:
    """The caller's enrollments (an agent) or all of them (supervisor, ops), newest first,
    and the cursor of the next page; 422 ``invalid_cursor`` for a cursor not ours."""
    try:
        return await enrollments.list_enrollments(
            session,
            agent=None if sees_all(user) else user.username,
            stage=stage.value if stage else None,
            status=status.value if status else None,
            cursor=cursor or None,  # an empty `cursor=` is the first page
            limit=limit,
        )
    except ValueError:
        raise ProblemError(422, "invalid_cursor", N_("Invalid cursor"), "") from None


async def quote(
    client: Client, enrollment_id: str, user: Actor, *, product_code: str, sum_insured: Decimal
) -> Quote:
    """Price a product for the customer of the caller's own case."""
    result: Quote = await run_own_update(
        enrollment_handle(client, enrollment_id),
        EnrollmentWorkflow.quote,
        QuoteRequest(product_code=product_code, sum_insured=sum_insured, by=user.username),
        user,
        _not_found,
    )
    return result


async def submit_application(
    client: Client,
    session: AsyncSession,
    enrollment_id: str,
    user: Actor,
    *,
    quote_id: str,
    payment_method: PaymentMethod,
    bank_account: str | None,
    consent: bool,
    start_date: date | None,
    query_password: str,
    cipher: FieldCipher,
) -> EnrollmentState:
    """Submit the signed application of the caller's own case; verification and
    underwriting then run by themselves. The query password is stored as an argon2id hash
    for the customer's policy look-up and never enters the process."""
    if bank_account is not None:
        check_bank_account(bank_account)
    # argon2id takes ~20 ms of CPU: off the event loop, while the process takes the
    # application, and before the write lock is taken. A refused application's hash is
    # simply dropped.
    hashing = asyncio.ensure_future(hash_password_async(query_password))
    try:
        state: EnrollmentState = await run_own_update(
            enrollment_handle(client, enrollment_id),
            EnrollmentWorkflow.submit_application,
            ApplicationSubmit(
                quote_id=quote_id,
                payment_method=payment_method,
                bank_account=bank_account,
                payment_account=seal_account(cipher, bank_account),
                consent=consent,
                start_date=start_date,
                by=user.username,
            ),
            user,
            _not_found,
        )
    finally:
        password_hash = await hashing
    async with session.begin():
        await credentials.store_query_credential(
            session, application_no=enrollment_id, password_hash=password_hash
        )
    return state


async def withdraw(client: Client, enrollment_id: str, user: Actor, reason: str) -> EnrollmentState:
    """Withdraw the application of the caller's own case; the process allows it until the
    premium is being collected."""
    state: EnrollmentState = await run_own_update(
        enrollment_handle(client, enrollment_id),
        EnrollmentWorkflow.withdraw,
        Withdrawal(by=user.username, reason=reason),
        user,
        _not_found,
    )
    return state
