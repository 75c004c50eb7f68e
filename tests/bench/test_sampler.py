"""bench/sampler.py: the CPU and memory figures of a measurement window."""

from __future__ import annotations

import os
import time

from bench.sampler import MIB, ProcessSampler, Window, merge_windows


def test_a_window_gives_shares_of_a_core_and_the_cpu_used_outside() -> None:
    window = Window(
        wall_s=10.0,
        machine_busy_s=12.0,  # of 20 CPU seconds on two cores
        machine_total_s=20.0,
        cpu_s={"worker": 8.0, "temporal": 3.0},
        rss_peak={"worker": 300 * MIB},
        rss_end={"worker": 250 * MIB, "temporal": 100 * MIB},
    )
    figures = window.as_dict()
    assert figures["machine_busy_pct"] == 60.0
    assert (figures["outside_cpu_s"], figures["outside_cores"]) == (1.0, 0.1)
    assert figures["processes"]["worker"] == {
        "cpu_s": 8.0,
        "cpu_core_pct": 80.0,
        "rss_peak_mib": 300.0,
        "rss_end_mib": 250.0,
    }
    assert figures["processes"]["temporal"]["rss_peak_mib"] == 0.0
    assert Window().as_dict()["outside_cores"] == 0.0


def test_merged_rounds_add_times_keep_the_highest_peak_and_the_last_rss() -> None:
    a = Window(2.0, 1.0, 4.0, {"w": 1.0}, {"w": 5 * MIB}, {"w": 4 * MIB})
    b = Window(3.0, 2.0, 6.0, {"w": 2.0, "t": 1.0}, {"w": 3 * MIB}, {"w": 2 * MIB})
    m = merge_windows([a, b])
    assert (m.wall_s, m.machine_busy_s, m.machine_total_s) == (5.0, 3.0, 10.0)
    assert m.cpu_s == {"w": 3.0, "t": 1.0}
    assert (m.rss_peak, m.rss_end) == ({"w": 5 * MIB}, {"w": 2 * MIB})
    assert m.as_dict()["processes"]["w"]["cpu_core_pct"] == 60.0


def test_a_window_on_this_process_sees_its_cpu_and_nested_windows_keep_their_peaks() -> None:
    sampler = ProcessSampler()
    sampler.watch("me", os.getpid())
    with sampler.window() as outer:
        blob = b"x" * (64 * MIB)  # a peak in the outer window only
        sampler.sample()
        del blob
        with sampler.window() as inner:
            end = time.process_time() + 0.2
            while time.process_time() < end:
                pass
    assert 0.15 <= inner.cpu_s["me"] <= outer.cpu_s["me"]
    assert inner.rss_peak["me"] > 0
    assert outer.rss_peak["me"] >= inner.rss_peak["me"] + 48 * MIB
    assert inner.wall_s <= outer.wall_s
