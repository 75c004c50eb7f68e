"""The policy: the staff's side of its process (list and read policies and where their
premiums stand, and each request the policy's process takes: the receipt, the cooling-off
cancellation, the return visit, the remediation, premium reminders), and the customer's
own look-up.

The staff's side: an agent sees their own customers' policies, supervisors, ops, admins
and customer service all of them. A finished policy reads from the read model, a running
one from its process (a query). A request to a policy whose process has ended is refused
from the read model (409 ``policy_closed``) without asking Temporal: the process is gone.
Every request carries the person who made it; the process's validators decide (the
selling agent never records their own sale's return visit: ``four_eyes_violation``).

The customer's own policy look-up: no account, no token — policy number, ID number and
the query password chosen at application time.

One answer for any mismatch (401 ``verification_failed``), with the same work done whether
the policy exists or not (a keyed hash and an argon2id check, against a dummy when there is
nothing to check against). Five failures for one policy number within 15 minutes lock it
(423 ``locked``) until the window passes; the failures are counted from the audit log, so a
restart does not reset them. Each client address is also rate-limited. Every attempt is
audited, without the ID number or the password.
"""

from __future__ import annotations

import hmac
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from core.crypto import FieldCipher
from core.passwords import verify_and_rehash_async
from db.models import Claim, Customer, PaymentLedger, Policy, utcnow
from db.repositories import audit, claims, credentials, customers, ledger, policies
from domain.clocks import ProcessClocks
from domain.masking import mask_account, mask_phone
from domain.policies import PolicyState, PolicyStatus, ReturnVisitDecision, is_live
from domain.policy_query import FAILED, LOCK_AFTER, LOCK_WINDOW, LOCKED, SUCCEEDED
from domain.premiums import PremiumStanding, premium_standing
from domain.products import Product, get_product
from domain.texts import N_
from domain.underwriting import Actor, Role
from services.audit import Caller
from services.audit import record as record_audit
from services.contact import check_bank_account, check_phone, seal, seal_account
from services.problems import ProblemError, refused
from services.processes import is_not_found, run_update, sees_all
from workflows.inputs import (
    PolicyCancellation,
    ReceiptSigned,
    ReinstatementApplication,
    ReinstatementDecision,
    RemediationResolution,
    RenewalDecision,
    ReturnVisitOutcome,
    ServicingChange,
    SurrenderRequest,
    ValuePayoutFix,
)
from workflows.policy import PolicyWorkflow, workflow_id_for

Temporal = Callable[[], Awaitable[Client]]


# --- the staff's side: reading ----------------------------------------------------------


def sees_every_policy(user: Actor) -> bool:
    """Supervisors, ops, admins and customer service see every policy; an agent their own."""
    return sees_all(user) or user.has(Role.SERVICE)


def _not_found() -> ProblemError:
    return ProblemError(404, "policy_not_found", N_("No such policy"), "")


async def list_policies(
    session: AsyncSession,
    user: Actor,
    *,
    status: PolicyStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Policy], str | None]:
    """The caller's customers' policies (an agent) or all of them, newest first, from the
    read model: one page and the next page's cursor; 422 ``invalid_cursor``."""
    try:
        rows, following = await policies.list_policies(
            session,
            agent=None if sees_every_policy(user) else user.username,
            status=status.value if status else None,
            cursor=cursor or None,  # an empty `cursor=` is the first page
            limit=limit,
        )
    except ValueError:
        raise ProblemError(422, "invalid_cursor", N_("Invalid cursor"), "") from None
    await session.commit()
    return rows, following


async def _visible_row(session: AsyncSession, number: str, user: Actor) -> Policy:
    """The policy's row if the caller may see it; 404 otherwise (an agent asking for
    another's policy learns nothing, not even that it exists)."""
    row = await policies.get_policy(session, policy_number=number)
    await session.commit()
    if row is None or not (sees_every_policy(user) or row.agent == user.username):
        raise _not_found()
    return row


def last_recorded_state(row: Policy) -> PolicyState | None:
    """The state the policy's process last recorded on its row; None before its first."""
    return None if row.state is None else PolicyState.model_validate(row.state)


def _handle(client: Client, number: str) -> WorkflowHandle[Any, PolicyState]:
    return client.get_workflow_handle_for(PolicyWorkflow.run, workflow_id_for(number))


async def read_policy(
    temporal: Temporal, session: AsyncSession, number: str, user: Actor
) -> PolicyState:
    """A policy's state for reading. A finished policy's comes from the read model (its
    process's last record, written before it ended), so it reads while Temporal is down;
    a running one is asked (a query), only then connecting to Temporal."""
    row = await _visible_row(session, number, user)
    recorded = last_recorded_state(row)
    if recorded is not None and not is_live(row.status):
        return recorded
    try:
        return await _handle(await temporal(), number).query(PolicyWorkflow.state)
    except RPCError as err:
        if is_not_found(err) and recorded is not None:
            return recorded
        if is_not_found(err):
            raise _not_found() from None
        raise


def premiums_of(state: PolicyState, clocks: ProcessClocks) -> PremiumStanding:
    """Where the policy's premiums stand now: its schedule, what is due and by when, grace,
    suspension and the reinstatement deadline, the cash value (domain.premiums)."""
    return premium_standing(state, on=utcnow(), clocks=clocks)


# --- the staff's side: the policy's requests --------------------------------------------


@dataclass(frozen=True)
class VisitRecord:
    """What customer service records of one return-visit call."""

    decision: ReturnVisitDecision
    checklist: dict[str, bool] = field(default_factory=dict)
    reason: str = ""
    dual_recording_checked: bool | None = None


async def _open_handle(
    temporal: Temporal,
    session: AsyncSession,
    number: str,
    user: Actor,
    *,
    as_reader: bool,
    own_or_service: bool = False,
) -> WorkflowHandle[Any, PolicyState]:
    """The running policy's process. 404 for a policy the caller may not see (unless
    `as_reader`: the process's validator, not a 404, then answers who may act), 409
    ``policy_closed`` from the read model for one that has ended, before any Temporal call;
    with `own_or_service`, 403 ``not_your_case`` for anyone but the policy's agent and
    customer service."""
    row = await policies.get_policy(session, policy_number=number)
    await session.commit()
    if row is None or not (as_reader or sees_every_policy(user) or row.agent == user.username):
        raise _not_found()
    if not is_live(row.status):
        raise refused("policy_closed")
    if own_or_service and not (row.agent == user.username or user.has(Role.SERVICE)):
        raise refused("not_your_case")
    return _handle(await temporal(), number)


async def _update(handle: WorkflowHandle[Any, PolicyState], update: Any, arg: Any) -> PolicyState:
    """The Update, with the policy's words for a process that ended meanwhile."""
    try:
        state: PolicyState = await run_update(handle, update, arg)
    except ProblemError as err:
        if err.code == "process_closed":
            raise refused("policy_closed") from None
        raise
    except RPCError as err:
        if is_not_found(err):
            raise _not_found() from None
        raise
    return state


async def sign_receipt(
    temporal: Temporal, session: AsyncSession, number: str, user: Actor, signed_at: datetime
) -> PolicyState:
    """The customer signed the policy receipt (the agent records it): the cooling-off
    period counts from that day. Twice: 409 ``receipt_already_signed``."""
    handle = await _open_handle(temporal, session, number, user, as_reader=False)
    receipt = ReceiptSigned(signed_at=signed_at, by=user.username)
    return await _update(handle, PolicyWorkflow.sign_receipt, receipt)


async def cancel_in_cooling_off(
    temporal: Temporal, session: AsyncSession, number: str, user: Actor, reason: str
) -> PolicyState:
    """Cancel within the cooling-off period (the agent): the premium less the cost is
    refunded, the policy void from the start. Later: 409 ``cooling_off_over``."""
    handle = await _open_handle(temporal, session, number, user, as_reader=False)
    cancellation = PolicyCancellation(reason=reason, by=user.username)
    return await _update(handle, PolicyWorkflow.cancel_in_cooling_off, cancellation)


async def record_return_visit(
    temporal: Temporal, session: AsyncSession, number: str, user: Actor, record: VisitRecord
) -> PolicyState:
    """Record one return-visit call (customer service, never the selling agent)."""
    handle = await _open_handle(temporal, session, number, user, as_reader=True)
    state = await _current(handle)
    visit = state.return_visit
    if visit is None or not visit.open:
        raise refused("task_not_open")
    outcome = ReturnVisitOutcome(
        task_id=visit.task_id,
        decision=record.decision,
        checklist=record.checklist,
        reason=record.reason,
        dual_recording_checked=record.dual_recording_checked,
        actor=user,
    )
    return await _update(handle, PolicyWorkflow.record_return_visit, outcome)


async def resolve_remediation(
    temporal: Temporal, session: AsyncSession, number: str, user: Actor, reason: str
) -> PolicyState:
    """The mis-selling found on the return visit is remediated (customer service or a
    supervisor, never the selling agent)."""
    handle = await _open_handle(temporal, session, number, user, as_reader=True)
    state = await _current(handle)
    visit = state.return_visit
    if visit is None or visit.remediation_task_id is None or visit.remediation_resolved_by:
        raise refused("task_not_open")
    resolution = RemediationResolution(task_id=visit.remediation_task_id, reason=reason, actor=user)
    return await _update(handle, PolicyWorkflow.resolve_remediation, resolution)


async def surrender(
    temporal: Temporal,
    session: AsyncSession,
    cipher: FieldCipher,
    number: str,
    user: Actor,
    *,
    reason: str,
    payee_account: str | None,
) -> PolicyState:
    """Surrender after the cooling-off period (the policy's agent, for the customer): the
    cash value paid once to `payee_account` (checked and sealed here) or the policy's
    own account. 409 ``use_cooling_off_cancellation`` within cooling-off."""
    if payee_account is not None:
        check_bank_account(payee_account)
    try:
        handle = await _open_handle(temporal, session, number, user, as_reader=False)
    except ProblemError as err:
        row = await policies.get_policy(session, policy_number=number)
        await session.commit()
        if err.code == "policy_closed" and row and row.status == PolicyStatus.SURRENDERED:
            raise refused("already_surrendered") from None
        raise
    request = SurrenderRequest(
        reason=reason, payee_account=seal_account(cipher, payee_account), by=user.username
    )
    return await _update(handle, PolicyWorkflow.surrender, request)


async def fix_payout(
    temporal: Temporal,
    session: AsyncSession,
    cipher: FieldCipher,
    number: str,
    user: Actor,
    *,
    payee_account: str,
    reason: str,
) -> PolicyState:
    """After the bank declined a surrender's or a termination's cash value: the account to
    pay it to instead (checked and sealed here), paid again at once. The policy has ended
    by then, so this is the one call an ended policy takes; 409 ``no_failed_payout`` when
    no declined payout awaits an account."""
    check_bank_account(payee_account, title=N_("Invalid payee account"))
    row = await policies.get_policy(session, policy_number=number)
    await session.commit()
    if row is None:
        raise _not_found()
    fix = ValuePayoutFix(
        payee_account=seal(cipher, payee_account, mask_account), by=user.username, reason=reason
    )
    try:
        return await _update(_handle(await temporal(), number), PolicyWorkflow.fix_payout, fix)
    except ProblemError as err:
        if err.code == "policy_closed":  # the process has ended: nothing is owed any more
            raise refused("no_failed_payout") from None
        raise


async def apply_for_reinstatement(
    temporal: Temporal, session: AsyncSession, number: str, user: Actor
) -> PolicyState:
    """Apply for reinstatement of a suspended policy (the policy's agent): a task opens
    for a supervisor. 409 ``not_reinstatable`` outside the window."""
    handle = await _open_handle(temporal, session, number, user, as_reader=False)
    application = ReinstatementApplication(by=user.username)
    return await _update(handle, PolicyWorkflow.apply_for_reinstatement, application)


async def decide_reinstatement(
    temporal: Temporal,
    session: AsyncSession,
    number: str,
    user: Actor,
    *,
    task_id: str,
    approve: bool,
    reason: str,
) -> PolicyState:
    """A supervisor's decision on a reinstatement task (never the policy's agent): approve,
    or refuse with the risk reason."""
    handle = await _open_handle(temporal, session, number, user, as_reader=True)
    verdict = ReinstatementDecision(
        task_id=task_id, decision="approve" if approve else "reject", reason=reason, actor=user
    )
    return await _update(handle, PolicyWorkflow.decide_reinstatement, verdict)


async def decide_renewal(
    temporal: Temporal, session: AsyncSession, number: str, user: Actor, *, accept: bool
) -> PolicyState:
    """The customer's answer to a renewal offer (the policy's agent). 409
    ``renewal_window_closed`` outside the window or without an offer."""
    handle = await _open_handle(temporal, session, number, user, as_reader=False)
    decision = RenewalDecision(decision="accept" if accept else "decline", by=user.username)
    return await _update(handle, PolicyWorkflow.decide_renewal, decision)


@dataclass(frozen=True)
class ServicingRequest:
    """A servicing change (保全) as the person asked it, in clear; None leaves a thing as is."""

    phone: str | None = None
    bank_account: str | None = None
    premium_reminders: bool | None = None


async def change_servicing(
    temporal: Temporal,
    session: AsyncSession,
    cipher: FieldCipher,
    number: str,
    user: Actor,
    asked: ServicingRequest,
    caller: Caller,
) -> PolicyState:
    """A servicing change (保全) by the policy's agent or customer service, accepted or
    refused at once and applied in the process's same step: the customer's phone, the
    auto-debit account, premium reminders.

    The phone and the account are checked here (services.contact) and sealed here (the
    read model's own ciphertext and mask): the process carries only the sealed form, so
    neither reaches Temporal's history, the state or an activity's input in clear, and the
    write lands in the transaction that records the process's state. Audited with the
    person and what changed (never the values)."""
    if asked.phone is not None:
        check_phone(asked.phone)
    if asked.bank_account is not None:
        check_bank_account(asked.bank_account)
    if asked.phone is None and asked.bank_account is None and asked.premium_reminders is None:
        raise refused("nothing_to_change")
    change = ServicingChange(
        phone=seal(cipher, asked.phone.strip(), mask_phone) if asked.phone else None,
        payment_account=seal_account(cipher, asked.bank_account),
        premium_reminders=asked.premium_reminders,
        actor=user,
    )
    try:
        handle = await _open_handle(
            temporal, session, number, user, as_reader=False, own_or_service=True
        )
        state = await _update(handle, PolicyWorkflow.change_servicing, change)
    except ProblemError as err:
        await _audit_change(session, user, number, change, caller, outcome=err.code)
        raise
    await _audit_change(session, user, number, change, caller, outcome="applied")
    return state


async def set_premium_reminders(
    temporal: Temporal,
    session: AsyncSession,
    cipher: FieldCipher,
    number: str,
    user: Actor,
    on: bool,
    caller: Caller,
) -> PolicyState:
    """A servicing change (保全): premium reminders on or off, applied at once."""
    asked = ServicingRequest(premium_reminders=on)
    return await change_servicing(temporal, session, cipher, number, user, asked, caller)


async def _audit_change(
    session: AsyncSession,
    user: Actor,
    number: str,
    change: ServicingChange,
    caller: Caller,
    *,
    outcome: str,
) -> None:
    async with session.begin():
        await record_audit(
            session,
            actor=user.username,
            action="policy.servicing_change",
            case_id=number,
            client=caller.client,
            request_id=caller.request_id,
            detail={"changed": change.names(), "outcome": outcome},
        )


async def _current(handle: WorkflowHandle[Any, PolicyState]) -> PolicyState:
    try:
        return await handle.query(PolicyWorkflow.state)
    except RPCError as err:
        if is_not_found(err):
            raise _not_found() from None
        raise


# --- the customer's own look-up ---------------------------------------------------------


class ClientRateLimiter:
    """At most ``limit`` attempts per client address in a sliding minute (in memory: a
    second line of defence behind the persisted per-policy lockout)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        window = self._seen[client]
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self.limit:
            return False
        window.append(now)
        return True


@dataclass(frozen=True)
class Credentials:
    """What the customer proves who they are with."""

    policy_number: str
    id_number: str
    query_password: str


@dataclass(frozen=True)
class PolicyRecord:
    """The customer's policy as they may see it: its product, payments and claims, and
    what its process last recorded (the row's status and cooling-off end; where the
    premiums stand, None before the process's first record)."""

    policy: Policy
    product: Product
    customer: Customer
    movements: list[PaymentLedger]
    claims: list[Claim]
    premiums: PremiumStanding | None


async def query_policy(
    session: AsyncSession,
    cipher: FieldCipher,
    limiter: ClientRateLimiter,
    caller: Caller,
    given: Credentials,
    clocks: ProcessClocks,
) -> PolicyRecord:
    """The policy these credentials open: 429 ``rate_limited`` past the caller's rate, 423
    ``locked`` after too many failures for the policy number, 401 ``verification_failed``
    for any mismatch. Every attempt past the rate limit is audited."""
    client = caller.client or "unknown"
    started = time.monotonic()
    if not limiter.allow(client):
        raise ProblemError(
            429,
            "rate_limited",
            N_("Too many attempts"),
            N_("Try again in a minute."),
            headers={"Retry-After": "60"},
        )

    async def record(action: str, outcome: str) -> None:
        async with session.begin():
            await audit.append(
                session,
                actor="customer",
                action=action,
                case_id=given.policy_number,
                client=client,
                request_id=caller.request_id,
                # How long the answer took (the reports' p95 answer time), in ms.
                detail={"outcome": outcome, "ms": round((time.monotonic() - started) * 1000)},
            )

    since = utcnow() - LOCK_WINDOW
    failures = await audit.count_for_case(
        session, case_id=given.policy_number, action=FAILED, since=since
    )
    await session.commit()
    if failures >= LOCK_AFTER:
        await record(LOCKED, "locked")
        raise ProblemError(
            423, "locked", N_("Locked"), N_("Too many failed attempts; try again later.")
        )

    policy = await policies.get_policy(session, policy_number=given.policy_number)
    customer = (
        await customers.get_customer(session, customer_id=policy.customer_id) if policy else None
    )
    credential = (
        await credentials.get_query_credential(session, application_no=policy.application_no)
        if policy
        else None
    )
    await session.commit()
    # The same work on every path: a keyed hash and one argon2id verification (off the
    # event loop; with no hash it checks against a dummy and answers False).
    id_matches = hmac.compare_digest(
        cipher.blind_index(given.id_number), customer.id_hash if customer else "-" * 64
    )
    password_ok, rehashed = await verify_and_rehash_async(
        given.query_password, credential.password_hash if credential else None
    )
    if policy is None or customer is None or credential is None or not (id_matches and password_ok):
        await record(FAILED, "verification_failed")
        raise _verification_failed()

    if rehashed is not None:
        await credentials.rehash_query_credential(session, credential, rehashed)
    movements = await ledger.entries_for_case(session, case_id=policy.application_no)
    claim_rows = await claims.list_for_policy(session, policy_number=policy.policy_number)
    await session.commit()
    await record(SUCCEEDED, "ok")
    return PolicyRecord(
        policy=policy,
        product=get_product(policy.product_code),
        customer=customer,
        movements=movements,
        claims=claim_rows,
        premiums=premiums_of(state, clocks) if (state := last_recorded_state(policy)) else None,
    )


def _verification_failed() -> ProblemError:
    return ProblemError(
        401,
        "verification_failed",
        N_("Verification failed"),
        N_("The policy number, ID number or query password does not match."),
    )
