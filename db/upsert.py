"""Inserts keyed by a business key, for callers that run at least once (activities).

Both backends speak `INSERT ... ON CONFLICT`; naming the conflict target keeps a clash on
any *other* unique column an error instead of silently dropping the row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Base


def _insert(session: AsyncSession, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")


async def insert_or_ignore(
    session: AsyncSession, model: type[Base], *, key: str, values: Mapping[str, Any]
) -> None:
    """Insert a row unless one with the same `key` column value exists."""
    statement = _insert(session, model).values(**values)
    await session.execute(statement.on_conflict_do_nothing(index_elements=[key]))


async def insert_or_update(
    session: AsyncSession,
    model: type[Base],
    *,
    key: str,
    values: Mapping[str, Any],
    update: Iterable[str],
) -> None:
    """Insert a row, or overwrite the `update` columns of the row with the same `key`."""
    statement = _insert(session, model).values(**values)
    changes = {column: statement.excluded[column] for column in update}
    await session.execute(statement.on_conflict_do_update(index_elements=[key], set_=changes))
