"""The Alembic migrations build exactly the models' schema, down and up again."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from db.migrate import downgrade_async, upgrade_async
from db.models import Base


async def _inspect(url: str, fn: Any) -> Any:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


ALL_TABLES = set(Base.metadata.tables) | {"alembic_version"}


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _schema_diff(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_upgrade_creates_every_table(empty_database_url: str) -> None:
    await upgrade_async(empty_database_url)
    tables = await _inspect(empty_database_url, _tables)
    assert tables == ALL_TABLES


async def test_migrated_schema_matches_the_models(empty_database_url: str) -> None:
    await upgrade_async(empty_database_url)
    assert await _inspect(empty_database_url, _schema_diff) == []


async def test_downgrade_to_base_and_upgrade_again_round_trips(empty_database_url: str) -> None:
    await upgrade_async(empty_database_url)
    await downgrade_async(empty_database_url, "base")
    assert await _inspect(empty_database_url, _tables) == {"alembic_version"}
    await upgrade_async(empty_database_url)
    assert await _inspect(empty_database_url, _tables) == ALL_TABLES


async def test_upgrade_twice_is_harmless(empty_database_url: str) -> None:
    await upgrade_async(empty_database_url)
    await upgrade_async(empty_database_url)
    assert await _inspect(empty_database_url, _tables) == ALL_TABLES
