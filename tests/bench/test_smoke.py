"""The measurements that need no Temporal server, run for real on a fresh SQLite read
model: the connection pools (and the report built from them), and the inbox's page query
with and without its index."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench.inbox import INDEX, compare_queries, seed_tasks
from bench.load import Progress
from bench.pools import POOLS, run_pools
from bench.report import build
from bench.sampler import ProcessSampler
from bench.stack import Stack
from db.migrate import upgrade_async
from db.session import make_engine, make_session_factory


def bare_stack(root: Path) -> Stack:
    sampler = ProcessSampler()
    sampler.watch("bench", os.getpid())
    return Stack(root=root, progress=Progress(out=io.StringIO()), sampler=sampler)


@asynccontextmanager
async def migrated_stack(root: Path) -> AsyncIterator[Stack]:
    """A bare stack on a migrated read model, with its engine and sessions (the engine
    disposed after)."""
    stack = bare_stack(root)
    await upgrade_async(stack.database_url)
    stack.engine = make_engine(stack.database_url)
    stack.sessions = make_session_factory(stack.engine)
    try:
        yield stack
    finally:
        await stack.engine.dispose()


async def test_the_pools_write_every_batch_and_the_report_compares_them(tmp_path: Path) -> None:
    stack = bare_stack(tmp_path)
    await upgrade_async(stack.database_url)
    results = await run_pools(stack, total=6, concurrency=3, rounds=2, postgres_url=None)
    assert set(results) == {f"pools.sqlite.{key}" for key in POOLS}
    for measured in results.values():
        assert (measured["started"], measured["completed"]) == (6, 6)
        assert measured["latency"]["errors"] == 0
        assert measured["completed_per_s"] > 0
        assert measured["window"]["processes"]["bench"]["cpu_s"] >= 0
    ratios = {r["name"] for r in build({}, results)["ratios"]}
    assert ratios == {f"pools.sqlite.{key}_vs_pool_10_overflow" for key in POOLS} - {
        "pools.sqlite.pool_10_overflow_vs_pool_10_overflow"
    }


async def test_the_page_query_is_timed_keyset_and_offset_with_and_without_the_index(
    tmp_path: Path,
) -> None:
    stack = bare_stack(tmp_path)
    await upgrade_async(stack.database_url)
    engine = make_engine(stack.database_url)
    stack.sessions = make_session_factory(engine)
    try:
        assert await seed_tasks(stack, 300) > 0
    finally:
        await engine.dispose()
    copy = tmp_path / "without-index.db"
    out = compare_queries(stack.db_file, copy, depths=[0, 200], reps=3)
    for label in ("with_index", "without_index"):
        for method in ("keyset", "offset"):
            for row in ("row_0", "row_200"):
                timed = out["queries"][label][method][row]
                assert (timed["count"], timed["errors"]) == (3, 0)
    plans = out["query_plans"]
    assert INDEX in plans["with_index.keyset"] and INDEX in plans["with_index.offset"]
    assert INDEX not in plans["without_index.keyset"]
    assert "SCAN task" in plans["without_index.offset"]
