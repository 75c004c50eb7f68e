"""Claims (理赔): report one, find a claim's process, read its state, and act on it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
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

from core.config import Settings
from db.models import Claim
from db.repositories import claims, policies
from domain.business import business_today
from domain.claim_rules import intake_refusal
from domain.claims import (
    DUPLICATE_BLOCKING,
    ClaimDocument,
    ClaimStage,
    ClaimState,
    ClaimStatus,
)
from domain.policies import PolicyState
from domain.premiums import suspensions
from domain.products import IncidentType, get_product
from domain.texts import N_
from domain.underwriting import Actor
from services.contact import check_bank_account
from services.problems import ProblemError
from services.processes import (
    is_not_found,
    require_own_case,
    run_own_update,
    run_update,
    sees_all,
)
from workflows import search_attributes as sa
from workflows.claim import ClaimWorkflow, workflow_id_for
from workflows.inputs import (
    ClaimAppeal,
    ClaimStart,
    DocumentsSupplement,
    PayoutFix,
    Withdrawal,
)

# The statuses a claim's process ends with. A rejection ends it only once the appeal
# window has closed (stage `closed`): until then it is `rejected` at stage `rejected`,
# still running, and an appeal puts it back in progress.
_ENDED = frozenset(
    {ClaimStatus.PAID, ClaimStatus.WITHDRAWN, ClaimStatus.CANCELLED, ClaimStatus.TERMINATED}
)


@dataclass(frozen=True)
class ClaimReport:
    """A first notice of loss, as the agent reports it."""

    policy_number: str
    incident_date: date
    incident_type: str
    description: str
    amount_claimed: Decimal
    documents: list[ClaimDocument]
    payee_account: str


@dataclass(frozen=True)
class ReportedClaim:
    """The claim a report started, where it begins."""

    claim_id: str
    workflow_id: str
    stage: ClaimStage
    status: ClaimStatus


async def report_claim(
    client: Client, session: AsyncSession, user: Actor, settings: Settings, report: ClaimReport
) -> ReportedClaim:
    """First notice of loss. Checked before anything starts: the payee account, the policy
    (the caller's customer's), in force on the incident date (not suspended that day), the
    incident covered by the product, the date not in the future, the amount positive, and
    not the same claim again (same policy, incident date and type, still open or paid: 409
    `duplicate_claim`)."""
    _check_account(report.payee_account)
    policy = await policies.get_policy(session, policy_number=report.policy_number)
    if policy is None or (not sees_all(user) and policy.agent != user.username):
        raise ProblemError(422, "unknown_policy", N_("Unknown policy"), N_("no such policy"))
    # A supervisor who is also an agent sees every policy, but files only for their own
    # customers: filing for another agent and then deciding would be four eyes by proxy.
    require_own_case(policy.agent, user)
    product = get_product(policy.product_code)
    effective_on = business_today(policy.effective_at)
    # The policy's real state as its process last recorded it: when it was suspended.
    state = PolicyState.model_validate(policy.state) if policy.state is not None else None
    refused = intake_refusal(
        policy_status=policy.status,
        effective_on=effective_on,
        expires_on=business_today(policy.expires_at),
        covered=product.covered_incidents,
        incident_type=report.incident_type,
        incident_date=report.incident_date,
        today=business_today(datetime.now(UTC)),
        amount_claimed=report.amount_claimed,
        limitation_years=product.claim_limitation_years,
        suspensions=suspensions(state) if state is not None else (),
    )
    if refused is not None:
        code, message = refused
        raise ProblemError(422, code, code.replace("_", " ").capitalize(), message)
    earlier = await claims.claims_for_incident(
        session,
        policy_number=report.policy_number,
        incident_date=report.incident_date,
        incident_type=report.incident_type,
    )
    await session.commit()
    if any(c.status in DUPLICATE_BLOCKING for c in earlier):
        raise _duplicate()
    claim_no = _claim_no(
        report.policy_number, report.incident_date, report.incident_type, len(earlier)
    )
    start = ClaimStart(
        claim_no=claim_no,
        agent=policy.agent,
        policy_number=policy.policy_number,
        product_code=policy.product_code,
        policy_effective_on=effective_on,
        incident_date=report.incident_date,
        incident_type=IncidentType(report.incident_type),
        description=report.description,
        amount_claimed=report.amount_claimed,
        documents=report.documents,
        payee_account=report.payee_account,
        filed_by=user.username,
        clocks=settings.clocks,
        limits=settings.claim_limits,
    )
    try:
        await client.start_workflow(
            ClaimWorkflow.run,
            start,
            id=workflow_id_for(claim_no),
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=sa.at_start(
                "claim",
                policy.agent,
                ClaimStage.REPORTED.value,
                ClaimStatus.IN_PROGRESS.value,
                report.amount_claimed,
            ),
        )
    except WorkflowAlreadyStartedError:
        raise _duplicate() from None
    return ReportedClaim(
        claim_id=claim_no,
        workflow_id=workflow_id_for(claim_no),
        stage=ClaimStage.REPORTED,
        status=ClaimStatus.IN_PROGRESS,
    )


async def list_claims(
    session: AsyncSession,
    user: Actor,
    *,
    stage: ClaimStage | None,
    status: ClaimStatus | None,
    policy_number: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Claim], str | None]:
    """The caller's claims (an agent) or all of them (supervisor, ops), newest first: one
    page and the next page's cursor; 422 `invalid_cursor` for a cursor that is not one."""
    try:
        return await claims.list_claims(
            session,
            agent=None if sees_all(user) else user.username,
            stage=stage.value if stage else None,
            status=status.value if status else None,
            policy_number=policy_number,
            cursor=cursor or None,  # an empty `cursor=` is the first page
            limit=limit,
        )
    except ValueError:
        raise ProblemError(422, "invalid_cursor", N_("Invalid cursor"), "") from None


async def claim_state(
    client: Client, claim_id: str, user: Actor
) -> tuple[WorkflowHandle[Any, ClaimState], ClaimState]:
    """The live state of a claim the caller may see; 404 otherwise."""
    handle = client.get_workflow_handle_for(ClaimWorkflow.run, workflow_id_for(claim_id))
    try:
        state = await handle.query(ClaimWorkflow.state)
    except RPCError as err:
        if is_not_found(err):
            raise _not_found() from None
        raise
    _require_visible(state, user)
    return handle, state


async def read_claim(
    temporal: Callable[[], Awaitable[Client]],
    session: AsyncSession,
    claim_id: str,
    user: Actor,
) -> ClaimState:
    """A claim's state for reading. A finished process's comes from the read model: its
    last record is its final state, written before it completed (or by ops terminating
    it), and asking the process instead would make a worker replay its whole history to
    answer. A running one is asked (a query), as in ``claim_state``: only then is Temporal
    needed (`temporal` gives the client), so a finished claim reads while it is down."""
    row = await claims.get_claim(session, claim_no=claim_id)
    await session.commit()
    if row is not None and _ended(row):
        state = ClaimState.model_validate(row.state)
        _require_visible(state, user)
        return state
    _, state = await claim_state(await temporal(), claim_id, user)
    return state


async def supplement_documents(
    client: Client, claim_id: str, user: Actor, documents: list[ClaimDocument]
) -> ClaimState:
    """Add documents to the agent's own claim; its review resumes when none is missing."""
    supplement = DocumentsSupplement(documents=documents, by=user.username)
    return await _update_own(client, claim_id, user, ClaimWorkflow.supplement_documents, supplement)


async def appeal(client: Client, claim_id: str, user: Actor, reason: str) -> ClaimState:
    """Appeal the agent's own rejected claim within the appeal window."""
    request = ClaimAppeal(by=user.username, reason=reason)
    return await _update_own(client, claim_id, user, ClaimWorkflow.appeal, request)


async def withdraw(client: Client, claim_id: str, user: Actor, reason: str) -> ClaimState:
    """Withdraw the agent's own claim before it is approved."""
    withdrawal = Withdrawal(by=user.username, reason=reason)
    return await _update_own(client, claim_id, user, ClaimWorkflow.withdraw, withdrawal)


async def fix_payout(
    client: Client, claim_id: str, user: Actor, payee_account: str, reason: str
) -> ClaimState:
    """Correct the payee account of a declined payout and pay again."""
    _check_account(payee_account)
    handle, _ = await claim_state(client, claim_id, user)
    state: ClaimState = await run_update(
        handle,
        ClaimWorkflow.fix_payout,
        PayoutFix(payee_account=payee_account, by=user.username, reason=reason),
    )
    return state


async def _update_own(
    client: Client, claim_id: str, user: Actor, update: Any, arg: Any
) -> ClaimState:
    """Send an Update to a claim of the caller's own (an agent acts only on their own
    customers' claims: the process refuses anyone else, 404 for an agent and 403
    `not_your_case` for a supervisor)."""
    handle = client.get_workflow_handle_for(ClaimWorkflow.run, workflow_id_for(claim_id))
    state: ClaimState = await run_own_update(handle, update, arg, user, _not_found)
    return state


def _claim_no(policy_number: str, incident_date: date, incident_type: str, earlier: int) -> str:
    """The business key of a report: the same incident reported again while the first is
    still open names the same workflow, so even a race between two reports yields one."""
    digest = hashlib.sha256(
        f"{policy_number}|{incident_date.isoformat()}|{incident_type}|{earlier}".encode()
    ).digest()
    return "C" + base64.b32encode(digest).decode()[:12]


def _ended(row: Claim) -> bool:
    """Whether the claim's process has ended, by its read model row."""
    return row.status in _ENDED or (
        row.status == ClaimStatus.REJECTED and row.stage == ClaimStage.CLOSED
    )


def _check_account(payee_account: str) -> None:
    check_bank_account(payee_account, title=N_("Invalid payee account"))


def _require_visible(state: ClaimState, user: Actor) -> None:
    """An agent asking for someone else's claim learns nothing, not even that it exists."""
    if not sees_all(user) and state.agent != user.username:
        raise _not_found()


def _not_found() -> ProblemError:
    return ProblemError(404, "claim_not_found", N_("No such claim"), "")


def _duplicate() -> ProblemError:
    return ProblemError(
        409,
        "duplicate_claim",
        N_("Claim already reported"),
        N_("this incident is already claimed on this policy"),
    )
