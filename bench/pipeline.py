"""The baseline: a bare workflow of five trivial steps, as regular activities or as local
activities. It has none of InsureFlow's work in it, so its throughput on the same server
is the ceiling Temporal itself sets on this machine.

Loaded into the workflow sandbox: imports only the standard library and temporalio.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import activity, workflow

STEPS = 5
_TIMEOUT = timedelta(seconds=30)
WAKE_STEP = "bench_wake"  # the activity BenchWake runs: bench.timers has it


@activity.defn(name="bench_step")
async def bench_step(n: int) -> int:
    """A step that does nothing but answer."""
    return n + 1


@workflow.defn(name="BenchPipeline")
class BenchPipelineWorkflow:
    """Five regular activities in a row."""

    @workflow.run
    async def run(self, n: int) -> int:
        for _ in range(STEPS):
            n = await workflow.execute_activity(bench_step, n, start_to_close_timeout=_TIMEOUT)
        return n


@workflow.defn(name="BenchLocalPipeline")
class BenchLocalPipelineWorkflow:
    """The same five steps as local activities: run inside the workflow task, no round
    trip through the server per step."""

    @workflow.run
    async def run(self, n: int) -> int:
        for _ in range(STEPS):
            n = await workflow.execute_local_activity(
                bench_step, n, start_to_close_timeout=_TIMEOUT
            )
        return n


@workflow.defn(name="BenchTimer")
class BenchTimerWorkflow:
    """Nothing but a timer: the bare workflow beside a parked PolicyWorkflow."""

    @workflow.run
    async def run(self, seconds: float) -> None:
        await workflow.sleep(seconds)


@dataclass(frozen=True)
class Wake:
    """When a BenchWake wakes, and the key its one step writes under."""

    key: str
    due_at: datetime


@workflow.defn(name="BenchWake")
class BenchWakeWorkflow:
    """A timer to a moment, then one activity: the bare workflow beside a policy whose
    installment is debited on its due moment (bench.billing). The step has the debit's
    timeout."""

    @workflow.run
    async def run(self, wake: Wake) -> None:
        wait = (wake.due_at - workflow.now()).total_seconds()
        if wait > 0:
            await workflow.sleep(wait)
        await workflow.execute_activity(
            WAKE_STEP, wake.key, start_to_close_timeout=timedelta(seconds=15)
        )
