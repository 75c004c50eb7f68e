"""The incident scan: what needs ops' attention across the running processes.

Two kinds of incident:

- ``failing_activity``: an activity whose current attempt is at least
  ``settings.incident_attempt_threshold`` (it has failed that many times less one in a
  row and is being retried), with its last error;
- ``sla_breach``: a claim whose recorded deadlines were breached, or an enrollment whose
  underwriting task is escalated or past due;
- ``halted``: a process that met data it cannot work with and stopped, waiting for ops to
  cancel it (its status search attribute says ``halted``; cancelling refunds a premium).

The scan covers the ``settings.incident_scan_limit`` most recently started running
InsureFlow processes (visibility), describes each, and asks the process's state only
where an SLA can be at stake (enrollments in underwriting, claims).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from services.ops.describe import (
    PendingActivity,
    ProcessState,
    breaches,
    open_task,
    pending_activity,
    query_state,
)
from services.ops.visibility import WorkflowSummary, list_page, running_processes_query

log = structlog.get_logger("api.ops")

CONCURRENCY = 16
DESCRIBE_TIMEOUT = timedelta(seconds=5)


class Incident(BaseModel):
    """One process that needs attention, and why."""

    kind: Literal["failing_activity", "sla_breach", "halted"]
    workflow_id: str
    process: str | None
    stage: str | None
    agent: str | None
    # failing_activity
    activity_type: str | None = None
    attempt: int | None = None
    error: str | None = None
    error_type: str | None = None
    last_started_at: datetime | None = None
    next_attempt_at: datetime | None = None
    # sla_breach
    breaches: list[str] = []
    task_id: str | None = None
    due_at: datetime | None = None


class IncidentReport(BaseModel):
    """Incidents found, and what the scan covered."""

    items: list[Incident]
    next_cursor: str | None = None
    threshold: int
    scanned: int
    scan_limit: int
    complete: bool  # False: more running processes exist than the scan covers
    skipped: list[str]  # processes that could not be described or queried in time


async def running_processes(client: Client, *, limit: int) -> tuple[list[WorkflowSummary], bool]:
    """The `limit` most recently started running processes; and whether that is all."""
    found: list[WorkflowSummary] = []
    cursor: str | None = None
    while len(found) < limit:
        page, cursor = await list_page(
            client,
            running_processes_query(),
            page_size=min(100, limit - len(found)),
            cursor=cursor,
        )
        found += page
        if cursor is None:
            return found, True
    return found[:limit], False


_Inspected = tuple[WorkflowSummary, list[PendingActivity], ProcessState | None]


def _needs_state(summary: WorkflowSummary) -> bool:
    # Only these can be in breach; asking every process would cost a query each.
    if summary.process == "enrollment":
        return summary.stage == "underwriting"
    return summary.process == "claim"


async def scan(
    client: Client, session: AsyncSession, *, threshold: int, limit: int
) -> IncidentReport:
    """Failing activities and SLA breaches across the running processes (see the module)."""
    summaries, complete = await running_processes(client, limit=limit)
    gate = asyncio.Semaphore(CONCURRENCY)
    skipped: list[str] = []

    async def inspect(summary: WorkflowSummary) -> _Inspected | None:
        async with gate:
            try:
                handle = client.get_workflow_handle(summary.workflow_id, run_id=summary.run_id)
                description = await handle.describe(rpc_timeout=DESCRIBE_TIMEOUT)
            except RPCError as err:
                log.warning(
                    "ops_describe_failed",
                    workflow_id=summary.workflow_id,
                    error=err.status.name if err.status else "unknown",
                )
                skipped.append(summary.workflow_id)
                return None
            pending = [
                await pending_activity(client.data_converter, p)
                for p in description.raw_description.pending_activities
                if p.attempt >= threshold
            ]
            state = None
            if _needs_state(summary):
                state = await query_state(client, summary.workflow_id)
                if state is None:
                    skipped.append(summary.workflow_id)
            return summary, pending, state

    inspected = [r for r in await asyncio.gather(*(inspect(s) for s in summaries)) if r]
    now = datetime.now(UTC)
    items: list[Incident] = []
    for summary, pending, state in inspected:
        stage = state.stage.value if state is not None else summary.stage
        if summary.business_status == "halted":
            items.append(
                Incident(
                    kind="halted",
                    workflow_id=summary.workflow_id,
                    process=summary.process,
                    stage=stage,
                    agent=summary.agent,
                )
            )
        for activity in pending:
            items.append(
                Incident(
                    kind="failing_activity",
                    workflow_id=summary.workflow_id,
                    process=summary.process,
                    stage=stage,
                    agent=summary.agent,
                    activity_type=activity.activity_type,
                    attempt=activity.attempt,
                    error=activity.last_failure,
                    error_type=activity.last_failure_type,
                    last_started_at=activity.last_started_at,
                    next_attempt_at=activity.next_attempt_at,
                )
            )
        task = await open_task(session, state)
        found = breaches(state, task, now=now)
        if found:
            items.append(
                Incident(
                    kind="sla_breach",
                    workflow_id=summary.workflow_id,
                    process=summary.process,
                    stage=stage,
                    agent=summary.agent,
                    breaches=found,
                    task_id=task.task_id if task else None,
                    due_at=task.due_at if task else None,
                )
            )
    await session.commit()
    return IncidentReport(
        items=items,
        threshold=threshold,
        scanned=len(summaries),
        scan_limit=limit,
        complete=complete,
        skipped=sorted(skipped),
    )
