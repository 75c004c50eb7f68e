"""Progress lines with the time elapsed since the run began."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, message: str) -> None:
        print(f"[{self.elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)


class Ticker:
    """Reports ``done/total`` at most every ``every`` seconds (and at the end)."""

    def __init__(self, progress: Progress, what: str, total: int, *, every: float = 5.0) -> None:
        self._progress = progress
        self._what = what
        self._total = total
        self._every = every
        self._last = time.monotonic()
        self.done = 0

    def tick(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.done >= self._total or now - self._last >= self._every:
            self._last = now
            self._progress.say(f"{self._what}: {self.done}/{self._total}")
