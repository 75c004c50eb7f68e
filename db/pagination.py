"""Keyset pagination: opaque cursors (url-safe base64 of a small JSON document) and the
newest-first page every case listing reads."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")


def encode_cursor(scope: str, at: datetime, key: str) -> str:
    """A cursor pointing after the row sorted at (`at`, `key`) in the listing `scope`."""
    document = {"s": scope, "t": at.isoformat(), "k": key}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(scope: str, cursor: str) -> tuple[datetime, str]:
    """The (`at`, `key`) a cursor points after. ValueError if it is not one of `scope`'s."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("s") != scope:
            raise ValueError("wrong shape")
        at = datetime.fromisoformat(document["t"])
        key = document["k"]
    except (binascii.Error, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError("malformed cursor") from exc
    if at.tzinfo is None or not isinstance(key, str):
        raise ValueError("malformed cursor")
    return at, key


async def newest_first(
    session: AsyncSession,
    query: Select[T],
    *,
    at: InstrumentedAttribute[datetime],
    key: InstrumentedAttribute[str],
    scope: str,
    cursor: str | None,
    limit: int,
) -> tuple[list[T], str | None]:
    """One page of `query`'s rows, newest `at` first (`key` breaks ties), after `cursor`,
    and the cursor of the next page (None on the last). ValueError for a malformed cursor
    (one of another `scope` included) or a limit below 1."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if cursor is not None:
        after_at, after_key = decode_cursor(scope, cursor)
        query = query.where(tuple_(at, key) < (after_at, after_key))
    query = query.order_by(at.desc(), key.desc())
    # One extra row tells whether another page exists.
    rows: list[Any] = list(await session.scalars(query.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    last = page[-1]
    return page, encode_cursor(scope, getattr(last, at.key), getattr(last, key.key))
