"""The stack a benchmark runs on, all private to the run: a Temporal dev server (SQLite in a
temp dir, the WAL pragmas of ``insureflow dev``), a migrated SQLite read model with the
development users, a real worker and the API, each in its own process so their CPU and
memory can be read from /proc.
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
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.progress import Progress
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
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure|Warning)\b.*:")
_ID_IN_PATH = re.compile(r"(?<=/v1/)([a-z_-]+)/[^/\s?]+")
_PRAGMA = "--sqlite-pragma"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def temporal_command(data_dir: Path, port: int, *, wal: bool) -> list[str]:
    """``insureflow dev``'s server command on our own port and file, without the Web UI;
    ``wal=False`` drops the SQLite pragmas (the before of the WAL tuning)."""
    settings = Settings(data_dir=data_dir, temporal_port=port, temporal_ui_port=free_port())
    command = dev_server_command(settings)
    if not wal:
        kept: list[str] = []
        skip = False
        for arg in command:
            if skip:
                skip = False
                continue
            if arg == _PRAGMA:
                skip = True
                continue
            kept.append(arg)
        command = kept
    return [*command, "--headless"]


# The packages `pip install .` installs (pyproject.toml, without migrations: not run here),
# and the bench's own, whose bare pipeline runs in the sandbox too.
PACKAGES = (
    "core", "domain", "workflows", "activities", "gateways", "db", "api", "workers", "cli",
    "bench",
)  # fmt: skip


def compile_bytecode() -> int:
    """Write the ``.pyc`` files of the packages, as ``pip install .`` does for the project's.

    The sandbox re-imports a workflow's module for every new run it starts. Without bytecode
    on disk (an editable install under ``PYTHONDONTWRITEBYTECODE=1``, as on the development
    machine) that import compiles the source again each time: about 7 % of the worker's CPU
    in the enrollment rounds. A deployed worker has the bytecode (the image's ``pip install .``
    writes it), so the bench measures with it too. ``compileall`` writes it whatever the
    environment says and skips files whose bytecode is current.
    """
    for package in PACKAGES:
        if not compileall.compile_dir(REPO / package, quiet=1):
            raise RuntimeError(f"could not compile {package}/ to bytecode")
    return len(PACKAGES)


def _clean_env() -> dict[str, str]:
    """This process's environment without any INSUREFLOW_ setting the caller may have."""
    return {k: v for k, v in os.environ.items() if not k.startswith("INSUREFLOW_")}


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    stop_signal: int = signal.SIGINT


@dataclass
class TemporalServer:
    child: Child
    address: str
    db_file: Path


@dataclass
class Stack:
    """Everything a scenario needs; ``stop()`` ends every process it started."""

    root: Path
    progress: Progress
    sampler: ProcessSampler
    keep: bool = False
    children: list[Child] = field(default_factory=list)
    codec_keys: str = ""
    task_queue: str = ""
    # The "before" worker of the local-steps change (bench.regular_steps), its own queue.
    regular_steps_queue: str = ""
    # Two more real workers, on their own queue: the same enrollments split across two
    # processes (does a second process lift the worker's one-core limit?).
    pair_queue: str = ""
    # With a PostgreSQL URL: the same real worker, alone and as a pair, with the read model
    # there (each group on its own queue), against the SQLite ones above.
    postgres_url: str | None = None
    postgres_queue: str = ""
    postgres_pair_queue: str = ""
    # Business keys written to PostgreSQL carry it: that database outlives the run.
    run_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6].upper())
    # Each queue and how many worker processes poll it.
    queues: dict[str, int] = field(default_factory=dict)
    api_port: int = 0
    temporal: TemporalServer | None = None
    client: Client | None = None
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    settings: Settings | None = None

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

    def require_client(self) -> Client:
        assert self.client is not None, "the stack is not started"
        return self.client

    def require_sessions(self) -> async_sessionmaker[AsyncSession]:
        assert self.sessions is not None, "the stack is not started"
        return self.sessions

    # --- start ------------------------------------------------------------------------

    async def start(self, *, variants: bool = False, postgres_url: str | None = None) -> None:
        """The stack; ``variants`` adds the enrollment variants' workers (two on the SQLite
        read model and, given ``postgres_url``, one and two on PostgreSQL)."""
        compiled = compile_bytecode()
        self.progress.say(f"bytecode compiled for {compiled} packages, as an installed package has")
        self.codec_keys = "bench-1:" + base64.b64encode(os.urandom(32)).decode()
        self.task_queue = f"bench-insureflow-{uuid.uuid4().hex[:8]}"
        self.temporal = await self.start_temporal("temporal", self.root / "temporal", wal=True)
        self.settings = Settings(
            environment="test",
            data_dir=self.root,
            database_url=self.database_url,
            temporal_address=self.temporal.address,
            task_queue=self.task_queue,
            codec_keys=self.codec_keys,
            gateway_latency=0,
        )
        self.client = await self.connect(self.temporal.address)
        await register_search_attributes(self.client)
        await upgrade_async(self.database_url)
        self.engine = make_engine(self.database_url)
        self.sessions = make_session_factory(self.engine)
        await seed_dev_users(self.sessions, environment="test")
        self.progress.say(f"read model migrated, development users seeded ({self.db_file})")

        self._spawn("worker", [sys.executable, "-m", "cli.main", "worker"], self._app_env())
        self.queues[self.task_queue] = 1
        self.regular_steps_queue = self.task_queue + "-regular-steps"
        self._spawn(
            "worker_regular_steps",
            [sys.executable, "-m", "bench.regular_steps"],
            self._app_env() | {"INSUREFLOW_TASK_QUEUE": self.regular_steps_queue},
        )
        self.queues[self.regular_steps_queue] = 1
        if variants:
            self.pair_queue = self.task_queue + "-pair"
            self._variant_workers("worker_pair", self.pair_queue, 2)
        if variants and postgres_url:
            await upgrade_async(postgres_url)
            self.postgres_url = postgres_url
            self.postgres_queue = self.task_queue + "-postgres"
            self.postgres_pair_queue = self.task_queue + "-postgres-pair"
            database = {"INSUREFLOW_DATABASE_URL": postgres_url}
            self._variant_workers("worker_pg", self.postgres_queue, 1, database)
            self._variant_workers("worker_pg_pair", self.postgres_pair_queue, 2, database)
            self.progress.say("read model on PostgreSQL migrated for the workers there")
        self.api_port = free_port()
        env = self._app_env() | {"INSUREFLOW_API_PORT": str(self.api_port)}
        self._spawn("api", [sys.executable, "-m", "cli.main", "api"], env)
        await self._wait_ready()

    def _variant_workers(
        self, name: str, queue: str, count: int, env: dict[str, str] | None = None
    ) -> None:
        """``count`` real worker processes without the outbox relay (bench.variant_worker)
        polling ``queue``, named ``name`` if one, ``name_1``... if more, each with the
        run's settings and ``env`` on top."""
        for n in range(1, count + 1):
            self._spawn(
                name if count == 1 else f"{name}_{n}",
                [sys.executable, "-m", "bench.variant_worker"],
                self._app_env() | {"INSUREFLOW_TASK_QUEUE": queue} | (env or {}),
            )
        self.queues[queue] = count

    async def start_temporal(self, name: str, data_dir: Path, *, wal: bool) -> TemporalServer:
        """A dev server on a free port with its SQLite file under ``data_dir``."""
        await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
        port = free_port()
        child = self._spawn(
            name, temporal_command(data_dir, port, wal=wal), _clean_env(), stop=signal.SIGTERM
        )
        deadline = time.monotonic() + 60
        while not _port_open(port):
            if child.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {child.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not open port {port} within 60s")
            await asyncio.sleep(0.2)
        self.progress.say(f"{name}: dev server on 127.0.0.1:{port} ({'WAL' if wal else 'no WAL'})")
        return TemporalServer(child, f"127.0.0.1:{port}", data_dir / "temporal.db")

    async def connect(self, address: str) -> Client:
        """A client with InsureFlow's converter and codec (the one factory), retried."""
        assert self.codec_keys
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
        assert self.temporal is not None
        return _clean_env() | {
            "INSUREFLOW_ENVIRONMENT": "test",
            "INSUREFLOW_TEMPORAL_ADDRESS": self.temporal.address,
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
        """The API answers /readyz and both workers poll their task queues."""
        client = self.require_client()
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(base_url=self.api_base, timeout=5) as http:
            while True:
                self._check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the API did not become ready within 90s")
                await asyncio.sleep(0.3)
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
                self._check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{workers} worker(s) did not poll {queue} within 90s")
                await asyncio.sleep(0.3)
        self.progress.say(f"worker polling {self.task_queue}; API ready on {self.api_base}")

    def _check_alive(self) -> None:
        for child in self.children:
            if child.proc.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with code {child.proc.returncode}; "
                    f"see {self.root / (child.name + '.log')}"
                )

    async def wait_quiet(self, name: str, *, below: float = 0.05, within: float = 60) -> float:
        """Wait until process ``name`` uses less than ``below`` of a core over a second (or
        ``within`` seconds pass); the seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < within:
            if await asyncio.to_thread(self.sampler.cpu_rate, name, 1.0) < below:
                break
        return time.monotonic() - began

    def pid(self, name: str) -> int:
        """The pid of the child process started as ``name``."""
        return next(c.proc.pid for c in self.children if c.name == name)

    def worker_names(self) -> list[str]:
        """Every worker process the stack started."""
        return [c.name for c in self.children if c.name.startswith("worker")]

    def log_errors(self, name: str) -> dict[str, Any]:
        """Error lines a child wrote to its (JSON) log so far: per event and path, how many
        and the exception they ended with. Logs carry no personal data (core.logging masks
        it)."""
        path = self.root / f"{name}.log"
        found: dict[str, dict[str, Any]] = {}
        if not path.exists():
            return {"count": 0, "by_event": found}
        for line in path.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or event.get("level") not in ("error", "critical"):
                continue
            key = _ID_IN_PATH.sub(
                r"\1/{id}",
                " ".join(
                    str(event[k]) for k in ("event", "method", "path", "action") if event.get(k)
                ),
            )[:160]
            lines = str(event.get("exception", "")).strip().splitlines()
            # The exception's own line ("module.SomeError: message"), not the traceback's
            # frames or SQLAlchemy's trailing "[SQL: ...]" and "(Background ...)" lines.
            named = [ln for ln in lines if _EXCEPTION_LINE.match(ln)]
            entry = found.setdefault(key, {"count": 0, "exception": ""})
            entry["count"] += 1
            entry["exception"] = (named[-1] if named else " ".join(lines[-1:]))[:300]
        return {"count": sum(e["count"] for e in found.values()), "by_event": found}

    # --- stop -------------------------------------------------------------------------

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
        """Stop the API and worker first, the Temporal servers last; remove the temp dir
        (kept with ``--keep``, or when the run failed, for its logs)."""
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
