"""The console's language: Chinese unless the browser prefers English, the switch on every
page remembered in a cookie (which beats Accept-Language), refusals and formats in the
chosen language."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.conftest import Login
from tests.web.console import csrf_of, open_underwriting_task, sign_in

pytestmark = pytest.mark.devserver


@pytest.fixture
async def browserless(console_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A console client that sends no Accept-Language at all."""
    async with httpx.AsyncClient(base_url=console_url, timeout=30) as client:
        yield client


async def test_the_console_speaks_chinese_by_default(browserless: httpx.AsyncClient) -> None:
    page = await browserless.get("/ui/signin")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "<title>登录 · InsureFlow</title>" in page.text
    assert '<button type="submit" class="primary">登录</button>' in page.text
    assert "时间为北京时间（UTC+8）" in page.text
    assert "Sign in" not in page.text.replace('lang="en">English', "")


@pytest.mark.parametrize(
    ("header", "lang", "button"),
    [
        ("en-US,en;q=0.9", "en", "Sign in"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN", "登录"),
        ("fr-FR,en;q=0.5", "en", "Sign in"),
        ("fr-FR", "zh-CN", "登录"),
    ],
)
async def test_accept_language_chooses_when_the_user_has_not(
    browserless: httpx.AsyncClient, header: str, lang: str, button: str
) -> None:
    page = await browserless.get("/ui/signin", headers={"Accept-Language": header})
    assert f'<html lang="{lang}">' in page.text
    assert f'class="primary">{button}</button>' in page.text


async def test_the_switch_is_remembered_in_a_cookie_that_beats_accept_language(
    browserless: httpx.AsyncClient,
) -> None:
    english = {"Accept-Language": "en"}
    page = await browserless.get("/ui/signin?next=/ui/inbox", headers=english)
    assert 'name="locale" value="zh_CN"' in page.text
    switched = await browserless.post(
        "/ui/language",
        data={"locale": "zh_CN", "next": "/ui/signin?next=/ui/inbox", "csrf": csrf_of(page.text)},
        headers=english,
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/ui/signin?next=/ui/inbox"
    cookie = next(
        h for h in switched.headers.get_list("set-cookie") if h.startswith("insureflow_lang=")
    ).lower()
    assert "insureflow_lang=zh_cn" in cookie and "max-age=31536000" in cookie
    again = await browserless.get("/ui/signin", headers=english)
    assert '<html lang="zh-CN">' in again.text and 'class="primary">登录<' in again.text


async def test_the_switch_refuses_a_form_from_elsewhere_and_an_unknown_language(
    browserless: httpx.AsyncClient,
) -> None:
    forged = await browserless.post("/ui/language", data={"locale": "en", "csrf": "x"})
    assert forged.status_code == 403
    assert "insureflow_lang" not in forged.headers.get("set-cookie", "")
    page = await browserless.get("/ui/signin")
    odd = await browserless.post(
        "/ui/language",
        data={"locale": "fr", "next": "https://evil.example/", "csrf": csrf_of(page.text)},
    )
    assert odd.status_code == 303 and odd.headers["location"] == "/ui/"
    assert "insureflow_lang" not in odd.headers.get("set-cookie", "")


async def test_the_inbox_and_a_refusal_are_said_in_chinese_with_chinese_dates(
    browserless: httpx.AsyncClient,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, task_id = await open_underwriting_task(api, login, sessions, agent="alice")
    await sign_in(browserless, "sue")
    inbox = await browserless.get("/ui/inbox")
    assert "<h1>待办任务</h1>" in inbox.text
    assert ">核保<" in inbox.text  # the task kind, in words
    assert "年" in inbox.text and "月" in inbox.text  # the due dates, as Chinese writes them
    page = await browserless.get(f"/ui/tasks/{task_id}")
    assert "批准" in page.text and "驳回" in page.text
    # sue claims it; sam cannot decide a task sue holds, and is told so in Chinese
    claim = await browserless.post(f"/ui/tasks/{task_id}/claim", data={"csrf": csrf_of(page.text)})
    assert claim.status_code == 303
    async with httpx.AsyncClient(base_url=str(browserless.base_url), timeout=30) as sam:
        await sign_in(sam, "sam")
        task = await sam.get(f"/ui/tasks/{task_id}")
        refused = await sam.post(
            f"/ui/tasks/{task_id}/decision",
            data={"decision": "approve", "reason": "好", "csrf": csrf_of(task.text)},
        )
        assert refused.status_code == 409
        assert "此任务已由 sue 领取" in refused.text
        assert "未做任何更改。" in refused.text
