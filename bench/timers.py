"""``python -m bench.timers [--wake]``: a worker process with nothing but the bare timer
workflow (bench.pipeline.BenchTimerWorkflow) on ``INSUREFLOW_TASK_QUEUE``, with the real
worker's client (converter and codec), cache size and slots, so that its memory and CPU
stand beside the real worker's with policies parked (bench.policies).

With ``--wake`` it also runs the bare workflow of the billing day (BenchWakeWorkflow) and
its one step, ``bench_wake``: one INSERT, committed, into the scratch table ``bench_wake``
of the read model's database (the file the ledger is in), on an engine made as the real
worker makes its own (bench.billing).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from bench.pipeline import WAKE_STEP
from db.models import UTCDateTime, utcnow

WAKE = Table(
    "bench_wake",
    MetaData(),
    Column("key", String(64), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
)


class WakeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=WAKE_STEP)
    async def bench_wake(self, key: str) -> None:
        """One row under ``key``, stamped now; a retry writes nothing more."""
        row = {"key": key, "created_at": utcnow()}
        async with self._sessions() as session, session.begin():
            await session.execute(insert(WAKE).values(row).on_conflict_do_nothing())


async def main(wake: bool) -> None:
    from temporalio.worker import Worker

    from bench.pipeline import BenchTimerWorkflow, BenchWakeWorkflow
    from core.config import get_settings
    from core.keys import parse_keys
    from core.temporal import connect
    from db.session import make_engine, make_session_factory
    from workers.worker import worker_tuning

    settings = get_settings()
    client = await connect(settings, keyring=parse_keys(settings.codec_keys or ""))
    engine = make_engine(settings.effective_database_url) if wake else None
    workflows: list[type] = [BenchTimerWorkflow]
    activities = []
    if engine is not None:
        workflows.append(BenchWakeWorkflow)
        activities.append(WakeActivities(make_session_factory(engine)).bench_wake)
    try:
        async with Worker(
            client,
            task_queue=settings.task_queue,
            workflows=workflows,
            activities=activities,
            **worker_tuning(settings),
        ):
            await asyncio.Event().wait()
    finally:
        if engine is not None:
            await engine.dispose()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # the bench stops it with SIGINT
        asyncio.run(main(wake="--wake" in sys.argv[1:]))
