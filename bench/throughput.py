"""Throughput at workflow level (no HTTP), side by side in interleaved rounds: the bare
pipeline with regular and with local activities (the ceiling Temporal sets here),
enrollments to ``effective`` and claims to ``closed`` on the real worker and its variants;
and the tuning of the bare pipeline, each change against its before.

The pipeline's workers run in this (the bench) process, each on its own task queue, so
that eager start can hand them their first workflow task.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from bench.load import Arm, drive, interleave
from bench.pipeline import STEPS, BenchLocalPipelineWorkflow, BenchPipelineWorkflow, bench_step
from bench.processes import People, claim_operation, enrollment_operation, history_counts
from bench.stack import Stack
from workflows.claim import workflow_id_for as claim_workflow_id
from workflows.enrollment import workflow_id_for

WARMUP = 10  # pipelines per worker before measuring, not counted
PROCESS_WARMUP = 3  # enrollments or claims per worker process, not counted
PIPELINES: dict[str, Any] = {"regular": BenchPipelineWorkflow, "local": BenchLocalPipelineWorkflow}
# Tuning: each change's key, its pipeline, and what the after side changes.
_SLOTS_2 = {"worker_options": {"max_concurrent_workflow_tasks": 2}}
CHANGES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("control_no_change", "regular", {}),  # A/A: how far two identical sides differ here
    ("eager_start_regular", "regular", {"eager": True}),
    ("eager_start_local", "local", {"eager": True}),
    ("workflow_cache_off", "regular", {"worker_options": {"max_cached_workflows": 0}}),
    ("workflow_task_slots_2", "regular", _SLOTS_2),
    ("workflow_task_slots_2_local", "local", _SLOTS_2),
)


@dataclass
class Pipeline:
    """Pipelines of one variant on their own worker; ``one`` is the operation."""

    client: Client
    variant: str
    eager: bool = False
    worker_options: dict[str, Any] = field(default_factory=dict)
    task_queue: str = field(default_factory=lambda: f"bench-pipeline-{uuid.uuid4().hex[:8]}")
    eager_started: int = 0

    async def one(self, n: int) -> None:
        handle = await self.client.start_workflow(
            PIPELINES[self.variant].run,
            n,
            id=f"{self.task_queue}-{n}",
            task_queue=self.task_queue,
            request_eager_start=self.eager,
        )
        self.eager_started += bool(getattr(handle, "__temporal_eagerly_started", False))
        if (result := await handle.result()) != n + STEPS:
            raise RuntimeError(f"pipeline returned {result}")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Pipeline]:
        """Its worker, started and warmed up."""
        workflow = PIPELINES[self.variant]
        async with Worker(
            self.client,
            task_queue=self.task_queue,
            workflows=[workflow],
            activities=[bench_step],
            **self.worker_options,
        ):
            await drive(WARMUP, WARMUP, lambda i: self.one(-1 - i))
            self.eager_started = 0
            yield self

    async def figures(self, measured: dict[str, Any]) -> dict[str, Any]:
        counts = await with_history(measured, self.client, f"{self.task_queue}-0")
        return counts | {"eager_started": self.eager_started}


async def with_history(
    measured: dict[str, Any], client: Client, workflow_id: str
) -> dict[str, Any]:
    """A measurement with the history of its first workflow, and its steps per second."""
    history = await history_counts(client, workflow_id)
    steps = round(measured["completed_per_s"] * history["steps"], 2)
    return measured | {"history": history, "steps_per_s": steps}


async def run_throughput(
    stack: Stack,
    people: People,
    *,
    baseline: int | None,
    enrollments: int | None,
    claims: int | None,
    concurrency: int,
    rounds: int,
) -> dict[str, Any]:
    """Whichever of the three are asked for (a size of None leaves one out), in one set of
    interleaved rounds."""
    client = stack.client
    arms: list[Arm] = []
    first: dict[str, str] = {}  # each arm's first workflow, whose history is counted
    pipelines: dict[str, Pipeline] = {}
    async with AsyncExitStack() as running:
        for variant in PIPELINES if baseline else ():
            pipeline = await running.enter_async_context(Pipeline(client, variant).running())
            pipelines[f"baseline.{variant}"] = pipeline
            arms.append(Arm(f"baseline.{variant}", pipeline.one, baseline or 0, concurrency))
        if enrollments:
            # The real worker; two real workers on one queue; with a PostgreSQL URL, one and
            # two with the read model there, whose keys carry the run's tag (that database
            # outlives the run).
            variants = {
                "enrollment": (stack.task_queue, "EA"),
                "enrollment_two_workers": (stack.pair_queue, "EY"),
            }
            if stack.postgres_url:
                variants["enrollment_postgres"] = (stack.postgres_queue, f"EG{stack.run_tag}")
                variants["enrollment_postgres_two_workers"] = (
                    stack.postgres_pair_queue,
                    f"EH{stack.run_tag}",
                )
            for key, (queue, prefix) in variants.items():
                n = PROCESS_WARMUP * stack.queues[queue] ** 2  # so that both of a pair get some
                warm = enrollment_operation(stack, people, prefix=prefix + "W", task_queue=queue)
                await drive(n, n, warm)
                one = enrollment_operation(stack, people, prefix=prefix, task_queue=queue)
                arms.append(Arm(key, one, enrollments, concurrency))
                first[key] = workflow_id_for(f"{prefix}{0:07d}")
        if claims:
            warm = await claim_operation(stack, PROCESS_WARMUP, prefix="CBW")
            await drive(PROCESS_WARMUP, PROCESS_WARMUP, warm)
            arms.append(Arm("claims", await claim_operation(stack, claims), claims, concurrency))
            first["claims"] = claim_workflow_id(f"CB{0:07d}")
        stack.progress.say(
            "throughput: "
            + ", ".join(f"{a.name} {a.total}" for a in arms)
            + f"; {concurrency} in flight, {rounds} rounds"
        )
        out = await interleave(arms, rounds=rounds, sampler=stack.sampler, progress=stack.progress)
    for key, pipeline in pipelines.items():
        out[key] = await pipeline.figures(out[key])
    for key, workflow_id in first.items():
        out[key] = await with_history(out[key], client, workflow_id)
    return out


async def run_tuning(
    stack: Stack, *, total: int, concurrency: int, wal_total: int, rounds: int
) -> dict[str, Any]:
    """Each change interleaved with its before, in the same run."""
    client = stack.client
    out: dict[str, Any] = {}
    for key, variant, after in CHANGES:
        before_side, after_side = Pipeline(client, variant), Pipeline(client, variant, **after)
        out[key] = await _compare(stack, key, before_side, after_side, total, concurrency, rounds)
    # WAL: two fresh dev servers, without and with the pragmas, alive together and used in
    # alternate rounds: the same size and the same database age on both.
    async with AsyncExitStack() as servers:
        clients: dict[bool, Client] = {}
        for wal in (False, True):
            name = "temporal-wal" if wal else "temporal-no-wal"
            server = await stack.start_temporal(name, stack.root / name, wal=wal)
            servers.callback(stack.stop_child, server)
            clients[wal] = await stack.connect(server.address)
        before_side, after_side = (
            Pipeline(clients[False], "regular"),
            Pipeline(clients[True], "regular"),
        )
        out["sqlite_wal"] = await _compare(
            stack, "sqlite_wal", before_side, after_side, wal_total, concurrency, rounds
        )
    return out


async def _compare(
    stack: Stack,
    key: str,
    before: Pipeline,
    after: Pipeline,
    total: int,
    concurrency: int,
    rounds: int,
) -> dict[str, Any]:
    async with before.running(), after.running():
        arms = [
            Arm(f"tuning.{key}.before", before.one, total, concurrency),
            Arm(f"tuning.{key}.after", after.one, total, concurrency),
        ]
        done = await interleave(arms, rounds=rounds, sampler=stack.sampler, progress=stack.progress)
        return {
            "before": await before.figures(done[f"tuning.{key}.before"]),
            "after": await after.figures(done[f"tuning.{key}.after"]),
        }
