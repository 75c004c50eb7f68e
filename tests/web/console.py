"""What the console tests share: signing in over HTTP, reading a page's form token, and
opening underwriting tasks through the JSON API."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Task
from tests.integration.conftest import Login
from tests.integration.test_enrollment_api import enroll

ABOVE_AUTO_LIMIT = "1000000.00"  # TERM_LIFE_20 approves up to 300,000 by itself
WITHIN_SAMS_LIMIT = "400000.00"  # above the auto limit, within sam's 500,000
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The form token of a page."""
    match = _CSRF.search(html)
    assert match, "the page has no form token"
    return match.group(1)


async def sign_in(
    web: httpx.AsyncClient, username: str, *, password: str | None = None, next: str = ""
) -> httpx.Response:
    """Sign in through the form (the client keeps the cookies); the POST's answer."""
    page = await web.get("/ui/signin")
    assert page.status_code == 200, page.text
    return await web.post(
        "/ui/signin",
        data={
            "username": username,
            "password": password if password is not None else f"{username}-dev",
            "csrf": csrf_of(page.text),
            "next": next,
        },
    )


async def task_of(
    sessions: async_sessionmaker[AsyncSession], case_id: str, *, within: float = 30.0
) -> str:
    """The id of the task opened for the case, once its row exists."""
    deadline = time.monotonic() + within
    while True:
        async with sessions() as s:
            task = await s.scalar(select(Task).where(Task.case_id == case_id))
        if task is not None:
            return task.task_id
        if time.monotonic() > deadline:
            raise AssertionError(f"no task opened for {case_id} within {within}s")
        await asyncio.sleep(0.1)


async def open_underwriting_task(
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    *,
    agent: str = "alice",
    sum_insured: str = ABOVE_AUTO_LIMIT,
    id_number: str | None = None,
) -> tuple[str, str]:
    """A new enrollment by `agent` that needs a person; (enrollment id, task id)."""
    eid = await enroll(api, await login(agent), sum_insured=sum_insured, id_number=id_number)
    return eid, await task_of(sessions, eid)


async def task_status(sessions: async_sessionmaker[AsyncSession], task_id: str) -> str:
    async with sessions() as s:
        task = await s.get(Task, task_id)
        assert task is not None
        return task.status
