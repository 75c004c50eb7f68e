"""What one finished process costs Temporal: events, activities, workflow tasks, Updates."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client


async def history_profile(client: Client, workflow_id: str) -> dict[str, int]:
    """Counts from one workflow's event history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    kinds = [e.event_type for e in history.events]
    return {
        "history_events": len(kinds),
        "activities": kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        "local_activities": kinds.count(EventType.EVENT_TYPE_MARKER_RECORDED),
        "workflow_tasks": kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        "updates": kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
    }
