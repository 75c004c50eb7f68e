"""Inserts keyed by a business key, for callers that run at least once (activities).

Both backends speak `INSERT ... ON CONFLICT`; naming the conflict target keeps a clash on
any *other* unique column an error instead of silently dropping the row.

The statements are built once per (dialect, table, key, columns) and run as Core
statements with the values as parameters: building `ON CONFLICT ... excluded` anew for each
row and sending it through the ORM's bulk-insert path cost more CPU than the insert itself
(the activities' share of the worker, docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from db.models import Base


def _insert(dialect: str, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")


@cache
def _ignore_statement(dialect: str, model: type[Base], key: str) -> Insert:
    return _insert(dialect, model).on_conflict_do_nothing(index_elements=[key])


@cache
def _update_statement(dialect: str, model: type[Base], key: str, update: tuple[str, ...]) -> Insert:
    statement = _insert(dialect, model)
    changes = {column: statement.excluded[column] for column in update}
    return statement.on_conflict_do_update(index_elements=[key], set_=changes)


@cache
def _columns(model: type[Base]) -> frozenset[str]:
    return frozenset(model.__table__.c.keys())


def _check(model: type[Base], values: Mapping[str, Any]) -> None:
    # A Core statement run with a parameter dict ignores keys that are not columns, where
    # `.values(**values)` refused them: refuse them here, or a new field on a message the
    # callers dump into `values` would be dropped without a word.
    unknown = values.keys() - _columns(model)
    if unknown:
        raise ValueError(f"not columns of {model.__tablename__}: {', '.join(sorted(unknown))}")


async def _execute(session: AsyncSession, statement: Insert, values: Mapping[str, Any]) -> None:
    # Core execution skips the ORM's autoflush: flush first, so that rows the caller added
    # (a foreign key's target) are in the database before this one.
    await session.flush()
    connection = await session.connection()
    await connection.execute(statement, dict(values))


async def insert_or_ignore(
    session: AsyncSession, model: type[Base], *, key: str, values: Mapping[str, Any]
) -> None:
    """Insert a row unless one with the same `key` column value exists."""
    dialect = session.get_bind().dialect.name
    _check(model, values)
    await _execute(session, _ignore_statement(dialect, model, key), values)


async def insert_or_update(
    session: AsyncSession,
    model: type[Base],
    *,
    key: str,
    values: Mapping[str, Any],
    update: Iterable[str],
) -> None:
    """Insert a row, or overwrite the `update` columns of the row with the same `key`."""
    _check(model, values)
    dialect = session.get_bind().dialect.name
    statement = _update_statement(dialect, model, key, tuple(update))
    await _execute(session, statement, values)
