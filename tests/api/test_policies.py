"""/v1/policies on the read model, with no Temporal (the app's address is a closed port):
the listing and who sees what, a finished policy read from its last record, and every
request to an ended policy refused 409 ``policy_closed`` without asking the process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.customers import upsert_customer
from db.repositories.policies import insert_policy, record_policy_state
from domain.enrollment import MaskedCustomer
from domain.policies import (
    LIVE_STATUSES,
    Cancellation,
    PolicyHistoryEntry,
    PolicyStage,
    PolicyState,
    PolicyStatus,
    PremiumPayment,
    ReturnVisit,
)
from services.audit import case_events
from tests.db.test_claims import NOW, policy_issue

Headers = Callable[[str], dict[str, str]]
Factory = async_sessionmaker[AsyncSession]


def policy_state(
    number: str,
    *,
    status: PolicyStatus,
    stage: PolicyStage,
    agent: str = "alice",
    issued: datetime = NOW - timedelta(days=20),
    **recorded: Any,
) -> PolicyState:
    """A TERM_LIFE_20 policy issued and in force from ``issued`` (20 days before NOW), its
    first premium paid, as its process would record it; ``recorded`` sets other fields
    (grace, suspension)."""
    ended = status not in LIVE_STATUSES
    state = PolicyState(
        policy_number=number,
        workflow_id=f"policy-{number}",
        application_no=f"A-{number}",
        agent=agent,
        customer_id="c-1",
        holder=MaskedCustomer(name="张*", id_number="1101**********123X", phone="138****0000"),
        product_code="TERM_LIFE_20",
        term_years=20,
        sum_insured=Decimal("300000.00"),
        premium=Decimal("1234.50"),
        installments=True,
        stage=stage,
        status=status,
        issued_at=issued,
        effective_at=issued,
        expires_at=issued + timedelta(days=365 * 20),
        cooling_off_ends_at=issued + timedelta(days=16),
        return_visit=ReturnVisit(
            status="completed",
            task_id=f"rv-{number}",
            due_at=issued + timedelta(days=10),
            items=["policyholder_reached"],
            outcome="7 of 7 confirmed",
        ),
        cancellation=Cancellation(
            by=agent, reason="changed mind", at=NOW, refund_amount=Decimal("1224.50")
        )
        if status == PolicyStatus.CANCELLED
        else None,
        ended_at=NOW if ended else None,
        payments=[PremiumPayment(n=1, paid_at=issued, amount=Decimal("1234.50"))],
        history=[
            PolicyHistoryEntry(
                stage=stage, status=status, at=NOW, by=agent, note="receipt signed by the customer"
            )
        ],
    )
    return state.model_copy(update=recorded)


async def store(
    factory: Factory, *states: PolicyState, bare: tuple[str, ...] = (), id_hash: str = "hash-1"
) -> None:
    """The policies' rows as their processes last recorded them, of one customer (whose ID
    number's blind index is ``id_hash``); ``bare``: rows not recorded yet."""
    async with factory() as session, session.begin():
        customer = await upsert_customer(
            session,
            id_hash=id_hash,
            id_number_enc="enc-id-1",
            id_masked="1101**********123X",
            name="Customer 1",
            phone_enc="enc-phone-1",
            phone_masked="138****0000",
            email=None,
            birth_date=date(1990, 5, 17),
        )
        for state in states:
            issue = policy_issue(state.policy_number, customer.id)
            await insert_policy(session, issue=issue.model_copy(update={"agent": state.agent}))
            await record_policy_state(session, state=state)
        for number in bare:  # a row its process has not recorded yet
            await insert_policy(session, issue=policy_issue(number, customer.id))


CANCELLED = policy_state("PDONE", status=PolicyStatus.CANCELLED, stage=PolicyStage.ENDED)
LIVE = policy_state("PLIVE", status=PolicyStatus.EFFECTIVE, stage=PolicyStage.IN_FORCE)
BOBS = policy_state("PBOB", status=PolicyStatus.EXPIRED, stage=PolicyStage.ENDED, agent="bob")


async def test_an_agent_lists_their_own_policies_and_staff_see_all(
    api_client: httpx.AsyncClient, api_session_factory: Factory, auth_headers: Headers
) -> None:
    await store(api_session_factory, CANCELLED, LIVE, BOBS, bare=("PNEW",))

    def numbers(r: httpx.Response) -> set[str]:
        assert r.status_code == 200, r.text
        return {i["policy_number"] for i in r.json()["items"]}

    assert numbers(await api_client.get("/v1/policies", headers=auth_headers("alice"))) == {
        "PDONE",
        "PLIVE",
        "PNEW",
    }
    everyone = {"PDONE", "PLIVE", "PNEW", "PBOB"}
    for staff in ("sue", "cora"):  # a supervisor; customer service
        r = await api_client.get("/v1/policies", headers=auth_headers(staff))
        assert numbers(r) == everyone
    r = await api_client.get("/v1/policies?status=cancelled", headers=auth_headers("sue"))
    assert numbers(r) == {"PDONE"}
    item = r.json()["items"][0]
    assert item["holder"] == {
        "name": "张*",
        "id_number": "1101**********123X",
        "phone": "138****0000",
    }
    assert (item["stage"], item["status"]) == ("ended", "cancelled")

    # A page of one, then the next by its cursor; a cursor of another listing is refused.
    first = await api_client.get("/v1/policies?limit=1", headers=auth_headers("sue"))
    cursor = first.json()["next_cursor"]
    second = await api_client.get(
        f"/v1/policies?limit=1&cursor={cursor}", headers=auth_headers("sue")
    )
    assert numbers(first).isdisjoint(numbers(second))
    r = await api_client.get("/v1/policies?cursor=bm9wZQ", headers=auth_headers("sue"))
    assert (r.status_code, r.json()["code"]) == (422, "invalid_cursor")


async def test_a_finished_policy_reads_from_the_read_model_while_temporal_is_down(
    api_app: FastAPI,
    api_client: httpx.AsyncClient,
    api_session_factory: Factory,
    auth_headers: Headers,
) -> None:
    assert api_app.state.temporal is None
    await store(api_session_factory, CANCELLED, LIVE)

    r = await api_client.get("/v1/policies/PDONE", headers=auth_headers("alice"))

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["stage"]) == ("cancelled", "ended")
    assert body["cancellation"]["refund_amount"] == "1224.50"
    assert body["return_visit"]["outcome"] == "7 of 7 confirmed"
    assert body["next_due_at"] is None  # an ended policy owes nothing more
    assert "application_no" not in body and "customer_id" not in body
    assert body["history"][0]["note"] == "receipt signed by the customer"
    for reader in ("sue", "cora"):
        r = await api_client.get("/v1/policies/PDONE", headers=auth_headers(reader))
        assert r.status_code == 200, r.text
    # Another agent learns nothing, not even that it exists.
    r = await api_client.get("/v1/policies/PDONE", headers=auth_headers("bob"))
    assert (r.status_code, r.json()["code"]) == (404, "policy_not_found")
    r = await api_client.get("/v1/policies/PNONE", headers=auth_headers("alice"))
    assert (r.status_code, r.json()["code"]) == (404, "policy_not_found")
    # A running policy is asked of its process: Temporal is needed.
    r = await api_client.get("/v1/policies/PLIVE", headers=auth_headers("alice"))
    assert (r.status_code, r.json()["code"]) == (503, "temporal_unavailable")


@pytest.mark.parametrize(
    ("path", "body", "user"),
    [
        ("receipt", {"signed_at": "2026-01-05T10:00:00+08:00"}, "alice"),
        ("cancellation", {"reason": "changed my mind"}, "alice"),
        ("return-visit", {"decision": "unreachable"}, "cora"),
        ("remediation", {"reason": "explained again"}, "cora"),
        ("reminders", {"premium_reminders": False}, "alice"),
        ("changes", {"phone": "13900000000", "bank_account": "6222020000004321"}, "cora"),
        ("surrender", {"reason": "needs the money"}, "alice"),
        ("reinstatement", {}, "alice"),
        ("renewal", {"decision": "accept"}, "alice"),
    ],
)
async def test_a_request_to_an_ended_policy_is_policy_closed_from_the_read_model(
    api_client: httpx.AsyncClient,
    api_session_factory: Factory,
    auth_headers: Headers,
    path: str,
    body: dict[str, object],
    user: str,
) -> None:
    await store(api_session_factory, CANCELLED)

    r = await api_client.post(f"/v1/policies/PDONE/{path}", json=body, headers=auth_headers(user))

    # Not 503: the read model knows the process has ended, Temporal is never asked.
    assert (r.status_code, r.json()["code"]) == (409, "policy_closed"), r.text


async def test_requests_on_another_agents_policy_or_without_the_role_are_refused(
    api_client: httpx.AsyncClient, api_session_factory: Factory, auth_headers: Headers
) -> None:
    await store(api_session_factory, LIVE)
    receipt = {"signed_at": "2026-01-05T10:00:00+08:00"}

    r = await api_client.post(
        "/v1/policies/PLIVE/receipt", json=receipt, headers=auth_headers("bob")
    )
    assert (r.status_code, r.json()["code"]) == (404, "policy_not_found")
    # Only agents record a receipt or a cancellation.
    r = await api_client.post(
        "/v1/policies/PLIVE/receipt", json=receipt, headers=auth_headers("cora")
    )
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    # Reminders: the policy's agent or customer service; a supervisor is not either.
    r = await api_client.post(
        "/v1/policies/PLIVE/reminders",
        json={"premium_reminders": False},
        headers=auth_headers("sue"),
    )
    assert (r.status_code, r.json()["code"]) == (403, "not_your_case")
    # A checklist item the contract does not know is a malformed body.
    r = await api_client.post(
        "/v1/policies/PLIVE/return-visit",
        json={"decision": "completed", "checklist": {"liked_the_agent": True}},
        headers=auth_headers("cora"),
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")


async def test_a_servicing_change_checks_the_phone_and_account_before_anything_else(
    api_client: httpx.AsyncClient, api_session_factory: Factory, auth_headers: Headers
) -> None:
    await store(api_session_factory, LIVE)
    for body, code in [
        ({"phone": "12ab"}, "invalid_phone"),
        ({"bank_account": "6222-0200-0000"}, "invalid_bank_account"),
        ({}, "nothing_to_change"),
    ]:
        r = await api_client.post(
            "/v1/policies/PLIVE/changes", json=body, headers=auth_headers("alice")
        )
        assert (r.status_code, r.json()["code"]) == (422, code), r.text
        assert "6222" not in r.text and "12ab" not in r.text  # the value is never echoed


async def test_a_refused_servicing_change_is_audited_without_its_values(
    api_client: httpx.AsyncClient, api_session_factory: Factory, auth_headers: Headers
) -> None:
    await store(api_session_factory, CANCELLED)
    r = await api_client.post(
        "/v1/policies/PDONE/changes",
        json={"phone": "13900000000", "bank_account": "6222020000004321"},
        headers=auth_headers("cora"),
    )
    assert (r.status_code, r.json()["code"]) == (409, "policy_closed")
    async with api_session_factory() as session:
        events = await case_events(session, case_id="PDONE", limit=10)
    mine = [e for e in events if e.action == "policy.servicing_change"]
    assert [(e.actor, e.detail) for e in mine] == [
        ("cora", {"changed": ["phone", "bank_account"], "outcome": "policy_closed"})
    ]
    assert all("13900000000" not in str(e.detail) for e in events)


async def test_a_second_surrender_is_already_surrendered_and_a_bad_account_changes_nothing(
    api_client: httpx.AsyncClient, api_session_factory: Factory, auth_headers: Headers
) -> None:
    done = policy_state("PSURR", status=PolicyStatus.SURRENDERED, stage=PolicyStage.ENDED)
    await store(api_session_factory, done)
    alice = auth_headers("alice")
    r = await api_client.post(
        "/v1/policies/PSURR/surrender", json={"reason": "again"}, headers=alice
    )
    assert (r.status_code, r.json()["code"]) == (409, "already_surrendered"), r.text
    r = await api_client.post(
        "/v1/policies/PSURR/surrender",
        json={"reason": "x", "payee_account": "12ab"},
        headers=alice,
    )
    assert (r.status_code, r.json()["code"]) == (422, "invalid_bank_account"), r.text
    # Only agents surrender or apply for reinstatement, for their own customers.
    for path, body in (("surrender", {"reason": "x"}), ("reinstatement", {})):
        r = await api_client.post(
            f"/v1/policies/PSURR/{path}", json=body, headers=auth_headers("cora")
        )
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), path
