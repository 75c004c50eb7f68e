"""Connection pools for the read model, measured on the worker's busiest transaction.

Every stretch of a process ends in one ``record_changes`` local activity (its state row, a
quote record and an outbox notification here, as an enrollment's quote step writes them).
The same batches run through engines that differ only in their pool, interleaved in rounds:
10 kept and up to 10 more while all are busy (what ``make_engine`` gives PostgreSQL, and gave
SQLite before), 10 and no more, one and no more (what it gives SQLite now), and no pool
(``NullPool``: a new connection for each transaction, with SQLite's pragmas run on each). On
the run's SQLite read model always; on PostgreSQL too when ``--postgres-url``
(``BENCH_POSTGRES_URL``) names a database the run may create its tables in.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.changes import ChangeActivities
from bench.load import Arm, interleave
from bench.stack import Stack
from db.migrate import upgrade_async
from db.session import Pool, make_engine, make_session_factory
from domain.activities import Change, ChangeBatch, Notification, QuoteRecord
from domain.enrollment import CustomerDetails, EnrollmentState, Quote, Stage, Status


@dataclass(frozen=True)
class PoolChoice:
    key: str
    what: str
    pool: Pool


CHOICES = (
    PoolChoice(
        "pool_10_overflow", "10 kept, up to 10 more opened while all are busy", Pool(10, 10)
    ),
    PoolChoice("pool_10", "10 connections, no more", Pool(10)),
    PoolChoice("pool_1", "1 connection, no more", Pool(1)),
    PoolChoice("no_pool", "no pool: a new connection per transaction (NullPool)", Pool(None)),
)
# What each backend's share is compared with: the pool make_engine gave both before it
# gave SQLite one connection.
BASELINE = "pool_10_overflow"


def _batch(application_no: str) -> ChangeBatch:
    now = datetime.now(UTC)
    quote = Quote(
        quote_id=f"Q-{application_no}-1",
        product_code="TERM_LIFE_20",
        sum_insured=Decimal("200000.00"),
        premium=Decimal("300.00"),
        valid_until=now + timedelta(days=30),
    )
    customer = CustomerDetails(name="测试客户", id_number="110105197601010014", phone="13800138000")
    state = EnrollmentState(
        enrollment_id=application_no,
        workflow_id=f"enrollment-{application_no}",
        agent="alice",
        customer=customer.masked(),
        birth_date=date(1976, 1, 1),
        stage=Stage.QUOTED,
        status=Status.IN_PROGRESS,
        quote=quote,
    )
    notice = Notification(
        key=f"{application_no}:underwriting_approved",
        case_id=application_no,
        recipient="agent:alice",
        channel="inbox",
        template="underwriting_approved",
        params={},
    )
    return ChangeBatch(
        enrollment=state,
        changes=[
            Change(quote=QuoteRecord(application_no=application_no, quote=quote)),
            Change(notification=notice),
        ],
    )


def _operation(engine: AsyncEngine, prefix: str) -> Callable[[int], Awaitable[None]]:
    record = ChangeActivities(make_session_factory(engine)).record_changes

    async def one(n: int) -> None:
        await record(_batch(f"{prefix}{n}"))

    return one


async def _measure(
    stack: Stack, backend: str, url: str, total: int, concurrency: int, rounds: int
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6].upper()
    engines = {c.key: make_engine(url, pool=c.pool) for c in CHOICES}
    try:
        arms = [
            Arm(
                f"pools {backend} {c.key}",
                _operation(engines[c.key], f"PB{run}{i}"),
                total,
                concurrency,
            )
            for i, c in enumerate(CHOICES)
        ]
        # A warm-up on each engine, not counted: the first connections and statements.
        for arm in arms:
            for n in range(3):
                await arm.one(10_000_000 + n)
        stack.progress.say(
            f"pools on {backend}: {total} batched writes per pool, {concurrency} in flight, "
            f"{rounds} rounds"
        )
        results = await interleave(
            arms, rounds=rounds, sampler=stack.sampler, progress=stack.progress
        )
    finally:
        for engine in engines.values():
            await engine.dispose()
    return {
        "backend": backend,
        "concurrency": concurrency,
        "choices": {
            c.key: {"what": c.what} | results[f"pools {backend} {c.key}"].as_dict() for c in CHOICES
        },
    }


async def run_pools(
    stack: Stack,
    *,
    total: int,
    concurrency: int,
    rounds: int,
    postgres_url: str | None,
) -> dict[str, dict[str, Any]]:
    out = {
        "sqlite": await _measure(stack, "sqlite", stack.database_url, total, concurrency, rounds)
    }
    if postgres_url:
        if make_url(postgres_url).get_backend_name() != "postgresql":
            raise ValueError("--postgres-url must be a postgresql+asyncpg:// URL")
        await upgrade_async(postgres_url)
        out["postgresql"] = await _measure(
            stack, "postgresql", postgres_url, total, concurrency, rounds
        )
    return out
