"""What one finished process costs Temporal: events, activities, workflow tasks, Updates."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client


async def history_profile(client: Client, workflow_id: str) -> dict[str, int]:
    """Counts from one workflow's event history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    kinds = [e.event_type for e in history.events]
    local = sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )
    regular = kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    return {
        "history_events": len(kinds),
        "steps": regular + local,
        "activities": regular,
        "local_activities": local,
        "workflow_tasks": kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        "updates": kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
    }
