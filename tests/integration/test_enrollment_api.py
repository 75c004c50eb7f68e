"""Enrollment through the API on the dev server, with the real activities and database."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from db.models import GatewayTransaction, PaymentLedger, Policy, Task
from domain.identity import make_id_number
from gateways.payment import sign_callback
from tests.integration.conftest import Login, customer

pytestmark = pytest.mark.devserver

SHANGHAI = timezone(timedelta(hours=8))


def new_id_number() -> str:
    birth = date(1980, 1, 1) + timedelta(days=random.randrange(365 * 15))
    return make_id_number("110105", birth, random.randrange(1000))


def today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


async def wait_for(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    enrollment_id: str,
    done: Callable[[dict[str, Any]], bool],
    *,
    within: float = 45.0,
) -> dict[str, Any]:
    """Poll the enrollment until ``done`` holds, failing after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        r = await api.get(f"/v1/enrollments/{enrollment_id}", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        if done(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(
                f"condition not reached; last state {body['stage']}/{body['status']}"
            )
        await asyncio.sleep(0.1)


async def enroll(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    sum_insured: str = "200000.00",
    product: str = "TERM_LIFE_20",
    method: str = "auto_debit",
    id_number: str | None = None,
    start_date: str | None = None,
) -> str:
    r = await api.post(
        "/v1/enrollments",
        json={"customer": customer(id_number or new_id_number())},
        headers=headers,
    )
    assert r.status_code == 202, r.text
    eid = r.json()["enrollment_id"]
    r = await api.post(
        f"/v1/enrollments/{eid}/quote",
        json={"product_code": product, "sum_insured": sum_insured},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    application = {
        "quote_id": r.json()["quote_id"],
        "payment_method": method,
        "query_password": "s3cret-pass",
        "consent": True,
        "start_date": start_date or today(),
    }
    if method == "auto_debit":
        application["bank_account"] = "6222020200112233445"
    r = await api.post(f"/v1/enrollments/{eid}/application", json=application, headers=headers)
    assert r.status_code == 200, r.text
    return eid


async def test_auto_path_through_the_api_ends_effective_with_one_ledger_row(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice = await login("alice")
    eid = await enroll(api, alice)
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective", body
    assert body["underwriting"]["decided_by"] == "system"
    assert body["policy_number"] and body["effective_at"]
    assert body["customer"]["id_number"].count("*") == 8
    async with sessions() as s:
        rows = await s.scalar(
            select(func.count()).where(PaymentLedger.idempotency_key == f"premium:{eid}")
        )
    assert rows == 1

    # The policy row is the policy process's from issuance: it takes effect there, a moment
    # after the enrollment ends.
    async def policy_effective() -> bool:
        async with sessions() as s:
            policy = await s.get(Policy, body["policy_number"], populate_existing=True)
        return policy is not None and policy.status == "effective"

    deadline = time.monotonic() + 20
    while not await policy_effective():
        assert time.monotonic() < deadline, "the policy did not take effect within 20 s"
        await asyncio.sleep(0.1)


async def test_a_finished_enrollment_is_read_from_the_read_model_without_asking_the_process(
    api: httpx.AsyncClient,
    login: Login,
    dev_env: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = await login("alice"), await login("bob")
    eid = await enroll(api, alice)
    done = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    handle = dev_env.client.get_workflow_handle(f"enrollment-{eid}")
    await handle.result()  # completed, so out of the worker's cache

    async def no_query(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a finished enrollment was read with a workflow query")

    monkeypatch.setattr(WorkflowHandle, "query", no_query)
    again = await api.get(f"/v1/enrollments/{eid}", headers=alice)
    assert again.status_code == 200
    assert again.json() == done  # the final record is the final state
    hidden = await api.get(f"/v1/enrollments/{eid}", headers=bob)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "enrollment_not_found")


async def test_repeated_post_with_the_same_idempotency_key_returns_the_same_enrollment(
    api: httpx.AsyncClient, login: Login
) -> None:
    alice = await login("alice")
    body = {"customer": customer(new_id_number())}
    headers = {**alice, "Idempotency-Key": f"retry-{random.randrange(10**9)}"}
    first = await api.post("/v1/enrollments", json=body, headers=headers)
    second = await api.post("/v1/enrollments", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["enrollment_id"] == second.json()["enrollment_id"]
    other = await api.post(
        "/v1/enrollments", json={"customer": customer(new_id_number())}, headers=headers
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


async def test_idempotency_key_reused_for_another_customer_behind_the_same_mask_is_refused(
    api: httpx.AsyncClient, login: Login
) -> None:
    """Two people whose masked name, ID number and phone coincide are still two people:
    the key's first customer is compared by a keyed hash of the real identity."""
    alice = await login("alice")
    sequence = random.randrange(1000)
    first_id = make_id_number("110105", date(1990, 1, 1), sequence)
    other_id = next(
        n
        for day in range(2, 366)
        if (n := make_id_number("110105", date(1990, 1, 1) + timedelta(days=day - 1), sequence))[-1]
        == first_id[-1]
    )
    assert (first_id[:6], first_id[-4:]) == (other_id[:6], other_id[-4:])  # the same mask
    headers = {**alice, "Idempotency-Key": f"masked-{random.randrange(10**9)}"}
    first = await api.post(
        "/v1/enrollments", json={"customer": customer(first_id, "张三")}, headers=headers
    )
    assert first.status_code == 202, first.text
    again = await api.post(
        "/v1/enrollments", json={"customer": customer(first_id, "张三")}, headers=headers
    )
    assert (again.status_code, again.json()["enrollment_id"]) == (
        202,
        first.json()["enrollment_id"],
    )
    for other in (customer(other_id, "张三"), customer(first_id, "张四")):
        r = await api.post("/v1/enrollments", json={"customer": other}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused"), r.text
    state = await api.get(f"/v1/enrollments/{first.json()['enrollment_id']}", headers=alice)
    assert first_id not in state.text


async def test_a_quote_echoes_money_normalised_to_two_decimals(
    api: httpx.AsyncClient, login: Login
) -> None:
    alice = await login("alice")
    r = await api.post(
        "/v1/enrollments", json={"customer": customer(new_id_number())}, headers=alice
    )
    eid = r.json()["enrollment_id"]
    for sent in ("200000.5", 200000.5):
        r = await api.post(
            f"/v1/enrollments/{eid}/quote",
            json={"product_code": "TERM_LIFE_20", "sum_insured": sent},
            headers=alice,
        )
        assert r.status_code == 200, r.text
        assert r.json()["sum_insured"] == "200000.50"
    for sent in ("1E+6", "\uff12\uff10\uff10\uff10\uff10\uff10\uff10"):  # full-width digits
        r = await api.post(
            f"/v1/enrollments/{eid}/quote",
            json={"product_code": "TERM_LIFE_20", "sum_insured": sent},
            headers=alice,
        )
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), sent
    body = (await api.get(f"/v1/enrollments/{eid}", headers=alice)).json()
    assert body["quote"]["sum_insured"] == "200000.50"


async def test_online_payment_callback_forged_refused_repeat_harmless(
    api: httpx.AsyncClient, login: Login, integration_settings: Settings
) -> None:
    alice = await login("alice")
    eid = await enroll(api, alice, method="online")
    body = await wait_for(api, alice, eid, lambda b: b["payment"]["order_id"] is not None)
    order_id, amount = body["payment"]["order_id"], body["payment"]["amount"]
    raw = json.dumps(
        {
            "order_id": order_id,
            "amount": amount,
            "paid_at": datetime.now(SHANGHAI).isoformat(),
            "gateway_ref": "GW-TEST-1",
        }
    ).encode()
    url = f"/v1/payments/{order_id}/callback"
    forged = await api.post(url, content=raw, headers={"X-Signature": "0" * 64})
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_signature"
    unsigned = await api.post(url, content=raw)
    assert unsigned.status_code == 401
    signature = sign_callback(integration_settings.payment_gateway_secret, raw)
    ok = await api.post(url, content=raw, headers={"X-Signature": signature})
    assert ok.status_code == 200 and ok.json()["result"] == "accepted", ok.text
    again = await api.post(url, content=raw, headers={"X-Signature": signature})
    assert again.status_code == 200 and again.json()["result"] == "already_processed"
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective"
    assert body["payment"]["status"] == "paid"


async def _history_update_events(env: WorkflowEnvironment, workflow_id: str) -> int:
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type
        in (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED,
        )
    )


async def _underwriting_task(
    sessions: async_sessionmaker[AsyncSession], eid: str, *, within: float = 30
) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with sessions() as s:
            task = await s.scalar(select(Task).where(Task.case_id == eid))
        if task is not None:
            return task.task_id
        await asyncio.sleep(0.1)
    raise AssertionError("no underwriting task opened")


async def test_refused_decisions_leave_no_update_in_history_and_a_good_one_proceeds(
    api: httpx.AsyncClient,
    login: Login,
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # sam (agent and supervisor, limit 500,000) submits a case he could otherwise decide.
    sam = await login("sam")
    eid = await enroll(api, sam, sum_insured="400000.00")
    task_id = await _underwriting_task(sessions, eid)
    workflow_id = f"enrollment-{eid}"
    updates_before = await _history_update_events(dev_env, workflow_id)

    async def decide(username: str) -> httpx.Response:
        return await api.post(
            f"/v1/tasks/{task_id}/decision",
            json={"decision": "approve", "reason": "looks fine"},
            headers=await login(username),
        )

    refused = {
        "sam": (409, "four_eyes_violation"),
        "bob": (403, "not_a_supervisor"),
        "olga": (403, "not_a_supervisor"),
    }
    for username, (status, code) in refused.items():
        r = await decide(username)
        assert (r.status_code, r.json()["code"]) == (status, code), (username, r.text)
    assert await _history_update_events(dev_env, workflow_id) == updates_before

    # A bigger case: sid's limit (2,000,000) is too low for 3,000,000.
    alice = await login("alice")
    big = await enroll(api, alice, sum_insured="3000000.00")
    big_task = await _underwriting_task(sessions, big)
    big_before = await _history_update_events(dev_env, f"enrollment-{big}")
    r = await api.post(
        f"/v1/tasks/{big_task}/decision",
        json={"decision": "approve", "reason": "ok"},
        headers=await login("sid"),
    )
    assert (r.status_code, r.json()["code"]) == (403, "approval_limit_exceeded")
    assert await _history_update_events(dev_env, f"enrollment-{big}") == big_before

    # sue may decide sam's case: one Update, and the process moves on.
    r = await decide("sue")
    assert r.status_code == 200, r.text
    assert r.json()["stage"] != "underwriting"
    assert await _history_update_events(dev_env, workflow_id) == updates_before + 1
    body = await wait_for(api, sam, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective"
    assert body["underwriting"]["decided_by"] == "sue"
    again = await decide("sue")
    assert (again.status_code, again.json()["code"]) == (409, "task_not_open")


async def test_agents_see_only_their_own_enrollments(api: httpx.AsyncClient, login: Login) -> None:
    alice, bob, sue = await login("alice"), await login("bob"), await login("sue")
    r = await api.post(
        "/v1/enrollments", json={"customer": customer(new_id_number())}, headers=alice
    )
    eid = r.json()["enrollment_id"]
    assert (await api.get(f"/v1/enrollments/{eid}", headers=bob)).status_code == 404
    assert (await api.get(f"/v1/enrollments/{eid}", headers=sue)).status_code == 200
    r = await api.post(
        f"/v1/enrollments/{eid}/quote",
        json={"product_code": "TERM_LIFE_20", "sum_insured": "200000"},
        headers=bob,
    )
    assert r.status_code == 404
    r = await api.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "test"}, headers=alice)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    # The process has ended: a further action is refused, not a server error.
    r = await api.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "again"}, headers=alice)
    assert (r.status_code, r.json()["code"]) == (409, "process_closed")
    # Another agent learns nothing of it, ended or not, nor of a case that never existed.
    r = await api.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "x"}, headers=bob)
    assert (r.status_code, r.json()["code"]) == (404, "enrollment_not_found")
    r = await api.post(
        "/v1/enrollments/EAAAAAAAAAAAA/quote",
        json={"product_code": "TERM_LIFE_20", "sum_insured": "200000"},
        headers=alice,
    )
    assert (r.status_code, r.json()["code"]) == (404, "enrollment_not_found")


async def test_bad_input_is_refused_with_codes_and_changes_nothing(
    api: httpx.AsyncClient, login: Login
) -> None:
    alice = await login("alice")
    good = new_id_number()
    bad_id = good[:-1] + ("0" if good[-1] != "0" else "1")  # wrong check digit
    r = await api.post(
        "/v1/enrollments", json={"customer": customer(new_id_number()), "extra": 1}, headers=alice
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = await api.post(
        "/v1/enrollments", json={"customer": customer(new_id_number())}, headers=alice
    )
    eid = r.json()["enrollment_id"]
    r = await api.post(
        f"/v1/enrollments/{eid}/quote",
        json={"product_code": "TERM_LIFE_20", "sum_insured": "50000"},
        headers=alice,
    )
    assert r.status_code == 422 and r.json()["code"] == "sum_insured_out_of_range"
    body = (await api.get(f"/v1/enrollments/{eid}", headers=alice)).json()
    assert body["stage"] == "consultation" and body["quote"] is None
    r = await api.post("/v1/enrollments", json={"customer": customer(bad_id)}, headers=alice)
    assert r.status_code == 422 and r.json()["code"] == "invalid_id_number"
    assert bad_id not in r.text


async def test_sanctioned_applicant_is_rejected_by_verification(
    api: httpx.AsyncClient, login: Login
) -> None:
    alice = await login("alice")
    eid = await enroll(api, alice, id_number="440301198211300582")
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "rejected"
    assert body["failure_code"] == "sanctions_hit"


async def test_declined_card_fails_and_gateway_book_matches_ledger(
    api: httpx.AsyncClient,
    login: Login,
    integration_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from gateways.payment import GatewayMode, PaymentGateway

    control = integration_settings.data_dir / "gateway-sim.json"
    PaymentGateway.write_control(control, GatewayMode.DECLINE)
    try:
        alice = await login("alice")
        eid = await enroll(api, alice)
        body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    finally:
        PaymentGateway.write_control(control, GatewayMode.NORMAL)
    assert body["status"] == "failed" and body["failure_code"] == "payment_declined"
    async with sessions() as s:
        entry = await s.scalar(
            select(PaymentLedger).where(PaymentLedger.idempotency_key == f"premium:{eid}")
        )
        booked = await s.scalar(
            select(func.count()).where(GatewayTransaction.idempotency_key == f"premium:{eid}")
        )
    assert entry is not None and entry.status == "declined"
    assert booked == 1


async def test_a_supervisor_agent_may_not_quote_submit_or_withdraw_for_another_agent(
    api: httpx.AsyncClient, login: Login
) -> None:
    # Four eyes by proxy (probe finding 1): sam quoted and submitted alice's enrollment,
    # then approved its underwriting himself. Only the case's agent acts on it.
    alice, sam = await login("alice"), await login("sam")
    r = await api.post(
        "/v1/enrollments", json={"customer": customer(new_id_number())}, headers=alice
    )
    assert r.status_code == 202, r.text
    eid = r.json()["enrollment_id"]
    quote = {"product_code": "TERM_LIFE_20", "sum_insured": "1000000.00"}
    r = await api.post(f"/v1/enrollments/{eid}/quote", json=quote, headers=sam)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "not_your_case"
    r = await api.post(f"/v1/enrollments/{eid}/withdraw", json={}, headers=sam)
    assert r.status_code == 403 and r.json()["code"] == "not_your_case"
    body = (await api.get(f"/v1/enrollments/{eid}", headers=sam)).json()
    assert body["stage"] == "consultation" and body["status"] == "in_progress"
    assert [h["by"] for h in body["history"]] == ["alice"]


# --- late and malformed gateway callbacks (the money must not be dropped) -------------


def _signed_callback(
    settings: Settings, order_id: str, amount: str, gateway_ref: str
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(
        {
            "order_id": order_id,
            "amount": amount,
            "paid_at": datetime.now(SHANGHAI).isoformat(),
            "gateway_ref": gateway_ref,
        }
    ).encode()
    return raw, {"X-Signature": sign_callback(settings.payment_gateway_secret, raw)}


async def _ledger(sessions: async_sessionmaker[AsyncSession], key: str) -> PaymentLedger | None:
    async with sessions() as s:
        return await s.scalar(select(PaymentLedger).where(PaymentLedger.idempotency_key == key))


async def _gateway_rows(sessions: async_sessionmaker[AsyncSession], key: str) -> int:
    async with sessions() as s:
        query = select(func.count()).where(GatewayTransaction.idempotency_key == key)
        return int(await s.scalar(query) or 0)


async def test_late_callback_after_the_order_lapsed_is_recorded_and_refunded_once(
    api: httpx.AsyncClient,
    login: Login,
    integration_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Defect 4: a signed callback after the deadline got 404 and the money stayed unbooked.
    clocks = integration_settings.clocks.model_copy(
        update={"payment_deadline": timedelta(seconds=2)}
    )
    monkeypatch.setattr(integration_settings, "clocks", clocks)
    alice = await login("alice")
    eid = await enroll(api, alice, method="online")
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "lapsed", body
    order_id, amount = body["payment"]["order_id"], body["payment"]["amount"]
    raw, headers = _signed_callback(integration_settings, order_id, amount, "GW-LATE-1")
    url = f"/v1/payments/{order_id}/callback"

    late = await api.post(url, content=raw, headers=headers)
    assert late.status_code == 200, late.text
    assert late.json()["result"] == "refunded"
    premium = await _ledger(sessions, f"premium:{eid}")
    assert premium is not None
    assert (premium.status, premium.gateway_ref) == ("succeeded", "GW-LATE-1")
    refund = await _ledger(sessions, f"refund:late:{order_id}")
    assert refund is not None
    assert (refund.kind, refund.status, refund.amount) == ("refund", "succeeded", premium.amount)
    assert refund.case_id == eid and refund.gateway_ref

    again = await api.post(url, content=raw, headers=headers)
    assert again.status_code == 200 and again.json()["result"] == "already_processed"
    assert await _gateway_rows(sessions, f"refund:late:{order_id}") == 1
    async with sessions() as s:
        refunds = await s.scalar(
            select(func.count()).where(PaymentLedger.case_id == eid, PaymentLedger.kind == "refund")
        )
    assert refunds == 1


async def test_late_callback_after_withdrawal_with_the_gateway_down_opens_an_ops_task(
    api: httpx.AsyncClient,
    login: Login,
    integration_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Defect 4: when the refund cannot be made, ops get a task; a repeat adds nothing.
    from gateways.payment import GatewayMode, PaymentGateway

    alice = await login("alice")
    eid = await enroll(api, alice, method="online")
    body = await wait_for(api, alice, eid, lambda b: b["payment"]["order_id"] is not None)
    order_id, amount = body["payment"]["order_id"], body["payment"]["amount"]
    r = await api.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "x"}, headers=alice)
    assert r.status_code == 200, r.text
    await wait_for(api, alice, eid, lambda b: b["status"] == "withdrawn")
    raw, headers = _signed_callback(integration_settings, order_id, amount, "GW-LATE-2")
    url = f"/v1/payments/{order_id}/callback"
    control = integration_settings.data_dir / "gateway-sim.json"
    PaymentGateway.write_control(control, GatewayMode.ERROR)
    try:
        late = await api.post(url, content=raw, headers=headers)
        again = await api.post(url, content=raw, headers=headers)
    finally:
        PaymentGateway.write_control(control, GatewayMode.NORMAL)
    assert late.status_code == 200, late.text
    assert late.json()["result"] == "refund_to_ops"
    assert again.status_code == 200 and again.json()["result"] == "already_processed"
    premium = await _ledger(sessions, f"premium:{eid}")
    assert premium is not None
    assert (premium.status, premium.gateway_ref) == ("succeeded", "GW-LATE-2")
    async with sessions() as s:
        tasks = list(await s.scalars(select(Task).where(Task.case_id == eid)))
    assert [(t.kind, t.status, t.task_id) for t in tasks] == [
        ("late_payment", "open", f"late-{order_id}")
    ]
    assert tasks[0].amount == premium.amount
    assert tasks[0].details["gateway_ref"] == "GW-LATE-2"
    assert await _gateway_rows(sessions, f"refund:late:{order_id}") == 0
    # Ops now own the refund: a later repeat, the gateway back up, does not refund behind them.
    third = await api.post(url, content=raw, headers=headers)
    assert third.status_code == 200 and third.json()["result"] == "already_processed"
    assert await _gateway_rows(sessions, f"refund:late:{order_id}") == 0


@pytest.mark.parametrize("shape", ["arrays", "objects"])
async def test_deeply_nested_signed_callback_is_422_and_changes_nothing(
    api: httpx.AsyncClient,
    login: Login,
    integration_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    shape: str,
) -> None:
    # Defect 10b: 10,000 levels of nesting made json.loads raise RecursionError: a 500.
    alice = await login("alice")
    eid = await enroll(api, alice, method="online")
    body = await wait_for(api, alice, eid, lambda b: b["payment"]["order_id"] is not None)
    order_id = body["payment"]["order_id"]
    depth = 10_000
    raw = "[" * depth + "]" * depth if shape == "arrays" else '{"a":' * depth + "1" + "}" * depth
    data = raw.encode()
    headers = {"X-Signature": sign_callback(integration_settings.payment_gateway_secret, data)}
    r = await api.post(f"/v1/payments/{order_id}/callback", content=data, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "validation_error"
    premium = await _ledger(sessions, f"premium:{eid}")
    assert premium is not None and premium.status == "pending"
    state = await api.get(f"/v1/enrollments/{eid}", headers=alice)
    assert state.json()["payment"]["status"] == "pending"
    # The body is bounded as well: a signed body over the limit is refused before parsing.
    big = b"[" * (integration_settings.max_body_bytes + 1)
    big_headers = {"X-Signature": sign_callback(integration_settings.payment_gateway_secret, big)}
    r = await api.post(f"/v1/payments/{order_id}/callback", content=big, headers=big_headers)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    r = await api.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "tidy"}, headers=alice)
    assert r.status_code == 200, r.text
