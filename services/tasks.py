"""The supervisor inbox: list tasks, read one with what its decision needs, claim, release
and decide it — for the JSON routes (``api.routes.tasks``) and the console's pages
(``api.web.inbox``) alike.

Who may decide is the process's rule, checked by the workflow's Update validator (role,
approval limit, four eyes, stage); a refusal changes nothing and leaves no trace in the
process history. What only the inbox knows — that a task is closed or held by someone
else — is checked here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast, get_args

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle

from db.models import Task
from db.pagination import encode_cursor
from db.repositories import audit, tasks
from domain.claims import ClaimState
from domain.enrollment import EnrollmentState
from domain.policies import PolicyState, ReturnVisitDecision
from domain.tasks import TaskKind
from domain.texts import N_
from domain.underwriting import Actor, Role
from services import policies
from services.enrollments import enrollment_state
from services.policies import VisitRecord
from services.problems import ProblemError, refused
from services.processes import run_update
from workflows.claim import ClaimWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.inputs import ClaimDecision, UnderwritingDecision

OPEN_STATUSES = ("open", "claimed")
CLAIM_TASKS = tuple(kind for kind in TaskKind if kind.on_claim)
# The kinds a supervisor decides on a claim; a failed payout is fixed, not decided.
CLAIM_DECISIONS = (TaskKind.CLAIM_APPROVAL, TaskKind.CLAIM_REVIEW)
# What a claim task shows of its claim.
_CLAIM_CASE = {
    "claim_id",
    "agent",
    "policy_number",
    "product_code",
    "incident_date",
    "incident_type",
    "description",
    "amount_claimed",
    "documents",
    "assessment",
    "tier",
    "approvals",
    "rejected_by",
    "payee_account_masked",
    "deadlines",
    "stage",
}
# Where the tasks no decision closes are resolved instead.
_PAYOUT_RETRY = N_("a failed payout is resolved with POST /v1/claims/{id}/payout/retry")
_VALUE_PAYOUT_RETRY = N_(
    "a cash value's failed payout is resolved with POST /v1/policies/{number}/payout/retry"
)
_RENEWAL_ANSWER = N_("a renewal is answered with POST /v1/policies/{number}/renewal")
_LATE_PAYMENT_REFUND = N_("a late payment's refund is made by ops at the gateway (docs/ops.md)")
_TAKES_SUPERVISOR = N_("this task takes approve, reject or request_info")
_TAKES_VISIT_OUTCOME = N_("a return visit is completed, unreachable or misselling")
_TAKES_RESOLVED = N_("a mis-selling remediation is resolved")
_TAKES_APPROVE_OR_REJECT = N_("a reinstatement is approved or rejected")

# What each kind of task takes: a supervisor's decision, a return visit's outcome, or the
# remediation done.
SupervisorDecision = Literal["approve", "reject", "request_info"]
Decision = Literal[SupervisorDecision, ReturnVisitDecision, "resolved"]
_SUPERVISOR_DECISIONS = get_args(SupervisorDecision)
_VISIT_OUTCOMES = get_args(ReturnVisitDecision)


@dataclass(frozen=True)
class TaskCase:
    """A task and what its decision needs: for underwriting the application (customer
    masked) and verification results; for claims the documents, assessment and approvals."""

    task: Task
    case: dict[str, Any] | None


@dataclass(frozen=True)
class DecisionAsked:
    """What the decider asks for: approve, reject or ask for information, with a reason;
    for claims an amount below the assessment, or the document kinds still missing; for a
    return visit its outcome with the checklist (and the 双录 check)."""

    decision: Decision
    reason: str
    amount: Decimal | None = None
    missing: tuple[str, ...] = ()
    checklist: Mapping[str, bool] | None = None
    dual_recording_checked: bool | None = None


@dataclass(frozen=True)
class Decided:
    """A decision the process took: the task and the process's state after it."""

    task: Task
    state: EnrollmentState | ClaimState | PolicyState


# --- reading -------------------------------------------------------------------------------


async def find_task(session: AsyncSession, task_id: str) -> Task:
    """The task; 404 ``task_not_found``."""
    task = await tasks.get_task(session, task_id=task_id)
    if task is None:
        raise ProblemError(404, "task_not_found", N_("No such task"), "")
    return task


async def list_tasks(
    session: AsyncSession,
    user: Actor,
    *,
    status: str | None,
    kind: TaskKind | None,
    assignee: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Task], str | None]:
    """Tasks ordered by due time (soonest first) and the next page's cursor. Without
    `status`: the open inbox, or with `assignee` (``me``: the caller), that person's tasks
    in any state. 422 ``invalid_cursor``."""
    who = user.username if assignee == "me" else assignee
    if status is None and who is None:
        status = "open"
    try:
        return await tasks.list_tasks(
            session, status=status, kind=kind, assignee=who, cursor=cursor or None, limit=limit
        )
    except ValueError:
        raise ProblemError(422, "invalid_cursor", N_("Invalid cursor"), "") from None


async def inbox_rows(
    session: AsyncSession,
    *,
    show: str,
    kind: str | None,
    username: str,
    kinds: tuple[str, ...] | None = None,
    overdue: bool,
    cursor: str | None,
    now: datetime,
    limit: int,
) -> tuple[list[Task], str | None]:
    """One page of open tasks, soonest due first, and the cursor of the next (None on the
    last page). `show` is ``all``, ``mine`` (claimed by `username`) or ``unassigned``.
    Raises ValueError for a cursor the repository did not hand out. `kinds` limits the
    page to those kinds (customer service's inbox), merged as the statuses are.

    "All open" is two listings of the repository (open, claimed) merged by due time: each
    gives the first rows after the cursor of its own status, so their merge gives the first
    rows of both; one row more than a page says whether another page follows. Overdue
    tasks are the head of a listing by due time, so "overdue" ends where the first task
    not yet due starts.
    """
    statuses = {"mine": ("claimed",), "unassigned": ("open",)}.get(show, OPEN_STATUSES)
    assignee = username if show == "mine" else None
    rows: list[Task] = []
    wanted: tuple[str | None, ...] = (kind,)
    if kinds is not None:
        wanted = tuple(k for k in kinds if kind is None or k == kind)
    for status in statuses:
        for one in wanted:
            page, _ = await tasks.list_tasks(
                session, status=status, kind=one, assignee=assignee, cursor=cursor, limit=limit + 1
            )
            rows += page
    rows.sort(key=lambda t: (t.due_at, t.task_id))
    head, following = rows[:limit], rows[limit] if len(rows) > limit else None
    if overdue:  # the task table's times come back aware (db.models.UTCDateTime)
        due = [t for t in head if t.due_at <= now]
        if len(due) < len(head) or (following and following.due_at > now):
            following = None
        head = due
    if following is None or not head:
        return head, None
    last = head[-1]
    # The repository's cursor is (due_at, task_id) in its "task" scope, whatever the status.
    return head, encode_cursor(tasks._CURSOR_SCOPE, last.due_at, last.task_id)


async def task_case(client: Client, session: AsyncSession, task_id: str, user: Actor) -> TaskCase:
    """The task with what a decision needs (see ``TaskCase``); 404 ``task_not_found``, or
    ``enrollment_not_found`` for an underwriting case the caller may not see."""
    task = await find_task(session, task_id)
    await session.commit()
    case: dict[str, Any] | None = None
    if task.kind == TaskKind.UNDERWRITING:
        _, state = await enrollment_state(client, task.case_id, user)
        case = {
            "enrollment_id": state.enrollment_id,
            "agent": state.agent,
            "customer": state.customer.model_dump(),
            "age_birth_year": state.birth_date.year,
            "quote": state.quote.model_dump(mode="json") if state.quote else None,
            "verification": state.verification.model_dump(mode="json")
            if state.verification
            else None,
            "routed_because": state.underwriting.routed_because,
            "stage": state.stage,
        }
    elif task.kind in CLAIM_TASKS:
        claim = await _claim(client, task).query(ClaimWorkflow.state)
        case = claim.model_dump(mode="json", include=_CLAIM_CASE)
    return TaskCase(task=task, case=case)


def _claim(client: Client, task: Task) -> WorkflowHandle[Any, ClaimState]:
    return client.get_workflow_handle_for(ClaimWorkflow.run, task.workflow_id)


# --- holding -------------------------------------------------------------------------------


async def claim_task(session: AsyncSession, task_id: str, user: Actor) -> Task:
    """Take the task so no one else decides it meanwhile."""
    return await _hold(session, task_id, user, tasks.claim_task)


async def release_task(session: AsyncSession, task_id: str, user: Actor) -> Task:
    """Give the task back to the inbox."""
    return await _hold(session, task_id, user, tasks.release_task)


async def _hold(
    session: AsyncSession,
    task_id: str,
    user: Actor,
    change: Callable[..., Awaitable[Task]],
) -> Task:
    """Claim or release a task for a supervisor (customer service: its own kinds), with
    the inbox's refusals: 403 ``not_a_supervisor``, 404 ``task_not_found``, 409
    ``claimed_by_other`` or ``task_not_open``."""
    not_yours = ProblemError(
        403, "not_a_supervisor", N_("Not a supervisor"), N_("only supervisors take tasks")
    )
    if not (user.has(Role.SUPERVISOR) or user.has(Role.SERVICE)):
        raise not_yours
    async with session.begin():
        task = await find_task(session, task_id)
        if not user.has(Role.SUPERVISOR) and not TaskKind(task.kind).on_policy:
            raise not_yours
        try:
            return await change(session, task_id=task_id, username=user.username)
        except tasks.ClaimedByOther:
            raise ProblemError(409, "claimed_by_other", N_("Claimed by someone else"), "") from None
        except tasks.TaskNotOpen:
            raise ProblemError(409, "task_not_open", N_("Task is not open"), "") from None


# --- deciding ------------------------------------------------------------------------------


async def decide(
    client: Client,
    session: AsyncSession,
    task_id: str,
    user: Actor,
    asked: DecisionAsked,
) -> Decided:
    """Approve, reject or ask for information, or record a return visit or a remediation:
    the process's Update, or a refusal that changes nothing. A failed payout or a late
    payment takes no decision here, and no kind takes another kind's decision (422
    ``decision_not_allowed``)."""
    task = await find_task(session, task_id)
    await session.commit()  # hold no read snapshot while the process decides
    if task.status not in OPEN_STATUSES:
        raise ProblemError(409, "task_not_open", N_("Task is not open"), "")
    if task.assignee is not None and task.assignee != user.username:
        raise ProblemError(
            409,
            "claimed_by_other",
            N_("Claimed by someone else"),
            N_("the task is held by %(assignee)s"),
            params={"assignee": task.assignee},
        )
    kind = TaskKind(task.kind)
    if kind.on_policy:
        return Decided(task=task, state=await _decide_on_policy(client, session, task, user, asked))
    if kind == TaskKind.REINSTATEMENT:
        if asked.decision not in ("approve", "reject"):
            raise refused("decision_not_allowed", _TAKES_APPROVE_OR_REJECT)
        reinstated = await policies.decide_reinstatement(
            _given(client),
            session,
            task.case_id,
            user,
            task_id=task.task_id,
            approve=asked.decision == "approve",
            reason=asked.reason,
        )
        return Decided(task=task, state=reinstated)
    if kind not in (TaskKind.UNDERWRITING, *CLAIM_DECISIONS):
        raise refused(
            "decision_not_allowed",
            {
                TaskKind.PAYOUT_FAILED: _PAYOUT_RETRY,
                TaskKind.VALUE_PAYOUT_FAILED: _VALUE_PAYOUT_RETRY,
                TaskKind.RENEWAL: _RENEWAL_ANSWER,
            }.get(kind, _LATE_PAYMENT_REFUND),
        )
    if asked.decision not in _SUPERVISOR_DECISIONS:
        raise refused("decision_not_allowed", _TAKES_SUPERVISOR)
    state: EnrollmentState | ClaimState
    if kind == TaskKind.UNDERWRITING:
        handle, _ = await enrollment_state(client, task.case_id, _as_reader(user))
        state = await run_update(
            handle,
            EnrollmentWorkflow.decide,
            UnderwritingDecision(
                task_id=task.task_id,
                decision=cast(SupervisorDecision, asked.decision),
                reason=asked.reason,
                actor=user,
            ),
        )
    else:
        state = await run_update(
            _claim(client, task),
            ClaimWorkflow.decide,
            ClaimDecision(
                task_id=task.task_id,
                decision=cast(SupervisorDecision, asked.decision),
                reason=asked.reason,
                amount=asked.amount,
                missing=list(asked.missing),
                actor=user,
            ),
        )
    return Decided(task=task, state=state)


async def _decide_on_policy(
    client: Client, session: AsyncSession, task: Task, user: Actor, asked: DecisionAsked
) -> PolicyState:
    """A return visit's outcome or a remediation, through the policy's own service (the
    same call as ``POST /v1/policies/{number}/return-visit`` and ``/remediation``)."""
    temporal = _given(client)
    if task.kind == TaskKind.RETURN_VISIT:
        if asked.decision not in _VISIT_OUTCOMES:
            raise refused("decision_not_allowed", _TAKES_VISIT_OUTCOME)
        record = VisitRecord(
            decision=cast(ReturnVisitDecision, asked.decision),
            checklist=dict(asked.checklist or {}),
            reason=asked.reason,
            dual_recording_checked=asked.dual_recording_checked,
        )
        return await policies.record_return_visit(temporal, session, task.case_id, user, record)
    if asked.decision != "resolved":
        raise refused("decision_not_allowed", _TAKES_RESOLVED)
    return await policies.resolve_remediation(temporal, session, task.case_id, user, asked.reason)


def _given(client: Client) -> Callable[[], Awaitable[Client]]:
    """The connected client as the policy services take it (they connect lazily)."""

    async def temporal() -> Client:
        return client

    return temporal


def _as_reader(user: Actor) -> Actor:
    """Finding the case is not deciding it: whoever may call this sees the case, so the
    workflow's validator — not a 404 — answers an agent or ops who tries to decide."""
    return Actor(username=user.username, roles=(*user.roles, Role.OPS))


# --- the console's audit line --------------------------------------------------------------


async def record_page_action(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    actor: Actor,
    action: str,
    task_id: str,
    client: str | None,
    request_id: str | None,
    status: int,
    code: str | None,
) -> None:
    """The row ``api.audit.AuditMiddleware`` writes for the same call under /v1, marked
    ``via: ui``, in a transaction of its own."""
    detail: dict[str, Any] = {"status": status, "outcome": "ok" if status < 400 else "refused"}
    if code is not None:
        detail["code"] = code
    detail["via"] = "ui"
    async with session_factory() as session, session.begin():
        await audit.append(
            session,
            actor=actor.username,
            action=action,
            case_id=task_id,
            client=client,
            request_id=request_id,
            detail=detail,
        )
