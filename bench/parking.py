"""Workflows started and left waiting ("parked"), and what parking them cost: shared by
the scenarios that park many of one kind beside as many bare ones (bench.policies,
bench.billing)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.load import Ticker, drive
from bench.sampler import Window
from bench.stack import Stack


def disk_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (the dev server's SQLite file and its WAL)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def per_workflow_ms(window: Window, process: str, count: int) -> float | None:
    """CPU milliseconds ``process`` used in ``window`` per workflow, for ``count`` of them."""
    used = window.cpu_s.get(process)
    if used is None or not count:
        return None
    return round(1000 * used / count, 3)


async def park(
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
    Without ``parked``, every workflow started counts as parked once its worker is quiet.
    ``label`` heads the progress lines."""
    sampler, temporal_dir = stack.sampler, stack.root / "temporal"
    rss_before = sampler.rss_now_mib()
    disk_before = await asyncio.to_thread(disk_bytes, temporal_dir)
    read_model_before = stack.db_file.stat().st_size
    ticker = Ticker(stack.progress, f"{label} started", count)
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
        "cpu_per_workflow_ms": {k: per_workflow_ms(window, n, ready) for n, k in processes.items()},
        "disk_per_workflow_kib": {
            "temporal": round((disk_after - disk_before) / 1024 / ready, 3) if ready else None,
            "read_model": round((read_model_after - read_model_before) / 1024 / ready, 3)
            if ready
            else None,
        },
        "parking_window": window.as_dict(),
    }
