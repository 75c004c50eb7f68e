"""A busy, locked or unreachable database: a quick 503 problem with Retry-After, never a
500 after the pool's 30 s; /readyz answers within its own timeout whatever the database
is doing. The timeouts are made small through the settings; the `asyncio.wait_for`
guards only turn a hang (the old behaviour: 30 s) into a failure, they time nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.main import create_app
from api.routes import health
from core.config import Settings

HANG_GUARD = 20.0  # seconds; far above the timeouts set below, far below the old 30 s


@pytest.fixture
def app_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(
        update={"sqlite_busy_timeout": 0.1, "db_pool_timeout": 0.2, "readiness_timeout": 1.0}
    )


@pytest.fixture
def write_lock(api_database_url: str) -> Iterator[sqlite3.Connection]:
    """Another connection to the test database (as a second process would have):
    ``write_lock.execute("BEGIN IMMEDIATE")`` takes SQLite's write lock, ``ROLLBACK`` (or
    the end of the test) lets it go."""
    path = Path(str(make_url(api_database_url).database))
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        yield holder
    finally:
        holder.close()


def assert_database_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "database_unavailable"


async def test_a_locked_database_answers_503_database_unavailable_with_retry_after(
    api_client: httpx.AsyncClient,
    auth_headers: Callable[[str], dict[str, str]],
    write_lock: sqlite3.Connection,
) -> None:
    headers = auth_headers("alice")
    assert (await api_client.get("/v1/auth/me", headers=headers)).status_code == 200
    write_lock.execute("BEGIN IMMEDIATE")

    response = await asyncio.wait_for(api_client.get("/v1/auth/me", headers=headers), HANG_GUARD)

    assert_database_unavailable(response)


async def test_an_exhausted_pool_answers_503_database_unavailable_with_retry_after(
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    auth_headers: Callable[[str], dict[str, str]],
) -> None:
    # SQLite's pool is one connection: a session in a transaction holds it.
    async with api_session_factory() as held:
        await held.execute(text("SELECT 1"))
        response = await asyncio.wait_for(
            api_client.get("/v1/auth/me", headers=auth_headers("alice")), HANG_GUARD
        )

    assert_database_unavailable(response)


async def test_readyz_answers_503_within_its_timeout_while_the_database_is_locked(
    app_settings: Settings, write_lock: sqlite3.Connection
) -> None:
    # The database waits are long here (the old 30 s): only readiness_timeout bounds it.
    settings = app_settings.model_copy(
        update={"sqlite_busy_timeout": 30.0, "db_pool_timeout": 30.0, "readiness_timeout": 0.5}
    )
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            write_lock.execute("BEGIN IMMEDIATE")
            response = await asyncio.wait_for(client.get("/readyz"), HANG_GUARD)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
            body = response.json()
            assert body["code"] == "not_ready"
            assert body["checks"]["database"] == "unavailable"
            # Let go of the lock, so the probe left running ends before the engine does.
            write_lock.execute("ROLLBACK")
            await asyncio.wait_for(asyncio.gather(*health._stragglers), HANG_GUARD)
