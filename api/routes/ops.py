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

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.deps import OpsUser, SessionDep, SettingsDep, TemporalDep
from api.middleware import client_address
from api.openapi import problem_responses
from api.schemas import Money, OpsActionCreate, Page
from domain.underwriting import Actor
from services.ops import actions, describe, incidents, runs, timeline, visibility

router = APIRouter(prefix="/v1/ops", tags=["ops"])
_NOT_FOUND = {404: "workflow_not_found"}

WorkflowId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$", description="The process's workflow id")
]
EnumValue = Annotated[str | None, Query(pattern=visibility.ENUM_PATTERN)]
Amount = Annotated[Decimal | None, Query(ge=0, max_digits=14, decimal_places=2)]
ExecutionStatus = Literal["running", "completed", "failed", "canceled", "terminated", "timed_out"]


# --- bodies ------------------------------------------------------------------------------


class WorkflowSummary(visibility.WorkflowSummary):
    """One process as visibility knows it."""

    amount: Money | None


class ProcessDescription(describe.ProcessDescription):
    """One process as ops see it."""

    amount: Money | None


class HistoryRead(BaseModel):
    """The event history, decoded and masked, and the same told as a timeline."""

    workflow_id: str
    run_id: str
    events: list[dict[str, Any]]
    timeline: list[timeline.TimelineEntry]


class OpsActionResult(BaseModel):
    workflow_id: str
    run_id: str
    action: Literal["cancel", "terminate"]
    requested_by: str
    at: datetime
    status: Literal["cancel_requested", "terminated"]


# --- reads -------------------------------------------------------------------------------


@router.get(
    "/workflows",
    response_model=Page[WorkflowSummary],
    responses=problem_responses(
        {422: ["invalid_amount_range", "invalid_cursor", "invalid_search"]}
    ),
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
) -> Page[WorkflowSummary]:
    """Processes from Temporal visibility, filtered by process (`enrollment`, `claim`, `policy`),
    execution status (`running`, `completed`, ...), stage, the process's own status
    (`business_status`: `in_progress`, `effective`, ...), agent, amount range (the sum
    insured of an enrollment, the amount claimed of a claim) and start time. `next_cursor`
    pages on; visibility trails the processes by a moment."""
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
    items, next_cursor = await visibility.search(client, filters, cursor=cursor, limit=limit)
    return Page(items=[_summary(item) for item in items], next_cursor=next_cursor)


def _summary(item: visibility.WorkflowSummary) -> WorkflowSummary:
    return WorkflowSummary.model_validate(item, from_attributes=True)


@router.get(
    "/workflows/{workflow_id}",
    response_model=ProcessDescription,
    responses=problem_responses(_NOT_FOUND),
)
async def describe_workflow(
    workflow_id: WorkflowId, user: OpsUser, client: TemporalDep, session: SessionDep
) -> ProcessDescription:
    """Where one process stands: status, stage, the activities it waits on (attempt, last
    failure, next retry), its open task (assignee, due, escalation level), the timers and
    deadlines ahead, its parent and children."""
    found = await describe.describe_process(client, session, workflow_id)
    return ProcessDescription.model_validate(found, from_attributes=True)


@router.get(
    "/workflows/{workflow_id}/history",
    response_model=HistoryRead,
    responses=problem_responses(_NOT_FOUND),
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
    found = await runs.read_history(client, workflow_id, workflow_tasks=workflow_tasks)
    return HistoryRead.model_validate(found, from_attributes=True)


@router.get(
    "/workflows/{workflow_id}/history/export",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "Temporal history JSON"},
        **problem_responses(_NOT_FOUND),
    },
)
async def export_history(workflow_id: WorkflowId, user: OpsUser, client: TemporalDep) -> Response:
    """The raw history JSON (latest run), as `temporal workflow show --output json` prints
    it: payloads stay encrypted. Replay it with `temporalio.worker.Replayer` and the app's
    data converter, or load it in the Temporal UI."""
    return Response(
        content=await runs.export_history(client, workflow_id),
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
    action: actions.Action,
    workflow_id: str,
    body: OpsActionCreate,
    user: Actor,
    client: Client,
    session: AsyncSession,
    request: Request,
) -> OpsActionResult:
    requested = await actions.act(
        client,
        session,
        action,
        workflow_id,
        reason=body.reason,
        actor=user,
        client_address=client_address(request),
        request_id=getattr(request.state, "request_id", None),
    )
    return OpsActionResult(
        workflow_id=workflow_id,
        run_id=requested.run_id,
        action=action,
        requested_by=user.username,
        at=requested.at,
        status="cancel_requested" if action == "cancel" else "terminated",
    )


@router.post(
    "/workflows/{workflow_id}/cancel",
    status_code=202,
    response_model=OpsActionResult,
    responses=problem_responses(_NOT_FOUND, {409: "workflow_not_running"}),
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
    responses=problem_responses(_NOT_FOUND, {409: "workflow_not_running"}),
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
