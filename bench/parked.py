"""Many enrollments parked in underwriting at once: each above the product's auto limit,
so it opens a task and waits for a supervisor. With all of them parked: the worker's and
the server's memory, and decisions (``POST /v1/tasks/{id}/decision`` as sue) on cases drawn
at random, one at a time.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.api_load import Endpoints, login
from bench.load import Ticker, drive
from bench.processes import PARKED_SUM, People, start_enrollment
from bench.stack import Stack
from db.models import Task

PREFIX = "EP"
DECISION_PAUSE = 0.5
DECISION = "decision"  # POST /v1/tasks/{id}/decision


async def _open_parked(stack: Stack) -> int:
    async with stack.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.kind == "underwriting", Task.status == "open")
            .where(Task.case_id.like(f"{PREFIX}%"))
        )
    return int(count or 0)


async def run_parked(
    stack: Stack, people: People, *, parked: int, concurrency: int, decisions: int
) -> dict[str, Any]:
    client, settings, sampler = stack.client, stack.settings, stack.sampler
    clocks = settings.clocks

    async def park(i: int) -> None:
        application_no = f"{PREFIX}{i:07d}"
        await start_enrollment(
            client, stack.task_queue, people, application_no, clocks=clocks, sum_insured=PARKED_SUM
        )

    rss_before = sampler.rss_now_mib()
    ticker = Ticker(stack.progress, "parked: started", parked)
    with sampler.window() as parking:
        started = await drive(parked, concurrency, park, ticker=ticker)
        done = len(started.latencies.samples)
        deadline = time.monotonic() + max(120.0, parked * 0.2)
        open_tasks = await _open_parked(stack)
        while open_tasks < done and time.monotonic() < deadline:
            await asyncio.sleep(1)  # the worker opens each task in its own time
            open_tasks = await _open_parked(stack)
    await stack.wait_quiet("worker")
    with sampler.window() as idle:
        await asyncio.sleep(3)
    rss_parked = sampler.rss_now_mib()

    endpoints = Endpoints()
    async with httpx.AsyncClient(base_url=stack.api_base, timeout=30) as http:
        sue = await login(http, "sue")
        with sampler.window() as deciding:
            for i in random.sample(range(done), min(decisions, done)):
                body = {"decision": "approve", "reason": "benchmark decision"}
                url = f"/v1/tasks/uw-{PREFIX}{i:07d}/decision"
                try:
                    await endpoints.call(DECISION, http.post(url, json=body, headers=sue))
                except Exception as err:  # counted by Endpoints; decide the rest
                    stack.progress.say(f"parked: decision {url} failed: {err}")
                await asyncio.sleep(DECISION_PAUSE)
    cache = settings.worker_max_cached_workflows  # the worker's: the same environment
    grown = rss_parked.get("worker", 0.0) - rss_before.get("worker", 0.0)
    return {
        "requested": parked,
        "started": started.as_dict(),
        "underwriting_tasks_open": open_tasks,
        "parking_s": round(parking.wall_s, 1),
        "parked_per_s": round(open_tasks / parking.wall_s, 2) if parking.wall_s else 0.0,
        "parking_window": parking.as_dict(),
        "rss_before_mib": rss_before,
        "rss_parked_mib": rss_parked,
        "worker_rss_per_case_kib": round(1024 * grown / open_tasks, 1) if open_tasks else None,
        "worker_cache_workflows": cache,
        "beyond_cache": max(0, open_tasks - cache),
        "idle_window": idle.as_dict(),
        "decision_pause_s": DECISION_PAUSE,
        "decisions": endpoints.summary().get(DECISION, {}),
        "deciding_window": deciding.as_dict(),
    }
