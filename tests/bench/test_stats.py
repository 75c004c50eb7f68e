"""bench/stats.py: percentiles and the latency summary every measurement reports."""

from __future__ import annotations

import math

from bench.stats import Latencies, percentile


def test_percentiles_interpolate_between_the_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 90) == 4.6  # rank 3.6: 4 + 0.6 x (5 - 4)
    assert percentile([1.0, 2.0], 25) == 1.25
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_the_summary_is_in_milliseconds_and_counts_errors_by_kind() -> None:
    lat = Latencies()
    for seconds in (0.010, 0.020, 0.030, 0.040):
        lat.add(seconds)
    lat.fail("TimeoutError")
    lat.fail("TimeoutError")
    lat.fail("500 internal")
    s = lat.summary()
    assert (s["count"], s["errors"]) == (4, 3)
    assert s["error_kinds"] == {"TimeoutError": 2, "500 internal": 1}
    assert (s["p50_ms"], s["max_ms"], s["mean_ms"]) == (25.0, 40.0, 25.0)
    assert s["p99_ms"] == 39.7


def test_no_samples_gives_no_percentiles_and_a_clean_run_no_error_kinds() -> None:
    failed = Latencies()
    failed.fail("boom")
    assert failed.summary() == {"count": 0, "errors": 1, "error_kinds": {"boom": 1}}
    assert Latencies(samples=[0.001]).summary()["p50_ms"] == 1.0
    assert "error_kinds" not in Latencies(samples=[0.001]).summary()


def test_merged_latencies_add_up_samples_and_errors() -> None:
    a, b = Latencies(samples=[0.1]), Latencies(samples=[0.2, 0.3])
    a.fail("x")
    b.fail("x")
    b.fail("y")
    a.merge(b)
    assert a.samples == [0.1, 0.2, 0.3]
    assert (a.errors, a.error_kinds) == (3, {"x": 2, "y": 1})
