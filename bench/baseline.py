"""The bare pipeline's operations, and the tuning measured on it: eager workflow start; the
worker's workflow cache and workflow-task slots; the dev server's SQLite without WAL.

Every pipeline worker runs in this (the bench) process on its own task queue, so eager
start can hand it the first workflow task directly. Each tuning change runs interleaved
with its "before" (A B A B ...), so the machine's other load falls on both alike.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from bench.histories import history_profile
from bench.load import Arm, drive, interleave
from bench.pipeline import BenchLocalPipelineWorkflow, BenchPipelineWorkflow, bench_step
from bench.stack import Stack

WARMUP = 10
PIPELINES: dict[str, Any] = {
    "regular": BenchPipelineWorkflow,
    "local": BenchLocalPipelineWorkflow,
}


@dataclass
class Pipeline:
    """Pipelines of one variant on one worker: the operation an Arm runs."""

    client: Client
    variant: str
    eager: bool = False
    worker_options: dict[str, Any] = field(default_factory=dict)
    task_queue: str = field(default_factory=lambda: f"bench-pipeline-{uuid.uuid4().hex[:8]}")
    eager_started: int = 0
    first_id: str = ""

    @property
    def workflow(self) -> Any:
        return PIPELINES[self.variant]

    def one(self) -> Callable[[int], Awaitable[None]]:
        async def run(n: int) -> None:
            workflow_id = f"{self.task_queue}-{n}"
            handle = await self.client.start_workflow(
                self.workflow.run,
                n,
                id=workflow_id,
                task_queue=self.task_queue,
                request_eager_start=self.eager,
            )
            if getattr(handle, "__temporal_eagerly_started", False):
                self.eager_started += 1
            self.first_id = self.first_id or workflow_id
            result = await handle.result()
            if result != n + 5:
                raise RuntimeError(f"pipeline returned {result}")

        return run

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Pipeline]:
        """Its worker, started and warmed up (the warm-up is not counted)."""
        async with Worker(
            self.client,
            task_queue=self.task_queue,
            workflows=[self.workflow],
            activities=[bench_step],
            **self.worker_options,
        ):
            await drive(WARMUP, WARMUP, lambda i: self.one()(-1 - i))
            self.eager_started = 0
            self.first_id = ""
            yield self

    async def describe(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "eager_requested": self.eager,
            "eager_started": self.eager_started,
            "worker_options": self.worker_options,
            "per_process": await history_profile(self.client, self.first_id)
            if self.first_id
            else {},
        }


@dataclass
class Change:
    """A tuning change: the pipeline before and after it."""

    key: str
    what: str
    before: Pipeline
    after: Pipeline


async def run_tuning(
    stack: Stack, *, total: int, concurrency: int, wal_total: int, rounds: int
) -> dict[str, dict[str, Any]]:
    """Each change measured interleaved with its before, in the same run."""
    client = stack.require_client()
    changes = [
        Change(
            "control_no_change",
            "nothing changed (A/A control: how far two identical sides differ here)",
            Pipeline(client, "regular"),
            Pipeline(client, "regular"),
        ),
        Change(
            "eager_start_regular",
            "eager workflow start, 5 regular activities",
            Pipeline(client, "regular"),
            Pipeline(client, "regular", eager=True),
        ),
        Change(
            "eager_start_local",
            "eager workflow start, 5 local activities",
            Pipeline(client, "local"),
            Pipeline(client, "local", eager=True),
        ),
        Change(
            "workflow_cache_off",
            "worker max_cached_workflows 1,000 (SDK default) → 0",
            Pipeline(client, "regular"),
            Pipeline(client, "regular", worker_options={"max_cached_workflows": 0}),
        ),
        Change(
            "workflow_task_slots_2",
            "worker max_concurrent_workflow_tasks 100 (SDK default) → 2, regular activities",
            Pipeline(client, "regular"),
            Pipeline(client, "regular", worker_options={"max_concurrent_workflow_tasks": 2}),
        ),
        Change(
            "workflow_task_slots_2_local",
            "worker max_concurrent_workflow_tasks 100 (SDK default) → 2, local activities",
            Pipeline(client, "local"),
            Pipeline(client, "local", worker_options={"max_concurrent_workflow_tasks": 2}),
        ),
    ]
    out: dict[str, dict[str, Any]] = {}
    for change in changes:
        out[change.key] = await _compare(stack, change, total, concurrency, rounds)

    # WAL: two fresh dev servers, with and without the pragmas, alive together and used
    # in alternate rounds; same size and same database age on both.
    async with AsyncExitStack() as servers:
        clients: dict[bool, Client] = {}
        for wal in (True, False):
            name = f"temporal-{'wal' if wal else 'no-wal'}"
            server = await stack.start_temporal(name, stack.root / name, wal=wal)
            servers.callback(stack.stop_child, server.child)
            clients[wal] = await stack.connect(server.address)
        change = Change(
            "sqlite_wal",
            "dev server SQLite without → with journal_mode=wal, synchronous=normal",
            Pipeline(clients[False], "regular"),
            Pipeline(clients[True], "regular"),
        )
        out[change.key] = await _compare(stack, change, wal_total, concurrency, rounds)
    return out


async def _compare(
    stack: Stack, change: Change, total: int, concurrency: int, rounds: int
) -> dict[str, Any]:
    stack.progress.say(f"tuning {change.key}: {change.what}; {total} each, {rounds} rounds")
    async with change.before.running(), change.after.running():
        results = await interleave(
            [
                Arm(f"{change.key} before", change.before.one(), total, concurrency),
                Arm(f"{change.key} after", change.after.one(), total, concurrency),
            ],
            rounds=rounds,
            sampler=stack.sampler,
            progress=stack.progress,
        )
        before = results[f"{change.key} before"].as_dict() | await change.before.describe()
        after = results[f"{change.key} after"].as_dict() | await change.after.describe()
    return {"what": change.what, "concurrency": concurrency, "before": before, "after": after}
