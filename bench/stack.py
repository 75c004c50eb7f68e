"""The stack a benchmark runs on, private to the run: a Temporal dev server (SQLite in a temp
dir, with the pragmas of ``insureflow dev``), a migrated SQLite read model with the
development users, the real worker, its variants and the API, each in its own process so
that its CPU and memory can be read from /proc.
"""

from __future__ import annotations

import asyncio
import base64
import compileall
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.load import Progress
from bench.sampler import ProcessSampler
from cli.main import dev_server_command
from core.config import Settings
from core.keys import parse_keys
from core.temporal import connect
from db.migrate import upgrade_async
from db.seed import seed_dev_users
from db.session import make_engine, make_session_factory
from workers.namespace import register_search_attributes

REPO = Path(__file__).resolve().parent.parent
# InsureFlow's packages, as `pip install .` finds them (migrations aside: not run here).
_FOUND = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
OUR_PACKAGES = tuple(p.rstrip("*") for p in _FOUND["find"]["include"] if p != "migrations*")
_ID_IN_PATH = re.compile(r"(?<=/v1/)([a-z_-]+)/[^/\s?]+")
LOCKED = "database is locked"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def temporal_command(data_dir: Path, port: int, *, wal: bool) -> list[str]:
    """``insureflow dev``'s server command on our port and file, headless; ``wal=False``
    drops its SQLite pragmas (the before side of the WAL tuning)."""
    settings = Settings(data_dir=data_dir, temporal_port=port, temporal_ui_port=free_port())
    command = dev_server_command(settings)
    if not wal:
        drop = {i for i, arg in enumerate(command) if arg == "--sqlite-pragma"}
        command = [a for i, a in enumerate(command) if i not in drop and i - 1 not in drop]
    return [*command, "--headless"]


def compile_bytecode() -> None:
    """The packages' ``.pyc`` files, as ``pip install .`` writes them for a deployed worker:
    without them the sandbox compiles a workflow's module again for each new run (an
    editable install under PYTHONDONTWRITEBYTECODE; docs/deployment.md)."""
    for package in (*OUR_PACKAGES, "bench"):  # the bench's pipeline runs in the sandbox too
        if not compileall.compile_dir(REPO / package, quiet=1):
            raise RuntimeError(f"could not compile {package}/ to bytecode")


def count_log_errors(path: Path) -> dict[str, int]:
    """Error lines of a JSON log, counted by event (ids in paths folded into ``{id}``), and
    how many of them ended in SQLite's 'database is locked'."""
    counts: Counter[str] = Counter()
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or event.get("level") not in ("error", "critical"):
            continue
        words = (str(event[k]) for k in ("event", "method", "path", "action") if event.get(k))
        counts[_ID_IN_PATH.sub(r"\1/{id}", " ".join(words))[:160]] += 1
        if LOCKED in str(event.get("exception", "")):
            counts[LOCKED] += 1
    return dict(counts)


def _clean_env() -> dict[str, str]:
    """This process's environment without any INSUREFLOW_ setting the caller may have."""
    return {k: v for k, v in os.environ.items() if not k.startswith("INSUREFLOW_")}


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    stop_signal: int = signal.SIGINT
    address: str = ""  # a Temporal server's


@dataclass
class Stack:
    """Everything a scenario needs; ``stop()`` ends every process it started."""

    root: Path
    progress: Progress
    sampler: ProcessSampler
    keep: bool = False
    children: list[Child] = field(default_factory=list)
    codec_keys: str = ""
    temporal_address: str = ""
    # Task queues: the real worker's, then its variants' (bench.workers), each polled by
    # the number of processes in ``queues``: two real workers; with a PostgreSQL URL, one
    # and two on the read model there.
    task_queue: str = ""
    pair_queue: str = ""
    postgres_queue: str = ""
    postgres_pair_queue: str = ""
    postgres_url: str | None = None
    queues: dict[str, int] = field(default_factory=dict)
    # Business keys written to PostgreSQL carry it: that database outlives the run.
    run_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6].upper())
    api_port: int = 0
    # Set by start():
    client: Client = field(init=False)
    settings: Settings = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    engine: AsyncEngine | None = None

    @classmethod
    def create(cls, progress: Progress, sampler: ProcessSampler, *, keep: bool) -> Stack:
        root = Path(tempfile.mkdtemp(prefix="insureflow-bench-"))
        return cls(root=root, progress=progress, sampler=sampler, keep=keep)

    @property
    def db_file(self) -> Path:
        return self.root / "insureflow.db"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.db_file}"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    async def start(self, *, variants: bool = False, postgres_url: str | None = None) -> None:
        """The stack; ``variants`` adds the workers of the enrollment variants."""
        compile_bytecode()
        self.codec_keys = "bench-1:" + base64.b64encode(os.urandom(32)).decode()
        self.task_queue = f"bench-insureflow-{uuid.uuid4().hex[:8]}"
        server = await self.start_temporal("temporal", self.root / "temporal")
        self.temporal_address = server.address
        self.settings = Settings(
            environment="test",
            data_dir=self.root,
            database_url=self.database_url,
            temporal_address=self.temporal_address,
            task_queue=self.task_queue,
            codec_keys=self.codec_keys,
            gateway_latency=0,
        )
        self.client = await self.connect(self.temporal_address)
        await register_search_attributes(self.client)
        await upgrade_async(self.database_url)
        self.engine = make_engine(self.database_url)
        self.sessions = make_session_factory(self.engine)
        await seed_dev_users(self.sessions, environment="test")

        self._spawn("worker", [sys.executable, "-m", "cli.main", "worker"], self._app_env())
        self.queues[self.task_queue] = 1
        if variants:
            self.pair_queue = self.task_queue + "-pair"
            self._workers("worker_pair", self.pair_queue, 2)
        if variants and postgres_url:
            await upgrade_async(postgres_url)
            self.postgres_url = postgres_url
            self.postgres_queue = self.task_queue + "-postgres"
            self.postgres_pair_queue = self.task_queue + "-postgres-pair"
            database = {"INSUREFLOW_DATABASE_URL": postgres_url}
            self._workers("worker_pg", self.postgres_queue, 1, **database)
            self._workers("worker_pg_pair", self.postgres_pair_queue, 2, **database)
        self.api_port = free_port()
        env = self._app_env() | {"INSUREFLOW_API_PORT": str(self.api_port)}
        self._spawn("api", [sys.executable, "-m", "cli.main", "api"], env)
        await self._wait_ready()

    def _workers(self, name: str, queue: str, count: int, **env: str) -> None:
        """``count`` processes of ``python -m bench.workers`` polling ``queue``."""
        for n in range(1, count + 1):
            command = [sys.executable, "-m", "bench.workers"]
            env_n = self._app_env() | {"INSUREFLOW_TASK_QUEUE": queue} | env
            self._spawn(name if count == 1 else f"{name}_{n}", command, env_n)
        self.queues[queue] = count

    async def start_timer_worker(self, name: str, *args: str) -> str:
        """A ``python -m bench.timers [args]`` process on a queue of its own, polling; the
        queue."""
        queue = f"{self.task_queue}-{name}"
        env = self._app_env() | {"INSUREFLOW_TASK_QUEUE": queue}
        self._spawn(name, [sys.executable, "-m", "bench.timers", *args], env)
        self.queues[queue] = 1
        await self._wait_ready()
        return queue

    async def start_temporal(self, name: str, data_dir: Path, *, wal: bool = True) -> Child:
        """A dev server on a free port with its SQLite file under ``data_dir``."""
        await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
        port = free_port()
        command = temporal_command(data_dir, port, wal=wal)
        child = self._spawn(name, command, _clean_env(), stop=signal.SIGTERM)
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(_listening, port):
            if child.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {child.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not open port {port} within 60s")
            await asyncio.sleep(0.2)
        child.address = f"127.0.0.1:{port}"
        return child

    async def connect(self, address: str) -> Client:
        """A client with InsureFlow's converter and codec (the one factory), retried."""
        settings = Settings(temporal_address=address, codec_keys=self.codec_keys)
        deadline = time.monotonic() + 60
        while True:
            try:
                return await connect(settings, keyring=parse_keys(self.codec_keys))
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    def _app_env(self) -> dict[str, str]:
        return _clean_env() | {
            "INSUREFLOW_ENVIRONMENT": "test",
            "INSUREFLOW_TEMPORAL_ADDRESS": self.temporal_address,
            "INSUREFLOW_DATABASE_URL": self.database_url,
            "INSUREFLOW_TASK_QUEUE": self.task_queue,
            "INSUREFLOW_CODEC_KEYS": self.codec_keys,
            "INSUREFLOW_DATA_DIR": str(self.root),
            "INSUREFLOW_GATEWAY_LATENCY": "0",
            "INSUREFLOW_JWT_SECRET": "bench-" + "s" * 40,
            "INSUREFLOW_LOG_FORMAT": "json",
        }

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], *, stop: int = signal.SIGINT
    ) -> Child:
        log = (self.root / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        child = Child(name, proc, log, stop)
        self.children.append(child)
        self.sampler.watch(name, proc.pid)
        return child

    async def _wait_ready(self) -> None:
        """The API answers /readyz and every queue has its workers polling."""
        client = self.client
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(base_url=self.api_base, timeout=5) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await self._still_starting(deadline, "the API did not become ready")
        for queue, workers in self.queues.items():
            request = DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
            while True:
                pollers = (await client.workflow_service.describe_task_queue(request)).pollers
                if len({p.identity for p in pollers}) >= workers:
                    break
                await self._still_starting(deadline, f"{workers} worker(s) did not poll {queue}")
        self.progress.say(f"stack ready in {self.root}; API on {self.api_base}")

    async def _still_starting(self, deadline: float, late: str) -> None:
        for child in self.children:
            if child.proc.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with code {child.proc.returncode}; "
                    f"see {self.root / (child.name + '.log')}"
                )
        if time.monotonic() > deadline:
            raise RuntimeError(f"{late} within 90s")
        await asyncio.sleep(0.3)

    async def wait_quiet(self, name: str, *, below: float = 0.05, within: float = 60) -> float:
        """Wait until process ``name`` uses less than ``below`` of a core over a second (or
        ``within`` seconds pass); the seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < within:
            if await asyncio.to_thread(self.sampler.cpu_rate, name, 1.0) < below:
                break
        return time.monotonic() - began

    def pid(self, name: str) -> int:
        return next(c.proc.pid for c in self.children if c.name == name)

    def log_errors(self) -> dict[str, dict[str, int]]:
        """Error lines in the API's and the workers' logs so far (they carry no personal
        data: core.logging masks it)."""
        names = [c.name for c in self.children if c.name == "api" or c.name.startswith("worker")]
        return {name: count_log_errors(self.root / f"{name}.log") for name in names}

    async def close_database(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None

    def stop_child(self, child: Child) -> None:
        if child.proc.poll() is None:
            child.proc.send_signal(child.stop_signal)
            try:
                child.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait(timeout=5)
        child.log.close()
        self.sampler.forget(child.name)
        if child in self.children:
            self.children.remove(child)

    def stop(self, *, failed: bool = False) -> None:
        """Signal the API and workers together, then stop them and the Temporal servers last;
        remove the temp dir unless ``--keep`` or the run failed (its logs are there)."""
        apps = [c for c in self.children if c.stop_signal != signal.SIGTERM]
        servers = [c for c in self.children if c.stop_signal == signal.SIGTERM]
        for child in apps:
            if child.proc.poll() is None:
                child.proc.send_signal(child.stop_signal)
        for child in [*apps, *servers]:
            self.stop_child(child)
        if self.keep or failed:
            self.progress.say(f"kept the run's files and logs in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
