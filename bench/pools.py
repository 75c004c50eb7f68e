"""Connection pools for the read model, on the worker's busiest transaction: the
``record_changes`` local activity that ends every stretch of a process (a state row, a
quote record, an outbox notification, as an enrollment's quote step writes them), through
engines that differ only in their pool, interleaved in rounds; on the run's SQLite read
model, and on PostgreSQL given ``--postgres-url``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.changes import ChangeActivities
from bench.load import Arm, interleave
from bench.stack import Stack
from db.migrate import upgrade_async
from db.session import Pool, make_engine, make_session_factory
from domain.activities import Change, ChangeBatch, Notification, QuoteRecord
from domain.enrollment import CustomerDetails, EnrollmentState, Quote, Stage, Status

# 10 kept and 10 more while all are busy (make_engine's pool for PostgreSQL, and SQLite's
# before), 10 and no more, 1 and no more (SQLite's now), none (NullPool: a new connection,
# and SQLite's pragmas, per transaction).
POOLS = {
    "pool_10_overflow": Pool(10, 10),
    "pool_10": Pool(10),
    "pool_1": Pool(1),
    "no_pool": Pool(None),
}


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
    engines = {key: make_engine(url, pool=pool) for key, pool in POOLS.items()}
    try:
        arms = [
            Arm(f"pools.{backend}.{key}", _operation(engine, f"PB{run}{i}"), total, concurrency)
            for i, (key, engine) in enumerate(engines.items())
        ]
        for arm in arms:  # a warm-up on each engine, not counted: its first connections
            for n in range(3):
                await arm.one(10_000_000 + n)
        return await interleave(arms, rounds=rounds, sampler=stack.sampler, progress=stack.progress)
    finally:
        for engine in engines.values():
            await engine.dispose()


async def run_pools(
    stack: Stack, *, total: int, concurrency: int, rounds: int, postgres_url: str | None
) -> dict[str, Any]:
    """Keyed ``pools.<backend>.<pool>``: SQLite always, PostgreSQL given its URL."""
    out = await _measure(stack, "sqlite", stack.database_url, total, concurrency, rounds)
    if postgres_url:
        await upgrade_async(postgres_url)
        out |= await _measure(stack, "postgresql", postgres_url, total, concurrency, rounds)
    return out
