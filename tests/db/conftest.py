"""Database fixtures: every test runs on SQLite and, when available, on PostgreSQL.

Each test module gets a freshly migrated database per backend; each test runs inside a
transaction that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from db.migrate import upgrade_async
from db.models import Customer
from db.repositories.customers import upsert_customer
from db.session import Pool, make_engine

POSTGRES_URL_ENV = "INSUREFLOW_TEST_POSTGRES_URL"


def _drop_everything(connection: Connection) -> None:
    metadata = MetaData()
    metadata.reflect(connection)
    metadata.drop_all(connection)


async def fresh_database(backend: str, directory: Path) -> str:
    """The URL of an empty database on `backend` (skips when PostgreSQL is not configured)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{directory / 'insureflow.db'}"
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(f"PostgreSQL not available: set {POSTGRES_URL_ENV} (CI's .ci/run starts one)")
    # Everything in the test database goes, alembic_version included.
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_drop_everything)
    finally:
        await engine.dispose()
    return url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head, fresh for this test module."""
    url = await fresh_database(backend, tmp_path_factory.mktemp(backend))
    await upgrade_async(url)
    return url


@pytest.fixture
async def empty_database_url(backend: str, tmp_path: Path) -> str:
    """An empty database, not migrated, fresh for this test."""
    return await fresh_database(backend, tmp_path)


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool=Pool(2, overflow=10))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction rolled back after the test.

    The session's own begin/commit become savepoints, so code under test may use them.
    """
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
def make_customer(session: AsyncSession) -> Callable[[int], Awaitable[Customer]]:
    """Creates customer number `n` with made-up, encrypted-looking data."""

    async def make(n: int = 1) -> Customer:
        return await upsert_customer(
            session,
            id_hash=f"hash-{n}",
            id_number_enc=f"enc-id-{n}",
            id_masked="1101**********123X",
            name=f"Customer {n}",
            phone_enc=f"enc-phone-{n}",
            phone_masked="138****0000",
            email=None,
            birth_date=date(1990, 5, 17),
        )

    return make
