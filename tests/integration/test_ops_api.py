"""The ops API on the dev server: search over visibility, describe, history and timeline,
export and replay, incidents, cancel and terminate, and who may do what."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from api.main import create_app
from core.config import Settings
from db.models import AuditEvent, Task
from domain.masking import mask_id_number
from gateways.payment import GatewayMode, PaymentGateway
from tests.integration.conftest import Login, customer
from tests.integration.test_claims_api import DEATH_DOCS, documents, report
from tests.integration.test_enrollment_api import enroll, new_id_number, wait_for
from workflows.claim import ClaimWorkflow
from workflows.enrollment import EnrollmentWorkflow

pytestmark = pytest.mark.devserver

ACCOUNT = "6222020200112233445"
PHONE = "13800138000"


async def eventually(
    check: Callable[[], Awaitable[Any]], *, within: float = 20.0, what: str = "condition"
) -> Any:
    """Call `check` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not reached in {within}s; last: {last!r}")


async def quoted(api: httpx.AsyncClient, headers: dict[str, str], sum_insured: str) -> str:
    """An enrollment left at the quoted stage (running, amount set)."""
    r = await api.post(
        "/v1/enrollments", json={"customer": customer(new_id_number())}, headers=headers
    )
    assert r.status_code == 202, r.text
    eid = r.json()["enrollment_id"]
    r = await api.post(
        f"/v1/enrollments/{eid}/quote",
        json={"product_code": "TERM_LIFE_20", "sum_insured": sum_insured},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return str(eid)


async def describe(api: httpx.AsyncClient, olga: dict[str, str], wid: str) -> dict[str, Any]:
    r = await api.get(f"/v1/ops/workflows/{wid}", headers=olga)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def audit_rows(
    sessions: async_sessionmaker[AsyncSession], action: str, case_id: str
) -> list[AuditEvent]:
    async with sessions() as s:
        query = (
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.case_id == case_id)
            .order_by(AuditEvent.id)
        )
        return list(await s.scalars(query))


# --- search ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Searchable:
    """Processes sharing one amount nobody else uses, so a search can be checked exactly."""

    amount: str
    since: datetime
    alice_quoted: str
    bob_quoted: str
    alice_effective: str
    claim: str
    policy: str  # the effective enrollment's policy, its own process

    @property
    def all(self) -> set[str]:
        return {self.alice_quoted, self.bob_quoted, self.alice_effective, self.claim, self.policy}


@pytest.fixture(scope="module")
async def searchable(
    api: httpx.AsyncClient, login: Login, dev_env: WorkflowEnvironment
) -> AsyncIterator[Searchable]:
    alice, bob = await login("alice"), await login("bob")
    amount = f"{random.randrange(100_000, 290_000)}.{random.randrange(1, 100):02d}"
    since = datetime.now(UTC) - timedelta(seconds=1)
    a = await quoted(api, alice, amount)
    b = await quoted(api, bob, amount)
    e = await enroll(api, alice, sum_insured=amount)
    body = await wait_for(api, alice, e, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective", body
    r = await report(
        api,
        alice,
        body["policy_number"],
        incident_type="death",
        amount_claimed=amount,
        documents=documents(DEATH_DOCS[:2]),
    )
    assert r.status_code == 202, r.text
    found = Searchable(
        amount=amount,
        since=since,
        alice_quoted=f"enrollment-{a}",
        bob_quoted=f"enrollment-{b}",
        alice_effective=f"enrollment-{e}",
        claim=r.json()["workflow_id"],
        policy=f"policy-{body['policy_number']}",
    )
    yield found
    for wid in (found.alice_quoted, found.bob_quoted, found.claim, found.policy):
        await dev_env.client.get_workflow_handle(wid).terminate(reason="test over")


async def search(
    api: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    r = await api.get("/v1/ops/workflows", params=params, headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def search_ids(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> set[str]:
    return {item["workflow_id"] for item in await search(api, headers, **params)}


async def test_search_filters_by_process_status_stage_agent_amount_and_start_time(
    api: httpx.AsyncClient, login: Login, searchable: Searchable
) -> None:
    olga = await login("olga")
    s = searchable
    exact = {"amount_min": s.amount, "amount_max": s.amount}
    expectations: list[tuple[dict[str, Any], set[str]]] = [
        ({}, s.all),
        ({"process": "enrollment"}, s.all - {s.claim, s.policy}),
        ({"process": "claim"}, {s.claim}),
        ({"process": "policy"}, {s.policy}),
        ({"status": "running"}, {s.alice_quoted, s.bob_quoted, s.claim, s.policy}),
        ({"status": "completed"}, {s.alice_effective}),
        ({"stage": "quoted"}, {s.alice_quoted, s.bob_quoted}),
        ({"stage": "documents_pending"}, {s.claim}),
        ({"business_status": "effective"}, {s.alice_effective, s.policy}),
        ({"agent": "bob"}, {s.bob_quoted}),
        ({"agent": "alice", "process": "enrollment"}, {s.alice_quoted, s.alice_effective}),
        ({"started_after": s.since.isoformat()}, s.all),
        ({"started_before": s.since.isoformat()}, set()),
    ]
    for params, expected in expectations:

        async def matches(params: dict[str, Any] = params, expected: set[str] = expected) -> bool:
            return await search_ids(api, olga, **exact, **params) == expected

        await eventually(matches, what=f"search {params}")

    # The amount range on its own: a cent above excludes them all, a range around includes.
    above = str(Decimal(s.amount) + Decimal("0.01"))
    assert not s.all & await search_ids(api, olga, amount_min=above)
    around = await search_ids(
        api, olga, amount_min=str(Decimal(s.amount) - 1), amount_max=str(Decimal(s.amount) + 1)
    )
    assert s.all <= around

    items = await search(api, olga, **exact, process="claim")
    [claim] = items
    assert claim["amount"] == s.amount and claim["agent"] == "alice"
    assert claim["status"] == "running" and claim["business_status"] == "in_progress"
    assert claim["started_at"] and claim["closed_at"] is None


async def test_search_walks_pages_with_the_cursor(
    api: httpx.AsyncClient, login: Login, searchable: Searchable
) -> None:
    olga = await login("olga")
    exact = {"amount_min": searchable.amount, "amount_max": searchable.amount}

    async def all_visible() -> bool:
        return await search_ids(api, olga, **exact) == searchable.all

    await eventually(all_visible, what="all five visible")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, str | int] = {**exact, "limit": 1}
        if cursor:
            params["cursor"] = cursor
        r = await api.get("/v1/ops/workflows", params=params, headers=olga)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 1
        seen += [item["workflow_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(searchable.all)

    for made_up in ("%%%", "AAAA", "eyJ9"):  # not base64; not a token Temporal made
        r = await api.get("/v1/ops/workflows", params={"cursor": made_up}, headers=olga)
        assert (r.status_code, r.json()["code"]) == (422, "invalid_cursor"), made_up


async def test_search_refuses_values_that_could_change_the_query(
    api: httpx.AsyncClient, login: Login
) -> None:
    olga = await login("olga")
    for params in (
        {"process": "enrollment' OR 1=1"},
        {"agent": "alice' OR InsureFlowAgent='bob"},
        {"stage": "Quoted"},
        {"status": "Running"},
        {"amount_min": "NaN"},
        {"amount_max": "1 OR 1=1"},
        {"started_after": "2024-01-01T00:00:00"},  # no zone
        {"amount_min": "10", "amount_max": "5"},
    ):
        r = await api.get("/v1/ops/workflows", params=params, headers=olga)
        assert r.status_code == 422, (params, r.text)


# --- describe and incidents --------------------------------------------------------------


async def test_describe_shows_the_failing_charge_and_incidents_list_it(
    api: httpx.AsyncClient, login: Login, integration_settings: Settings
) -> None:
    alice, olga = await login("alice"), await login("olga")
    control = integration_settings.data_dir / "gateway-sim.json"
    threshold = integration_settings.incident_attempt_threshold
    PaymentGateway.write_control(control, GatewayMode.ERROR)
    try:
        eid = await enroll(api, alice)
        wid = f"enrollment-{eid}"

        async def failing_charge() -> dict[str, Any] | None:
            body = await describe(api, olga, wid)
            for activity in body["pending_activities"]:
                if activity["activity_type"] == "charge_premium" and activity["attempt"] >= 2:
                    return {**body, "charge": activity}
            return None

        body = await eventually(failing_charge, what="a retried charge")
        charge = body["charge"]
        assert body["status"] == "running" and body["stage"] == "awaiting_payment"
        assert charge["last_failure"] == "payment gateway unavailable"
        assert charge["last_failure_type"] == "GatewayUnavailable"
        assert charge["next_attempt_at"] is not None
        assert charge["maximum_attempts"] is None  # retried until the gateway is back

        async def listed() -> dict[str, Any] | None:
            r = await api.get("/v1/ops/incidents", headers=olga)
            assert r.status_code == 200, r.text
            return next(
                (
                    i
                    for i in r.json()["items"]
                    if i["workflow_id"] == wid and i["kind"] == "failing_activity"
                ),
                None,
            )

        incident = await eventually(listed, what=f"an incident at attempt {threshold}")
        assert incident["activity_type"] == "charge_premium"
        assert incident["attempt"] >= threshold
        assert incident["error"] == "payment gateway unavailable"
        r = await api.get("/v1/ops/incidents", params={"threshold": 100}, headers=olga)
        assert wid not in {i["workflow_id"] for i in r.json()["items"]}
    finally:
        PaymentGateway.write_control(control, GatewayMode.NORMAL)
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective"


@pytest.fixture(scope="module")
async def fast_sla_api(
    dev_env: WorkflowEnvironment, integration_settings: Settings, running_worker: None
) -> AsyncIterator[httpx.AsyncClient]:
    """The API again, with underwriting due in 1 s and escalated after 2 s."""
    settings = integration_settings.model_copy(
        update={
            "clocks": integration_settings.clocks.model_copy(
                update={
                    "underwriting_due": timedelta(seconds=1),
                    "underwriting_escalate": timedelta(seconds=2),
                }
            )
        }
    )
    app = create_app(settings, temporal_client=dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://insureflow") as client:
            yield client


async def test_incidents_list_an_escalated_underwriting_task_as_an_sla_breach(
    api: httpx.AsyncClient, fast_sla_api: httpx.AsyncClient, login: Login
) -> None:
    alice, olga = await login("alice"), await login("olga")
    eid = await enroll(fast_sla_api, alice, sum_insured="400000.00")  # above auto underwriting
    wid = f"enrollment-{eid}"

    async def breached() -> dict[str, Any] | None:
        r = await api.get("/v1/ops/incidents", headers=olga)
        assert r.status_code == 200, r.text
        return next(
            (
                i
                for i in r.json()["items"]
                if i["workflow_id"] == wid and "underwriting_escalated" in i["breaches"]
            ),
            None,
        )

    incident = await eventually(breached, what="an escalated underwriting task")
    assert incident["kind"] == "sla_breach" and incident["stage"] == "underwriting"
    assert "underwriting_overdue" in incident["breaches"]
    assert incident["task_id"] == f"uw-{eid}"

    async def waiting_for_expiry() -> dict[str, Any] | None:
        # After escalating, the process sets its timer to the expiry.
        body = await describe(api, olga, wid)
        return body if body["timers"] else None

    body = await eventually(waiting_for_expiry, what="the expiry timer")
    assert body["open_task"]["escalation_level"] == 1
    assert body["breaches"] == ["underwriting_escalated", "underwriting_overdue"]
    [expires] = [d for d in body["deadlines"] if not d["passed"]]
    assert expires["name"] == "task_expires"
    fires_at = datetime.fromisoformat(body["timers"][0]["fires_at"])
    assert abs(fires_at - datetime.fromisoformat(expires["at"])) < timedelta(seconds=2)
    r = await api.post(
        f"/v1/ops/workflows/{wid}/cancel", json={"reason": "test over"}, headers=olga
    )
    assert r.status_code == 202, r.text


# --- history, timeline, export -----------------------------------------------------------


@dataclass(frozen=True)
class Effective:
    workflow_id: str
    id_number: str
    policy_number: str


@pytest.fixture(scope="module")
async def effective_enrollment(api: httpx.AsyncClient, login: Login) -> Effective:
    alice = await login("alice")
    id_number = new_id_number()
    eid = await enroll(api, alice, id_number=id_number)
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective", body
    olga = await login("olga")

    async def completed() -> bool:
        return (await describe(api, olga, f"enrollment-{eid}"))["status"] == "completed"

    await eventually(completed, what="the workflow completed")
    return Effective(
        workflow_id=f"enrollment-{eid}", id_number=id_number, policy_number=body["policy_number"]
    )


async def test_history_timeline_reads_in_business_words_without_personal_data(
    api: httpx.AsyncClient, login: Login, effective_enrollment: Effective
) -> None:
    olga = await login("olga")
    wid = effective_enrollment.workflow_id
    r = await api.get(f"/v1/ops/workflows/{wid}/history", headers=olga)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["workflow_id"] == wid and body["run_id"]
    lines = [entry["event"] for entry in body["timeline"]]
    text = "\n".join(lines)
    for phrase in (
        "Enrollment started by alice",
        "Quote requested by alice: TERM_LIFE_20, sum insured ¥200,000.00",
        "Application submitted by alice",
        "Verification passed",
        "Premium charged ¥",
        "(ledger ",
        "effective",
        "Enrollment ended: effective",
    ):
        assert phrase in text, (phrase, lines)
    assert any(line.startswith("Policy P") and " issued (effective 20" in line for line in lines)
    # From issuance the policy is its own process: its timeline says when it took effect.
    policy = f"policy-{effective_enrollment.policy_number}"

    async def policy_effective() -> list[str]:
        r = await api.get(f"/v1/ops/workflows/{policy}/history", headers=olga)
        assert r.status_code == 200, r.text
        lines = [entry["event"] for entry in r.json()["timeline"]]
        return lines if any(" effective 20" in line for line in lines) else []

    await eventually(policy_effective, what="the policy's timeline to show it effective")
    assert lines.index("Application submitted by alice") < lines.index("Verification passed")
    # Decoded (the start input is there, masked), and nothing personal in the clear.
    started = body["events"][0]
    assert started["type"] == "WorkflowExecutionStarted"
    applicant = started["attributes"]["input"][0]["customer"]
    assert applicant["id_number"] == mask_id_number(effective_enrollment.id_number)
    assert applicant["name"] == "张*"
    for secret in (effective_enrollment.id_number, ACCOUNT, PHONE):
        assert secret not in r.text
    assert not any(e["type"].startswith("WorkflowTask") for e in body["events"])


async def test_history_export_is_the_raw_history_and_replays(
    api: httpx.AsyncClient,
    login: Login,
    effective_enrollment: Effective,
    dev_env: WorkflowEnvironment,
) -> None:
    olga = await login("olga")
    wid = effective_enrollment.workflow_id
    r = await api.get(f"/v1/ops/workflows/{wid}/history/export", headers=olga)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert effective_enrollment.id_number not in r.text  # payloads stay encrypted
    history = WorkflowHistory.from_json(wid, r.text)
    assert history.events
    replayer = Replayer(
        workflows=[EnrollmentWorkflow, ClaimWorkflow],
        data_converter=dev_env.client.data_converter,
    )
    await replayer.replay_workflow(history)


async def test_claim_timeline_starts_with_the_report(
    api: httpx.AsyncClient, login: Login, searchable: Searchable
) -> None:
    olga = await login("olga")
    r = await api.get(f"/v1/ops/workflows/{searchable.claim}/history", headers=olga)
    assert r.status_code == 200, r.text
    lines = [entry["event"] for entry in r.json()["timeline"]]
    amount = f"¥{Decimal(searchable.amount):,.2f}"
    assert lines[0].startswith(f"Claim reported by alice: death, {amount} claimed on P"), lines
    assert "Stage: documents pending" in lines
    assert ACCOUNT not in r.text


# --- actions -----------------------------------------------------------------------------


async def test_cancel_needs_a_reason_is_audited_and_the_process_ends_cancelled(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, olga = await login("alice"), await login("olga")
    eid = await enroll(api, alice, sum_insured="400000.00")  # an underwriting task opens
    wid = f"enrollment-{eid}"

    async def task_open() -> dict[str, Any] | None:
        body = await describe(api, olga, wid)
        return body if body["open_task"] else None

    body = await eventually(task_open, what="the underwriting task")
    task = body["open_task"]
    assert task["task_id"] == f"uw-{eid}" and task["kind"] == "underwriting"
    assert task["assignee"] is None and task["escalation_level"] == 0
    assert {"task_due", "task_escalates", "task_expires"} <= {d["name"] for d in body["deadlines"]}

    # Ops decide nothing.
    r = await api.post(
        f"/v1/tasks/{task['task_id']}/decision",
        json={"decision": "approve", "reason": "ops"},
        headers=olga,
    )
    assert (r.status_code, r.json()["code"]) == (403, "not_a_supervisor")

    for bad in (
        {},
        {"reason": ""},
        {"reason": "   "},
        {"reason": "x" * 501},
        {"reason": "ok", "force": True},
    ):
        r = await api.post(f"/v1/ops/workflows/{wid}/cancel", json=bad, headers=olga)
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), bad
    assert await audit_rows(sessions, "ops.cancel", wid) == []

    r = await api.post(
        f"/v1/ops/workflows/{wid}/cancel", json={"reason": "customer asked by phone"}, headers=olga
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "cancel_requested" and r.json()["requested_by"] == "olga"
    [row] = await audit_rows(sessions, "ops.cancel", wid)
    assert row.actor == "olga" and row.detail["reason"] == "customer asked by phone"
    assert row.detail["outcome"] == "ok"
    assert row.request_id and row.client

    async def cancelled() -> bool:
        return (await describe(api, olga, wid))["status"] == "canceled"

    await eventually(cancelled, what="the process cancelled")
    async with sessions() as s:
        closed = await s.get(Task, f"uw-{eid}")
    assert closed is not None and closed.status == "cancelled"  # compensation closed it
    r = await api.get(f"/v1/ops/workflows/{wid}/history", headers=olga)
    lines = [entry["event"] for entry in r.json()["timeline"]]
    assert any(line.startswith("Underwriting task opened (due 20") for line in lines), lines
    assert "Cancellation requested: olga: customer asked by phone" in lines
    assert any(line.startswith("Underwriting task cancelled") for line in lines), lines
    assert lines[-1] == "Process cancelled"

    again = await api.post(
        f"/v1/ops/workflows/{wid}/cancel", json={"reason": "again"}, headers=olga
    )
    assert (again.status_code, again.json()["code"]) == (409, "workflow_not_running")


async def test_terminate_needs_a_reason_is_audited_and_stops_the_process(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, olga = await login("alice"), await login("olga")
    wid = f"enrollment-{await quoted(api, alice, '150000.00')}"
    r = await api.post(f"/v1/ops/workflows/{wid}/terminate", json={}, headers=olga)
    assert r.status_code == 422
    reason = f"stuck; customer id {new_id_number()} on the phone"
    r = await api.post(f"/v1/ops/workflows/{wid}/terminate", json={"reason": reason}, headers=olga)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "terminated"
    assert (await describe(api, olga, wid))["status"] == "terminated"
    [row] = await audit_rows(sessions, "ops.terminate", wid)
    assert row.actor == "olga" and row.detail["reason"].startswith("stuck; customer id ")
    assert reason not in str(row.detail)  # the ID number in the reason is masked

    again = await api.post(
        f"/v1/ops/workflows/{wid}/terminate", json={"reason": "again"}, headers=olga
    )
    assert (again.status_code, again.json()["code"]) == (409, "workflow_not_running")
    rows = await audit_rows(sessions, "ops.terminate", wid)
    assert [(r.detail["outcome"], r.detail.get("code")) for r in rows] == [
        ("ok", None),
        ("refused", "workflow_not_running"),
    ]
    missing = await api.post(
        "/v1/ops/workflows/enrollment-ENOSUCHTHING/terminate", json={"reason": "x"}, headers=olga
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "workflow_not_found")
    r = await api.get("/v1/ops/workflows/enrollment-ENOSUCHTHING", headers=olga)
    assert (r.status_code, r.json()["code"]) == (404, "workflow_not_found")


async def test_terminate_records_the_ending_in_the_read_model_and_cancels_open_tasks(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A terminated process runs no compensation, so the API records its ending: the
    enrollment reads `terminated` and its underwriting task leaves the inbox."""
    alice, olga, sue = await login("alice"), await login("olga"), await login("sue")
    eid = await enroll(api, alice, sum_insured="400000.00")  # an underwriting task opens
    wid = f"enrollment-{eid}"

    async def task_open() -> dict[str, Any] | None:
        body = await describe(api, olga, wid)
        return body if body["open_task"] else None

    await eventually(task_open, what="the underwriting task")
    r = await api.post(f"/v1/ops/workflows/{wid}/terminate", json={"reason": "stuck"}, headers=olga)
    assert r.status_code == 200, r.text

    r = await api.get(f"/v1/enrollments/{eid}", headers=alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "terminated", body
    assert body["history"][-1]["status"] == "terminated"
    assert body["history"][-1]["by"] == "olga"
    r = await api.get("/v1/enrollments", params={"status": "terminated"}, headers=alice)
    assert eid in {item["enrollment_id"] for item in r.json()["items"]}
    async with sessions() as s:
        task = await s.get(Task, f"uw-{eid}")
    assert task is not None and task.status == "cancelled" and task.closed_at is not None
    inbox = await api.get("/v1/tasks", params={"limit": 200}, headers=sue)
    assert f"uw-{eid}" not in {item["task_id"] for item in inbox.json()["items"]}
    r = await api.post(
        f"/v1/tasks/uw-{eid}/decision",
        json={"decision": "approve", "reason": "late"},
        headers=sue,
    )
    assert (r.status_code, r.json()["code"]) == (409, "task_not_open")
    [row] = await audit_rows(sessions, "ops.terminate", wid)
    assert row.actor == "olga" and row.detail["outcome"] == "ok"


# --- who may ------------------------------------------------------------------------------


async def test_ops_endpoints_refuse_agents_and_supervisors(
    api: httpx.AsyncClient, login: Login
) -> None:
    wid = "enrollment-EANY"
    reads = [
        "/v1/ops/workflows",
        f"/v1/ops/workflows/{wid}",
        f"/v1/ops/workflows/{wid}/history",
        f"/v1/ops/workflows/{wid}/history/export",
        "/v1/ops/incidents",
    ]
    actions = [f"/v1/ops/workflows/{wid}/cancel", f"/v1/ops/workflows/{wid}/terminate"]
    for username in ("alice", "sue", "sam"):
        headers = await login(username)
        for path in reads:
            r = await api.get(path, headers=headers)
            assert (r.status_code, r.json()["code"]) == (403, "forbidden"), (username, path)
        for path in actions:
            r = await api.post(path, json={"reason": "x"}, headers=headers)
            assert (r.status_code, r.json()["code"]) == (403, "forbidden"), (username, path)
    r = await api.get("/v1/ops/workflows")
    assert r.status_code == 401


@pytest.fixture
async def wide_start_api(
    dev_env: WorkflowEnvironment, integration_settings: Settings, running_worker: None
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a start-date window wide enough to let 9999-12-31 through: a stand-in
    for data that gets past every bound and that the process then cannot work with."""
    settings = integration_settings.model_copy(
        update={
            "clocks": integration_settings.clocks.model_copy(
                update={"start_date_window": timedelta(days=3_000_000)}
            )
        }
    )
    app = create_app(settings, temporal_client=dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://insureflow") as client:
            yield client


async def test_a_halted_process_is_an_incident_and_cancelling_it_refunds_the_premium(
    api: httpx.AsyncClient,
    wide_start_api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Probe finding 2: start_date 9999-12-31 was charged, then every workflow task failed;
    # GET answered 500 for good, ops saw no incident and cancel did nothing.
    alice, olga = await login("alice"), await login("olga")
    eid = await enroll(wide_start_api, alice, start_date="9999-12-31")
    wid = f"enrollment-{eid}"

    async def halted() -> dict[str, Any] | None:
        r = await api.get("/v1/ops/incidents", headers=olga)
        assert r.status_code == 200, r.text
        return next((i for i in r.json()["items"] if i["workflow_id"] == wid), None)

    incident = await eventually(halted, what="the halted process in the incidents")
    assert incident["kind"] == "halted"
    r = await api.get(f"/v1/enrollments/{eid}", headers=alice)
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    r = await api.post(f"/v1/ops/workflows/{wid}/cancel", json={"reason": "bad data"}, headers=olga)
    assert r.status_code == 202, r.text
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "cancelled" and body["payment"]["status"] == "refunded"

    async def closed() -> dict[str, Any] | None:
        # The process itself ends (its last writes applied), not only its read model.
        body = await describe(api, olga, wid)
        return body if body["status"] != "running" else None

    assert (await eventually(closed, what="the halted process to close"))["status"] == "canceled"
