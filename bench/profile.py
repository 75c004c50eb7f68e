"""Where a process spends its CPU: py-spy attached to it while a piece of work runs, read
back as shares by library and by frame.

py-spy (a dev dependency) samples the process's Python stacks from outside, so the process
runs its own code unchanged; ``--nonblocking`` does not pause it to read them. A profiled
segment still runs apart from the measured rounds: the sampler's own CPU would otherwise
fall on the figures the ratios are made of.

Each sample is the stack of one thread at one moment. Threads that wait (an event loop in
``select``, a thread pool or aiosqlite's thread on its queue, a lock) are dropped: py-spy
leaves most of them out, and a stack whose innermost line is a blocking call in the
standard library (or aiosqlite's queue) is dropped here. What is left is where the CPU
went, apart from C code that released the GIL in a thread py-spy took for idle.
"""

from __future__ import annotations

import asyncio
import itertools
import linecache
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench.api_load import run_api_load
from bench.load import drive
from bench.processes import People, enrollment_operation
from bench.stack import OUR_PACKAGES, REPO, Stack

T = TypeVar("T")

RATE = 100  # samples a second: enough for shares of a few per cent in a 20 s segment
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
# The innermost line of a waiting thread: a queue or selector read, a lock, a sleep.
_BLOCKING = re.compile(r"\.get\(|\bselect\(|\.wait\(|\.acquire\(|\bsleep\(|\.poll\(")
# Entry points every sample of a thread passes through: they say nothing of where it went.
_PLUMBING = re.compile(r":<module>$|^(cli/main|uvicorn/(main|server|_compat))\.py:")
_AIOSQLITE_QUEUE = "aiosqlite/core.py"
_STDLIB = (sysconfig.get_paths()["stdlib"], "<frozen ")

# The library a sample is charged to, by a part of its file's path (the first that matches).
AREAS: dict[str, tuple[str, ...]] = {
    "temporal_sandbox": ("temporalio/worker/workflow_sandbox/",),
    "temporal_payloads": (  # visiting, codec, converter
        "temporalio/bridge/_visitor",
        "temporalio/worker/_command_aware_visitor",
        "temporalio/converter",
        "temporalio/contrib/pydantic",
    ),
    "temporal_other": ("temporalio/", "google/protobuf", "grpc"),  # activations, activities
    "sqlalchemy": ("sqlalchemy/",),
    "db_drivers": ("aiosqlite/", "asyncpg/", "sqlite3/"),
    "pydantic": ("pydantic",),
    "cryptography": ("cryptography/",),  # the payload codec, field encryption
    "argon2": ("argon2/", "pwdlib/"),  # password hashing
    "web": ("fastapi/", "starlette/", "uvicorn/", "h11/", "anyio/"),
    "pyjwt": ("jwt/",),
    "structlog": ("structlog/",),
}
OURS = "insureflow"
STDLIB = "stdlib"  # the event loop, threads, the rest of the standard library
OTHER = "other"


def py_spy() -> str | None:
    """The py-spy next to this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass
class Frame:
    function: str
    file: str
    line: int | None

    @property
    def label(self) -> str:
        return f"{_short(self.file)}:{self.function}"


def parse_frame(text: str) -> Frame:
    m = _FRAME.match(text)
    if m is None:
        return Frame(text, "", None)
    line = m.group("line")
    return Frame(m.group("function"), m.group("file"), int(line) if line else None)


def _short(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    repo = str(REPO) + "/"
    if path.startswith(repo):
        return path[len(repo) :]
    stdlib = _STDLIB[0] + "/"
    return path[len(stdlib) :] if path.startswith(stdlib) else path


def area_of(path: str) -> str | None:
    """The library a file belongs to; None for the standard library and unknown files,
    whose time is charged to the nearest caller that has one."""
    short = _short(path)
    for area, parts in AREAS.items():
        if any(part in short for part in parts):
            return area
    if path.startswith(str(REPO) + "/") and short.split("/", 1)[0] in OUR_PACKAGES:
        return OURS
    if path.startswith(_STDLIB) or path.startswith("<") or not path:
        return None
    return OTHER


def waiting(frame: Frame) -> bool:
    """Whether a stack's innermost frame is a thread waiting, not working: a blocking call
    in the standard library (a queue, a selector, a lock, a sleep) or aiosqlite's thread
    waiting for its next statement. A ``.get(`` in a library or in our code is work."""
    if frame.line is None or not frame.file.startswith("/"):
        return False
    if not (frame.file.startswith(_STDLIB[0]) or frame.file.endswith(_AIOSQLITE_QUEUE)):
        return False
    return bool(_BLOCKING.search(linecache.getline(frame.file, frame.line)))


@dataclass
class Profile:
    """Samples of one process, by library (each sample charged to the innermost frame
    outside the standard library) and by frame (every frame a sample passed through)."""

    samples: int = 0
    idle: int = 0
    areas: Counter[str] = field(default_factory=Counter)
    frames: Counter[str] = field(default_factory=Counter)
    # Samples that went from a listed frame straight to another (callers to callees).
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, stack: list[Frame], count: int) -> None:
        if not stack:
            return
        if waiting(stack[-1]):
            self.idle += count
            return
        self.samples += count
        area = next((a for f in reversed(stack) if (a := area_of(f.file))), STDLIB)
        self.areas[area] += count
        listed: list[str] = []
        for f in stack:
            if area_of(f.file) not in (None, OTHER) and f.label not in listed:
                listed.append(f.label)
        for label in listed:
            self.frames[label] += count
        for caller, callee in itertools.pairwise(listed):
            self.calls[caller, callee] += count

    @classmethod
    def from_raw(cls, text: str) -> Profile:
        """py-spy's ``--format raw``: one collapsed stack a line, outermost first, and
        its count."""
        profile = cls()
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            profile.add([parse_frame(f) for f in stack.split(";")], int(count))
        return profile

    def as_dict(self, *, top: int = 14) -> dict[str, Any]:
        def share(n: int) -> float:
            return round(100 * n / self.samples, 1) if self.samples else 0.0

        # Entry points (a thread's, the CLI's, uvicorn's) say nothing; nor does a caller
        # whose samples nearly all go on into one callee (a middleware chain, a wrapper):
        # the innermost frame of such a chain is listed for it.
        passes_on = {
            caller for (caller, _), n in self.calls.items() if n >= 0.95 * self.frames[caller]
        }
        frames = [
            (label, n)
            for label, n in self.frames.most_common()
            if label not in passes_on and not _PLUMBING.search(label)
        ][:top]
        return {
            "samples": self.samples,
            "idle_samples": self.idle,
            "areas_pct": {a: share(n) for a, n in self.areas.most_common()},
            "frames_pct": {label: share(n) for label, n in frames},
        }


class Recording:
    """py-spy on one pid, from ``start()`` to ``stop()`` (SIGINT: it writes its file).
    Never raises: what goes wrong is the reason there is no profile."""

    def __init__(self, binary: str, pid: int, out: Path) -> None:
        self.command = [
            binary,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(RATE),
            "--format",
            "raw",
            "--full-filenames",
            "--nonblocking",
            "--output",
            str(out),
        ]
        self.out = out
        self.log = out.with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.failed = ""

    def start(self) -> None:
        try:
            with self.log.open("wb") as log:
                self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=log)
        except OSError as e:
            self.failed = f"py-spy could not start: {e}"

    def interrupt(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    async def stop(self) -> Profile | str:
        """The profile, or why there is none (py-spy's own words)."""
        if self.proc is None:
            return self.failed or "py-spy was not started"
        self.interrupt()
        try:
            await asyncio.to_thread(self.proc.wait, 60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)
            return "py-spy did not stop within 60 s"
        if not self.out.exists():
            said = [line.strip() for line in self.log.read_text(errors="replace").splitlines()]
            # py-spy says "Error: ..." first, then its causes and a backtrace.
            reason = next((line for line in said if line.startswith("Error:")), None)
            reason = reason or next((line for line in said if line), "no reason given")
            return "py-spy wrote no profile: " + reason
        return Profile.from_raw(self.out.read_text(errors="replace"))


async def profiled(
    pids: dict[str, int], work: Awaitable[T], *, out_dir: Path
) -> tuple[T, dict[str, Any]]:
    """Run ``work`` with py-spy on each named process; its result and, per process, the
    profile or the reason it could not be taken (py-spy missing, not allowed to attach).
    Every py-spy started is stopped, whatever becomes of the work."""
    binary = py_spy()
    if binary is None:
        result = await work
        return result, {name: {"skipped": "py-spy is not installed"} for name in pids}
    recordings = {
        name: Recording(binary, pid, out_dir / f"profile-{name}.raw") for name, pid in pids.items()
    }
    try:
        for recording in recordings.values():
            recording.start()
        await asyncio.sleep(1.0)  # py-spy attaches and starts sampling
        result = await work
    finally:
        for recording in recordings.values():
            recording.interrupt()
        stopped = {name: await r.stop() for name, r in recordings.items()}
    profiles: dict[str, Any] = {}
    for name, got in stopped.items():
        profiles[name] = {"skipped": got} if isinstance(got, str) else got.as_dict()
        profiles[name]["command"] = "py-spy " + " ".join(recordings[name].command[1:-2])
    return result, profiles


async def run_profiles(
    stack: Stack,
    people: People,
    *,
    enrollments: int,
    api_flows: int,
    concurrency: int,
    readers: int,
) -> dict[str, Any]:
    """Two profiled segments: enrollments at workflow level with py-spy on the worker, then
    the API agent flow with py-spy on the API and the worker."""
    stack.progress.say(f"profile: {enrollments} enrollments, py-spy on the worker")
    one = enrollment_operation(stack, people, prefix="EZ")
    drove, enrollment = await profiled(
        {"worker": stack.pid("worker")}, drive(enrollments, concurrency, one), out_dir=stack.root
    )
    stack.progress.say(f"profile: {api_flows} API agent flows, py-spy on the API and the worker")
    flows = run_api_load(
        stack,
        people,
        flows=api_flows,
        concurrency=concurrency,
        within=60.0,
        readers=readers,
        label="profile api",
    )
    api_result, api = await profiled(
        {"api": stack.pid("api"), "worker": stack.pid("worker")}, flows, out_dir=stack.root
    )
    segment = {k: api_result["flows"][k] for k in ("completed", "completed_per_s")}
    done = {
        "completed": len(drove.latencies.samples),
        "completed_per_s": round(drove.per_second, 2),
    }
    return {"enrollment": {**enrollment, **done}, "api": {**api, **segment}}
