"""``insureflow dev`` for real: the console script starts the Temporal dev server, a worker
and the API; SIGINT stops all of them and exits 0; a second run on the same data dir
carries on with the enrollments of the first."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from domain.identity import make_id_number
from domain.steps import CHARGE_PREMIUM
from gateways.payment import GatewayMode, PaymentGateway

pytestmark = pytest.mark.devserver

INSUREFLOW = Path(sys.executable).parent / "insureflow"
READY_WITHIN = 90.0
STOP_WITHIN = 60.0

# The child must react to SIGINT even when the test run itself ignores it (a shell's
# background job, some CI runners): an ignored signal stays ignored across exec, and then
# Python installs no KeyboardInterrupt handler. Reset it, then exec the real console script.
EXEC_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on, distinct from each other (all bound at once)."""
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def live_members(session: int) -> dict[int, str]:
    """Processes (not zombies) still in session ``session``, pid → name: the command and
    everything it started, whatever process groups they use (Linux /proc; elsewhere
    nothing is reported and the port checks alone stand)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        state, _ppid, _pgrp, sid = raw[raw.rindex(")") + 2 :].split()[:4]
        if int(sid) == session and state != "Z":
            found[int(stat.parent.name)] = name
    return found


@dataclass
class Ports:
    api: int
    temporal: int
    ui: int

    def all(self) -> dict[str, int]:
        return {"api": self.api, "temporal": self.temporal, "temporal ui": self.ui}


class DevRun:
    """One ``insureflow dev`` in its own process group, its output in ``log``."""

    def __init__(self, data_dir: Path, ports: Ports, log: Path) -> None:
        self.ports = ports
        self.log = log
        self.base = f"http://127.0.0.1:{ports.api}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("INSUREFLOW_")}
        env.update(
            INSUREFLOW_DATA_DIR=str(data_dir),
            INSUREFLOW_API_PORT=str(ports.api),
            INSUREFLOW_TEMPORAL_PORT=str(ports.temporal),
            INSUREFLOW_TEMPORAL_UI_PORT=str(ports.ui),
        )
        assert "INSUREFLOW_TEMPORAL_ADDRESS" not in env
        with log.open("ab") as out:
            out.write(f"\n===== insureflow dev ({time.strftime('%X')}) =====\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-c", EXEC_WITH_DEFAULT_SIGINT, str(INSUREFLOW), "dev"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=data_dir.parent,
                start_new_session=True,  # own session and group: Ctrl-C to it, not to pytest
            )

    def wait_ready(self, client: httpx.Client) -> None:
        deadline = time.monotonic() + READY_WITHIN
        last = "no answer"
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"insureflow dev exited early with {self.proc.returncode}")
            try:
                r = client.get(f"{self.base}/readyz", timeout=5)
                last = f"{r.status_code} {r.text}"
                body = r.json()
                if (
                    r.status_code == 200
                    and body.get("database") == "ok"
                    and body.get("temporal") == "ok"
                ):
                    return
            except (httpx.TransportError, ValueError) as err:
                last = repr(err)
            if time.monotonic() > deadline:
                raise AssertionError(f"/readyz not ready within {READY_WITHIN:.0f}s: {last}")
            time.sleep(0.2)

    def wait_ui(self, client: httpx.Client, *, within: float = 30.0) -> None:
        url = f"http://127.0.0.1:{self.ports.ui}/"
        deadline = time.monotonic() + within
        last = "no answer"
        while True:
            try:
                r = client.get(url, timeout=5, follow_redirects=True)
                if r.status_code == 200:
                    return
                last = str(r.status_code)
            except httpx.TransportError as err:
                last = repr(err)
            if time.monotonic() > deadline:
                raise AssertionError(f"Temporal UI at {url} did not answer 200: {last}")
            time.sleep(0.2)

    def stop(self, *, whole_group: bool) -> int:
        """SIGINT to the command (or, like Ctrl-C in a terminal, to its whole group); the
        exit code, which must come within STOP_WITHIN seconds."""
        if whole_group:
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"insureflow dev did not exit within {STOP_WITHIN:.0f}s") from None

    def assert_nothing_left(self) -> None:
        # The command waits for its children before it exits: nothing may remain.
        left = live_members(self.proc.pid)
        assert not left, f"children of insureflow dev still running: {left}"
        for name, port in self.ports.all().items():
            assert not port_open(port), f"{name} still listens on {port}"

    def kill(self) -> None:
        """Cleanup after a failure: end whatever is left of this run, by pid."""
        for pid in {self.proc.pid, *live_members(self.proc.pid)}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


class DevRuns:
    """Starts ``insureflow dev`` runs that all write to one output file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.runs: list[DevRun] = []

    def start(self, data_dir: Path, ports: Ports) -> DevRun:
        run = DevRun(data_dir, ports, self.log)
        self.runs.append(run)
        return run

    @contextlib.contextmanager
    def output_on_failure(self) -> Iterator[None]:
        """Print the runs' output if the block fails (pytest shows it with the failure)."""
        try:
            yield
        except BaseException:
            print(f"----- output of insureflow dev ({self.log}) -----")
            print(self.log.read_text(errors="replace") if self.log.exists() else "(none)")
            raise


@pytest.fixture
def dev_runs(tmp_path: Path) -> Iterator[DevRuns]:
    """``insureflow dev`` runs; whatever is left of them is killed afterwards."""
    runs = DevRuns(tmp_path / "insureflow-dev.out")
    try:
        yield runs
    finally:
        for run in runs.runs:
            if run.proc.poll() is None:
                run.kill()


def token(client: httpx.Client, base: str, username: str) -> dict[str, str]:
    r = client.post(
        f"{base}/v1/auth/token", data={"username": username, "password": f"{username}-dev"}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def new_customer() -> dict[str, Any]:
    birth = date(1980, 1, 1) + timedelta(days=random.randrange(365 * 15))
    return {
        "name": "张三",
        "id_number": make_id_number("110105", birth, random.randrange(1000)),
        "phone": "13800138000",
    }


def test_dev_runs_everything_stops_on_sigint_and_resumes_from_the_data_dir(
    tmp_path: Path, dev_runs: DevRuns
) -> None:
    assert INSUREFLOW.exists(), f"console script missing: {INSUREFLOW}"
    data_dir = tmp_path / "data"
    ports = Ports(*free_ports(3))

    with dev_runs.output_on_failure(), httpx.Client(timeout=30) as client:
        first = dev_runs.start(data_dir, ports)
        first.wait_ready(client)
        first.wait_ui(client)
        alice = token(client, first.base, "alice")
        r = client.post(
            f"{first.base}/v1/enrollments", json={"customer": new_customer()}, headers=alice
        )
        assert r.status_code == 202, r.text
        eid = r.json()["enrollment_id"]
        r = client.post(
            f"{first.base}/v1/enrollments/{eid}/quote",
            json={"product_code": "TERM_LIFE_20", "sum_insured": "200000.00"},
            headers=alice,
        )
        assert r.status_code == 200, r.text
        quote_id = r.json()["quote_id"]
        before = client.get(f"{first.base}/v1/enrollments/{eid}", headers=alice)
        assert before.status_code == 200, before.text
        assert before.json()["stage"] == "quoted"

        assert first.stop(whole_group=False) == 0
        first.assert_nothing_left()
        assert (data_dir / "temporal.db").exists()

        # Same data dir, same ports: the enrollment is still there, where it was.
        second = dev_runs.start(data_dir, ports)
        second.wait_ready(client)
        alice = token(client, second.base, "alice")
        after = client.get(f"{second.base}/v1/enrollments/{eid}", headers=alice)
        assert after.status_code == 200, after.text
        assert after.json()["stage"] == before.json()["stage"]
        assert after.json()["status"] == "in_progress"
        assert after.json()["quote"]["quote_id"] == quote_id

        # Ctrl-C in a terminal signals the whole group: the same clean stop.
        assert second.stop(whole_group=True) == 0
        second.assert_nothing_left()


def booked(data_dir: Path, idempotency_key: str) -> bool:
    """Whether the simulated gateway has booked this movement (its own table)."""
    db = data_dir / "insureflow.db"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as con:
        row = con.execute(
            "SELECT 1 FROM gateway_transaction WHERE idempotency_key = ?", (idempotency_key,)
        ).fetchone()
    return row is not None


async def started_attempts(temporal_port: int, workflow_id: str, activity: str) -> list[int]:
    """The attempt of each started ``activity`` in the workflow's history."""
    client = await Client.connect(f"127.0.0.1:{temporal_port}")
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    names: dict[int, str] = {}
    attempts = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            names[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = e.activity_task_started_event_attributes
            if names.get(started.scheduled_event_id) == activity:
                attempts.append(started.attempt)
    return attempts


def test_ctrl_c_lets_the_in_flight_charge_reach_temporal_before_it_stops(
    tmp_path: Path, dev_runs: DevRuns
) -> None:
    data_dir = tmp_path / "data"
    ports = Ports(*free_ports(3))
    control = data_dir / "gateway-sim.json"
    with dev_runs.output_on_failure(), httpx.Client(timeout=30) as client:
        first = dev_runs.start(data_dir, ports)
        first.wait_ready(client)
        # The bank takes 4 s to answer: well inside the worker's 10 s drain.
        PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=4.0)
        alice = token(client, first.base, "alice")
        r = client.post(
            f"{first.base}/v1/enrollments", json={"customer": new_customer()}, headers=alice
        )
        assert r.status_code == 202, r.text
        eid = r.json()["enrollment_id"]
        r = client.post(
            f"{first.base}/v1/enrollments/{eid}/quote",
            json={"product_code": "TERM_LIFE_20", "sum_insured": "200000.00"},
            headers=alice,
        )
        assert r.status_code == 200, r.text
        r = client.post(
            f"{first.base}/v1/enrollments/{eid}/application",
            json={
                "quote_id": r.json()["quote_id"],
                "payment_method": "auto_debit",
                "bank_account": "6222020200112233445",
                "query_password": "s3cret-pass",
                "consent": True,
            },
            headers=alice,
        )
        assert r.status_code == 200, r.text

        # The money has moved; the gateway's reply is on its way when Ctrl-C comes.
        deadline = time.monotonic() + 30
        while not booked(data_dir, f"premium:{eid}"):
            assert time.monotonic() < deadline, "the premium charge never started"
            time.sleep(0.05)
        assert first.stop(whole_group=True) == 0  # Ctrl-C in the terminal
        first.assert_nothing_left()
        PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=0.05)

        second = dev_runs.start(data_dir, ports)
        second.wait_ready(client)
        alice = token(client, second.base, "alice")
        deadline = time.monotonic() + 60
        while True:
            r = client.get(f"{second.base}/v1/enrollments/{eid}", headers=alice)
            assert r.status_code == 200, r.text
            if r.json()["payment"]["status"] == "paid":
                break
            assert time.monotonic() < deadline, f"never paid: {r.json()['payment']}"
            time.sleep(0.1)
        attempts = asyncio.run(
            started_attempts(ports.temporal, f"enrollment-{eid}", CHARGE_PREMIUM.name)
        )
        assert second.stop(whole_group=False) == 0
        second.assert_nothing_left()
    # The first attempt's result reached Temporal before it stopped: no second attempt.
    assert attempts == [1], attempts
