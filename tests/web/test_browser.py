"""The console in a real browser (Debian's Chromium, driven by playwright), on a laptop
(1280 x 800) and a phone (390 x 844): a supervisor approves a task and the process moves on,
sam meets the four-eyes rule on his own case, ops read a process's timeline and cancel
one. Screenshots go to tests/screenshots/ (not committed)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.conftest import Login
from tests.integration.test_enrollment_api import wait_for
from tests.web.conftest import LAPTOP, PHONE
from tests.web.console import WITHIN_SAMS_LIMIT, open_underwriting_task, task_status

pytestmark = pytest.mark.devserver

FOUR_EYES = "You submitted this case: a second person must decide it (four-eyes rule)."
NewPage = Callable[[dict[str, int]], Awaitable[Any]]


@pytest.fixture
async def new_page(browser: Any, console_url: str) -> AsyncIterator[NewPage]:
    """Pages in fresh browser contexts (no shared cookies), at a given viewport."""
    contexts: list[Any] = []

    async def make(viewport: dict[str, int]) -> Any:
        context = await browser.new_context(
            viewport=viewport, base_url=console_url, locale="en-US", timezone_id="Asia/Shanghai"
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()


async def sign_in(page: Any, username: str, path: str, *, shot: str | None = None) -> None:
    """Open `path`, get sent to sign-in, sign in, and land back on `path`."""
    await page.goto(path)
    assert "/ui/signin?next=" in page.url
    assert await page.title() == "Sign in · InsureFlow"
    if shot:
        await page.screenshot(path=shot, full_page=True)
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(f"{username}-dev")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/ui/signin" not in url and url.endswith(path))


async def reload_until(page: Any, selector: str, done: Callable[[str], bool]) -> str:
    """Reload the page until the text of `selector` satisfies `done` (30 s at most)."""
    deadline = time.monotonic() + 30
    while True:
        text = (await page.locator(selector).inner_text()).strip()
        if done(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} still says {text!r}")
        await page.wait_for_timeout(300)
        await page.reload()


def shot(screenshots: Path, name: str, viewport: dict[str, int]) -> str:
    return str(screenshots / f"{name}-{viewport['width']}.png")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
async def test_a_supervisor_finds_a_task_approves_it_and_the_process_moves_on(
    new_page: NewPage,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    screenshots: Path,
    sla_examples: dict[str, str],
    viewport: dict[str, int],
) -> None:
    eid, task_id = await open_underwriting_task(api, login, sessions)
    page = await new_page(viewport)
    await sign_in(page, "sue", "/ui/inbox")
    assert await page.title() == "Inbox · InsureFlow"

    # Find it: soonest due first, so a new task may be a few pages on.
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    while not await row.count():
        await page.get_by_role("link", name="Next page →").click()
    await row.scroll_into_view_if_needed()
    await page.screenshot(path=shot(screenshots, "inbox", viewport), full_page=True)
    assert "due in" in await row.locator(".badge").inner_text()
    escalated = page.locator(f'tr[data-task-id="{sla_examples["escalated"]}"] .badge')
    if await escalated.count():  # on the first page
        assert (await escalated.inner_text()).startswith("escalated")

    await row.get_by_role("link").click()
    await page.wait_for_url(f"**/ui/tasks/{task_id}")
    assert await page.get_by_test_id("case-stage").inner_text() == "underwriting"
    assert await page.get_by_text("张*", exact=True).is_visible()
    await page.screenshot(path=shot(screenshots, "task", viewport), full_page=True)

    await page.get_by_label("Reason").fill("income verified against tax records")
    await page.get_by_role("button", name="Approve").click()
    await page.wait_for_url(f"**/ui/tasks/{task_id}?done=approve")
    assert await page.get_by_role("status").inner_text() == (
        "You approved this task. The process moves on."
    )
    assert await page.get_by_test_id("task-status").inner_text() == "done"
    await reload_until(page, '[data-testid="case-stage"]', lambda s: s == "effective")
    body = await wait_for(api, await login("alice"), eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective" and body["underwriting"]["decided_by"] == "sue"


async def test_sam_sees_the_four_eyes_refusal_for_his_own_case(
    new_page: NewPage,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    screenshots: Path,
) -> None:
    _, task_id = await open_underwriting_task(
        api, login, sessions, agent="sam", sum_insured=WITHIN_SAMS_LIMIT
    )
    page = await new_page(PHONE)
    await sign_in(page, "sam", f"/ui/tasks/{task_id}", shot=shot(screenshots, "signin", PHONE))
    await page.get_by_label("Reason").fill("my customer, all good")
    await page.get_by_role("button", name="Approve").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert FOUR_EYES in await alert.inner_text()
    assert await alert.is_visible()
    assert await page.get_by_test_id("task-status").inner_text() == "open"
    await page.screenshot(path=shot(screenshots, "four-eyes", PHONE), full_page=True)
    assert await task_status(sessions, task_id) == "open"


async def test_ops_open_a_process_timeline_and_cancel_a_process(
    new_page: NewPage,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    screenshots: Path,
) -> None:
    decided, task_id = await open_underwriting_task(api, login, sessions)
    r = await api.post(
        f"/v1/tasks/{task_id}/decision",
        json={"decision": "approve", "reason": "income verified"},
        headers=await login("sue"),
    )
    assert r.status_code == 200, r.text
    await wait_for(api, await login("alice"), decided, lambda b: b["status"] == "effective")
    waiting, _ = await open_underwriting_task(api, login, sessions)

    page = await new_page(LAPTOP)
    await sign_in(page, "olga", "/ui/ops/processes")
    await page.get_by_label("Process", exact=True).select_option("enrollment")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url(re.compile(r"/ui/ops/processes\?process=enrollment&"))
    link = page.get_by_role("link", name=f"enrollment-{decided}")
    await link.click()
    await page.wait_for_url(f"**/ui/ops/processes/enrollment-{decided}")
    assert await page.title() == f"Process enrollment-{decided} · InsureFlow"
    timeline = page.locator("ol.timeline")
    await timeline.get_by_text("Enrollment started by alice").wait_for()
    approved = timeline.locator("li.step-person", has_text="Approved by sue: income verified")
    assert await approved.locator(".who").inner_text() == "sue"
    assert await page.get_by_test_id("process-stage").inner_text() == "effective"
    await page.screenshot(path=shot(screenshots, "timeline", LAPTOP), full_page=True)

    phone = await new_page(PHONE)
    await sign_in(phone, "olga", f"/ui/ops/processes/enrollment-{decided}")
    await phone.locator("ol.timeline").get_by_text("Approved by sue").wait_for()
    await phone.screenshot(path=shot(screenshots, "timeline", PHONE), full_page=True)

    # The one still waiting in underwriting: the wait so far and the deadlines ahead.
    await page.goto(f"/ui/ops/processes/enrollment-{waiting}")
    assert await page.get_by_test_id("process-stage").inner_text() == "underwriting"
    assert await page.locator("li.step-now").is_visible()
    await page.locator("li.step-ahead", has_text="Task due").wait_for()
    await page.screenshot(path=shot(screenshots, "timeline-waiting", LAPTOP), full_page=True)
    # Cancel it, with a reason.
    await page.get_by_label("Reason").fill("customer asked us to stop")
    await page.get_by_role("button", name="Cancel process").click()
    await page.wait_for_url("**?done=cancel")
    assert "Cancellation requested" in await page.get_by_role("status").inner_text()
    await reload_until(page, '[data-testid="process-status"]', lambda s: s != "running")
    await page.locator("ol.timeline").get_by_text("Cancellation requested: olga").wait_for()


# --- both languages, both widths ---------------------------------------------------------

LANGUAGES = {
    # locale: (the browser's language, the sign-in button, the inbox heading, approve)
    "zh": ("zh-CN", "登录", "待办任务", "批准"),
    "en": ("en-US", "Sign in", "Inbox", "Approve"),
}


async def no_horizontal_overflow(page: Any) -> bool:
    return bool(
        await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_main_pages_in_either_language_at_either_width(
    browser: Any,
    console_url: str,
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    lang: str,
    viewport: dict[str, int],
) -> None:
    """Sign-in, inbox, a task and the process search, each screenshotted (under the test's
    tmp dir): the words are the language's, and nothing overflows a phone's width."""
    browser_locale, sign_in_word, inbox_word, approve_word = LANGUAGES[lang]
    _, task_id = await open_underwriting_task(api, login, sessions, agent="alice")
    context = await browser.new_context(
        viewport=viewport,
        base_url=console_url,
        locale=browser_locale,
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        width = viewport["width"]
        await page.goto("/ui/signin")
        button = page.get_by_role("button", name=sign_in_word, exact=True)
        assert await button.is_visible()
        await page.screenshot(path=str(tmp_path / f"signin-{lang}-{width}.png"), full_page=True)
        assert await no_horizontal_overflow(page)
        await page.locator("#username").fill("sue")
        await page.locator("#password").fill("sue-dev")
        await button.click()
        await page.wait_for_url(lambda url: url.endswith("/ui/inbox"))
        assert await page.get_by_role("heading", name=inbox_word).is_visible()
        await page.screenshot(path=str(tmp_path / f"inbox-{lang}-{width}.png"), full_page=True)
        assert await no_horizontal_overflow(page)
        await page.goto(f"/ui/tasks/{task_id}")
        assert await page.get_by_role("button", name=approve_word, exact=True).is_visible()
        await page.screenshot(path=str(tmp_path / f"task-{lang}-{width}.png"), full_page=True)
        assert await no_horizontal_overflow(page)
        # The switch on the page changes the language and stays on it.
        other = "en" if lang == "zh" else "zh"
        other_name = "English" if lang == "zh" else "中文"
        await page.get_by_role("button", name=other_name).click()
        await page.wait_for_url(lambda url: url.endswith(f"/ui/tasks/{task_id}"))
        other_approve = LANGUAGES[other][3]
        assert await page.get_by_role("button", name=other_approve, exact=True).is_visible()
        assert await no_horizontal_overflow(page)

        ops = await context.browser.new_context(
            viewport=viewport, base_url=console_url, locale=browser_locale
        )
        try:
            ops_page = await ops.new_page()
            await ops_page.goto("/ui/signin?next=/ui/ops/processes")
            await ops_page.locator("#username").fill("olga")
            await ops_page.locator("#password").fill("olga-dev")
            await ops_page.get_by_role("button", name=sign_in_word, exact=True).click()
            await ops_page.wait_for_url(lambda url: "/ui/ops/processes" in url)
            heading = "流程" if lang == "zh" else "Processes"
            assert await ops_page.get_by_role("heading", name=heading, exact=True).is_visible()
            await ops_page.screenshot(
                path=str(tmp_path / f"processes-{lang}-{width}.png"), full_page=True
            )
            assert await no_horizontal_overflow(ops_page)
        finally:
            await ops.close()
    finally:
        await context.close()
