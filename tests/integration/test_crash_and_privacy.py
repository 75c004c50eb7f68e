"""A worker killed mid-charge, and personal data kept out of Temporal and the logs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from domain.enrollment import CustomerDetails, PaymentMethod, Quote, Status
from domain.identity import make_id_number
from domain.policies import PolicyStage, PolicyStatus
from gateways.payment import GatewayMode, PaymentGateway
from tests.integration.conftest import POLICY_PREMIUM, Login, policy_on_queue
from tests.integration.test_enrollment_api import enroll, wait_for
from tests.support import CUSTOMER_ID_NUMBER, keyring_spec
from workflows import search_attributes as sa
from workflows.enrollment import EnrollmentWorkflow, workflow_id_for
from workflows.inputs import (
    ApplicationSubmit,
    EnrollmentStart,
    PolicyCancellation,
    QuoteRequest,
)
from workflows.policy import PolicyWorkflow
from workflows.policy import workflow_id_for as policy_workflow_id_for

pytestmark = pytest.mark.devserver

SHANGHAI = timezone(timedelta(hours=8))
PHONE = "13800138000"
ACCOUNT = "6222020200112233445"


class WorkerProcess:
    """``insureflow worker`` in its own process, on its own task queue and data dir."""

    def __init__(self, settings: Settings, task_queue: str, data_dir: Path) -> None:
        self.env = dict(
            os.environ,
            INSUREFLOW_ENVIRONMENT="test",
            INSUREFLOW_DATA_DIR=str(data_dir),
            INSUREFLOW_DATABASE_URL=settings.effective_database_url,
            INSUREFLOW_TEMPORAL_ADDRESS=settings.effective_temporal_address,
            INSUREFLOW_TASK_QUEUE=task_queue,
            INSUREFLOW_CODEC_KEYS=keyring_spec(),
            INSUREFLOW_LOG_FORMAT="json",
            INSUREFLOW_LOG_FILE=str(data_dir / "worker.log"),
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
async def crash_setup(
    integration_settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[WorkerProcess, Path]]:
    worker = WorkerProcess(integration_settings, f"crash-{uuid.uuid4()}", tmp_path)
    try:
        yield worker, tmp_path / "gateway-sim.json"
    finally:
        worker.stop()


async def _auto_debit_enrollment(
    dev_env: WorkflowEnvironment,
    worker: Any,
    name: str,
    birth: date,
    serial: int,
    product: str,
    sum_insured: str,
) -> tuple[str, WorkflowHandle[Any, Any], Quote]:
    """An enrollment started on `worker`'s queue, quoted and submitted for auto-debit:
    from here it verifies, underwrites and charges by itself."""
    app_no = "E" + uuid.uuid4().hex[:12].upper()
    handle = await dev_env.client.start_workflow(
        EnrollmentWorkflow.run,
        EnrollmentStart(
            application_no=app_no,
            agent="alice",
            customer=CustomerDetails(
                name=name, id_number=make_id_number("110105", birth, serial), phone=PHONE
            ),
            birth_date=birth,
        ),
        id=workflow_id_for(app_no),
        task_queue=worker.env["INSUREFLOW_TASK_QUEUE"],
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.PROCESS, "enrollment")]),
    )
    quote = await handle.execute_update(
        EnrollmentWorkflow.quote,
        QuoteRequest(product_code=product, sum_insured=Decimal(sum_insured), by="alice"),
    )
    await handle.execute_update(
        EnrollmentWorkflow.submit_application,
        ApplicationSubmit(
            quote_id=quote.quote_id,
            payment_method=PaymentMethod.AUTO_DEBIT,
            bank_account=ACCOUNT,
            consent=True,
            start_date=datetime.now(SHANGHAI).date(),
            by="alice",
        ),
    )
    return app_no, handle, quote


async def _wait(condition, *, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_worker_killed_during_premium_charge_leaves_one_ledger_row_and_an_effective_policy(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    crash_setup: tuple[WorkerProcess, Path],
) -> None:
    from db.models import Policy

    worker, control = crash_setup
    # The bank takes 8 s to answer: time enough to kill the worker after it has charged.
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=8)
    worker.start()

    app_no, handle, _ = await _auto_debit_enrollment(
        dev_env, worker, "李四", date(1985, 2, 3), 7, "ACCIDENT_1Y", "100000"
    )
    key = f"premium:{app_no}"
    await _kill_once_the_bank_has(sessions, worker, control, key)  # mid-charge
    result = await asyncio.wait_for(handle.result(), timeout=120)

    assert result.status == Status.EFFECTIVE
    assert len(await _one_booking(sessions, key)) == 1  # one ledger row, one at the bank

    # The policy row is the policy process's from issuance: it takes effect there.
    async def policy_effective() -> bool:
        async with sessions() as s:
            policy = await s.get(Policy, result.policy_number, populate_existing=True)
        return policy is not None and policy.status == "effective"

    await _wait(policy_effective, within=30, what="the policy to take effect")


async def test_worker_killed_during_the_cooling_off_refund_leaves_one_ledger_row(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    crash_setup: tuple[WorkerProcess, Path],
) -> None:

    worker, control = crash_setup
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=0.01)
    worker.start()

    # A TERM_LIFE_20 policy (auto-underwritten, charged): its process runs on this worker.
    _, handle, quote = await _auto_debit_enrollment(
        dev_env, worker, "王五", date(1988, 6, 9), 11, "TERM_LIFE_20", "200000"
    )
    enrolled = await asyncio.wait_for(handle.result(), timeout=120)
    assert enrolled.status == Status.EFFECTIVE and enrolled.policy_number
    number = enrolled.policy_number
    policy = dev_env.client.get_workflow_handle_for(
        PolicyWorkflow.run, policy_workflow_id_for(number)
    )

    async def in_cooling_off() -> bool:
        try:
            state = await policy.query(PolicyWorkflow.state)
        except RPCError:
            return False  # its process starts a moment after issuance
        return state.stage == PolicyStage.COOLING_OFF and state.status == PolicyStatus.EFFECTIVE

    await _wait(in_cooling_off, within=60, what="the policy's cooling-off period")

    # The bank takes 8 s to answer the refund: time enough to kill the worker after it moved.
    key = f"refund:{number}"
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=8)
    cancellation = asyncio.create_task(
        policy.execute_update(
            PolicyWorkflow.cancel_in_cooling_off,
            PolicyCancellation(reason="the customer changed their mind", by="alice"),
        )
    )

    await _kill_once_the_bank_has(sessions, worker, control, key)  # mid-refund
    # The retried refund (after the step's timeout) finds the first one by its key.
    after = await asyncio.wait_for(cancellation, timeout=120)
    result = await asyncio.wait_for(policy.result(), timeout=60)

    assert after.status == result.status == PolicyStatus.CANCELLED
    assert result.cancellation is not None and result.cancellation.refund_status == "succeeded"
    assert await _one_booking(sessions, key) == [
        (quote.premium - Decimal("10.00"), "succeeded", "refund")
    ]


async def test_no_id_number_in_raw_history_workflow_ids_search_attributes_or_logs(
    api: httpx.AsyncClient,
    login: Login,
    dev_env: WorkflowEnvironment,
    integration_settings: Settings,
) -> None:
    alice = await login("alice")
    eid = await enroll(api, alice, id_number=CUSTOMER_ID_NUMBER)
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective"
    secrets = [CUSTOMER_ID_NUMBER, PHONE, ACCOUNT]

    # The history as stored, fetched by a client that has no codec.
    raw_client = await Client.connect(
        integration_settings.effective_temporal_address, namespace="default"
    )
    handle = raw_client.get_workflow_handle(body["workflow_id"])
    history = await handle.fetch_history()
    # Protobuf bytes hold payload data as raw bytes (plaintext would show as is); the JSON
    # form is what `temporal workflow show --output json` prints.
    stored = b"".join(event.SerializeToString() for event in history.events)
    history_json = history.to_json()
    assert b"binary/encrypted" in stored
    for secret in secrets:
        assert secret.encode() not in stored
        assert secret not in history_json

    # Workflow ids and search attributes across every process on the server.
    async for execution in raw_client.list_workflows():
        assert all(s not in execution.id for s in secrets)
        for pair in execution.typed_search_attributes:
            assert all(s not in str(pair.value) for s in secrets)

    # Log lines written by the API and the worker during the run.
    log = (integration_settings.log_file or Path("/nonexistent")).read_text(encoding="utf-8")
    assert eid in log or "enrollment" in log  # the log is really being written
    for secret in secrets:
        assert secret not in log


async def test_cancelling_after_the_premium_was_charged_refunds_it_exactly_once(
    api: httpx.AsyncClient,
    login: Login,
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from db.models import GatewayTransaction, PaymentLedger, Policy

    alice = await login("alice")
    tomorrow = (datetime.now(SHANGHAI).date() + timedelta(days=1)).isoformat()
    eid = await enroll(api, alice, start_date=tomorrow)  # charged, then waits to take effect
    body = await wait_for(api, alice, eid, lambda b: b["stage"] == "issued")
    olga = await login("olga")
    url = f"/v1/ops/workflows/{body['workflow_id']}/cancel"
    r = await api.post(url, json={"reason": "customer asked ops to cancel"}, headers=olga)
    assert r.status_code == 202, r.text
    again = await api.post(url, json={"reason": "twice"}, headers=olga)
    assert again.status_code in (202, 409)  # a repeated request changes nothing
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "cancelled"
    assert body["payment"]["status"] == "refunded"
    refund_key = f"refund:{body['policy_number']}"
    async with sessions() as s:
        refunds = await s.scalar(
            select(func.count()).where(PaymentLedger.idempotency_key == refund_key)
        )
        at_bank = await s.scalar(
            select(func.count()).where(GatewayTransaction.idempotency_key == refund_key)
        )
        policy = await s.get(Policy, body["policy_number"])
    assert (refunds, at_bank) == (1, 1)
    assert policy is not None and policy.status == "cancelled"


async def _one_booking(
    sessions: async_sessionmaker[AsyncSession], key: str
) -> list[tuple[Decimal, str, str]]:
    """The ledger's rows under `key` (amount, status, kind), after checking the bank holds
    exactly one transaction under it."""
    from db.models import GatewayTransaction, PaymentLedger

    async with sessions() as s:
        rows = list(
            await s.scalars(select(PaymentLedger).where(PaymentLedger.idempotency_key == key))
        )
        bank_rows = await s.scalar(
            select(func.count()).where(GatewayTransaction.idempotency_key == key)
        )
    assert bank_rows == 1
    return [(r.amount, r.status, r.kind) for r in rows]


async def _kill_once_the_bank_has(
    sessions: async_sessionmaker[AsyncSession],
    worker: WorkerProcess,
    control: Path,
    key: str,
) -> None:
    """Wait for the bank to book `key` (it answers after 8 s), kill the worker then — the
    money moved, the reply never reached the workflow — and start it again."""
    from db.models import GatewayTransaction

    async def at_bank() -> bool:
        async with sessions() as s:
            n = await s.scalar(
                select(func.count()).where(GatewayTransaction.idempotency_key == key)
            )
        return bool(n)

    await _wait(at_bank, within=60, what=f"the gateway to take {key}")
    worker.kill()
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=0.01)
    worker.start()


PREMIUM = POLICY_PREMIUM


async def test_worker_killed_during_an_installment_debit_leaves_one_ledger_row(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    crash_setup: tuple[WorkerProcess, Path],
) -> None:
    from domain.policies import add_years

    worker, control = crash_setup
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=8)
    worker.start()
    # A year old but for a few seconds: installment 2 falls due now.
    effective_at = add_years(datetime.now(SHANGHAI), -1) + timedelta(seconds=6)
    number, policy = await policy_on_queue(
        dev_env,
        sessions,
        worker.env["INSUREFLOW_TASK_QUEUE"],
        product="TERM_LIFE_20",
        effective_at=effective_at,
    )
    key = f"premium:{number}:2"
    await _kill_once_the_bank_has(sessions, worker, control, key)

    async def collected() -> bool:
        state = await policy.query(PolicyWorkflow.state)
        return [p.n for p in state.payments] == [1, 2]

    await _wait(collected, within=120, what="installment 2 to be collected")
    assert await _one_booking(sessions, key) == [(PREMIUM, "succeeded", "premium")]
    await policy.terminate("test finished")


async def test_worker_killed_during_a_surrender_payout_leaves_one_ledger_row(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    crash_setup: tuple[WorkerProcess, Path],
) -> None:
    from workflows.inputs import SurrenderRequest

    worker, control = crash_setup
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=0.01)
    worker.start()
    # A one-year policy (no cooling-off) in its first month.
    number, policy = await policy_on_queue(
        dev_env,
        sessions,
        worker.env["INSUREFLOW_TASK_QUEUE"],
        product="ACCIDENT_1Y",
        effective_at=datetime.now(SHANGHAI) - timedelta(days=30),
    )

    async def effective() -> bool:
        return (await policy.query(PolicyWorkflow.state)).status == PolicyStatus.EFFECTIVE

    await _wait(effective, within=60, what="the policy to take effect")
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=8)
    surrender = asyncio.create_task(
        policy.execute_update(
            PolicyWorkflow.surrender, SurrenderRequest(reason="moving abroad", by="alice")
        )
    )
    key = f"surrender:{number}"
    await _kill_once_the_bank_has(sessions, worker, control, key)
    after = await asyncio.wait_for(surrender, timeout=120)

    assert after.status == PolicyStatus.SURRENDERED and after.surrender is not None
    value = after.surrender.cash_value
    assert value > 0
    assert await _one_booking(sessions, key) == [(value, "succeeded", "payout")]


async def test_worker_killed_during_a_reinstatement_debit_leaves_one_ledger_row(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    crash_setup: tuple[WorkerProcess, Path],
) -> None:
    from domain.policies import add_years
    from domain.underwriting import Actor, Role
    from workflows.inputs import ReinstatementApplication, ReinstatementDecision

    worker, control = crash_setup
    # The bank declines installment 2, due 70 days ago: grace is over, the policy suspended.
    PaymentGateway.write_control(control, GatewayMode.DECLINE, latency=0.01)
    worker.start()
    effective_at = add_years(datetime.now(SHANGHAI) - timedelta(days=70), -1)
    number, policy = await policy_on_queue(
        dev_env,
        sessions,
        worker.env["INSUREFLOW_TASK_QUEUE"],
        product="TERM_LIFE_20",
        effective_at=effective_at,
    )

    async def suspended() -> bool:
        return (await policy.query(PolicyWorkflow.state)).status == PolicyStatus.SUSPENDED

    await _wait(suspended, within=60, what="the policy to be suspended")
    applied = await policy.execute_update(
        PolicyWorkflow.apply_for_reinstatement, ReinstatementApplication(by="alice")
    )
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=8)
    sue = Actor(username="sue", roles=(Role.SUPERVISOR,), approval_limit=Decimal("5000000"))
    decision = asyncio.create_task(
        policy.execute_update(
            PolicyWorkflow.decide_reinstatement,
            ReinstatementDecision(
                task_id=applied.reinstatements[-1].task_id,
                decision="approve",
                reason="health unchanged",
                actor=sue,
            ),
        )
    )
    key = f"reinstatement:{number}:1"
    await _kill_once_the_bank_has(sessions, worker, control, key)
    after = await asyncio.wait_for(decision, timeout=120)

    assert after.status == PolicyStatus.EFFECTIVE
    assert after.reinstatements[-1].status == "reinstated"
    assert await _one_booking(sessions, key) == [(PREMIUM, "succeeded", "premium")]
    await policy.terminate("test finished")
