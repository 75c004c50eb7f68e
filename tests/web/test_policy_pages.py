"""The policy page and the return visit's checklist form, on the dev server: customer
service finds the visit in its inbox and records it; the selling agent is refused."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.policies import CHECKLIST_ITEMS
from tests.integration.conftest import Login
from tests.integration.test_policies_api import new_policy, task_row
from tests.web.console import csrf_of, sign_in

pytestmark = pytest.mark.devserver


async def test_cora_records_the_return_visit_from_her_inbox_and_the_agent_may_not(
    web: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    number, body = await new_policy(api, login, sessions)
    task_id = body["return_visit"]["task_id"]

    # The selling agent sees the policy, not the form; sending it anyway is refused.
    await sign_in(web, "alice")
    page = await web.get(f"/ui/policies/{number}")
    assert page.status_code == 200, page.text
    assert "Cooling-off period ends" in page.text and "Policy issued" in page.text
    assert 'name="confirmed"' not in page.text
    assert "Customer service records the return visit" in page.text
    refused = await web.post(
        f"/ui/policies/{number}/return-visit",
        data={
            "decision": "completed",
            "confirmed": list(CHECKLIST_ITEMS),
            "csrf": csrf_of(page.text),
        },
    )
    assert refused.status_code == 409
    assert "You sold this policy" in refused.text and "Nothing was changed." in refused.text

    await sign_in(web, "cora")
    inbox = await web.get("/ui/inbox?kind=return_visit")
    assert inbox.status_code == 200, inbox.text
    assert f'data-task-id="{task_id}"' in inbox.text
    everything = await web.get("/ui/inbox")
    assert 'data-task-id="uw-' not in everything.text  # customer service's kinds only
    opened = await web.get(f"/ui/tasks/{task_id}")
    assert (opened.status_code, opened.headers["location"]) == (303, f"/ui/policies/{number}")
    page = await web.get(f"/ui/policies/{number}")
    assert "The policyholder was reached in person" in page.text
    assert page.text.count('name="confirmed"') == 7
    # One item short of a completed visit: refused in words.
    short = await web.post(
        f"/ui/policies/{number}/return-visit",
        data={
            "decision": "completed",
            "confirmed": list(CHECKLIST_ITEMS[:-1]),
            "csrf": csrf_of(page.text),
        },
    )
    assert short.status_code == 422
    assert "a completed return visit confirms every checklist item" in short.text
    done = await web.post(
        f"/ui/policies/{number}/return-visit",
        data={
            "decision": "completed",
            "confirmed": list(CHECKLIST_ITEMS),
            "dual_recording_checked": "1",
            "reason": "all clear",
            "csrf": csrf_of(page.text),
        },
    )
    assert (done.status_code, done.headers["location"]) == (
        303,
        f"/ui/policies/{number}?done=completed",
    )
    page = await web.get(done.headers["location"])
    assert "Return visit recorded as completed." in page.text
    assert "Return visit completed by cora: 7 of 7 confirmed" in page.text
    assert 'name="confirmed"' not in page.text
    row = await task_row(sessions, task_id)
    assert row is not None and row.status == "done"

    zh = await web.get(f"/ui/policies/{number}", headers={"Accept-Language": "zh-CN"})
    assert "回访" in zh.text and "客户已签收回执" not in zh.text
    assert "回访已由 cora 完成：7 项中 7 项已确认" in zh.text
