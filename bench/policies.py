"""Policies in force (issue 14): ``policies`` PolicyWorkflows, each parked on its timer,
beside as many bare workflows that only wait on a timer (bench.pipeline.BenchTimer, on a
worker process of their own, bench.timers), started and parked the same way in the same
run: the bare ones first, then the policies. For each side: the start rate, the rate at
which they are parked, the worker's and the server's RSS grown, CPU per workflow and the
Temporal server's disk per workflow; with all of them parked, ``GET
/v1/policies?status=effective`` (as sue) and the ops search ``GET
/v1/ops/workflows?process=policy`` (as olga), first pages and keyset pages.

The policies are started directly (as bench.processes starts enrollments), with the
``PolicyStart`` the enrollment hands its policy (workflows.enrollment ``_start_policy``)
and the policy rows it inserts at issue written first in bulk: MEDICAL_1Y (no cooling-off,
no return visit), issued ten days ago and effective nine days ago, so each takes effect at
its first step and then waits for its year's end. Not through enrollments: a hundred
thousand of them would take hours here, and the enrollment's own work is measured in the
``enrollment`` and ``parked`` scenarios.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from bench.api_load import Endpoints, login
from bench.load import Ticker, drive
from bench.pipeline import BenchTimerWorkflow
from bench.sampler import Window
from bench.stack import Stack
from db.models import Policy
from db.repositories import customers
from domain.enrollment import MaskedCustomer
from domain.policies import PolicyStage, PolicyStatus
from workflows import search_attributes as sa
from workflows.inputs import PolicyStart
from workflows.policy import PolicyWorkflow, workflow_id_for

PREFIX = "PB"
PRODUCT = "MEDICAL_1Y"
SUM_INSURED = Decimal("50000.00")
PREMIUM = Decimal("125.00")
CHUNK = 5_000
PAGE = 50
BARE = "worker_bare"  # the bare timers' worker process
TIMER_SECONDS = 365 * 86_400.0
HOLDER = MaskedCustomer(name="张*", id_number="1101**********123X", phone="138****0000")


def disk_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (the dev server's SQLite file and its WAL)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def policy_number(i: int) -> str:
    return f"{PREFIX}{i:08d}"


async def insert_issued_policies(stack: Stack, count: int, *, issued_at: datetime) -> str:
    """The policy rows the enrollment inserts at issue (status ``issued``), in bulk, all of
    one customer (the policy's process never reads the customer row); the customer id."""
    async with stack.sessions() as session, session.begin():
        customer = await customers.upsert_customer(
            session,
            id_hash="bench-policies",
            id_number_enc="bench-not-encrypted",
            id_masked="110105********000X",
            name="保单客户",
            phone_enc="bench-not-encrypted",
            phone_masked="138****8000",
            email=None,
            birth_date=date(1985, 6, 1),
        )
        customer_id = customer.id
    effective = issued_at + timedelta(days=1)
    for first in range(0, count, CHUNK):
        rows = [
            {
                "policy_number": policy_number(i),
                "application_no": f"E{policy_number(i)}",
                "customer_id": customer_id,
                "agent": "alice",
                "product_code": PRODUCT,
                "sum_insured": SUM_INSURED,
                "premium": PREMIUM,
                "status": "issued",
                "effective_at": effective,
                "expires_at": effective + timedelta(days=365),
                # Distinct, so the listing's keyset order is that of the numbers.
                "created_at": issued_at + timedelta(milliseconds=i),
                "updated_at": issued_at,
            }
            for i in range(first, min(first + CHUNK, count))
        ]
        async with stack.sessions() as session, session.begin():
            await session.execute(insert(Policy), rows)
    return customer_id


def policy_start(i: int, customer_id: str, issued_at: datetime, stack: Stack) -> PolicyStart:
    """What the enrollment's ``_start_policy`` hands the policy's process."""
    effective = issued_at + timedelta(days=1)
    return PolicyStart(
        policy_number=policy_number(i),
        application_no=f"E{policy_number(i)}",
        agent="alice",
        customer_id=customer_id,
        holder=HOLDER,
        holder_birth_date=date(1985, 6, 1),
        product_code=PRODUCT,
        sum_insured=SUM_INSURED,
        premium=PREMIUM,
        issued_at=issued_at,
        effective_at=effective,
        expires_at=effective + timedelta(days=365),
        clocks=stack.settings.clocks,
    )


async def _effective(stack: Stack) -> int:
    """Policy rows their process has recorded in force and effective."""
    async with stack.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Policy)
            .where(Policy.policy_number.like(f"{PREFIX}%"))
            .where(Policy.status == "effective", Policy.stage == PolicyStage.IN_FORCE.value)
        )
    return int(count or 0)


def _per_workflow_ms(window: Window, process: str, count: int) -> float | None:
    used = window.cpu_s.get(process)
    if used is None or not count:
        return None
    return round(1000 * used / count, 3)


async def _park(
    stack: Stack,
    label: str,
    worker: str,
    count: int,
    concurrency: int,
    start: Callable[[int], Awaitable[None]],
    parked: Callable[[], Awaitable[int]] | None,
) -> dict[str, Any]:
    """Start ``count`` workflows with ``start(i)``, ``concurrency`` at a time, and wait
    until ``parked()`` says all are (or a deadline passes), then until the worker is quiet.
    Without ``parked``, every workflow started counts as parked once its worker is quiet."""
    sampler, temporal_dir = stack.sampler, stack.root / "temporal"
    rss_before = sampler.rss_now_mib()
    disk_before = await asyncio.to_thread(disk_bytes, temporal_dir)
    read_model_before = stack.db_file.stat().st_size
    ticker = Ticker(stack.progress, f"policies: {label} started", count)
    with sampler.window() as window:
        started = await drive(count, concurrency, start, ticker=ticker)
        done = len(started.latencies.samples)
        deadline = time.monotonic() + max(120.0, count * 0.05)
        ready = await parked() if parked else done
        while parked and ready < done and time.monotonic() < deadline:
            await asyncio.sleep(1)
            ready = await parked()
        await stack.wait_quiet(worker)
    rss_parked = sampler.rss_now_mib()
    disk_after = await asyncio.to_thread(disk_bytes, temporal_dir)
    read_model_after = stack.db_file.stat().st_size
    processes = {worker: "worker", "temporal": "temporal"}
    grown = {
        key: round(rss_parked.get(name, 0.0) - rss_before.get(name, 0.0), 1)
        for name, key in processes.items()
    }
    return {
        "started": started.as_dict(),
        "parked": ready,
        "parking_s": round(window.wall_s, 1),
        "parked_per_s": round(ready / window.wall_s, 2) if window.wall_s else 0.0,
        "rss_before_mib": {k: rss_before.get(n) for n, k in processes.items()},
        "rss_parked_mib": {k: rss_parked.get(n) for n, k in processes.items()},
        "rss_grown_mib": grown,
        "rss_per_workflow_kib": {
            k: round(1024 * v / ready, 2) if ready else None for k, v in grown.items()
        },
        "cpu_per_workflow_ms": {
            k: _per_workflow_ms(window, n, ready) for n, k in processes.items()
        },
        "disk_per_workflow_kib": {
            "temporal": round((disk_after - disk_before) / 1024 / ready, 3) if ready else None,
            "read_model": round((read_model_after - read_model_before) / 1024 / ready, 3)
            if ready
            else None,
        },
        "parking_window": window.as_dict(),
    }


async def _api_pages(stack: Stack, *, pages: int) -> dict[str, Any]:
    """With all parked: the policies' listing and the ops search, first pages and keyset
    pages, one request at a time."""
    endpoints = Endpoints()
    async with httpx.AsyncClient(base_url=stack.api_base, timeout=30) as http:
        sue, olga = await login(http, "sue"), await login(http, "olga")
        lookups: list[tuple[str, str, dict[str, str], dict[str, str | int]]] = [
            ("list_effective", "/v1/policies", sue, {"status": "effective", "limit": PAGE}),
            ("ops_search", "/v1/ops/workflows", olga, {"process": "policy", "limit": PAGE}),
        ]
        for name, url, headers, params in lookups:
            for _ in range(3):  # warm the connection and the caches
                await http.get(url, params=params, headers=headers)
            cursor: str | None = None
            for _ in range(pages):
                query = params | ({"cursor": cursor} if cursor else {})
                r = await endpoints.call(name, http.get(url, params=query, headers=headers))
                cursor = r.json().get("next_cursor")
    return endpoints.summary()


async def run_policies(
    stack: Stack, *, policies: int, concurrency: int, pages: int
) -> dict[str, Any]:
    client = stack.client
    # The bare side first, on its own worker process; then the policies on the real worker.
    bare_queue = await stack.start_timer_worker(BARE)
    await stack.wait_quiet("worker")

    async def start_bare(i: int) -> None:
        await client.start_workflow(
            BenchTimerWorkflow.run,
            TIMER_SECONDS,
            id=f"bench-timer-{i:08d}",
            task_queue=bare_queue,
        )

    stack.progress.say(f"policies: starting {policies} bare timer workflows")
    bare = await _park(stack, "bare timers", BARE, policies, concurrency, start_bare, None)

    issued_at = datetime.now(UTC) - timedelta(days=10)
    stack.progress.say(f"policies: writing {policies} issued policy rows")
    began = time.monotonic()
    customer_id = await insert_issued_policies(stack, policies, issued_at=issued_at)
    rows_s = time.monotonic() - began

    async def start_policy(i: int) -> None:
        await client.start_workflow(
            PolicyWorkflow.run,
            policy_start(i, customer_id, issued_at, stack),
            id=workflow_id_for(policy_number(i)),
            task_queue=stack.task_queue,
            search_attributes=sa.at_start(
                "policy",
                "alice",
                PolicyStage.IN_FORCE.value,
                PolicyStatus.ISSUED.value,
                SUM_INSURED,
            ),
        )

    stack.progress.say(f"policies: starting {policies} PolicyWorkflows")
    policy = await _park(
        stack,
        "PolicyWorkflows",
        "worker",
        policies,
        concurrency,
        start_policy,
        partial(_effective, stack),
    )
    policy["rows_insert_s"] = round(rows_s, 1)
    with stack.sampler.window() as reading:
        api = await _api_pages(stack, pages=pages)
    return {
        "requested": policies,
        "worker_cache_workflows": stack.settings.worker_max_cached_workflows,
        "bare": bare,
        "policy": policy,
        "api": api,
        "api_window": reading.as_dict(),
    }
