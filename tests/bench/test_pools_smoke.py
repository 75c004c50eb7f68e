"""The smallest measurement, run for real: the connection pools on a fresh SQLite read
model (no Temporal server), and the report built from what it measured."""

from __future__ import annotations

import io
import os
from pathlib import Path

from bench.load import Progress
from bench.pools import POOLS, run_pools
from bench.report import build
from bench.sampler import ProcessSampler
from bench.stack import Stack
from db.migrate import upgrade_async


async def test_the_pools_write_every_batch_and_the_report_compares_them(tmp_path: Path) -> None:
    sampler = ProcessSampler()
    sampler.watch("bench", os.getpid())
    stack = Stack(root=tmp_path, progress=Progress(out=io.StringIO()), sampler=sampler)
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
