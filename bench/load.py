"""Closed-loop load: run ``total`` operations with at most ``concurrency`` in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.progress import Progress, Ticker
from bench.sampler import ProcessSampler, Window, merge_windows
from bench.stats import Latencies


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@dataclass
class DriveResult:
    latencies: Latencies
    wall_s: float
    started: int

    @property
    def completed(self) -> int:
        return len(self.latencies.samples)

    @property
    def per_second(self) -> float:
        return self.completed / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "completed": self.completed,
            "wall_s": round(self.wall_s, 2),
            "completed_per_s": round(self.per_second, 2),
            "latency": self.latencies.summary(),
        }


async def drive(
    total: int,
    concurrency: int,
    one: Callable[[int], Awaitable[object]],
    *,
    ticker: Ticker | None = None,
    within: float | None = None,
) -> DriveResult:
    """Call ``one(i)`` for i in 0..total-1, ``concurrency`` at a time, timing each call
    from start to return. No new call starts after ``within`` seconds; a failed call
    counts as an error (by exception type), not as a sample."""
    latencies = Latencies()
    next_index = 0
    started = time.monotonic()
    stop_at = started + within if within is not None else None

    async def lane() -> None:
        nonlocal next_index
        while next_index < total and (stop_at is None or time.monotonic() < stop_at):
            if _cancelling():
                raise asyncio.CancelledError
            index = next_index
            next_index += 1
            began = time.monotonic()
            try:
                await one(index)
            except Exception as err:  # counted and reported; the run goes on
                if _cancelling():
                    # The client libraries may turn a cancellation (Ctrl-C) into an error of
                    # their own; the run is ending, so stop instead of counting it.
                    raise asyncio.CancelledError from err
                latencies.fail(f"{type(err).__name__}: {str(err)[:80]}")
            else:
                latencies.add(time.monotonic() - began)
            if ticker is not None:
                ticker.tick()

    await asyncio.gather(*(lane() for _ in range(max(1, min(concurrency, total)))))
    return DriveResult(latencies, time.monotonic() - started, next_index)


@dataclass
class Arm:
    """One side of an interleaved comparison: what one operation is, how many, how many
    at a time."""

    name: str
    one: Callable[[int], Awaitable[object]]
    total: int
    concurrency: int


@dataclass
class ArmResult:
    drive: DriveResult
    window: Window
    rounds: int

    def as_dict(self) -> dict[str, Any]:
        return self.drive.as_dict() | {"rounds": self.rounds, "window": self.window.as_dict()}


async def interleave(
    arms: list[Arm], *, rounds: int, sampler: ProcessSampler, progress: Progress
) -> dict[str, ArmResult]:
    """Run the arms in alternating rounds (A B A B ...), each round a share of each arm's
    total, so that whatever else loads the machine meanwhile falls on all arms alike.
    Each arm's figures add up its rounds; its CPU window covers only its own rounds."""
    drives: dict[str, list[DriveResult]] = {arm.name: [] for arm in arms}
    windows: dict[str, list[Window]] = {arm.name: [] for arm in arms}
    done: dict[str, int] = {arm.name: 0 for arm in arms}
    for r in range(rounds):
        for arm in arms:
            share = arm.total // rounds + (1 if r < arm.total % rounds else 0)
            if share == 0:
                continue
            offset = done[arm.name]

            async def one(i: int, arm: Arm = arm, offset: int = offset) -> object:
                return await arm.one(offset + i)

            with sampler.window() as window:
                result = await drive(share, arm.concurrency, one)
            done[arm.name] += share
            drives[arm.name].append(result)
            windows[arm.name].append(window)
            progress.say(
                f"{arm.name}: round {r + 1}/{rounds}, {result.completed} done, "
                f"{result.per_second:.2f}/s, errors {result.latencies.errors}"
            )
    out: dict[str, ArmResult] = {}
    for arm in arms:
        latencies = Latencies()
        for d in drives[arm.name]:
            latencies.extend(d.latencies.samples)
            latencies.errors += d.latencies.errors
            for kind, n in d.latencies.error_kinds.items():
                latencies.error_kinds[kind] = latencies.error_kinds.get(kind, 0) + n
        merged = DriveResult(
            latencies,
            sum(d.wall_s for d in drives[arm.name]),
            sum(d.started for d in drives[arm.name]),
        )
        out[arm.name] = ArmResult(merged, merge_windows(windows[arm.name]), rounds)
    return out
