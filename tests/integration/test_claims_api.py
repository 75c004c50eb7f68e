"""Claims through the API on the dev server, with the real activities and database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from db.models import GatewayTransaction, PaymentLedger, Policy, Task
from domain.claims import ClaimDocument, ClaimStage, ClaimStatus
from domain.products import IncidentType
from domain.underwriting import Actor, Role
from gateways.payment import GatewayMode, PaymentGateway
from tests.integration.conftest import Login
from tests.integration.test_crash_and_privacy import WorkerProcess
from tests.integration.test_enrollment_api import enroll, wait_for
from workflows.claim import ClaimWorkflow, workflow_id_for
from workflows.inputs import ClaimDecision, ClaimStart

pytestmark = pytest.mark.devserver

SHANGHAI = timezone(timedelta(hours=8))
ACCOUNT = "6222020200556677889"
DEATH_DOCS = ["claim_form", "id_proof", "death_certificate", "beneficiary_proof"]
HOSPITAL_DOCS = ["claim_form", "id_proof", "discharge_summary", "medical_invoice"]
SURGERY_DOCS = ["claim_form", "id_proof", "surgery_record", "medical_invoice"]


def today() -> date:
    return datetime.now(SHANGHAI).date()


def documents(kinds: list[str]) -> list[dict[str, str]]:
    return [{"kind": k, "name": f"{k}.pdf"} for k in kinds]


async def effective_policy(
    api: httpx.AsyncClient,
    login: Login,
    agent: str,
    *,
    product: str,
    sum_insured: str,
    sessions: async_sessionmaker[AsyncSession],
) -> str:
    """An effective policy of ``agent``'s customer, underwritten by sue when needed."""
    headers = await login(agent)
    eid = await enroll(api, headers, product=product, sum_insured=sum_insured)
    body = await wait_for(
        api, headers, eid, lambda b: b["stage"] == "underwriting" or b["status"] != "in_progress"
    )
    if body["status"] == "in_progress" and body["underwriting"]["decided_by"] is None:
        task_id = await _task_for(sessions, eid)
        r = await api.post(
            f"/v1/tasks/{task_id}/decision",
            json={"decision": "approve", "reason": "fine"},
            headers=await login("sue"),
        )
        assert r.status_code == 200, r.text
    body = await wait_for(api, headers, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective", body
    return str(body["policy_number"])


async def _task_for(
    sessions: async_sessionmaker[AsyncSession], case_id: str, *, kind: str | None = None
) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with sessions() as s:
            query = select(Task).where(Task.case_id == case_id, Task.status == "open")
            if kind:
                query = query.where(Task.kind == kind)
            task = await s.scalar(query.order_by(Task.created_at.desc()))
        if task is not None:
            return task.task_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"no open task for {case_id}")


async def report(
    api: httpx.AsyncClient, headers: dict[str, str], policy: str, **overrides: Any
) -> httpx.Response:
    body = {
        "policy_number": policy,
        "incident_date": today().isoformat(),
        "incident_type": "hospitalisation",
        "description": "admitted for appendicitis",
        "amount_claimed": "10000.00",
        "documents": documents(HOSPITAL_DOCS),
        "payee_account": ACCOUNT,
    } | overrides
    return await api.post("/v1/claims", json=body, headers=headers)


async def claim_until(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    claim_id: str,
    done: Callable[[dict[str, Any]], bool],
    *,
    within: float = 45,
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        r = await api.get(f"/v1/claims/{claim_id}", headers=headers)
        assert r.status_code == 200, r.text
        if done(r.json()):
            return r.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"claim stuck at {r.json()['stage']}")
        await asyncio.sleep(0.1)


async def decide(
    api: httpx.AsyncClient, login: Login, task_id: str, username: str, decision: str = "approve"
) -> httpx.Response:
    return await api.post(
        f"/v1/tasks/{task_id}/decision",
        json={"decision": decision, "reason": "checked the file"},
        headers=await login(username),
    )


async def test_intake_refusals_name_the_reason_and_create_nothing(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice = await login("alice")
    policy = await effective_policy(
        api, login, "alice", product="MEDICAL_1Y", sum_insured="50000.00", sessions=sessions
    )
    cases = [
        ({"policy_number": "PNOSUCHPOLICY"}, 422, "unknown_policy"),
        ({"incident_type": "death"}, 422, "incident_not_covered"),
        ({"incident_date": (today() + timedelta(days=1)).isoformat()}, 422, "incident_in_future"),
        ({"incident_date": (today() - timedelta(days=3)).isoformat()}, 422, "policy_not_effective"),
        # Before the 2-year limitation period of a non-life product (the policy-effective
        # check would refuse it too, later): the explicit reason comes first.
        (
            {"incident_date": (today() - timedelta(days=2 * 366)).isoformat()},
            422,
            "incident_too_old",
        ),
        ({"amount_claimed": "0.00"}, 422, "invalid_amount"),
        ({"documents": documents(["Selfie!"])}, 422, "validation_error"),  # not a slug
        ({"documents": documents(["k" * 41])}, 422, "validation_error"),
        ({"documents": documents(["claim_form"] * 51)}, 422, "validation_error"),
        ({"payee_account": "12"}, 422, "invalid_bank_account"),
        ({"surprise": True}, 422, "validation_error"),
    ]
    for overrides, status, code in cases:
        r = await report(api, alice, policy, **overrides)
        assert (r.status_code, r.json()["code"]) == (status, code), (overrides, r.text)
    bob = await login("bob")
    r = await report(api, bob, policy)
    assert (r.status_code, r.json()["code"]) == (422, "unknown_policy")  # not bob's customer
    listed = await api.get(f"/v1/claims?policy_number={policy}", headers=alice)
    assert listed.json()["items"] == []

    first = await report(api, alice, policy)
    assert first.status_code == 202, first.text
    again = await report(api, alice, policy)
    assert (again.status_code, again.json()["code"]) == (409, "duplicate_claim")


async def test_dual_control_two_supervisors_filer_and_first_approver_refused(
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    policy = await effective_policy(
        api, login, "sam", product="TERM_LIFE_20", sum_insured="3000000.00", sessions=sessions
    )
    sam = await login("sam")
    r = await report(
        api,
        sam,
        policy,
        incident_type="death",
        amount_claimed="1500000.00",
        documents=documents(DEATH_DOCS),
    )
    assert r.status_code == 202, r.text
    claim_id = r.json()["claim_id"]
    task_id = await _task_for(sessions, claim_id, kind="claim_approval")

    r = await decide(api, login, task_id, "sam")  # filed it: never approves it
    assert (r.status_code, r.json()["code"]) == (409, "four_eyes_violation")
    r = await decide(api, login, task_id, "sid")
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "awaiting_approval"  # one of two approvals
    r = await decide(api, login, task_id, "sid")
    assert (r.status_code, r.json()["code"]) == (409, "four_eyes_violation")
    r = await decide(api, login, task_id, "sue")
    assert r.status_code == 200, r.text

    body = await claim_until(api, sam, claim_id, lambda b: b["status"] != "in_progress")
    assert body["status"] == "paid", body
    assert body["tier"] == "dual"
    assert [(a["by"], a["decision"]) for a in body["approvals"]] == [
        ("sid", "approve"),
        ("sue", "approve"),
    ]
    assert body["payee_account"].endswith("7889") and ACCOUNT not in str(body)
    async with sessions() as s:
        payouts = await s.scalar(
            select(func.count()).where(PaymentLedger.idempotency_key == f"payout:{claim_id}")
        )
        row = await s.get(Policy, policy)
    assert payouts == 1
    assert row is not None and row.paid_to_date == Decimal("1500000.00")


async def test_remaining_sum_insured_caps_a_second_claim(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice = await login("alice")
    policy = await effective_policy(
        api, login, "alice", product="MEDICAL_1Y", sum_insured="10000.00", sessions=sessions
    )
    first = (await report(api, alice, policy, amount_claimed="10000.00")).json()["claim_id"]
    # (10,000 less the 1,000 deductible) at 90 % = 8,100; a new policy's claim goes to a person.
    r = await decide(api, login, await _task_for(sessions, first), "sue")
    assert r.status_code == 200, r.text
    body = await claim_until(api, alice, first, lambda b: b["status"] != "in_progress")
    assert (body["status"], body["amount_approved"]) == ("paid", "8100.00")

    second = await report(
        api,
        alice,
        policy,
        incident_type="outpatient_surgery",
        amount_claimed="5000.00",
        documents=documents(SURGERY_DOCS),
    )
    assert second.status_code == 202, second.text
    claim_id = second.json()["claim_id"]
    body = await claim_until(api, alice, claim_id, lambda b: b["assessment"] is not None)
    assert body["assessment"]["approved_amount"] == "1900.00"
    assert body["assessment"]["reductions"][-1]["reason"] == "remaining_sum_insured"
    r = await decide(api, login, await _task_for(sessions, claim_id), "sue")
    assert r.status_code == 200, r.text
    body = await claim_until(api, alice, claim_id, lambda b: b["status"] != "in_progress")
    assert (body["status"], body["amount_approved"]) == ("paid", "1900.00")
    async with sessions() as s:
        row = await s.get(Policy, policy)
    assert row is not None and row.paid_to_date == Decimal("10000.00")


async def test_missing_documents_then_supplement_and_agent_isolation(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, bob = await login("alice"), await login("bob")
    policy = await effective_policy(
        api, login, "alice", product="MEDICAL_1Y", sum_insured="50000.00", sessions=sessions
    )
    r = await report(
        api, alice, policy, amount_claimed="3000.00", documents=documents(["claim_form"])
    )
    claim_id = r.json()["claim_id"]
    body = await claim_until(api, alice, claim_id, lambda b: b["stage"] == "documents_pending")
    assert body["missing_documents"] == ["discharge_summary", "id_proof", "medical_invoice"]
    assert (await api.get(f"/v1/claims/{claim_id}", headers=bob)).status_code == 404
    # Only the claim's agent supplements it: another agent learns nothing of the claim, a
    # supervisor is told it is not theirs; neither changes it.
    extra = {"documents": documents(["id_proof"])}
    r = await api.post(f"/v1/claims/{claim_id}/documents", json=extra, headers=bob)
    assert (r.status_code, r.json()["code"]) == (404, "claim_not_found")
    r = await api.post(f"/v1/claims/{claim_id}/documents", json=extra, headers=await login("sam"))
    assert (r.status_code, r.json()["code"]) == (403, "not_your_case")
    body = (await api.get(f"/v1/claims/{claim_id}", headers=alice)).json()
    assert body["missing_documents"] == ["discharge_summary", "id_proof", "medical_invoice"]
    r = await api.post(
        f"/v1/claims/{claim_id}/documents",
        json={"documents": documents(["id_proof", "discharge_summary", "medical_invoice"])},
        headers=alice,
    )
    assert r.status_code == 200, r.text
    body = await claim_until(api, alice, claim_id, lambda b: b["stage"] == "awaiting_approval")
    r = await api.post(
        f"/v1/claims/{claim_id}/withdraw", json={"reason": "paid privately"}, headers=alice
    )
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"


async def test_routine_attachments_are_kept_as_supplementary_never_refused_nor_counted(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A bank-card copy or an expense list is a routine attachment: the intake and the
    supplement keep it (flagged `supplementary`) and it never stands in for a required one."""
    alice = await login("alice")
    policy = await effective_policy(
        api, login, "alice", product="MEDICAL_1Y", sum_insured="50000.00", sessions=sessions
    )
    r = await report(
        api,
        alice,
        policy,
        amount_claimed="3000.00",
        documents=documents(["claim_form", "bank_card_copy"]),
    )
    assert r.status_code == 202, r.text
    claim_id = r.json()["claim_id"]
    body = await claim_until(api, alice, claim_id, lambda b: b["stage"] == "documents_pending")
    assert body["missing_documents"] == ["discharge_summary", "id_proof", "medical_invoice"]
    assert [(d["kind"], d["supplementary"]) for d in body["documents"]] == [
        ("claim_form", False),
        ("bank_card_copy", True),
    ]
    r = await api.post(
        f"/v1/claims/{claim_id}/documents",
        json={"documents": documents(["expense_list", "id_proof", "discharge_summary"])},
        headers=alice,
    )
    assert r.status_code == 200, r.text
    assert r.json()["missing_documents"] == ["medical_invoice"]  # the expense list is no invoice
    assert {d["kind"] for d in r.json()["documents"] if d["supplementary"]} == {
        "bank_card_copy",
        "expense_list",
    }
    r = await api.post(
        f"/v1/claims/{claim_id}/documents",
        json={"documents": documents(["Medical Invoice"])},
        headers=alice,
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")  # not a slug


@pytest.fixture
async def payout_worker(
    integration_settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[WorkerProcess, Path]]:
    worker = WorkerProcess(integration_settings, f"payout-{uuid.uuid4()}", tmp_path)
    try:
        yield worker, tmp_path / "gateway-sim.json"
    finally:
        worker.stop()


async def test_worker_killed_during_payout_leaves_exactly_one_payout(
    api: httpx.AsyncClient,
    login: Login,
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    payout_worker: tuple[WorkerProcess, Path],
) -> None:
    policy = await effective_policy(
        api, login, "alice", product="MEDICAL_1Y", sum_insured="50000.00", sessions=sessions
    )
    worker, control = payout_worker
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=8)
    worker.start()
    claim_no = "C" + uuid.uuid4().hex[:12].upper()
    key = f"payout:{claim_no}"
    handle = await dev_env.client.start_workflow(
        ClaimWorkflow.run,
        ClaimStart(
            claim_no=claim_no,
            agent="alice",
            policy_number=policy,
            product_code="MEDICAL_1Y",
            policy_effective_on=today(),
            incident_date=today(),
            incident_type=IncidentType.HOSPITALISATION,
            description="night in hospital",
            amount_claimed=Decimal("3000.00"),
            documents=[ClaimDocument(kind=k, name=k) for k in HOSPITAL_DOCS],
            payee_account=ACCOUNT,
        ),
        id=workflow_id_for(claim_no),
        task_queue=worker.env["INSUREFLOW_TASK_QUEUE"],
    )
    deadline = time.monotonic() + 60
    while (state := await handle.query(ClaimWorkflow.state)).open_task_id is None:
        assert time.monotonic() < deadline, state.stage
        await asyncio.sleep(0.1)
    sue = Actor(username="sue", roles=(Role.SUPERVISOR,), approval_limit=Decimal("5000000"))
    await handle.execute_update(
        ClaimWorkflow.decide,
        ClaimDecision(task_id=state.open_task_id, decision="approve", reason="ok", actor=sue),
    )

    async def at_bank() -> int:
        async with sessions() as s:
            return int(
                await s.scalar(
                    select(func.count()).where(GatewayTransaction.idempotency_key == key)
                )
                or 0
            )

    while not await at_bank():
        assert time.monotonic() < deadline + 60, "the gateway never took the payout"
        await asyncio.sleep(0.1)
    worker.kill()  # the money left; the workflow never heard
    PaymentGateway.write_control(control, GatewayMode.NORMAL, latency=0.01)
    worker.start()
    result = await asyncio.wait_for(handle.result(), timeout=120)

    assert result.status == ClaimStatus.PAID and result.stage == ClaimStage.CLOSED
    async with sessions() as s:
        ledger_rows = await s.scalar(
            select(func.count()).where(PaymentLedger.idempotency_key == key)
        )
        row = await s.get(Policy, policy)
    assert ledger_rows == 1
    assert await at_bank() == 1
    assert row is not None and row.paid_to_date == Decimal("1800.00")


async def test_a_supervisor_agent_may_not_file_a_claim_on_another_agents_policy(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Four eyes by proxy (probe finding 1): sam, agent and supervisor, filed on alice's
    # policy with a payee account of his choosing, then approved it himself.
    policy_number = await effective_policy(
        api, login, "alice", product="MEDICAL_1Y", sum_insured="200000.00", sessions=sessions
    )
    r = await api.post(
        "/v1/claims",
        json={
            "policy_number": policy_number,
            "incident_date": today().isoformat(),
            "incident_type": "hospitalisation",
            "description": "admitted",
            "amount_claimed": "20000.00",
            "documents": documents(HOSPITAL_DOCS),
            "payee_account": ACCOUNT,
        },
        headers=await login("sam"),
    )
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "not_your_case"
    r = await api.get(f"/v1/claims?policy_number={policy_number}", headers=await login("alice"))
    assert r.status_code == 200 and r.json()["items"] == []
