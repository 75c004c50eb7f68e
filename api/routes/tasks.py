"""The supervisor inbox: list, inspect, claim, release and decide tasks.

Who may decide is the process's rule, checked by the workflow's Update validator (role,
approval limit, four eyes, stage); a refusal changes nothing and leaves no trace in the
process history. What only the inbox knows — that a task is closed or held by someone
else — is checked here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentUser, SessionDep, TemporalDep, require_roles
from api.openapi import problem_responses
from api.schemas import Money, RequiredText, StrictModel
from db.models import Task
from db.repositories import tasks
from domain.underwriting import Actor, Role
from services.enrollments import enrollment_state
from services.problems import ProblemError
from services.processes import run_update
from workflows.claim import ClaimWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.inputs import ClaimDecision, UnderwritingDecision

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])
InboxUser = Annotated[Actor, Depends(require_roles(Role.SUPERVISOR, Role.OPS, Role.ADMIN))]

# The problems these routes answer with themselves. What every route of its kind answers
# (401, 403, 503, body and validation errors, 500) is documented app-wide: see
# api.errors.install_problem_openapi.
_NOT_FOUND = {404: "task_not_found"}
_HELD = {409: ["task_not_open", "claimed_by_other"]}


class TaskRead(BaseModel):
    task_id: str
    kind: str
    workflow_id: str
    case_id: str
    subject: str
    amount: Money
    status: str
    assignee: str | None
    priority: int
    escalation_level: int
    due_at: datetime
    escalate_at: datetime | None
    expire_at: datetime | None
    created_at: datetime
    decision: str | None = None
    decided_by: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, task: Task) -> TaskRead:
        return cls.model_validate(task, from_attributes=True)


class TaskPage(BaseModel):
    items: list[TaskRead]
    next_cursor: str | None


class TaskDetail(TaskRead):
    details: dict[str, Any]
    case: dict[str, Any] | None = Field(
        default=None, description="What a decision needs: the application, masked."
    )


class DecisionCreate(StrictModel):
    decision: Literal["approve", "reject", "request_info"]
    reason: RequiredText = Field(min_length=1, max_length=2000)
    amount: Annotated[Money, Field(gt=0)] | None = Field(
        default=None,
        description="Claims: approve less than assessed (never more)",
    )
    missing: list[str] = Field(
        default=[], max_length=20, description="Claims, with `request_info`: the document kinds"
    )


class DecisionResult(BaseModel):
    task_id: str
    workflow_id: str
    decision: str
    stage: str
    status: str


async def _task(session: Any, task_id: str) -> Task:
    task = await tasks.get_task(session, task_id=task_id)
    if task is None:
        raise ProblemError(404, "task_not_found", "No such task", "")
    return task


@router.get("", response_model=TaskPage, responses=problem_responses({422: "invalid_cursor"}))
async def list_tasks(
    user: InboxUser,
    session: SessionDep,
    status: Literal["open", "claimed", "done", "cancelled", "expired"] | None = None,
    kind: Literal["underwriting", "claim_review", "claim_approval", "payout_failed", "late_payment"]
    | None = None,
    assignee: Annotated[str | None, Query(description="`me` for the caller's tasks")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskPage:
    """Tasks ordered by due time (soonest first). Without `status`: the open inbox, or with
    `assignee`, that person's tasks in any state."""
    who = user.username if assignee == "me" else assignee
    if status is None and who is None:
        status = "open"
    try:
        rows, next_cursor = await tasks.list_tasks(
            session, status=status, kind=kind, assignee=who, cursor=cursor or None, limit=limit
        )
    except ValueError:
        raise ProblemError(422, "invalid_cursor", "Invalid cursor", "") from None
    return TaskPage(items=[TaskRead.of(t) for t in rows], next_cursor=next_cursor)


@router.get(
    "/{task_id}",
    response_model=TaskDetail,
    responses=problem_responses({404: ["task_not_found", "enrollment_not_found"]}),
)
async def get_task(
    task_id: str, user: InboxUser, session: SessionDep, client: TemporalDep
) -> TaskDetail:
    """The task with what a decision needs: for underwriting the application (customer
    masked) and verification results; for claims the documents, assessment and approvals."""
    task = await _task(session, task_id)
    await session.commit()
    case: dict[str, Any] | None = None
    if task.kind == "underwriting":
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
    elif task.kind in ("claim_approval", "claim_review", "payout_failed"):
        claim = client.get_workflow_handle_for(ClaimWorkflow.run, task.workflow_id)
        cs = await claim.query(ClaimWorkflow.state)
        case = cs.model_dump(
            mode="json",
            include={
                "claim_id", "agent", "policy_number", "product_code", "incident_date",
                "incident_type", "description", "amount_claimed", "documents", "assessment",
                "tier", "approvals", "rejected_by", "payee_account_masked", "deadlines", "stage",
            },
        )  # fmt: skip
    base = TaskRead.of(task).model_dump()
    return TaskDetail(**base, details=dict(task.details or {}), case=case)


async def _hold(
    session: AsyncSession,
    task_id: str,
    user: Actor,
    change: Callable[..., Awaitable[Task]],
) -> TaskRead:
    """Claim or release a task for a supervisor, with the inbox's refusals."""
    _only_supervisors(user)
    async with session.begin():
        await _task(session, task_id)
        try:
            task = await change(session, task_id=task_id, username=user.username)
        except tasks.ClaimedByOther:
            raise ProblemError(409, "claimed_by_other", "Claimed by someone else", "") from None
        except tasks.TaskNotOpen:
            raise ProblemError(409, "task_not_open", "Task is not open", "") from None
    return TaskRead.of(task)


def _only_supervisors(user: Actor) -> None:
    if not user.has(Role.SUPERVISOR):
        raise ProblemError(403, "not_a_supervisor", "Not a supervisor",
                           "only supervisors take tasks")  # fmt: skip


@router.post(
    "/{task_id}/claim",
    response_model=TaskRead,
    responses=problem_responses({403: "not_a_supervisor"}, _NOT_FOUND, _HELD),
)
async def claim_task(task_id: str, user: CurrentUser, session: SessionDep) -> TaskRead:
    """Take the task so no one else decides it meanwhile."""
    return await _hold(session, task_id, user, tasks.claim_task)


@router.post(
    "/{task_id}/release",
    response_model=TaskRead,
    responses=problem_responses({403: "not_a_supervisor"}, _NOT_FOUND, _HELD),
)
async def release_task(task_id: str, user: CurrentUser, session: SessionDep) -> TaskRead:
    """Give the task back to the inbox."""
    return await _hold(session, task_id, user, tasks.release_task)


@router.post(
    "/{task_id}/decision",
    response_model=DecisionResult,
    responses=problem_responses(
        {403: ["not_a_supervisor", "approval_limit_exceeded"]},
        {404: ["task_not_found", "enrollment_not_found"]},
        {
            409: [
                "four_eyes_violation",
                "task_not_open",
                "claimed_by_other",
                "process_refused",
                "process_closed",
            ]
        },
        {422: ["decision_not_allowed", "amount_above_assessment", "documents_required"]},
    ),
)
async def decide(
    task_id: str,
    body: DecisionCreate,
    user: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
) -> DecisionResult:
    """Approve or reject. 200 with the process's new stage, or a refusal that changes
    nothing."""
    task = await _task(session, task_id)
    await session.commit()  # hold no read snapshot while the process decides
    if task.status not in ("open", "claimed"):
        raise ProblemError(409, "task_not_open", "Task is not open", "")
    if task.assignee is not None and task.assignee != user.username:
        raise ProblemError(409, "claimed_by_other", "Claimed by someone else",
                           f"the task is held by {task.assignee}")  # fmt: skip
    state: Any
    if task.kind == "underwriting":
        handle, _ = await enrollment_state(client, task.case_id, _as_reader(user))
        state = await run_update(
            handle,
            EnrollmentWorkflow.decide,
            UnderwritingDecision(
                task_id=task.task_id, decision=body.decision, reason=body.reason, actor=user
            ),
        )
    elif task.kind in ("claim_approval", "claim_review"):
        state = await run_update(
            client.get_workflow_handle_for(ClaimWorkflow.run, task.workflow_id),
            ClaimWorkflow.decide,
            ClaimDecision(
                task_id=task.task_id,
                decision=body.decision,
                reason=body.reason,
                amount=body.amount,
                missing=body.missing,
                actor=user,
            ),
        )
    else:
        raise ProblemError(
            409,
            "decision_not_allowed",
            "Not decided here",
            "a failed payout is resolved with POST /v1/claims/{id}/payout/retry"
            if task.kind == "payout_failed"
            else "a late payment's refund is made by ops at the gateway (docs/ops.md)",
        )
    return DecisionResult(
        task_id=task.task_id,
        workflow_id=task.workflow_id,
        decision=body.decision,
        stage=state.stage.value,
        status=state.status.value,
    )


def _as_reader(user: Actor) -> Actor:
    """Finding the case is not deciding it: whoever may call this sees the case, so the
    workflow's validator — not a 404 — answers an agent or ops who tries to decide."""
    return Actor(username=user.username, roles=(*user.roles, Role.OPS))
