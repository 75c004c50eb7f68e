"""Latency samples and their percentiles."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linearly interpolated."""
    if not sorted_values:
        return math.nan
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = (len(sorted_values) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass
class Latencies:
    """Seconds per operation, plus the operations that failed."""

    samples: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    def fail(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def extend(self, values: Iterable[float]) -> None:
        self.samples.extend(values)

    def summary(self) -> dict[str, Any]:
        """Count, errors and p50/p95/p99/max/mean in milliseconds."""
        ordered = sorted(self.samples)

        def ms(value: float) -> float | None:
            return None if math.isnan(value) else round(value * 1000, 2)

        return {
            "count": len(ordered),
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds),
            "p50_ms": ms(percentile(ordered, 50)),
            "p95_ms": ms(percentile(ordered, 95)),
            "p99_ms": ms(percentile(ordered, 99)),
            "max_ms": ms(ordered[-1]) if ordered else None,
            "mean_ms": ms(sum(ordered) / len(ordered)) if ordered else None,
        }
