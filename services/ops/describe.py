"""One process as it stands: Temporal's description (status, pending activities with their
attempts and last failure, parent and children), the process's own state (stage, open
task, deadlines), and the timers still ahead in its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.converter import DataConverter
from temporalio.service import RPCError

from db.models import Task
from db.repositories.tasks import get_task
from domain.claims import ClaimStage, ClaimState, ClaimStatus
from domain.enrollment import EnrollmentState, Stage, Status
from services.ops.history import failure_message
from services.ops.runs import workflow_not_found
from services.ops.visibility import WorkflowSummary, business_attributes, status_name
from services.processes import is_not_found
from workflows.claim import ClaimWorkflow
from workflows.enrollment import EnrollmentWorkflow

log = structlog.get_logger("api.ops")

ProcessState = EnrollmentState | ClaimState
QUERY_TIMEOUT = timedelta(seconds=5)
OPEN_TASK_STATUSES = ("open", "claimed")


class PendingActivity(BaseModel):
    """An activity the process is waiting on; with ``attempt`` > 1 it has been failing."""

    activity_id: str
    activity_type: str
    state: str  # scheduled, started, cancel_requested, paused, ...
    attempt: int
    maximum_attempts: int | None  # None: retried until it succeeds
    last_failure: str | None
    last_failure_type: str | None
    last_started_at: datetime | None
    next_attempt_at: datetime | None


class OpenTask(BaseModel):
    """The human step the process waits on (the task table's row)."""

    task_id: str
    kind: str
    status: str
    assignee: str | None
    priority: int
    escalation_level: int
    due_at: datetime
    escalate_at: datetime | None
    expire_at: datetime | None


class TimerAhead(BaseModel):
    """A durable timer started and neither fired nor cancelled yet."""

    timer_id: str
    started_at: datetime
    fires_at: datetime | None


class Deadline(BaseModel):
    """A business deadline of the current stage (payment, SLA, documents, decision, ...)."""

    name: str
    at: datetime
    passed: bool


class WorkflowLink(BaseModel):
    workflow_id: str
    run_id: str
    workflow_type: str | None = None


class ProcessDescription(WorkflowSummary):
    """One process as ops see it."""

    history_length: int
    pending_activities: list[PendingActivity]
    open_task: OpenTask | None
    timers: list[TimerAhead]
    deadlines: list[Deadline]
    breaches: list[str]
    parent: WorkflowLink | None
    children: list[WorkflowLink]


# --- the process's own state ---------------------------------------------------------------


async def query_state(client: Client, workflow_id: str) -> ProcessState | None:
    """The process's state from its ``state`` query; None for a workflow that is not one
    of ours or cannot answer now (no worker, query refused)."""
    try:
        if workflow_id.startswith("enrollment-"):
            enrollment = client.get_workflow_handle_for(EnrollmentWorkflow.run, workflow_id)
            return await enrollment.query(EnrollmentWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        if workflow_id.startswith("claim-"):
            claim = client.get_workflow_handle_for(ClaimWorkflow.run, workflow_id)
            return await claim.query(ClaimWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
    except (WorkflowQueryFailedError, WorkflowQueryRejectedError, RPCError) as err:
        log.warning("ops_state_query_failed", workflow_id=workflow_id, error=type(err).__name__)
    return None


def open_task_id(state: ProcessState | None) -> str | None:
    """The id of the task the process waits on, if it waits on one."""
    if isinstance(state, EnrollmentState):
        if state.stage == Stage.UNDERWRITING and state.status == Status.IN_PROGRESS:
            return state.underwriting.task_id
    elif isinstance(state, ClaimState) and state.status == ClaimStatus.IN_PROGRESS:
        return state.open_task_id
    return None


async def open_task(session: AsyncSession, state: ProcessState | None) -> Task | None:
    task_id = open_task_id(state)
    if task_id is None:
        return None
    task = await get_task(session, task_id=task_id)
    return task if task is not None and task.status in OPEN_TASK_STATUSES else None


def breaches(state: ProcessState | None, task: Task | None, *, now: datetime) -> list[str]:
    """The SLA breaches of a running process: a claim's recorded ones; for an enrollment,
    an underwriting task escalated or past due."""
    if isinstance(state, ClaimState):
        return list(state.deadlines.breaches)
    found = []
    if isinstance(state, EnrollmentState) and task is not None:
        if task.escalation_level > 0:
            found.append("underwriting_escalated")
        if task.due_at <= now:
            found.append("underwriting_overdue")
    return found


def deadlines(state: ProcessState | None, task: Task | None, *, now: datetime) -> list[Deadline]:
    """The deadlines of the stage the process is in."""
    named: list[tuple[str, datetime | None]] = []
    if isinstance(state, EnrollmentState) and state.status == Status.IN_PROGRESS:
        if state.stage == Stage.QUOTED and state.quote is not None:
            named.append(("quote_valid_until", state.quote.valid_until))
        if state.payment.status == "pending":
            named.append(("payment_due", state.payment.due_at))
    elif isinstance(state, ClaimState) and state.status == ClaimStatus.IN_PROGRESS:
        d = state.deadlines
        if state.stage == ClaimStage.DOCUMENTS_PENDING:
            named.append(("documents_due", d.documents_due_at))
        if state.stage in (
            ClaimStage.UNDER_REVIEW,
            ClaimStage.ASSESSMENT,
            ClaimStage.AWAITING_APPROVAL,
        ):
            named.append(("decision_due", d.decision_due_at))
        if state.stage in (ClaimStage.APPROVED, ClaimStage.PAYOUT_FAILED):
            named.append(("payout_due", d.payout_due_at))
        if state.stage == ClaimStage.REJECTED:
            named.append(("appeal_until", d.appeal_until))
    if task is not None:
        named += [
            ("task_due", task.due_at),
            ("task_escalates", task.escalate_at),
            ("task_expires", task.expire_at),
        ]
    return [
        Deadline(name=name, at=at, passed=at <= now)
        for name, at in sorted(
            ((n, a) for n, a in named if a is not None), key=lambda item: item[1]
        )
    ]


# --- Temporal's side -----------------------------------------------------------------------


async def pending_activity(converter: DataConverter, info: PendingActivityInfo) -> PendingActivity:
    message = error_type = None
    if info.HasField("last_failure"):
        message, error_type = await failure_message(converter, info.last_failure)
    state = PendingActivityState.Name(info.state)
    return PendingActivity(
        activity_id=info.activity_id,
        activity_type=info.activity_type.name,
        state=state.removeprefix("PENDING_ACTIVITY_STATE_").lower(),
        attempt=info.attempt,
        maximum_attempts=info.maximum_attempts or None,
        last_failure=message,
        last_failure_type=error_type,
        last_started_at=_time(info, "last_started_time"),
        next_attempt_at=_time(info, "next_attempt_schedule_time"),
    )


def _time(message: Any, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    value: datetime = getattr(message, field).ToDatetime(tzinfo=UTC)
    return value


async def timers_ahead(client: Client, workflow_id: str, run_id: str) -> list[TimerAhead]:
    """Timers started in the history and not yet fired or cancelled."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    started: dict[str, TimerAhead] = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            attrs = event.timer_started_event_attributes
            at = event.event_time.ToDatetime(tzinfo=UTC)
            fires = (
                at + attrs.start_to_fire_timeout.ToTimedelta()
                if attrs.HasField("start_to_fire_timeout")
                else None
            )
            started[attrs.timer_id] = TimerAhead(
                timer_id=attrs.timer_id, started_at=at, fires_at=fires
            )
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            started.pop(event.timer_fired_event_attributes.timer_id, None)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            started.pop(event.timer_canceled_event_attributes.timer_id, None)
    return sorted(started.values(), key=lambda t: t.fires_at or t.started_at)


def summary_of_description(description: WorkflowExecutionDescription) -> dict[str, Any]:
    return {
        "workflow_id": description.id,
        "run_id": description.run_id,
        "workflow_type": description.workflow_type,
        "status": status_name(description.status),
        "started_at": description.start_time,
        "closed_at": description.close_time,
        **business_attributes(description.typed_search_attributes),
    }


async def describe_process(
    client: Client, session: AsyncSession, workflow_id: str
) -> ProcessDescription:
    """The process `workflow_id` (its latest run); 404 ``workflow_not_found`` if unknown
    (or gone while it was being described)."""
    try:
        return await _describe_process(client, session, workflow_id)
    except RPCError as err:
        if is_not_found(err):
            raise workflow_not_found() from None
        raise


async def _describe_process(
    client: Client, session: AsyncSession, workflow_id: str
) -> ProcessDescription:
    description = await client.get_workflow_handle(workflow_id).describe()
    raw = description.raw_description
    state = await query_state(client, workflow_id)
    running = status_name(description.status) == "running"
    task = await open_task(session, state) if running else None
    await session.commit()  # hold no read snapshot while Temporal answers the rest
    now = datetime.now(UTC)
    summary = summary_of_description(description)
    if state is not None:  # the live stage, a step ahead of the search attribute at times
        summary["stage"] = state.stage.value
        summary["business_status"] = state.status.value
    info = raw.workflow_execution_info
    parent = (
        WorkflowLink(
            workflow_id=info.parent_execution.workflow_id, run_id=info.parent_execution.run_id
        )
        if info.HasField("parent_execution")
        else None
    )
    return ProcessDescription(
        **summary,
        history_length=description.history_length,
        pending_activities=[
            await pending_activity(client.data_converter, p) for p in raw.pending_activities
        ],
        open_task=OpenTask.model_validate(task, from_attributes=True) if task else None,
        timers=await timers_ahead(client, workflow_id, description.run_id) if running else [],
        deadlines=deadlines(state, task, now=now) if running else [],
        breaches=breaches(state, task, now=now) if running else [],
        parent=parent,
        children=[
            WorkflowLink(
                workflow_id=c.workflow_id, run_id=c.run_id, workflow_type=c.workflow_type_name
            )
            for c in raw.pending_children
        ],
    )
