"""Scenario (g): many enrollments parked in underwriting at once.

M enrollments with a sum above the product's auto-underwriting limit each open a task and
wait for a supervisor. With all of them parked: the worker's and the server's memory, and
the latency of a decision (``POST /v1/tasks/{id}/decision`` as sue) on some of them.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.api_load import Endpoints, login
from bench.load import drive
from bench.processes import PARKED_SUM, People, start_enrollment
from bench.progress import Ticker
from bench.stack import Stack
from db.models import Task

PREFIX = "EP"
DECISION_PAUSE = 0.5
QUIET_CORES = 0.05


async def _open_parked(stack: Stack) -> int:
    async with stack.require_sessions()() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Task)
            .where(
                Task.kind == "underwriting",
                Task.status == "open",
                Task.case_id.like(f"{PREFIX}%"),
            )
        )
    return int(count or 0)


async def run_parked(
    stack: Stack, people: People, *, parked: int, concurrency: int, decisions: int
) -> dict[str, Any]:
    client = stack.require_client()
    assert stack.settings is not None
    clocks = stack.settings.clocks
    progress = stack.progress
    sampler = stack.sampler

    async def park(i: int) -> None:
        await start_enrollment(
            client,
            stack.task_queue,
            people,
            f"{PREFIX}{i:07d}",
            clocks=clocks,
            sum_insured=PARKED_SUM,
        )

    rss_before = sampler.rss_now()
    progress.say(f"parked: starting {parked} enrollments above the auto limit")
    with sampler.window() as parking:
        started = await drive(
            parked, concurrency, park, ticker=Ticker(progress, "parked started", parked, every=10)
        )
        deadline = time.monotonic() + max(120.0, parked * 0.2)
        open_tasks = await _open_parked(stack)
        last_say = time.monotonic()
        while open_tasks < started.completed and time.monotonic() < deadline:
            await asyncio.sleep(1)
            open_tasks = await _open_parked(stack)
            if time.monotonic() - last_say > 10:
                last_say = time.monotonic()
                progress.say(f"parked: {open_tasks}/{started.completed} underwriting tasks open")
    progress.say(f"parked: {open_tasks} underwriting tasks open; waiting for the worker to idle")
    await stack.wait_quiet("worker", below=QUIET_CORES)
    with sampler.window() as idle:
        await asyncio.sleep(3)
    rss_parked = sampler.rss_now()

    chosen = random.sample(range(started.completed), min(decisions, started.completed))
    endpoints = Endpoints()
    name = "POST /v1/tasks/{id}/decision"
    async with httpx.AsyncClient(base_url=stack.api_base, timeout=30) as http:
        sue = await login(http, "sue")
        with sampler.window() as deciding:
            for n, i in enumerate(chosen):
                task_id = f"uw-{PREFIX}{i:07d}"
                try:
                    r = await endpoints.call(
                        name,
                        http.post(
                            f"/v1/tasks/{task_id}/decision",
                            json={"decision": "approve", "reason": "benchmark decision"},
                            headers=sue,
                        ),
                    )
                    if r.json()["stage"] == "underwriting":
                        progress.say(f"parked: decision {n} answered still in underwriting")
                except Exception as err:  # counted by Endpoints; keep deciding the rest
                    progress.say(f"parked: decision on {task_id} failed: {err}")
                await asyncio.sleep(DECISION_PAUSE)
    decided = endpoints.summary().get(name, {})
    assert stack.settings is not None
    cache = stack.settings.worker_max_cached_workflows  # the worker's: same environment
    out = {
        "parked_requested": parked,
        "parked_started": started.completed,
        "start_errors": started.latencies.summary()["error_kinds"],
        "underwriting_tasks_open": open_tasks,
        "parking": {
            "wall_s": round(parking.wall_s, 1),
            "parked_per_s": round(open_tasks / parking.wall_s, 2) if parking.wall_s else 0.0,
            "window": parking.as_dict(),
        },
        "rss_mib_before_parking": rss_before,
        "rss_mib_with_all_parked": rss_parked,
        "idle_cpu_with_all_parked": idle.as_dict(),
        "decisions": decided,
        "decision_pause_s": DECISION_PAUSE,
        "deciding_window": deciding.as_dict(),
        "worker_cache_note": (
            f"the worker caches at most {cache:,} workflows "
            "(INSUREFLOW_WORKER_MAX_CACHED_WORKFLOWS, the SDK default): "
            f"with {open_tasks:,} parked, "
            + (
                "all fit in the cache"
                if open_tasks <= cache
                else f"about {open_tasks - cache:,} are evicted, and a decision on one of "
                "them (the decided cases are drawn at random) replays its history first"
            )
        ),
    }
    progress.say(
        f"parked: worker RSS {rss_parked.get('worker')} MiB, server RSS "
        f"{rss_parked.get('temporal')} MiB; decision p50 {decided.get('p50_ms')} ms, "
        f"p99 {decided.get('p99_ms')} ms"
    )
    return out
