"""A process's latest run as ops reach it: found by its workflow id (404
``workflow_not_found`` otherwise), its history read — decoded, masked and told as a
timeline — or exported as Temporal prints it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.service import RPCError

from domain.texts import N_
from services.ops.history import decode_events
from services.ops.timeline import TimelineEntry, build_timeline
from services.problems import ProblemError
from services.processes import is_not_found


def workflow_not_found() -> ProblemError:
    return ProblemError(404, "workflow_not_found", N_("No such process"), "")


async def execution(client: Client, workflow_id: str) -> WorkflowExecutionDescription:
    """Temporal's description of the process's latest run; 404 if there is none."""
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if is_not_found(err):
            raise workflow_not_found() from None
        raise


@dataclass(frozen=True)
class ProcessHistory:
    """The latest run's events, decoded and masked, and the same told as a timeline."""

    workflow_id: str
    run_id: str
    events: list[dict[str, Any]]
    timeline: list[TimelineEntry]


async def read_history(client: Client, workflow_id: str, *, workflow_tasks: bool) -> ProcessHistory:
    """The event history of the latest run, payloads decoded and personal data masked, with
    its timeline; the workflow task events (Temporal's bookkeeping) only if `workflow_tasks`
    (the timeline is built with them either way)."""
    description = await execution(client, workflow_id)
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    fetched = await handle.fetch_history()
    events = await decode_events(client.data_converter, fetched.events, include_workflow_tasks=True)
    entries = build_timeline(events)
    if not workflow_tasks:
        events = [e for e in events if not e["type"].startswith("WorkflowTask")]
    return ProcessHistory(
        workflow_id=workflow_id, run_id=description.run_id, events=events, timeline=entries
    )


async def export_history(client: Client, workflow_id: str) -> str:
    """The raw history JSON of the latest run, as ``temporal workflow show --output json``
    prints it: payloads stay encrypted."""
    description = await execution(client, workflow_id)
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    fetched = await handle.fetch_history()
    return fetched.to_json()
