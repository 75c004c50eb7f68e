"""The supervisor inbox through the API on the dev server, with the real worker: listing,
pagination, filters, who may see and take tasks, and decisions that move the process."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Task
from domain.masking import mask_id_number
from tests.integration.conftest import Login
from tests.integration.test_enrollment_api import enroll, new_id_number, wait_for

pytestmark = pytest.mark.devserver

ABOVE_AUTO_LIMIT = "1000000.00"  # TERM_LIFE_20 approves up to 300,000 by itself


async def open_task(
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    *,
    id_number: str | None = None,
    within: float = 30.0,
) -> tuple[str, str]:
    """Enroll a new customer of alice's above the auto limit; (enrollment id, task id)
    once the underwriting task row exists."""
    eid = await enroll(api, await login("alice"), sum_insured=ABOVE_AUTO_LIMIT, id_number=id_number)
    deadline = time.monotonic() + within
    while True:
        async with sessions() as s:
            task = await s.scalar(select(Task).where(Task.case_id == eid))
        if task is not None:
            return eid, task.task_id
        if time.monotonic() > deadline:
            raise AssertionError(f"no underwriting task opened for {eid} within {within}s")
        await asyncio.sleep(0.1)


async def wait_for_task(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    task_id: str,
    status: str,
    *,
    within: float = 30.0,
) -> dict[str, Any]:
    """Poll the task until it has ``status``, failing after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        r = await api.get(f"/v1/tasks/{task_id}", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} still {body['status']}, wanted {status}")
        await asyncio.sleep(0.1)


async def walk(
    api: httpx.AsyncClient, headers: dict[str, str], *, limit: int, **params: str
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a task listing, following ``next_cursor``; (items, pages)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query: dict[str, Any] = {**params, "limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        r = await api.get("/v1/tasks", params=query, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert page["items"], "a page with a next_cursor must not be empty"
        assert pages < 1000, "pagination does not end"


def sort_key(item: dict[str, Any]) -> tuple[datetime, str]:
    return datetime.fromisoformat(item["due_at"]), item["task_id"]


async def decide(
    api: httpx.AsyncClient, headers: dict[str, str], task_id: str, decision: str = "approve"
) -> httpx.Response:
    return await api.post(
        f"/v1/tasks/{task_id}/decision",
        json={"decision": decision, "reason": "income verified"},
        headers=headers,
    )


def code(r: httpx.Response) -> tuple[int, str | None]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.status_code, r.json().get("code")


async def test_inbox_lists_open_tasks_by_due_time_and_paginates_without_gaps(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sue = await login("sue")
    mine = [(await open_task(api, login, sessions))[1] for _ in range(3)]

    everything, _ = await walk(api, sue, limit=200, status="open")
    ids = [t["task_id"] for t in everything]
    assert set(mine) <= set(ids)
    assert all(t["status"] == "open" and t["assignee"] is None for t in everything)
    assert everything == sorted(everything, key=sort_key), "not ordered by due_at, task_id"
    # Opened one after the other with the same SLA: due in that order.
    assert [i for i in ids if i in mine] == mine
    for t in everything:
        for field in (
            "task_id",
            "kind",
            "workflow_id",
            "subject",
            "amount",
            "status",
            "assignee",
            "priority",
            "due_at",
            "created_at",
        ):
            assert field in t, (field, t)

    paged, pages = await walk(api, sue, limit=2, status="open")
    assert pages == max(1, -(-len(everything) // 2))  # no empty last page
    paged_ids = [t["task_id"] for t in paged]
    assert len(paged_ids) == len(set(paged_ids)), "a task appears on two pages"
    assert paged_ids == ids, "pages differ from the unpaginated listing (gap or reorder)"

    one_by_one, pages = await walk(api, sue, limit=1, status="open")
    assert [t["task_id"] for t in one_by_one] == ids
    assert pages == len(ids)

    # The default listing is the open inbox.
    r = await api.get("/v1/tasks", params={"limit": 200}, headers=sue)
    assert r.status_code == 200
    assert set(mine) <= {t["task_id"] for t in r.json()["items"]}

    for bad in ({"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"}):
        r = await api.get("/v1/tasks", params=bad, headers=sue)
        assert r.status_code == 422, (bad, r.text)


async def test_inbox_filters_by_kind_and_by_assignee_me(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sue, sid = await login("sue"), await login("sid")
    _, held = await open_task(api, login, sessions)
    _, free = await open_task(api, login, sessions)

    underwriting, _ = await walk(api, sue, limit=200, kind="underwriting")
    assert {held, free} <= {t["task_id"] for t in underwriting}
    assert all(t["kind"] == "underwriting" for t in underwriting)
    reviews, _ = await walk(api, sue, limit=200, kind="claim_review")
    assert all(t["kind"] == "claim_review" for t in reviews)
    assert not {held, free} & {t["task_id"] for t in reviews}
    r = await api.get("/v1/tasks", params={"kind": "no_such_kind"}, headers=sue)
    assert code(r) == (422, "validation_error")

    r = await api.post(f"/v1/tasks/{held}/claim", headers=sue)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["assignee"]) == ("claimed", "sue")

    sues, _ = await walk(api, sue, limit=200, status="claimed", assignee="me")
    assert held in {t["task_id"] for t in sues}
    assert all(t["assignee"] == "sue" and t["status"] == "claimed" for t in sues)
    sids, _ = await walk(api, sid, limit=200, status="claimed", assignee="me")
    assert all(t["assignee"] == "sid" for t in sids)
    assert held not in {t["task_id"] for t in sids}

    # Claimed tasks leave the open inbox; the free one stays.
    open_ids = {t["task_id"] for t in (await walk(api, sid, limit=200, status="open"))[0]}
    assert free in open_ids and held not in open_ids

    r = await api.post(f"/v1/tasks/{held}/release", headers=sue)
    assert r.status_code == 200, r.text
    sues, _ = await walk(api, sue, limit=200, status="claimed", assignee="me")
    assert held not in {t["task_id"] for t in sues}


async def test_agents_may_not_see_the_inbox_and_ops_may_read_it(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, task_id = await open_task(api, login, sessions)
    for agent in ("alice", "bob"):
        r = await api.get("/v1/tasks", headers=await login(agent))
        assert r.status_code == 403, (agent, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await api.get(f"/v1/tasks/{task_id}", headers=await login(agent))
        assert r.status_code == 403, (agent, r.text)
    assert (await api.get("/v1/tasks")).status_code == 401

    olga = await login("olga")
    listed, _ = await walk(api, olga, limit=200, status="open")
    assert task_id in {t["task_id"] for t in listed}
    r = await api.get(f"/v1/tasks/{task_id}", headers=olga)
    assert r.status_code == 200, r.text
    assert r.json()["task_id"] == task_id and r.json()["case"] is not None


async def test_task_detail_has_the_masked_case_and_verification_never_the_id_number(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    id_number = new_id_number()
    eid, task_id = await open_task(api, login, sessions, id_number=id_number)
    for reader in ("sue", "olga"):
        r = await api.get(f"/v1/tasks/{task_id}", headers=await login(reader))
        assert r.status_code == 200, r.text
        assert id_number not in r.text, "the raw ID number leaked into the task detail"
        body = r.json()
        assert (body["task_id"], body["kind"], body["status"]) == (task_id, "underwriting", "open")
        assert body["workflow_id"] == f"enrollment-{eid}"
        case = body["case"]
        assert case["enrollment_id"] == eid
        assert case["stage"] == "underwriting"
        assert case["agent"] == "alice"
        assert case["customer"]["id_number"] == mask_id_number(id_number)
        assert case["customer"]["id_number"].count("*") == 8
        assert case["customer"]["name"] != "张三" and "*" in case["customer"]["name"]
        assert "*" in case["customer"]["phone"]
        assert case["quote"]["product_code"] == "TERM_LIFE_20"
        assert float(case["quote"]["sum_insured"]) == float(ABOVE_AUTO_LIMIT)
        verification = case["verification"]
        assert verification["passed"] is True
        names = {c["name"] for c in verification["checks"]}
        assert {"id_number", "age_band", "sanctions"} <= names
        assert all(c["passed"] for c in verification["checks"])
        assert case["routed_because"], "the reason the case needs a person"


async def test_claim_release_and_decide_honour_the_holder_then_approve_moves_on(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, sue, sid = await login("alice"), await login("sue"), await login("sid")
    eid, task_id = await open_task(api, login, sessions)

    r = await api.post(f"/v1/tasks/{task_id}/claim", headers=sue)
    assert r.status_code == 200, r.text
    again = await api.post(f"/v1/tasks/{task_id}/claim", headers=sue)
    assert again.status_code == 200 and again.json()["assignee"] == "sue"

    assert code(await api.post(f"/v1/tasks/{task_id}/claim", headers=sid)) == (
        409,
        "claimed_by_other",
    )
    assert code(await decide(api, sid, task_id)) == (409, "claimed_by_other")
    assert code(await api.post(f"/v1/tasks/{task_id}/release", headers=sid)) == (
        409,
        "claimed_by_other",
    )
    # None of that changed anything.
    held = await wait_for_task(api, sue, task_id, "claimed")
    assert held["assignee"] == "sue"
    assert (await api.get(f"/v1/enrollments/{eid}", headers=alice)).json()[
        "stage"
    ] == "underwriting"

    r = await api.post(f"/v1/tasks/{task_id}/release", headers=sue)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["assignee"]) == ("open", None)

    r = await api.post(f"/v1/tasks/{task_id}/claim", headers=sid)
    assert r.status_code == 200 and r.json()["assignee"] == "sid", r.text
    r = await decide(api, sid, task_id)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["task_id"] == task_id and result["decision"] == "approve"
    assert result["stage"] != "underwriting"

    done = await wait_for_task(api, sid, task_id, "done")
    assert (done["decision"], done["decided_by"]) == ("approve", "sid")
    for who in (sid, sue):
        assert code(await decide(api, who, task_id)) == (409, "task_not_open")
        assert code(await decide(api, who, task_id, "reject")) == (409, "task_not_open")

    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective", body
    assert body["underwriting"]["decision"] == "approve"
    assert body["underwriting"]["decided_by"] == "sid"


async def test_agents_ops_and_customer_service_may_not_claim_or_release_underwriting(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, task_id = await open_task(api, login, sessions)
    for who in ("alice", "olga", "cora"):  # customer service holds only its own kinds
        headers = await login(who)
        for action in ("claim", "release"):
            r = await api.post(f"/v1/tasks/{task_id}/{action}", headers=headers)
            assert code(r) == (403, "not_a_supervisor"), (who, action, r.text)
    task = await wait_for_task(api, await login("sue"), task_id, "open")
    assert task["assignee"] is None


async def test_unknown_task_is_a_404_problem(api: httpx.AsyncClient, login: Login) -> None:
    sue = await login("sue")
    missing = "uw-NO-SUCH-TASK"
    assert code(await api.get(f"/v1/tasks/{missing}", headers=sue))[0] == 404
    assert code(await api.post(f"/v1/tasks/{missing}/claim", headers=sue))[0] == 404
    assert code(await api.post(f"/v1/tasks/{missing}/release", headers=sue))[0] == 404
    assert code(await decide(api, sue, missing))[0] == 404
    body = (await api.get(f"/v1/tasks/{missing}", headers=sue)).json()
    assert body["status"] == 404 and body["title"] and body["code"]


async def test_decision_with_an_unknown_field_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, sue = await login("alice"), await login("sue")
    eid, task_id = await open_task(api, login, sessions)
    r = await api.post(
        f"/v1/tasks/{task_id}/decision",
        json={"decision": "approve", "reason": "ok", "override": True},
        headers=sue,
    )
    assert code(r) == (422, "validation_error"), r.text
    assert "override" in r.text
    for bad in ({"decision": "maybe", "reason": "ok"}, {"decision": "approve"}):
        r = await api.post(f"/v1/tasks/{task_id}/decision", json=bad, headers=sue)
        assert code(r) == (422, "validation_error"), (bad, r.text)
    task = await wait_for_task(api, sue, task_id, "open")
    assert task["decision"] is None
    body = (await api.get(f"/v1/enrollments/{eid}", headers=alice)).json()
    assert (body["stage"], body["status"]) == ("underwriting", "in_progress")


async def test_reject_by_a_supervisor_ends_the_enrollment_rejected(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, sue = await login("alice"), await login("sue")
    eid, task_id = await open_task(api, login, sessions)
    assert (await api.post(f"/v1/tasks/{task_id}/claim", headers=sue)).status_code == 200
    r = await decide(api, sue, task_id, "reject")
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "reject"
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "rejected", body
    assert body["underwriting"]["decision"] == "reject"
    assert body["underwriting"]["decided_by"] == "sue"
    assert body.get("policy_number") is None
    done = await wait_for_task(api, sue, task_id, "done")
    assert (done["decision"], done["decided_by"]) == ("reject", "sue")


async def test_a_decision_racing_one_that_ends_the_process_is_409_process_closed(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Supervisors decide the same open task at once; the reject that wins ends the
    process. Every other decision is refused with a 409 problem (never 500): the ones the
    closing process aborted are ``process_closed``, any it still saw ``task_not_open``."""
    alice, sue, sid = await login("alice"), await login("sue"), await login("sid")
    eid, task_id = await open_task(api, login, sessions)
    deciders = [sue, sid] * 3
    answers = await asyncio.gather(*(decide(api, h, task_id, "reject") for h in deciders))
    won = [i for i, r in enumerate(answers) if r.status_code == 200]
    assert len(won) == 1, [r.text for r in answers]
    for r in answers:
        if r.status_code != 200:
            assert code(r) in ((409, "process_closed"), (409, "task_not_open")), r.text
    winner = "sue" if deciders[won[0]] is sue else "sid"
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "rejected"
    assert body["underwriting"]["decided_by"] == winner
    done = await wait_for_task(api, sue, task_id, "done")
    assert done["decided_by"] == winner


async def test_an_update_sent_to_a_closed_process_is_409_process_closed(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, sue = await login("alice"), await login("sue")
    eid, task_id = await open_task(api, login, sessions)
    assert (await decide(api, sue, task_id, "reject")).status_code == 200
    before = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert before["status"] == "rejected"
    for path, body in (
        ("withdraw", {"reason": "changed mind"}),
        ("quote", {"product_code": "TERM_LIFE_20", "sum_insured": "100000.00"}),
    ):
        r = await api.post(f"/v1/enrollments/{eid}/{path}", json=body, headers=alice)
        assert code(r) == (409, "process_closed"), r.text
    r = await api.get(f"/v1/enrollments/{eid}", headers=alice)
    assert r.json() == before
