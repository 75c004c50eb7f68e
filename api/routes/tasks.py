"""The supervisor inbox: list, inspect, claim, release and decide tasks (the rules are
``services.tasks``'s and the processes')."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SessionDep, TemporalDep, require_roles
from api.openapi import problem_responses
from api.schemas import DecisionCreate, Money
from db.models import Task
from domain.tasks import TaskKind
from domain.underwriting import Actor, Role
from services import tasks

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


class DecisionResult(BaseModel):
    task_id: str
    workflow_id: str
    decision: str
    stage: str
    status: str


@router.get("", response_model=TaskPage, responses=problem_responses({422: "invalid_cursor"}))
async def list_tasks(
    user: InboxUser,
    session: SessionDep,
    status: Literal["open", "claimed", "done", "cancelled", "expired"] | None = None,
    kind: Literal[
        TaskKind.UNDERWRITING,
        TaskKind.CLAIM_REVIEW,
        TaskKind.CLAIM_APPROVAL,
        TaskKind.PAYOUT_FAILED,
        TaskKind.LATE_PAYMENT,
    ]
    | None = None,
    assignee: Annotated[str | None, Query(description="`me` for the caller's tasks")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskPage:
    """Tasks ordered by due time (soonest first). Without `status`: the open inbox, or with
    `assignee`, that person's tasks in any state."""
    rows, next_cursor = await tasks.list_tasks(
        session, user, status=status, kind=kind, assignee=assignee, cursor=cursor, limit=limit
    )
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
    found = await tasks.task_case(client, session, task_id, user)
    base = TaskRead.of(found.task).model_dump()
    return TaskDetail(**base, details=dict(found.task.details or {}), case=found.case)


@router.post(
    "/{task_id}/claim",
    response_model=TaskRead,
    responses=problem_responses({403: "not_a_supervisor"}, _NOT_FOUND, _HELD),
)
async def claim_task(task_id: str, user: CurrentUser, session: SessionDep) -> TaskRead:
    """Take the task so no one else decides it meanwhile."""
    return TaskRead.of(await tasks.claim_task(session, task_id, user))


@router.post(
    "/{task_id}/release",
    response_model=TaskRead,
    responses=problem_responses({403: "not_a_supervisor"}, _NOT_FOUND, _HELD),
)
async def release_task(task_id: str, user: CurrentUser, session: SessionDep) -> TaskRead:
    """Give the task back to the inbox."""
    return TaskRead.of(await tasks.release_task(session, task_id, user))


@router.post(
    "/{task_id}/decision",
    response_model=DecisionResult,
    responses=problem_responses(
        {403: ["not_a_supervisor", "approval_limit_exceeded", "not_customer_service"]},
        {404: ["task_not_found", "enrollment_not_found", "policy_not_found"]},
        {
            409: [
                "four_eyes_violation",
                "task_not_open",
                "claimed_by_other",
                "process_refused",
                "process_closed",
                "policy_closed",
                "return_visit_retry_too_soon",
            ]
        },
        {
            422: [
                "decision_not_allowed",
                "amount_above_assessment",
                "documents_required",
                "checklist_incomplete",
                "dual_recording_required",
                "risk_reason_required",
            ]
        },
    ),
)
async def decide(
    task_id: str,
    body: DecisionCreate,
    user: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
) -> DecisionResult:
    """Decide the task: a supervisor approves, rejects or asks for information on an
    underwriting or claim task; customer service records a return visit (`completed` with
    every checklist item confirmed, `unreachable` or `misselling`) or resolves a
    mis-selling remediation (`resolved`), never the selling agent. 200 with the process's
    new stage, or a refusal that changes nothing; a decision the task's kind does not take
    is 422 `decision_not_allowed`."""
    decided = await tasks.decide(client, session, task_id, user, body.asked())
    return DecisionResult(
        task_id=decided.task.task_id,
        workflow_id=decided.task.workflow_id,
        decision=body.decision,
        stage=decided.state.stage.value,
        status=decided.state.status.value,
    )
