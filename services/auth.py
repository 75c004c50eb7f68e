"""Who is calling: sign-in with its lockout and throttle, sign-out, and the user behind a
verified token, as the user table says now.

The token itself (JWT) is the HTTP edge's (api.security); what a sign-in checks and
writes — the password, the failure counters, the audit trail — is here, for the JSON
route and the console's sign-in page alike.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.passwords import verify_and_rehash_async
from db.models import User, utcnow
from db.repositories import auth_sessions
from db.repositories.users import get_user, set_password_hash
from domain.masking import scrub
from domain.texts import N_
from domain.underwriting import Actor, Role
from services import audit
from services.audit import Caller
from services.problems import ProblemError

# Longer than any username the user table can hold: not looked up at all.
MAX_USERNAME = 64
_ROLE_VALUES = frozenset(role.value for role in Role)
_THROTTLE_CONTEXT = b"insureflow-login-throttle:"


def not_authenticated() -> ProblemError:
    return ProblemError(
        401,
        "not_authenticated",
        N_("Not authenticated"),
        N_("This endpoint needs an 'Authorization: Bearer <token>' header."),
        headers={"WWW-Authenticate": "Bearer"},
    )


def invalid_token(detail: str = N_("The access token is invalid or has expired.")) -> ProblemError:
    return ProblemError(
        401,
        "invalid_token",
        N_("Invalid token"),
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def actor_of(user: User) -> Actor:
    return Actor(
        username=user.username,
        roles=tuple(Role(role) for role in user.roles if role in _ROLE_VALUES),
        approval_limit=user.approval_limit,
    )


async def actor_for_token(session: AsyncSession, *, username: str, token_id: str) -> Actor:
    """The user a verified token names, unless it was revoked (sign-out) or the user is
    unknown or inactive: 401 ``invalid_token``. Roles and limit come from the user row,
    so deactivating or demoting someone takes effect at once."""
    revoked = await auth_sessions.is_revoked(session, jti=token_id)
    user = await get_user(session, username=username)
    # End the read transaction now: a SQLite read snapshot held while the route waits
    # on Temporal would make the route's own later write fail with "database is locked".
    await session.commit()
    if revoked:
        raise invalid_token(N_("The access token has been revoked (signed out)."))
    if user is None or not user.active:
        raise invalid_token(N_("The user of this token is unknown or inactive."))
    return actor_of(user)


def _invalid_credentials() -> ProblemError:
    # One answer for unknown user, wrong password and inactive user alike.
    return ProblemError(
        401,
        "invalid_credentials",
        N_("Invalid credentials"),
        N_("The username or password is incorrect."),
        headers={"WWW-Authenticate": "Bearer"},
    )


def _throttle_key(settings: Settings, scope: str, value: str) -> str:
    """The ``login_throttle`` key of a username or address: a keyed hash, so the table
    holds no attempted username (an ID number, typed in the wrong field) in clear."""
    secret = settings.resolved_jwt_secret().encode()
    message = _THROTTLE_CONTEXT + f"{scope}:{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _retry_after(unlock_at: datetime, now: datetime) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil((unlock_at - now).total_seconds())))}


def _login_locked(unlock_at: datetime, now: datetime) -> ProblemError:
    # The same words whether or not the username exists.
    return ProblemError(
        423,
        "login_locked",
        N_("Sign-in locked"),
        N_("Too many failed sign-ins for this username; try again after Retry-After seconds."),
        headers=_retry_after(unlock_at, now),
    )


def _login_throttled(unlock_at: datetime, now: datetime) -> ProblemError:
    return ProblemError(
        429,
        "login_throttled",
        N_("Too many sign-in attempts"),
        N_("Too many failed sign-ins from this address; try again after Retry-After seconds."),
        headers=_retry_after(unlock_at, now),
    )


async def _record_failure(
    session: AsyncSession, settings: Settings, user_key: str, client_key: str, now: datetime
) -> None:
    window, lockout = settings.login_failure_window, settings.login_lockout
    for scope, key, limit in (
        ("user", user_key, settings.login_user_max_failures),
        ("client", client_key, settings.login_client_max_failures),
    ):
        await auth_sessions.record_failure(
            session, key=key, scope=scope, now=now, window=window, limit=limit, lockout=lockout
        )


def _refusal_reason(user: User | None, *, password_ok: bool) -> str | None:
    """Why a sign-in is refused, for the audit log only (the caller never learns it)."""
    if user is None:
        return "unknown_user"
    if not password_ok:
        return "wrong_password"
    if not user.active:
        return "inactive_user"
    return None


async def sign_in(
    session: AsyncSession, settings: Settings, username: str, password: str, caller: Caller
) -> Actor:
    """The user, if `username` and `password` are right and neither the username nor the
    caller's address is locked out; every attempt is audited. Wrong credentials: 401
    ``invalid_credentials``, the same whether or not the user exists; a locked username
    423 ``login_locked``, a throttled address 429 ``login_throttled``."""
    # The attempted name is kept for the audit trail, masked in case someone typed an ID
    # number or phone into it; the password never is.
    audit_actor = scrub(username)[:MAX_USERNAME]
    now = utcnow()
    user_key = _throttle_key(settings, "user", username)
    client_key = _throttle_key(settings, "client", caller.client or "")
    client_unlock = await auth_sessions.locked_until(session, key=client_key, now=now)
    user_unlock = await auth_sessions.locked_until(session, key=user_key, now=now)
    if client_unlock is not None or user_unlock is not None:
        # Refused before any password check: a guess made now is never tested.
        await audit.record(
            session,
            actor=audit_actor,
            action="auth.login_failed",
            client=caller.client,
            request_id=caller.request_id,
            detail={"reason": "throttled" if client_unlock is not None else "locked"},
        )
        await session.commit()
        if client_unlock is not None:
            raise _login_throttled(client_unlock, now)
        assert user_unlock is not None
        raise _login_locked(user_unlock, now)

    user = await get_user(session, username=username) if len(username) <= MAX_USERNAME else None
    # Always run one password check, even with no user, so timing says nothing either.
    password_ok, rehashed = await verify_and_rehash_async(
        password, user.password_hash if user else None
    )

    reason = _refusal_reason(user, password_ok=password_ok)
    if user is None or reason is not None:
        await _record_failure(session, settings, user_key, client_key, utcnow())
        await audit.record(
            session,
            actor=audit_actor,
            action="auth.login_failed",
            client=caller.client,
            request_id=caller.request_id,
            detail={"reason": reason},
        )
        await session.commit()
        raise _invalid_credentials()

    actor = Actor(
        username=user.username,
        roles=tuple(Role(role) for role in user.roles),
        approval_limit=user.approval_limit,
    )
    if rehashed is not None:
        await set_password_hash(session, user, rehashed)
    await auth_sessions.clear_failures(session, key=user_key)
    await audit.record(
        session,
        actor=actor.username,
        action="auth.login",
        client=caller.client,
        request_id=caller.request_id,
    )
    await session.commit()
    return actor


async def sign_out(
    session: AsyncSession,
    settings: Settings,
    *,
    username: str,
    token_id: str,
    expires_at: datetime,
    caller: Caller,
) -> None:
    """Revoke the token `token_id` until it expires, audit it, and commit; expired
    revocations and stale throttle rows are purged on the way."""
    now = utcnow()
    await auth_sessions.revoke_token(
        session, jti=token_id, username=username[:MAX_USERNAME], expires_at=expires_at, now=now
    )
    await auth_sessions.purge_expired_revocations(session, now=now)
    keep = max(settings.login_failure_window, settings.login_lockout)
    await auth_sessions.purge_stale_throttles(session, now=now, keep=keep)
    await audit.record(
        session,
        actor=username[:MAX_USERNAME],
        action="auth.logout",
        client=caller.client,
        request_id=caller.request_id,
    )
    await session.commit()
