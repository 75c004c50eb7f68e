"""The policy's life through /v1/policies on the dev server, with the real worker and
database: the receipt, the return visit as cora's task (the selling agent refused), the
cooling-off cancellation with its refund, and an ended policy refusing more requests."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.crypto import FieldCipher
from core.keys import load_keyring
from db.models import Customer, PaymentLedger, Policy, Task
from domain.policies import CHECKLIST_ITEMS
from tests.integration.conftest import Login
from tests.integration.test_claims_api import SHANGHAI, effective_policy
from workflows.policy import PolicyWorkflow

pytestmark = pytest.mark.devserver

ALL_CONFIRMED = dict.fromkeys(CHECKLIST_ITEMS, True)


async def policy_until(
    api: httpx.AsyncClient, headers: dict[str, str], number: str, done: Any, within: float = 45
) -> dict[str, Any]:
    """Poll the policy until ``done`` holds (its process starts a moment after issuance)."""
    deadline = time.monotonic() + within
    while True:
        r = await api.get(f"/v1/policies/{number}", headers=headers)
        if r.status_code == 200 and done(r.json()):
            return dict(r.json())
        assert r.status_code in (200, 404), r.text
        if time.monotonic() > deadline:
            raise AssertionError(f"policy {number}: {r.status_code} {r.text[:300]}")
        await asyncio.sleep(0.1)


async def task_row(sessions: async_sessionmaker[AsyncSession], task_id: str) -> Task | None:
    async with sessions() as s:
        return await s.scalar(select(Task).where(Task.task_id == task_id))


async def new_policy(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> tuple[str, dict[str, Any]]:
    number = await effective_policy(
        api, login, "alice", product="TERM_LIFE_20", sum_insured="200000.00", sessions=sessions
    )
    body = await policy_until(
        api, await login("alice"), number, lambda b: b["stage"] == "cooling_off"
    )
    return number, body


async def test_receipt_and_return_visit_by_customer_service(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, cora = await login("alice"), await login("cora")
    number, body = await new_policy(api, login, sessions)
    assert body["status"] == "effective" and body["receipt_signed_at"] is None
    listed = await api.get("/v1/policies?status=effective&limit=200", headers=alice)
    assert number in {i["policy_number"] for i in listed.json()["items"]}

    signed_at = datetime.now(SHANGHAI).replace(microsecond=0)
    r = await api.post(
        f"/v1/policies/{number}/receipt", json={"signed_at": signed_at.isoformat()}, headers=alice
    )
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["receipt_signed_at"]) == signed_at
    assert r.json()["history"][-1]["note"] == "receipt signed by the customer"
    assert r.json()["history"][-1]["by"] == "alice"
    again = await api.post(
        f"/v1/policies/{number}/receipt", json={"signed_at": signed_at.isoformat()}, headers=alice
    )
    assert (again.status_code, again.json()["code"]) == (409, "receipt_already_signed")

    visit = r.json()["return_visit"]
    task = await task_row(sessions, visit["task_id"])
    assert task is not None and (task.kind, task.status) == ("return_visit", "open")
    record = {"decision": "completed", "checklist": ALL_CONFIRMED, "dual_recording_checked": True}
    # The selling agent never records their own sale's visit; another agent is not service.
    r = await api.post(f"/v1/policies/{number}/return-visit", json=record, headers=alice)
    assert (r.status_code, r.json()["code"]) == (409, "four_eyes_violation"), r.text
    r = await api.post(
        f"/v1/policies/{number}/return-visit", json=record, headers=await login("bob")
    )
    assert (r.status_code, r.json()["code"]) == (403, "not_customer_service"), r.text
    short = {**record, "checklist": {**ALL_CONFIRMED, "cover_understood": False}}
    r = await api.post(f"/v1/policies/{number}/return-visit", json=short, headers=cora)
    assert (r.status_code, r.json()["code"]) == (422, "checklist_incomplete"), r.text

    r = await api.post(f"/v1/policies/{number}/return-visit", json=record, headers=cora)
    assert r.status_code == 200, r.text
    done = r.json()["return_visit"]
    assert (done["status"], done["outcome"]) == ("completed", "7 of 7 confirmed")
    assert done["attempts"][-1]["by"] == "cora"
    deadline = time.monotonic() + 15
    while (row := await task_row(sessions, visit["task_id"])) and row.status != "done":
        assert time.monotonic() < deadline, row.status
        await asyncio.sleep(0.1)
    r = await api.post(f"/v1/policies/{number}/return-visit", json=record, headers=cora)
    assert (r.status_code, r.json()["code"]) == (409, "task_not_open")


async def test_the_return_visit_is_decided_as_a_task_through_the_inbox_route(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, cora = await login("alice"), await login("cora")
    number, body = await new_policy(api, login, sessions)
    task_id = body["return_visit"]["task_id"]
    decide = f"/v1/tasks/{task_id}/decision"
    visit = {
        "decision": "completed",
        "reason": "all confirmed on the phone",
        "checklist": ALL_CONFIRMED,
        "dual_recording_checked": True,
    }
    # The seller is refused whatever the route; a supervisor's decision is not a visit's.
    r = await api.post(decide, json=visit, headers=alice)
    assert (r.status_code, r.json()["code"]) == (409, "four_eyes_violation"), r.text
    r = await api.post(decide, json={"decision": "approve", "reason": "ok"}, headers=cora)
    assert (r.status_code, r.json()["code"]) == (422, "decision_not_allowed"), r.text
    short = {**visit, "checklist": {**ALL_CONFIRMED, "documents_read": False}}
    r = await api.post(decide, json=short, headers=cora)
    assert (r.status_code, r.json()["code"]) == (422, "checklist_incomplete"), r.text
    unchanged = await api.get(f"/v1/policies/{number}", headers=alice)
    assert unchanged.json()["return_visit"]["attempts"] == []

    # Customer service holds its own kind of task, then decides it.
    r = await api.post(f"/v1/tasks/{task_id}/claim", headers=cora)
    assert (r.status_code, r.json()["assignee"]) == (200, "cora"), r.text
    r = await api.post(decide, json=visit, headers=cora)
    assert r.status_code == 200, r.text
    assert (r.json()["decision"], r.json()["stage"]) == ("completed", "cooling_off")
    read = await api.get(f"/v1/policies/{number}", headers=alice)
    done = read.json()["return_visit"]
    assert (done["status"], done["outcome"]) == ("completed", "7 of 7 confirmed")
    assert done["attempts"][-1]["by"] == "cora"
    r = await api.post(decide, json=visit, headers=cora)
    assert (r.status_code, r.json()["code"]) == (409, "task_not_open"), r.text


async def test_cancellation_in_cooling_off_refunds_the_premium_less_the_cost(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice = await login("alice")
    number, body = await new_policy(api, login, sessions)
    premium = Decimal(body["premium"])
    r = await api.post(
        f"/v1/policies/{number}/cancellation",
        json={"reason": "the customer changed their mind"},
        headers=await login("bob"),
    )
    assert (r.status_code, r.json()["code"]) == (404, "policy_not_found")

    r = await api.post(
        f"/v1/policies/{number}/cancellation",
        json={"reason": "the customer changed their mind"},
        headers=alice,
    )

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["stage"]) == ("cancelled", "ended")
    refund = premium - Decimal("10.00")
    assert Decimal(body["cancellation"]["refund_amount"]) == refund
    assert body["cancellation"]["refund_status"] == "succeeded"
    assert body["cancellation"]["by"] == "alice"
    async with sessions() as s:
        rows = list(
            await s.scalars(
                select(PaymentLedger).where(PaymentLedger.idempotency_key == f"refund:{number}")
            )
        )
    assert [(r.amount, r.status) for r in rows] == [(refund, "succeeded")]
    # Ended: every further request is refused from the read model, and changes nothing.
    final = await policy_until(api, alice, number, lambda b: b["status"] == "cancelled")
    for path, payload in [
        ("cancellation", {"reason": "again"}),
        ("receipt", {"signed_at": datetime.now(SHANGHAI).isoformat()}),
        ("reminders", {"premium_reminders": False}),
    ]:
        r = await api.post(f"/v1/policies/{number}/{path}", json=payload, headers=alice)
        assert (r.status_code, r.json()["code"]) == (409, "policy_closed"), path
    assert (await api.get(f"/v1/policies/{number}", headers=alice)).json() == final


async def test_a_phone_and_account_change_is_stored_encrypted_and_never_in_clear_in_temporal(
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    integration_settings: Settings,
) -> None:
    new_phone, new_account = "13912345678", "6217000011112222333"
    number, body = await new_policy(api, login, sessions)
    # The application's auto-debit account came with the policy, for its later premiums.
    cipher = FieldCipher(load_keyring(integration_settings))
    assert body["payment_account"] == "***************3445"
    async with sessions() as s:
        issued = await s.get(Policy, number, populate_existing=True)
    assert issued is not None and issued.payment_account_masked == "***************3445"
    assert issued.payment_account_enc
    assert cipher.decrypt(issued.payment_account_enc) == "6222020200112233445"
    # Another agent's policy is not theirs; bad values are refused before anything moves.
    bob = await login("bob")
    r = await api.post(f"/v1/policies/{number}/changes", json={"phone": new_phone}, headers=bob)
    assert (r.status_code, r.json()["code"]) == (404, "policy_not_found")

    r = await api.post(
        f"/v1/policies/{number}/changes",
        json={"phone": new_phone, "bank_account": new_account, "premium_reminders": False},
        headers=await login("cora"),
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["holder"]["phone"] == "139****5678"
    assert changed["payment_account"] == "***************2333"
    assert changed["premium_reminders"] is False
    assert [h["note"] for h in changed["history"][-3:]] == [
        "phone number changed",
        "payment account changed",
        "premium reminders off",
    ]
    assert new_phone not in r.text and new_account not in r.text

    # Applied in the same step: the rows hold the new values, encrypted.
    async with sessions() as s:
        policy = await s.get(Policy, number, populate_existing=True)
        assert policy is not None
        customer = await s.get(Customer, policy.customer_id, populate_existing=True)
    assert customer is not None and cipher.decrypt(customer.phone_enc) == new_phone
    assert customer.phone_masked == "139****5678"
    assert policy.payment_account_enc and cipher.decrypt(policy.payment_account_enc) == new_account
    assert new_phone not in str(policy.state) and new_account not in str(policy.state)

    # Temporal's stored history (read without the codec) holds neither value.
    raw = await Client.connect(integration_settings.effective_temporal_address)
    history = await raw.get_workflow_handle(body["workflow_id"]).fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events)
    for secret in (new_phone, new_account):
        assert secret.encode() not in stored and secret not in history.to_json()


async def test_a_surrender_pays_the_cash_value_once_to_the_account_named(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # A one-year product has no cooling-off: it may be surrendered at once.
    alice = await login("alice")
    number = await effective_policy(
        api, login, "alice", product="ACCIDENT_1Y", sum_insured="100000.00", sessions=sessions
    )
    body = await policy_until(api, alice, number, lambda b: b["status"] == "effective")
    payee = "6217000099998888777"
    r = await api.post(
        f"/v1/policies/{number}/surrender",
        json={"reason": "moving abroad", "payee_account": payee},
        headers=await login("bob"),
    )
    assert (r.status_code, r.json()["code"]) == (404, "policy_not_found")
    r = await api.post(
        f"/v1/policies/{number}/surrender",
        json={"reason": "moving abroad", "payee_account": payee},
        headers=alice,
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "surrendered" and payee not in r.text
    # Three quarters of the premium at the start of the year (the product's table).
    value = (Decimal(body["premium"]) * Decimal("0.75")).quantize(Decimal("0.01"))
    async with sessions() as s:
        rows = list(
            await s.scalars(
                select(PaymentLedger).where(PaymentLedger.idempotency_key == f"surrender:{number}")
            )
        )
    assert [(r.kind, r.amount, r.status) for r in rows] == [("payout", value, "succeeded")]
    again = await api.post(
        f"/v1/policies/{number}/surrender", json={"reason": "again"}, headers=alice
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_surrendered")


async def test_a_declined_surrender_payout_is_paid_again_to_the_account_ops_give(
    api: httpx.AsyncClient,
    login: Login,
    integration_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from gateways.payment import GatewayMode, PaymentGateway

    alice, olga = await login("alice"), await login("olga")
    number = await effective_policy(
        api, login, "alice", product="ACCIDENT_1Y", sum_insured="100000.00", sessions=sessions
    )
    await policy_until(api, alice, number, lambda b: b["status"] == "effective")
    fix = {"payee_account": "6217000099998888777", "reason": "the customer's new account"}
    r = await api.post(f"/v1/policies/{number}/payout/retry", json=fix, headers=olga)
    assert (r.status_code, r.json()["code"]) == (409, "no_failed_payout")
    control = integration_settings.data_dir / "gateway-sim.json"
    PaymentGateway.write_control(control, GatewayMode.DECLINE)
    try:
        r = await api.post(
            f"/v1/policies/{number}/surrender", json={"reason": "moving abroad"}, headers=alice
        )
    finally:
        PaymentGateway.write_control(control, GatewayMode.NORMAL)
    assert r.status_code == 200, r.text
    owed = r.json()
    assert owed["status"] == "surrendered" and owed["surrender"]["payout_status"] == "declined"
    payout = owed["value_payout"]
    assert (payout["status"], payout["refusal"]) == ("declined", "payout_declined")
    task = await task_row(sessions, payout["task_id"])
    assert task is not None and (task.kind, task.status) == ("value_payout_failed", "open")
    # The policy has ended: no change is taken; the fix is ops' or a supervisor's.
    r = await api.post(
        f"/v1/policies/{number}/changes", json={"premium_reminders": False}, headers=alice
    )
    assert (r.status_code, r.json()["code"]) == (409, "policy_closed")
    r = await api.post(f"/v1/policies/{number}/payout/retry", json=fix, headers=alice)
    assert r.status_code == 403, r.text
    bad = {**fix, "payee_account": "12ab"}
    r = await api.post(f"/v1/policies/{number}/payout/retry", json=bad, headers=olga)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_bank_account")
    r = await api.post(f"/v1/policies/{number}/payout/retry", json=fix, headers=olga)
    assert r.status_code == 200, r.text
    paid = r.json()
    assert paid["value_payout"]["status"] == "paid" and fix["payee_account"] not in r.text
    done = await task_row(sessions, payout["task_id"])
    assert done is not None and (done.status, done.decided_by) == ("done", "olga")
    async with sessions() as s:
        rows = list(
            await s.scalars(
                select(PaymentLedger)
                .where(PaymentLedger.idempotency_key.like(f"surrender:{number}%"))
                .order_by(PaymentLedger.idempotency_key)
            )
        )
    assert [(r.idempotency_key, r.status) for r in rows] == [
        (f"surrender:{number}", "declined"),
        (f"surrender:{number}:2", "succeeded"),
    ]
    r = await api.post(f"/v1/policies/{number}/payout/retry", json=fix, headers=olga)
    assert (r.status_code, r.json()["code"]) == (409, "no_failed_payout")


async def test_an_online_payers_renewal_premium_is_paid_by_the_signed_callback(
    api: httpx.AsyncClient,
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    integration_settings: Settings,
) -> None:
    from domain.policies import add_years
    from gateways.payment import sign_callback
    from tests.integration.conftest import POLICY_PREMIUM, policy_on_queue

    # A year old but for a few seconds, without an account: installment 2's order opens.
    effective_at = add_years(datetime.now(SHANGHAI), -1) + timedelta(seconds=2)
    number, policy = await policy_on_queue(
        dev_env,
        sessions,
        integration_settings.task_queue,
        product="TERM_LIFE_20",
        effective_at=effective_at,
        auto_debit=False,
    )
    order_id = f"PO-{number}-2"

    async def ordered() -> bool:
        return (await policy.query(PolicyWorkflow.state)).payment_order == order_id

    deadline = time.monotonic() + 30
    while not await ordered():
        assert time.monotonic() < deadline, "no payment order for installment 2"
        await asyncio.sleep(0.1)
    raw = json.dumps(
        {
            "order_id": order_id,
            "amount": str(POLICY_PREMIUM),
            "paid_at": datetime.now(SHANGHAI).isoformat(),
            "gateway_ref": "GW-RENEWAL-1",
        }
    ).encode()
    signature = sign_callback(integration_settings.payment_gateway_secret, raw)
    url = f"/v1/payments/{order_id}/callback"
    ok = await api.post(url, content=raw, headers={"X-Signature": signature})
    assert ok.status_code == 200 and ok.json()["result"] == "accepted", ok.text
    state = await policy.query(PolicyWorkflow.state)
    assert [p.n for p in state.payments] == [1, 2] and state.payment_order is None
    async with sessions() as s:
        rows = list(
            await s.scalars(
                select(PaymentLedger).where(PaymentLedger.idempotency_key == f"premium:{number}:2")
            )
        )
    assert [(r.amount, r.status) for r in rows] == [(POLICY_PREMIUM, "succeeded")]
    await policy.terminate("test finished")
