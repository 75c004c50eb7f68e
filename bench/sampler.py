"""CPU time and resident memory per process, read from /proc (no psutil).

A background thread samples every watched process's RSS so a measurement window can
report its peak; CPU seconds are the difference of ``utime + stime`` across the window.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    # The command name may contain spaces; the fields after it are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
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
    """What the watched processes used during one measurement."""

    wall_s: float = 0.0
    processes: dict[str, dict[str, float]] = field(default_factory=dict)
    machine_busy_pct: float = 0.0
    outside_cpu_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall_s, 2),
            "machine_busy_pct_of_all_cores": round(self.machine_busy_pct, 1),
            # CPU the machine spent outside the watched processes (other users' jobs, the
            # kernel's own work): high values mean the run shared the machine.
            "outside_watched_cpu_s": round(self.outside_cpu_s, 2),
            "processes": self.processes,
        }

    def busiest(self) -> tuple[str, float]:
        """The process that used the most CPU seconds, and how many."""
        if not self.processes:
            return "", 0.0
        name = max(self.processes, key=lambda n: self.processes[n]["cpu_s"])
        return name, self.processes[name]["cpu_s"]


class ProcessSampler:
    """Watches named processes; ``window()`` measures CPU and peak RSS over a block."""

    def __init__(self, interval: float = 0.5) -> None:
        self._interval = interval
        self._pids: dict[str, int] = {}
        self._peaks: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self._pids[name] = pid
            self._peaks[name] = 0

    def forget(self, name: str) -> None:
        with self._lock:
            self._pids.pop(name, None)
            self._peaks.pop(name, None)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            for name, pid in self._pids.items():
                try:
                    self._peaks[name] = max(self._peaks[name], rss_bytes(pid))
                except OSError:
                    pass  # exited; the window reports what it saw

    def rss_now(self) -> dict[str, float]:
        """RSS of every watched process now, in MiB."""
        with self._lock:
            pids = dict(self._pids)
        out: dict[str, float] = {}
        for name, pid in pids.items():
            try:
                out[name] = round(rss_bytes(pid) / MIB, 1)
            except OSError:
                continue
        return out

    def _cpu(self) -> dict[str, float]:
        with self._lock:
            pids = dict(self._pids)
        out: dict[str, float] = {}
        for name, pid in pids.items():
            try:
                out[name] = cpu_seconds(pid)
            except OSError:
                continue
        return out

    def cpu_rate(self, name: str, over: float) -> float:
        """CPU seconds per second of one process over the next ``over`` seconds (blocks)."""
        before = self._cpu().get(name, 0.0)
        time.sleep(over)
        return (self._cpu().get(name, 0.0) - before) / over

    @contextmanager
    def window(self) -> Iterator[Window]:
        """Measure the block: CPU seconds, share of one core, peak and final RSS per process."""
        result = Window()
        with self._lock:
            for name in self._peaks:
                self._peaks[name] = 0
        self.sample()
        cpu_before = self._cpu()
        busy_before, total_before = machine_busy_seconds()
        started = time.monotonic()
        try:
            yield result
        finally:
            self.sample()
            result.wall_s = time.monotonic() - started
            cpu_after = self._cpu()
            busy_after, total_after = machine_busy_seconds()
            spent = total_after - total_before
            result.machine_busy_pct = 100 * (busy_after - busy_before) / spent if spent else 0.0
            watched = 0.0
            rss = self.rss_now()
            with self._lock:
                peaks = dict(self._peaks)
            for name, after in cpu_after.items():
                used = after - cpu_before.get(name, after)
                watched += used
                result.processes[name] = {
                    "cpu_s": round(used, 2),
                    "cpu_pct_of_one_core": round(100 * used / result.wall_s, 1)
                    if result.wall_s
                    else 0.0,
                    "rss_peak_mib": round(peaks.get(name, 0) / MIB, 1),
                    "rss_end_mib": rss.get(name, 0.0),
                }
            result.outside_cpu_s = max(0.0, busy_after - busy_before - watched)


def merge_windows(windows: list[Window]) -> Window:
    """One window from several (the rounds of an interleaved measurement): CPU and wall
    time added up, peak RSS the highest, final RSS the last."""
    merged = Window()
    busy = 0.0
    for w in windows:
        merged.wall_s += w.wall_s
        merged.outside_cpu_s += w.outside_cpu_s
        busy += w.machine_busy_pct * w.wall_s
        for name, p in w.processes.items():
            into = merged.processes.setdefault(
                name, {"cpu_s": 0.0, "cpu_pct_of_one_core": 0.0, "rss_peak_mib": 0.0}
            )
            into["cpu_s"] = round(into["cpu_s"] + p["cpu_s"], 2)
            into["rss_peak_mib"] = max(into["rss_peak_mib"], p["rss_peak_mib"])
            into["rss_end_mib"] = p["rss_end_mib"]
    if merged.wall_s:
        merged.machine_busy_pct = busy / merged.wall_s
        for p in merged.processes.values():
            p["cpu_pct_of_one_core"] = round(100 * p["cpu_s"] / merged.wall_s, 1)
    return merged
