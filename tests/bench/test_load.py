"""bench/load.py: the progress line, and the load that every measurement drives."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Awaitable, Callable

from bench.load import Arm, Progress, Ticker, drive, interleave
from bench.sampler import ProcessSampler


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_progress_line_starts_with_the_seconds_since_the_run_began() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(clock=clock, out=out)
    clock.now = 112.34
    progress.say("claims: round 2/2")
    clock.now = 1100.0
    progress.say("done")
    assert out.getvalue() == "[   12.3s] claims: round 2/2\n[ 1000.0s] done\n"


def test_the_ticker_speaks_once_per_interval_and_at_the_end() -> None:
    clock, out = Clock(), io.StringIO()
    ticker = Ticker(Progress(clock=clock, out=out), "parked", 4, every=10)
    ticker.tick()  # 1/4 at once: quiet
    clock.now += 11
    ticker.tick()  # 2/4 after 11 s: says so
    ticker.tick()  # 3/4 right after: quiet
    ticker.tick()  # 4/4: the end, says so
    lines = out.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["parked: 2/4", "parked: 4/4"]


async def test_drive_runs_each_index_once_counts_failures_and_bounds_concurrency() -> None:
    seen: list[int] = []
    in_flight = peak = 0

    async def one(i: int) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        seen.append(i)
        if i == 3:
            raise ValueError("no such case")

    drove = await drive(7, 3, one)
    assert sorted(seen) == list(range(7))
    assert peak == 3
    figures = drove.as_dict()
    assert (figures["started"], figures["completed"]) == (7, 6)
    assert figures["latency"]["error_kinds"] == {"ValueError: no such case": 1}
    assert figures["completed_per_s"] == round(6 / drove.wall_s, 2)


async def test_drive_starts_nothing_after_its_time_budget() -> None:
    async def one(i: int) -> None:
        await asyncio.sleep(0.05)

    drove = await drive(1000, 2, one, within=0.01)
    assert 2 <= drove.started < 10
    assert drove.as_dict()["completed"] == drove.started


async def test_interleaved_arms_split_their_totals_over_the_rounds() -> None:
    calls: dict[str, list[int]] = {"a": [], "b": []}
    order: list[str] = []

    def operation(name: str) -> Callable[[int], Awaitable[None]]:
        async def one(i: int) -> None:
            calls[name].append(i)
            if not order or order[-1] != name:
                order.append(name)

        return one

    sampler = ProcessSampler()
    sampler.watch("bench", os.getpid())
    out = await interleave(
        [Arm("a", operation("a"), 5, 2), Arm("b", operation("b"), 2, 1)],
        rounds=2,
        sampler=sampler,
        progress=Progress(out=io.StringIO()),
    )
    assert sorted(calls["a"]) == [0, 1, 2, 3, 4]  # 3 in round 1, 2 in round 2, no index twice
    assert sorted(calls["b"]) == [0, 1]
    assert order == ["a", "b", "a", "b"]
    assert (out["a"]["started"], out["a"]["completed"], out["a"]["rounds"]) == (5, 5, 2)
    assert set(out["a"]["window"]["processes"]) == {"bench"}
