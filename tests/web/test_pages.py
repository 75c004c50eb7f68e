"""The console over plain HTTP (no browser): sessions, redirects, CSRF, roles, refusals in
words, security headers, and no personal data beyond what the role needs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.middleware import STRICT_CSP
from db.models import AuditEvent
from domain.masking import mask_id_number
from services.tasks import inbox_rows
from tests.integration.conftest import Login
from tests.integration.test_claims_api import (
    ACCOUNT,
    _task_for,
    claim_until,
    effective_policy,
    report,
)
from tests.integration.test_enrollment_api import new_id_number
from tests.web.conftest import ENGLISH
from tests.web.console import csrf_of, open_underwriting_task, sign_in, task_status

pytestmark = pytest.mark.devserver


def set_cookie(response: httpx.Response, name: str) -> str:
    """The Set-Cookie header for `name` (lower-cased), or ''."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header.lower()
    return ""


async def audit_actions(sessions: async_sessionmaker[AsyncSession], actor: str) -> list[str]:
    async with sessions() as s:
        rows = await s.scalars(select(AuditEvent).where(AuditEvent.actor == actor))
        return [row.action for row in rows]


@pytest.mark.parametrize(
    "path",
    ["/ui/inbox?kind=underwriting&show=mine", "/ui/tasks/uw-X", "/ui/ops/processes", "/ui/agent"],
)
async def test_a_page_without_a_session_redirects_to_sign_in_and_back(
    web: httpx.AsyncClient, path: str
) -> None:
    r = await web.get(path)
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert location.path == "/ui/signin"
    assert parse_qs(location.query)["next"] == [path]


async def test_a_forged_session_cookie_redirects_to_sign_in_and_is_dropped(
    web: httpx.AsyncClient,
) -> None:
    web.cookies.set("insureflow_session", "not-a-token")
    r = await web.get("/ui/inbox")
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/signin")
    assert "max-age=0" in set_cookie(r, "insureflow_session")


async def test_sign_in_sets_a_strict_http_only_session_and_lands_on_the_inbox(
    web: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    r = await sign_in(web, "sue")
    assert r.status_code == 303 and r.headers["location"] == "/ui/inbox"
    cookie = set_cookie(r, "insureflow_session")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/;" in cookie
    assert "secure" not in cookie  # plain http here; https gets Secure
    # The session is the API's own token.
    token = web.cookies["insureflow_session"]
    me = await web.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "sue"
    inbox = await web.get("/ui/inbox")
    assert inbox.status_code == 200
    assert "<title>Inbox · InsureFlow</title>" in inbox.text
    assert 'href="/ui/inbox" aria-current="page"' in inbox.text
    assert "auth.login" in await audit_actions(sessions, "sue")


@pytest.mark.parametrize(
    ("next_path", "lands_on"),
    [
        ("/ui/ops/processes?status=running", "/ui/ops/processes?status=running"),
        ("//evil.example/ui/inbox", "/ui/inbox"),
        ("https://evil.example/ui/inbox", "/ui/inbox"),
        ("/v1/tasks", "/ui/inbox"),
        ("/ui/../v1/tasks", "/ui/inbox"),
    ],
)
async def test_sign_in_returns_only_to_a_page_of_the_console(
    web: httpx.AsyncClient, next_path: str, lands_on: str
) -> None:
    r = await sign_in(web, "olga", next=next_path)
    assert r.status_code == 303 and r.headers["location"] == lands_on


def row_of(html: str, task_id: str) -> str:
    """The inbox row of `task_id` ('' if it is not on the page)."""
    match = re.search(rf'<tr data-task-id="{re.escape(task_id)}">(.*?)</tr>', html, re.S)
    return match.group(1) if match else ""


async def test_the_inbox_shows_the_sla_at_a_glance_and_filters_kind_holder_and_overdue(
    web: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    sla_examples: dict[str, str],
) -> None:
    _, fresh = await open_underwriting_task(api, login, sessions)
    await sign_in(web, "sue")
    inbox = (await web.get("/ui/inbox")).text
    assert "overdue by 1 d" in row_of(inbox, sla_examples["overdue"])
    assert "sla-overdue" in row_of(inbox, sla_examples["overdue"])
    assert "escalated · overdue by 3 h" in row_of(inbox, sla_examples["escalated"])
    assert "due in 2 h" in row_of(inbox, sla_examples["soon"])
    assert "sla-soon" in row_of(inbox, sla_examples["soon"])
    order = [inbox.index(f'data-task-id="{sla_examples[k]}"') for k in ("overdue", "escalated")]
    assert order == sorted(order), "not soonest due first"

    overdue = (await web.get("/ui/inbox?overdue=1")).text
    assert row_of(overdue, sla_examples["overdue"]) and row_of(overdue, sla_examples["escalated"])
    assert not row_of(overdue, sla_examples["soon"]) and not row_of(overdue, fresh)

    claims = (await web.get("/ui/inbox?kind=claim_approval")).text
    assert row_of(claims, sla_examples["escalated"]) and not row_of(claims, fresh)

    page = await web.get(f"/ui/tasks/{fresh}")
    await web.post(f"/ui/tasks/{fresh}/claim", data={"csrf": csrf_of(page.text)})
    mine = (await web.get("/ui/inbox?show=mine")).text
    assert "sue" in row_of(mine, fresh) and not row_of(mine, sla_examples["soon"])
    unassigned = (await web.get("/ui/inbox?show=unassigned")).text
    assert not row_of(unassigned, fresh) and row_of(unassigned, sla_examples["soon"])
    everything = (await web.get("/ui/inbox")).text
    assert row_of(everything, fresh) and row_of(everything, sla_examples["soon"])


@pytest.mark.parametrize("overdue", [False, True], ids=["all", "overdue"])
async def test_inbox_pages_follow_one_another_without_gaps_or_repeats(
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    sla_examples: dict[str, str],
    overdue: bool,
) -> None:
    _, held = await open_underwriting_task(api, login, sessions)
    r = await api.post(f"/v1/tasks/{held}/claim", headers=await login("sid"))
    assert r.status_code == 200, r.text
    now = datetime.now(UTC)
    async with sessions() as s:
        listing = dict(show="all", kind=None, username="sue", overdue=overdue, now=now)
        whole, last = await inbox_rows(s, **listing, cursor=None, limit=200)  # type: ignore[arg-type]
        assert last is None
        walked, cursor, pages = [], None, 0
        while True:
            page, cursor = await inbox_rows(s, **listing, cursor=cursor, limit=1)  # type: ignore[arg-type]
            walked += page
            pages += 1
            if cursor is None:
                break
    ids = [t.task_id for t in whole]
    assert [t.task_id for t in walked] == ids and pages == max(1, len(ids))
    assert {t.status for t in whole} <= {"open", "claimed"}
    assert (held in ids) != overdue and sla_examples["overdue"] in ids


async def test_a_wrong_password_is_refused_in_words_sets_no_session_and_is_audited(
    web: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    r = await sign_in(web, "sid", password="not-it")
    assert r.status_code == 401
    assert "The username or password is incorrect." in r.text and 'role="alert"' in r.text
    assert "insureflow_session" not in web.cookies
    assert "auth.login_failed" in await audit_actions(sessions, "sid")


async def test_forms_without_their_token_are_refused_and_change_nothing(
    web: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    page = await web.get("/ui/signin")
    no_token = await web.post("/ui/signin", data={"username": "sue", "password": "sue-dev"})
    assert no_token.status_code == 403 and "insureflow_session" not in web.cookies
    forged = await web.post(
        "/ui/signin", data={"username": "sue", "password": "sue-dev", "csrf": "f" * 64}
    )
    assert forged.status_code == 403 and "Form expired" in forged.text
    # A token is only good with the cookie it was made for.
    token = csrf_of(page.text)
    web.cookies.set("insureflow_csrf", "another-cookie-value-0123456789", path="/ui")
    swapped = await web.post(
        "/ui/signin", data={"username": "sue", "password": "sue-dev", "csrf": token}
    )
    assert swapped.status_code == 403

    web.cookies.clear()
    assert (await sign_in(web, "sue")).status_code == 303
    _, task_id = await open_underwriting_task(api, login, sessions)
    r = await web.post(
        f"/ui/tasks/{task_id}/decision",
        data={"decision": "approve", "reason": "fine", "csrf": "0" * 64},
    )
    assert r.status_code == 403
    assert await task_status(sessions, task_id) == "open"


async def test_an_agent_signing_in_has_no_inbox_and_decides_nothing(
    web: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, task_id = await open_underwriting_task(api, login, sessions)
    r = await sign_in(web, "alice", next="/ui/inbox")
    assert r.status_code == 303 and r.headers["location"] == "/ui/agent"
    landing = await web.get("/ui/agent")
    assert landing.status_code == 200 and "No inbox for agents" in landing.text
    assert 'href="/ui/inbox"' not in landing.text and "Approve" not in landing.text
    for path in ("/ui/inbox", f"/ui/tasks/{task_id}", "/ui/ops/processes"):
        page = await web.get(path)
        assert page.status_code == 403, path
        assert "Approve" not in page.text
    refused = await web.post(
        f"/ui/tasks/{task_id}/decision",
        data={"decision": "approve", "reason": "mine", "csrf": csrf_of(landing.text)},
    )
    assert refused.status_code == 403
    assert "Only a supervisor can take or decide tasks" in refused.text
    assert await task_status(sessions, task_id) == "open"


async def test_sign_out_ends_the_session(web: httpx.AsyncClient) -> None:
    await sign_in(web, "sid")
    inbox = await web.get("/ui/inbox")
    r = await web.post("/ui/signout", data={"csrf": csrf_of(inbox.text)})
    assert r.status_code == 303 and r.headers["location"] == "/ui/signin"
    assert "max-age=0" in set_cookie(r, "insureflow_session")
    assert "insureflow_session" not in web.cookies
    assert (await web.get("/ui/inbox")).status_code == 303


async def test_refusals_are_shown_in_words_and_change_nothing(
    web: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    console_url: str,
) -> None:
    _, task_id = await open_underwriting_task(api, login, sessions)  # 1,000,000.00
    await sign_in(web, "sam")  # approval limit 500,000.00
    page = await web.get(f"/ui/tasks/{task_id}")
    r = await web.post(
        f"/ui/tasks/{task_id}/decision",
        data={"decision": "approve", "reason": "looks fine", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 403
    assert re.search(r'role="alert">The amount ¥1,000,000.00 is above your approval limit', r.text)
    empty = await web.post(
        f"/ui/tasks/{task_id}/decision",
        data={"decision": "approve", "reason": "  ", "csrf": csrf_of(page.text)},
    )
    assert empty.status_code == 422 and "Give a reason for the decision." in empty.text

    async with httpx.AsyncClient(base_url=console_url, headers=ENGLISH) as other:
        await sign_in(other, "sue")
        held = await other.get(f"/ui/tasks/{task_id}")
        claimed = await other.post(f"/ui/tasks/{task_id}/claim", data={"csrf": csrf_of(held.text)})
        assert claimed.status_code == 303
    sid = httpx.AsyncClient(base_url=console_url, headers=ENGLISH)
    async with sid:
        await sign_in(sid, "sid")
        page = await sid.get(f"/ui/tasks/{task_id}")
        assert "Claimed by sue." in page.text
        r = await sid.post(
            f"/ui/tasks/{task_id}/decision",
            data={"decision": "reject", "reason": "no", "csrf": csrf_of(page.text)},
        )
        assert r.status_code == 409
        assert "This task is claimed by sue: only they can act on it" in r.text
    assert await task_status(sessions, task_id) == "claimed"
    async with sessions() as s:
        rows = await s.scalars(select(AuditEvent).where(AuditEvent.case_id == task_id))
        audited = {(row.actor, row.action, row.detail.get("code")) for row in rows}
    assert ("sam", "tasks.decide", "approval_limit_exceeded") in audited
    assert ("sue", "tasks.claim_task", None) in audited
    assert ("sid", "tasks.decide", "claimed_by_other") in audited


async def test_pages_carry_the_strict_csp_no_store_and_no_inline_code(
    web: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    eid, task_id = await open_underwriting_task(api, login, sessions)
    pages = ["/ui/signin"]
    await sign_in(web, "olga")
    pages += [
        "/ui/inbox",
        f"/ui/tasks/{task_id}",
        "/ui/ops/processes",
        f"/ui/ops/processes/enrollment-{eid}",
    ]
    for path in pages:
        r = await web.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-security-policy"] == STRICT_CSP, path
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
        assert re.search(r"<title>[^<]+ · InsureFlow</title>", r.text), path
        assert '<nav class="nav" aria-label="Main">' in r.text, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), f"inline script on {path}"
        assert " style=" not in r.text and "<style" not in r.text, f"inline style on {path}"
    css = await web.get("/ui/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "Noto Sans CJK SC" in css.text


async def test_no_page_shows_a_raw_id_number_and_ops_see_no_personal_data(
    web: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    console_url: str,
) -> None:
    id_number = new_id_number()
    eid, task_id = await open_underwriting_task(api, login, sessions, id_number=id_number)
    phone = "13800138000"  # tests.integration.conftest.customer's

    await sign_in(web, "sue")
    inbox = await web.get("/ui/inbox")
    task = await web.get(f"/ui/tasks/{task_id}")
    assert mask_id_number(id_number) in task.text  # what the decision needs, masked
    assert "张*" in task.text and "138****8000" in task.text
    for page in (inbox, task):
        assert id_number not in page.text and phone not in page.text
        assert "张三" not in page.text

    async with httpx.AsyncClient(base_url=console_url, headers=ENGLISH) as ops:
        await sign_in(ops, "olga")
        for path in (
            f"/ui/tasks/{task_id}",
            f"/ui/ops/processes/enrollment-{eid}",
            "/ui/ops/processes?process=enrollment",
        ):
            page = await ops.get(path)
            assert page.status_code == 200, path
            assert id_number not in page.text and phone not in page.text, path
            assert mask_id_number(id_number) not in page.text, path
            assert "138****8000" not in page.text and "张" not in page.text, path


async def test_a_claim_task_shows_documents_assessment_and_approves_a_lower_amount(
    web: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    policy = await effective_policy(
        api, login, "alice", product="MEDICAL_1Y", sum_insured="100000.00", sessions=sessions
    )
    r = await report(api, await login("alice"), policy, amount_claimed="12000.00")
    assert r.status_code == 202, r.text
    claim_id = r.json()["claim_id"]
    task_id = await _task_for(sessions, claim_id, kind="claim_approval")

    await sign_in(web, "sue")
    page = await web.get(f"/ui/tasks/{task_id}")
    assert page.status_code == 200, page.text
    for shown in (
        "Documents",
        "discharge summary",
        "Assessment",
        "Assessed payable",
        "deductible",
        "Prior approvals",
        "Request info",
        ACCOUNT[-4:],
    ):
        assert shown in page.text, shown
    assert ACCOUNT not in page.text

    too_much = await web.post(
        f"/ui/tasks/{task_id}/decision",
        data={
            "decision": "approve",
            "reason": "ok",
            "amount": "99999.00",
            "csrf": csrf_of(page.text),
        },
    )
    assert too_much.status_code == 422
    assert "The approved amount must be above zero and within the assessment" in too_much.text
    no_documents = await web.post(
        f"/ui/tasks/{task_id}/decision",
        data={"decision": "request_info", "reason": "need more", "csrf": csrf_of(page.text)},
    )
    assert no_documents.status_code == 422
    assert "tick the documents that are still missing" in no_documents.text

    approved = await web.post(
        f"/ui/tasks/{task_id}/decision",
        data={
            "decision": "approve",
            "reason": "invoice covers 8000 only",
            "amount": "8000.00",
            "csrf": csrf_of(page.text),
        },
    )
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/ui/tasks/{task_id}?done=approve"
    body = await claim_until(api, await login("alice"), claim_id, lambda b: b["status"] == "paid")
    assert body["amount_approved"] == "8000.00"
    assert body["approvals"][0]["by"] == "sue"


async def test_an_unknown_case_is_a_page_saying_so(web: httpx.AsyncClient) -> None:
    await sign_in(web, "olga")
    for path in ("/ui/tasks/uw-NOSUCHTASK", "/ui/ops/processes/enrollment-NOSUCHCASE"):
        r = await web.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert "There is no such case." in r.text and '<nav class="nav"' in r.text
