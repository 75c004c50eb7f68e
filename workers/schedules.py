"""The Temporal Schedules InsureFlow runs on: made idempotently at start-up, beside the
search attributes (``insureflow dev``, and ``insureflow worker`` in a deployment)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)

from domain.reports import ReportsRun
from workflows.reports import ReportsWorkflow

REPORTS_SCHEDULE_ID = "reports-daily"


def reports_schedule(task_queue: str) -> Schedule:
    """ReportsWorkflow every day at 00:30 in Shanghai, for the day just ended.

    Written as 16:30 UTC: Shanghai is UTC+8 all year (no daylight saving), and a UTC
    calendar needs no time-zone database on the server. Half an hour past midnight lets
    the last records of the day (written just after their event) land first."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReportsWorkflow.run,
            ReportsRun(),
            id="reports-daily",  # the schedule appends the run's time
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(16)], minute=[ScheduleRange(30)])]
        ),
        # A run missed while the cluster was down still runs within a day; never two at once
        # (they would write the same day's rows: harmless, but wasted).
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )


async def ensure_schedules(client: Client, *, task_queue: str) -> list[str]:
    """Create the schedules that are missing; return the ids created. One that exists is
    left as it is (ops may have paused it)."""
    created = []
    try:
        await client.create_schedule(REPORTS_SCHEDULE_ID, reports_schedule(task_queue))
        created.append(REPORTS_SCHEDULE_ID)
    except ScheduleAlreadyRunningError:
        pass
    return created
