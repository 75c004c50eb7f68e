"""Sign-out and the sign-in throttle: revoked tokens, failed sign-ins and lockouts.

Both are kept in the database so an API restart (or a second API process) forgets
neither. The throttle's keys are keyed hashes made by the caller (``api.routes.auth``):
no attempted username or client address is stored in clear.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import LoginThrottle, RevokedToken, UTCDateTime


def _insert(
    session: AsyncSession, model: type[RevokedToken | LoginThrottle]
) -> postgresql.Insert | sqlite.Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


# --- revoked tokens --------------------------------------------------------------------


async def revoke_token(
    session: AsyncSession, *, jti: str, username: str, expires_at: datetime, now: datetime
) -> None:
    """Record the token `jti` as revoked until it expires (revoking twice is harmless)."""
    statement = (
        _insert(session, RevokedToken)
        .values(jti=jti, username=username, expires_at=expires_at, created_at=now)
        .on_conflict_do_nothing(index_elements=["jti"])
    )
    await session.execute(statement)


async def is_revoked(session: AsyncSession, *, jti: str) -> bool:
    found = await session.scalar(select(RevokedToken.jti).where(RevokedToken.jti == jti))
    return found is not None


async def purge_expired_revocations(session: AsyncSession, *, now: datetime) -> int:
    """Forget revocations of tokens that have expired anyway; how many rows went."""
    result = await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)


# --- the sign-in throttle ----------------------------------------------------------------


async def locked_until(session: AsyncSession, *, key: str, now: datetime) -> datetime | None:
    """When the lockout of `key` ends, if it is locked now."""
    unlock_at = await session.scalar(
        select(LoginThrottle.unlock_at).where(LoginThrottle.key == key)
    )
    return unlock_at if unlock_at is not None and unlock_at > now else None


async def record_failure(
    session: AsyncSession,
    *,
    key: str,
    scope: str,
    now: datetime,
    window: timedelta,
    limit: int,
    lockout: timedelta,
) -> datetime | None:
    """Count one failed sign-in for `key` (a failure older than `window` starts the count
    again); at `limit` failures the key is locked for `lockout` and its count restarts.
    When the lock ends, if this failure locked it.

    The count is one ``INSERT ... ON CONFLICT DO UPDATE``, so concurrent failures are each
    counted."""
    table = LoginThrottle.__table__
    at_now = literal(now, UTCDateTime())
    stale = table.c.window_started_at < literal(now - window, UTCDateTime())
    statement = (
        _insert(session, LoginThrottle)
        .values(key=key, scope=scope, failures=1, window_started_at=now, updated_at=now)
        .on_conflict_do_update(
            index_elements=["key"],
            set_={
                "failures": case((stale, 1), else_=table.c.failures + 1),
                "window_started_at": case((stale, at_now), else_=table.c.window_started_at),
                "updated_at": at_now,
            },
        )
        .returning(table.c.failures)
    )
    failures = (await session.execute(statement)).scalar_one()
    if failures < limit:
        return None
    unlock_at = now + lockout
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key)
        .values(unlock_at=unlock_at, failures=0, window_started_at=now, updated_at=now)
    )
    return unlock_at


async def clear_failures(session: AsyncSession, *, key: str) -> None:
    """Forget the failures of `key` (after a successful sign-in; never while locked)."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


async def purge_stale_throttles(session: AsyncSession, *, now: datetime, keep: timedelta) -> int:
    """Forget keys untouched for `keep` (at least the window) and not locked; how many."""
    result = await session.execute(
        delete(LoginThrottle).where(
            and_(
                LoginThrottle.updated_at < now - keep,
                or_(LoginThrottle.unlock_at.is_(None), LoginThrottle.unlock_at < now),
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
