"""ReportsWorkflow on the time-skipping server, its activity mocked by name: it aggregates
the business day asked for, or without one the day before the run in Shanghai."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from temporalio import activity
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import steps
from domain.business import SHANGHAI
from domain.reports import ReportDay, ReportDayAggregated, ReportsRun
from workers.schedules import reports_schedule
from workflows.reports import ReportsWorkflow


async def _run(env: WorkflowEnvironment, run: ReportsRun) -> tuple[ReportDayAggregated, list[date]]:
    asked: list[date] = []

    @activity.defn(name=steps.AGGREGATE_REPORT_DAY.name)
    async def aggregate_report_day(request: ReportDay) -> ReportDayAggregated:
        asked.append(request.day)
        return ReportDayAggregated(day=request.day, agent_rows=2, task_rows=1, sample_rows=0)

    queue = f"reports-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[ReportsWorkflow], activities=[aggregate_report_day]
    ):
        result = await env.client.execute_workflow(
            ReportsWorkflow.run, run, id=f"reports-{uuid.uuid4()}", task_queue=queue
        )
    return result, asked


async def test_the_workflow_aggregates_the_day_asked_for(time_env: WorkflowEnvironment) -> None:
    result, asked = await _run(time_env, ReportsRun(day=date(2025, 3, 10)))
    assert asked == [date(2025, 3, 10)]
    assert result.day == date(2025, 3, 10) and result.agent_rows == 2


async def test_without_a_day_the_workflow_aggregates_the_business_day_before(
    time_env: WorkflowEnvironment,
) -> None:
    now = await time_env.get_current_time()
    result, asked = await _run(time_env, ReportsRun())
    expected = now.astimezone(SHANGHAI).date().toordinal() - 1
    assert [d.toordinal() for d in asked] == [expected]
    assert result.day.toordinal() == expected


def test_the_schedule_starts_the_workflow_at_0030_in_shanghai_without_overlap() -> None:
    # The time-skipping server has no schedules (CreateSchedule is unimplemented): the
    # schedule itself is checked as data; `ensure_schedules` runs against the dev server.
    schedule = reports_schedule("insureflow")
    [calendar] = schedule.spec.calendars
    moment = datetime(2025, 3, 10, calendar.hour[0].start, calendar.minute[0].start, tzinfo=UTC)
    assert moment.astimezone(SHANGHAI).time() == time(0, 30)
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "ReportsWorkflow" and action.task_queue == "insureflow"
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
