"""Ops: find processes, see where one stands and what it went through, list what needs
attention, and cancel or terminate a process. Ops read everything and decide nothing:
business decisions stay with supervisors (``/v1/tasks/{id}/decision`` refuses ops).

Every endpoint needs the ``ops`` role (403 ``forbidden`` otherwise). Reads come from
Temporal itself (visibility, describe, history); personal data is masked. Cancel and
terminate need a reason and are written to the audit log with the actor.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.service import RPCError, RPCStatusCode

from api.deps import OpsUser, SessionDep, SettingsDep, TemporalDep
from api.middleware import client_address
from api.openapi import problem_responses
from api.ops import describe, history, incidents, timeline, visibility
from api.schemas import Page, StrictModel
from db.models import AuditEvent
from db.repositories import audit, claims, enrollments, tasks
from domain.masking import scrub
from domain.underwriting import Actor
from services.problems import ProblemError

log = structlog.get_logger("api.ops")

router = APIRouter(prefix="/v1/ops", tags=["ops"], responses=problem_responses(401, 403))

WorkflowId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$", description="The process's workflow id")
]
EnumValue = Annotated[str | None, Query(pattern=visibility.ENUM_PATTERN)]
Amount = Annotated[Decimal | None, Query(ge=0, max_digits=14, decimal_places=2)]
ExecutionStatus = Literal["running", "completed", "failed", "canceled", "terminated", "timed_out"]


# --- bodies ------------------------------------------------------------------------------


class HistoryRead(BaseModel):
    """The event history, decoded and masked, and the same told as a timeline."""

    workflow_id: str
    run_id: str
    events: list[dict[str, Any]]
    timeline: list[timeline.TimelineEntry]


class OpsActionCreate(StrictModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class OpsActionResult(BaseModel):
    workflow_id: str
    run_id: str
    action: Literal["cancel", "terminate"]
    requested_by: str
    at: datetime
    status: Literal["cancel_requested", "terminated"]


# --- helpers -----------------------------------------------------------------------------


def _not_found() -> ProblemError:
    return ProblemError(404, "workflow_not_found", "No such process", "")


async def _describe(client: Client, workflow_id: str) -> WorkflowExecutionDescription:
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise _not_found() from None
        raise


# --- reads -------------------------------------------------------------------------------


@router.get(
    "/workflows", response_model=Page[visibility.WorkflowSummary], responses=problem_responses(422)
)
async def search_workflows(
    user: OpsUser,
    client: TemporalDep,
    process: EnumValue = None,
    status: ExecutionStatus | None = None,
    stage: EnumValue = None,
    business_status: EnumValue = None,
    agent: Annotated[str | None, Query(pattern=visibility.AGENT_PATTERN)] = None,
    amount_min: Amount = None,
    amount_max: Amount = None,
    started_after: AwareDatetime | None = None,
    started_before: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[visibility.WorkflowSummary]:
    """Processes from Temporal visibility, filtered by process (`enrollment`, `claim`),
    execution status (`running`, `completed`, ...), stage, the process's own status
    (`business_status`: `in_progress`, `effective`, ...), agent, amount range (the sum
    insured of an enrollment, the amount claimed of a claim) and start time. `next_cursor`
    pages on; visibility trails the processes by a moment."""
    if amount_min is not None and amount_max is not None and amount_min > amount_max:
        raise ProblemError(
            422, "invalid_amount_range", "Invalid amount range", "amount_min is above amount_max"
        )
    filters = visibility.SearchFilters(
        process=process,
        status=status,
        stage=stage,
        business_status=business_status,
        agent=agent,
        amount_min=amount_min,
        amount_max=amount_max,
        started_after=started_after,
        started_before=started_before,
    )
    try:
        query = visibility.build_query(filters)
        items, next_cursor = await visibility.list_page(
            client,
            query,
            page_size=limit,
            cursor=cursor or None,  # an empty `cursor=` is the first page
        )
    except visibility.InvalidCursor:
        raise ProblemError(422, "invalid_cursor", "Invalid cursor", "") from None
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:  # a filter visibility cannot answer
            detail = scrub(err.message)
            raise ProblemError(422, "invalid_search", "Search refused", detail) from None
        raise
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/workflows/{workflow_id}",
    response_model=describe.ProcessDescription,
    responses=problem_responses(404),
)
async def describe_workflow(
    workflow_id: WorkflowId, user: OpsUser, client: TemporalDep, session: SessionDep
) -> describe.ProcessDescription:
    """Where one process stands: status, stage, the activities it waits on (attempt, last
    failure, next retry), its open task (assignee, due, escalation level), the timers and
    deadlines ahead, its parent and children."""
    try:
        return await describe.describe_process(client, session, workflow_id)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise _not_found() from None
        raise


@router.get(
    "/workflows/{workflow_id}/history", response_model=HistoryRead, responses=problem_responses(404)
)
async def workflow_history(
    workflow_id: WorkflowId,
    user: OpsUser,
    client: TemporalDep,
    workflow_tasks: Annotated[
        bool, Query(description="Include the workflow task events (Temporal's bookkeeping)")
    ] = False,
) -> HistoryRead:
    """The event history (latest run), payloads decoded and personal data masked, with a
    `timeline` that tells it in business words."""
    description = await _describe(client, workflow_id)
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    fetched = await handle.fetch_history()
    events = await history.decode_events(
        client.data_converter, fetched.events, include_workflow_tasks=True
    )
    entries = timeline.build_timeline(events)
    if not workflow_tasks:
        events = [e for e in events if not e["type"].startswith("WorkflowTask")]
    return HistoryRead(
        workflow_id=workflow_id, run_id=description.run_id, events=events, timeline=entries
    )


@router.get(
    "/workflows/{workflow_id}/history/export",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "Temporal history JSON"},
        **problem_responses(404),
    },
)
async def export_history(workflow_id: WorkflowId, user: OpsUser, client: TemporalDep) -> Response:
    """The raw history JSON (latest run), as `temporal workflow show --output json` prints
    it: payloads stay encrypted. Replay it with `temporalio.worker.Replayer` and the app's
    data converter, or load it in the Temporal UI."""
    description = await _describe(client, workflow_id)
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    fetched = await handle.fetch_history()
    return Response(
        content=fetched.to_json(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{workflow_id}.history.json"'},
    )


@router.get("/incidents", response_model=incidents.IncidentReport)
async def list_incidents(
    user: OpsUser,
    client: TemporalDep,
    session: SessionDep,
    settings: SettingsDep,
    threshold: Annotated[
        int | None,
        Query(ge=1, le=1000, description="Attempts that make an incident (default: settings)"),
    ] = None,
) -> incidents.IncidentReport:
    """What needs attention: activities failing again and again (current attempt at least
    the threshold) with their error, and processes whose SLA was breached. Scans the most
    recently started running processes (`scan_limit` of them; `complete` says whether that
    was all)."""
    return await incidents.scan(
        client,
        session,
        threshold=threshold or settings.incident_attempt_threshold,
        limit=settings.incident_scan_limit,
    )


# --- actions -----------------------------------------------------------------------------


async def _act(
    action: Literal["cancel", "terminate"],
    workflow_id: str,
    body: OpsActionCreate,
    user: Actor,
    client: Client,
    session: AsyncSession,
    request: Request,
) -> OpsActionResult:
    # The reason lands in the history in plaintext: scrubbed like any free text.
    reason = scrub(body.reason)

    async def record(outcome: dict[str, Any]) -> AuditEvent:
        return await audit.append(
            session,
            actor=user.username,
            action=f"ops.{action}",
            case_id=workflow_id[:64],
            client=client_address(request),
            request_id=getattr(request.state, "request_id", None),
            detail={"reason": reason, "workflow_id": workflow_id, **outcome},
        )

    async def refused(problem: ProblemError) -> ProblemError:
        # A refused action changes nothing, but the attempt is on record.
        await session.rollback()
        await record({"outcome": "refused", "code": problem.code})
        await session.commit()
        return problem

    try:
        description = await _describe(client, workflow_id)
    except ProblemError as problem:
        raise await refused(problem) from None
    status = visibility.status_name(description.status)
    if status != "running":
        raise await refused(
            ProblemError(
                409, "workflow_not_running", "Process is not running", f"the process is {status}"
            )
        )
    # Written first, committed only once Temporal took the request.
    event = await record({"outcome": "ok", "run_id": description.run_id})
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    try:
        if action == "cancel":
            await handle.cancel(reason=f"{user.username}: {reason}")
        else:
            await handle.terminate(reason=f"{user.username}: {reason}")
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:  # it closed meanwhile
            raise await refused(
                ProblemError(409, "workflow_not_running", "Process is not running", "")
            ) from None
        await session.rollback()
        raise
    if action == "terminate":
        await _record_termination(session, workflow_id, user, reason)
    await session.commit()
    log.info("ops_action", action=action, workflow_id=workflow_id)
    return OpsActionResult(
        workflow_id=workflow_id,
        run_id=description.run_id,
        action=action,
        requested_by=user.username,
        at=event.at,
        status="cancel_requested" if action == "cancel" else "terminated",
    )


async def _record_termination(
    session: AsyncSession, workflow_id: str, user: Actor, reason: str
) -> None:
    """A terminated process runs nothing more (no compensation, no read-model write), so
    its ending is recorded here, with the audit row: the case reads ``terminated`` and
    its open tasks leave the inbox."""
    note = f"terminated: {reason}"
    for record in (enrollments.record_termination, claims.record_termination):
        await record(session, workflow_id=workflow_id, by=user.username, note=note)
    cancelled = await tasks.cancel_open_tasks(
        session, workflow_id=workflow_id, reason=f"process terminated by {user.username}"
    )
    log.info("ops_terminated_recorded", workflow_id=workflow_id, tasks_cancelled=cancelled)


@router.post(
    "/workflows/{workflow_id}/cancel",
    status_code=202,
    response_model=OpsActionResult,
    responses=problem_responses(404, 409, 422),
)
async def cancel_workflow(
    workflow_id: WorkflowId,
    body: OpsActionCreate,
    user: OpsUser,
    client: TemporalDep,
    session: SessionDep,
    request: Request,
) -> OpsActionResult:
    """Ask the process to cancel: it compensates (refunds what it charged, closes its open
    task, cancels an issued policy) and ends as cancelled. `reason` is required; the
    request is audited."""
    return await _act("cancel", workflow_id, body, user, client, session, request)


@router.post(
    "/workflows/{workflow_id}/terminate",
    response_model=OpsActionResult,
    responses=problem_responses(404, 409, 422),
)
async def terminate_workflow(
    workflow_id: WorkflowId,
    body: OpsActionCreate,
    user: OpsUser,
    client: TemporalDep,
    session: SessionDep,
    request: Request,
) -> OpsActionResult:
    """Stop the process at once, without compensation (the last resort when it cannot
    run its own cancellation). `reason` is required; the request is audited."""
    return await _act("terminate", workflow_id, body, user, client, session, request)
