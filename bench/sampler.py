"""CPU time and resident memory per process, read from /proc (no psutil).

A background thread samples every watched process's RSS so that a measurement window can
give its peak; CPU seconds are the difference of ``utime + stime`` across the window.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size now (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / _TICKS, total / _TICKS


@dataclass
class Window:
    """What the watched processes, and the machine, used during one measurement."""

    wall_s: float = 0.0
    machine_busy_s: float = 0.0
    machine_total_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    rss_peak: dict[str, int] = field(default_factory=dict)
    rss_end: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Outside: the machine's CPU not used by a watched process (other jobs, the kernel)."""
        wall = self.wall_s
        outside = max(0.0, self.machine_busy_s - sum(self.cpu_s.values()))
        busy = 100 * self.machine_busy_s / self.machine_total_s if self.machine_total_s else 0.0
        return {
            "wall_s": round(wall, 2),
            "machine_busy_pct": round(busy, 1),
            "outside_cpu_s": round(outside, 2),
            "outside_cores": round(outside / wall, 2) if wall else 0.0,
            "processes": {
                name: {
                    "cpu_s": round(cpu, 2),
                    "cpu_core_pct": round(100 * cpu / wall, 1) if wall else 0.0,
                    "rss_peak_mib": round(self.rss_peak.get(name, 0) / MIB, 1),
                    "rss_end_mib": round(self.rss_end.get(name, 0) / MIB, 1),
                }
                for name, cpu in sorted(self.cpu_s.items())
            },
        }


def merge_windows(windows: list[Window]) -> Window:
    """One window from several (an arm's rounds): times added up, the highest peak RSS,
    the last final RSS."""
    merged = Window()
    for w in windows:
        merged.wall_s += w.wall_s
        merged.machine_busy_s += w.machine_busy_s
        merged.machine_total_s += w.machine_total_s
        for name, cpu in w.cpu_s.items():
            merged.cpu_s[name] = merged.cpu_s.get(name, 0.0) + cpu
        for name, rss in w.rss_peak.items():
            merged.rss_peak[name] = max(merged.rss_peak.get(name, 0), rss)
        merged.rss_end.update(w.rss_end)
    return merged


class ProcessSampler:
    """Watches named processes; ``window()`` measures CPU and peak RSS over a block
    (windows may nest: each keeps its own peaks)."""

    def __init__(self, interval: float = 0.5) -> None:
        self._interval = interval
        self._pids: dict[str, int] = {}
        self._open: list[dict[str, int]] = []  # the peaks of each window open now
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self._pids[name] = pid

    def forget(self, name: str) -> None:
        with self._lock:
            self._pids.pop(name, None)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def _each(self, read: Callable[[int], T]) -> dict[str, T]:
        with self._lock:
            pids = dict(self._pids)
        out: dict[str, T] = {}
        for name, pid in pids.items():
            try:
                out[name] = read(pid)
            except OSError:
                continue  # exited; the window reports what it saw
        return out

    def sample(self) -> None:
        rss = self._each(rss_bytes)
        with self._lock:
            for peaks in self._open:
                for name, value in rss.items():
                    peaks[name] = max(peaks.get(name, 0), value)

    def rss_now_mib(self) -> dict[str, float]:
        return {name: round(b / MIB, 1) for name, b in self._each(rss_bytes).items()}

    def cpu_rate(self, name: str, over: float) -> float:
        """CPU seconds per second of one process over the next ``over`` seconds (blocks)."""
        before = self._each(cpu_seconds).get(name, 0.0)
        time.sleep(over)
        return (self._each(cpu_seconds).get(name, 0.0) - before) / over

    @contextmanager
    def window(self) -> Iterator[Window]:
        result = Window()
        peaks: dict[str, int] = {}
        with self._lock:
            self._open.append(peaks)
        self.sample()
        cpu_before = self._each(cpu_seconds)
        busy_before, total_before = machine_busy_seconds()
        started = time.monotonic()
        try:
            yield result
        finally:
            self.sample()
            result.wall_s = time.monotonic() - started
            busy_after, total_after = machine_busy_seconds()
            result.machine_busy_s = busy_after - busy_before
            result.machine_total_s = total_after - total_before
            cpu_after = self._each(cpu_seconds)
            result.cpu_s = {n: c - cpu_before.get(n, c) for n, c in cpu_after.items()}
            with self._lock:
                self._open = [p for p in self._open if p is not peaks]
            result.rss_peak = peaks
            result.rss_end = self._each(rss_bytes)
