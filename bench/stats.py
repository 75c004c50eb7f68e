"""Latency samples and their percentiles."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linearly interpolated."""
    if not sorted_values:
        return math.nan
    rank = (len(sorted_values) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass
class Latencies:
    """Seconds per operation, plus the operations that failed (counted by kind)."""

    samples: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    def fail(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def merge(self, other: Latencies) -> None:
        self.samples.extend(other.samples)
        for kind, n in other.error_kinds.items():
            self.errors += n
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + n

    def summary(self) -> dict[str, Any]:
        """Count and errors; p50/p95/p99/max/mean in milliseconds when there are samples."""
        ordered = sorted(self.samples)
        out: dict[str, Any] = {"count": len(ordered), "errors": self.errors}
        if ordered:
            for q in (50, 95, 99):
                out[f"p{q}_ms"] = round(1000 * percentile(ordered, q), 2)
            out["max_ms"] = round(1000 * ordered[-1], 2)
            out["mean_ms"] = round(1000 * sum(ordered) / len(ordered), 2)
        if self.error_kinds:
            out["error_kinds"] = dict(self.error_kinds)
        return out
