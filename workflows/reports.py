"""ReportsWorkflow: the reports' daily aggregates for one business day, run by the daily
Schedule (workers/schedules.py) for the day before, or for any day asked.

The work is one activity (a day's figures replaced in one transaction); the workflow gives
it Temporal's retries and the schedule's history, so ops see a day that failed."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.reports import ReportDay, ReportDayAggregated, ReportsRun, previous_business_day
    from workflows.steps import run_step

# A day's aggregation reads a day of rows: minutes at most. A database outage is retried
# for a while; the next run (or a backfill) recomputes the day anyway.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=10,
)


@workflow.defn
class ReportsWorkflow:
    @workflow.run
    async def run(self, run: ReportsRun) -> ReportDayAggregated:
        # The schedule starts it just after midnight in Shanghai: the day before is complete.
        day = run.day or previous_business_day(workflow.now())
        workflow.logger.info("aggregating reports for %s", day.isoformat())
        return await run_step(
            steps.AGGREGATE_REPORT_DAY,
            ReportDay(day=day),
            start_to_close=timedelta(minutes=10),
            retry_policy=_RETRY,
        )
