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


async def test_the_remediation_form_is_customer_services_and_the_agent_is_refused(
    web: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    number, _ = await new_policy(api, login, sessions)
    r = await api.post(
        f"/v1/policies/{number}/return-visit",
        json={"decision": "misselling", "reason": "told it was a savings plan"},
        headers=await login("cora"),
    )
    assert r.status_code == 200, r.text
    task_id = r.json()["return_visit"]["remediation_task_id"]

    # The selling agent sees that it is open, not the form; sending it anyway is refused.
    await sign_in(web, "alice")
    page = await web.get(f"/ui/policies/{number}")
    assert 'data-testid="remediation-form"' not in page.text
    assert "Customer service or a supervisor records the remediation" in page.text
    refused = await web.post(
        f"/ui/policies/{number}/remediation",
        data={"reason": "explained again", "csrf": csrf_of(page.text)},
    )
    assert refused.status_code == 409
    assert "You sold this policy: its remediation" in refused.text
    assert "Nothing was changed." in refused.text

    await sign_in(web, "cora")
    page = await web.get(f"/ui/policies/{number}")
    assert 'data-testid="remediation-form"' in page.text
    empty = await web.post(
        f"/ui/policies/{number}/remediation", data={"reason": " ", "csrf": csrf_of(page.text)}
    )
    assert empty.status_code == 422 and "Say what was done to put it right." in empty.text
    done = await web.post(
        f"/ui/policies/{number}/remediation",
        data={"reason": "called back, explained the cover", "csrf": csrf_of(page.text)},
    )
    assert (done.status_code, done.headers["location"]) == (
        303,
        f"/ui/policies/{number}?done=remediated",
    )
    page = await web.get(done.headers["location"])
    assert "Remediation recorded: the remediation task is done." in page.text
    assert "Mis-selling remediated by cora: called back, explained the cover" in page.text
    assert "Remediated by cora." in page.text
    assert 'data-testid="remediation-form"' not in page.text
    row = await task_row(sessions, task_id)
    assert row is not None and row.status == "done"

    zh = await web.get(f"/ui/policies/{number}", headers={"Accept-Language": "zh-CN"})
    assert "已由 cora 整改。" in zh.text
    assert "销售误导已由 cora 整改：called back, explained the cover" in zh.text
