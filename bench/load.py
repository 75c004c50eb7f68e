"""Progress lines, and closed-loop load: ``total`` operations, ``concurrency`` in flight,
alone (``drive``) or in interleaved rounds with others (``interleave``)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

from bench.sampler import ProcessSampler, Window, merge_windows
from bench.stats import Latencies

Operation = Callable[[int], Awaitable[object]]


class Progress:
    """Lines on stderr with the time elapsed since the run began."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, out: TextIO | None = None
    ) -> None:
        self.clock = clock
        self.started = clock()
        self.out = out

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def say(self, message: str) -> None:
        print(f"[{self.elapsed:7.1f}s] {message}", file=self.out or sys.stderr, flush=True)


class Ticker:
    """Says ``done/total`` at most every ``every`` seconds, and at the end."""

    def __init__(self, progress: Progress, what: str, total: int, *, every: float = 10) -> None:
        self.progress, self.what, self.total, self.every = progress, what, total, every
        self.last = progress.clock()
        self.done = 0

    def tick(self) -> None:
        self.done += 1
        now = self.progress.clock()
        if self.done >= self.total or now - self.last >= self.every:
            self.last = now
            self.progress.say(f"{self.what}: {self.done}/{self.total}")


@dataclass
class Drive:
    latencies: Latencies
    wall_s: float
    started: int

    @property
    def per_second(self) -> float:
        return len(self.latencies.samples) / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "completed": len(self.latencies.samples),
            "wall_s": round(self.wall_s, 2),
            "completed_per_s": round(self.per_second, 2),
            "latency": self.latencies.summary(),
        }


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def drive(
    total: int,
    concurrency: int,
    one: Operation,
    *,
    ticker: Ticker | None = None,
    within: float | None = None,
) -> Drive:
    """Call ``one(i)`` for i in 0..total-1, ``concurrency`` at a time, each timed from call
    to return. No call starts after ``within`` seconds; a failed call is an error (by its
    exception type), not a sample."""
    latencies = Latencies()
    next_index = 0
    began = time.monotonic()
    stop_at = began + within if within is not None else None

    async def lane() -> None:
        nonlocal next_index
        while next_index < total and (stop_at is None or time.monotonic() < stop_at):
            index = next_index
            next_index += 1
            start = time.monotonic()
            try:
                await one(index)
            except Exception as err:
                if _cancelling():  # a client library's own error for Ctrl-C: stop, uncounted
                    raise asyncio.CancelledError from err
                latencies.fail(f"{type(err).__name__}: {str(err)[:80]}")
            else:
                latencies.add(time.monotonic() - start)
            if ticker is not None:
                ticker.tick()

    await asyncio.gather(*(lane() for _ in range(max(1, min(concurrency, total)))))
    return Drive(latencies, time.monotonic() - began, next_index)


@dataclass
class Arm:
    """One side of an interleaved comparison: an operation, how many, how many at a time."""

    name: str
    one: Operation
    total: int
    concurrency: int


def arm_figures(drove: Drive, window: Window, rounds: int) -> dict[str, Any]:
    """A measurement's figures: its drive, its window, and the CPU per completed item."""
    done = len(drove.latencies.samples)
    per_item = {n: round(1000 * c / done, 1) for n, c in window.cpu_s.items() if done and c}
    return drove.as_dict() | {
        "rounds": rounds,
        "window": window.as_dict(),
        "cpu_per_item_ms": per_item,
    }


async def interleave(
    arms: list[Arm], *, rounds: int, sampler: ProcessSampler, progress: Progress
) -> dict[str, dict[str, Any]]:
    """The arms in alternating rounds (A B A B ...), each round a share of each arm's total,
    so whatever else loads the machine falls on all alike. An arm's figures add up its
    rounds; its CPU window covers its own rounds only."""
    drives: dict[str, list[Drive]] = {arm.name: [] for arm in arms}
    windows: dict[str, list[Window]] = {arm.name: [] for arm in arms}
    for r in range(rounds):
        for arm in arms:
            share = arm.total // rounds + (1 if r < arm.total % rounds else 0)
            offset = sum(d.started for d in drives[arm.name])
            if share == 0:
                continue

            async def one(i: int, arm: Arm = arm, offset: int = offset) -> object:
                return await arm.one(offset + i)

            with sampler.window() as window:
                drove = await drive(share, arm.concurrency, one)
            drives[arm.name].append(drove)
            windows[arm.name].append(window)
            progress.say(
                f"{arm.name}: round {r + 1}/{rounds}, {drove.per_second:.2f}/s, "
                f"errors {drove.latencies.errors}"
            )
    out: dict[str, dict[str, Any]] = {}
    for arm in arms:
        latencies = Latencies()
        for d in drives[arm.name]:
            latencies.merge(d.latencies)
        merged = Drive(
            latencies,
            sum(d.wall_s for d in drives[arm.name]),
            sum(d.started for d in drives[arm.name]),
        )
        out[arm.name] = arm_figures(merged, merge_windows(windows[arm.name]), rounds)
    return out
