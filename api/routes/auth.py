"""Sign-in: OAuth2 password flow issuing bearer tokens, sign-out, and who-am-I.

Failed sign-ins are throttled per attempted username and per client address (settings
``login_*``; counts and lockouts in the ``login_throttle`` table, so a restart resets
nothing). A locked username is 423 ``login_locked``, a locked client address 429
``login_throttled``, both with ``Retry-After``, the right password included; an unknown
username is counted and locked exactly like a known one, so neither answer says whether it
exists. Sign-out revokes the token's ``jti`` in the ``revoked_token`` table.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.errors import ProblemError, problem_responses
from api.middleware import client_address
from api.schemas import Money
from api.security import (
    TokenClaims,
    create_access_token,
    decode_access_token,
    verify_password_async,
)
from core.config import Settings
from db.models import User, utcnow
from db.repositories import audit, auth_sessions
from db.repositories.users import get_user
from domain.masking import scrub
from domain.underwriting import Actor, Role

router = APIRouter(prefix="/v1/auth", tags=["auth"])

# Longer than any username the user table can hold: not looked up at all.
_MAX_USERNAME = 64


class UserRead(BaseModel):
    username: str
    roles: list[Role]
    approval_limit: Money

    @classmethod
    def from_actor(cls, actor: Actor) -> UserRead:
        return cls(
            username=actor.username, roles=list(actor.roles), approval_limit=actor.approval_limit
        )


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserRead


def _invalid_credentials() -> ProblemError:
    # One answer for unknown user, wrong password and inactive user alike.
    return ProblemError(
        401,
        "invalid_credentials",
        "Invalid credentials",
        "The username or password is incorrect.",
        headers={"WWW-Authenticate": "Bearer"},
    )


_THROTTLE_CONTEXT = b"insureflow-login-throttle:"


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
        "Sign-in locked",
        "Too many failed sign-ins for this username; try again after Retry-After seconds.",
        headers=_retry_after(unlock_at, now),
    )


def _login_throttled(unlock_at: datetime, now: datetime) -> ProblemError:
    return ProblemError(
        429,
        "login_throttled",
        "Too many sign-in attempts",
        "Too many failed sign-ins from this address; try again after Retry-After seconds.",
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


@router.post(
    "/token",
    responses=problem_responses(
        {401: "invalid_credentials", 423: "login_locked", 429: "login_throttled"}
    ),
)
async def issue_token(
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenRead:
    """Sign in with a username and password (OAuth2 password form) and get a bearer token.

    Send the token as `Authorization: Bearer <access_token>` until it expires
    (`expires_in` seconds). Wrong credentials give 401 `invalid_credentials`, the same
    answer whether or not the user exists. Every attempt is written to the audit log.

    After `login_user_max_failures` failures for one username within
    `login_failure_window`, that username is locked for `login_lockout`: 423
    `login_locked`, even with the right password. After `login_client_max_failures`
    failures from one client address, the address is: 429 `login_throttled`. Both carry
    `Retry-After` (seconds), and an unknown username is locked just like a known one.
    """
    username = form.username
    # The attempted name is kept for the audit trail, masked in case someone typed an ID
    # number or phone into it; the password never is.
    audit_actor = scrub(username)[:_MAX_USERNAME]
    client = client_address(request)
    request_id = getattr(request.state, "request_id", None)

    now = utcnow()
    user_key = _throttle_key(settings, "user", username)
    client_key = _throttle_key(settings, "client", client or "")
    client_unlock = await auth_sessions.locked_until(session, key=client_key, now=now)
    user_unlock = await auth_sessions.locked_until(session, key=user_key, now=now)
    if client_unlock is not None or user_unlock is not None:
        # Refused before any password check: a guess made now is never tested.
        await audit.append(
            session,
            actor=audit_actor,
            action="auth.login_failed",
            client=client,
            request_id=request_id,
            detail={"reason": "throttled" if client_unlock is not None else "locked"},
        )
        await session.commit()
        if client_unlock is not None:
            raise _login_throttled(client_unlock, now)
        assert user_unlock is not None
        raise _login_locked(user_unlock, now)

    user = await get_user(session, username=username) if len(username) <= _MAX_USERNAME else None
    # Always run one password check, even with no user, so timing says nothing either.
    password_ok = await verify_password_async(form.password, user.password_hash if user else None)

    reason = _refusal_reason(user, password_ok=password_ok)
    if user is None or reason is not None:
        await _record_failure(session, settings, user_key, client_key, utcnow())
        await audit.append(
            session,
            actor=audit_actor,
            action="auth.login_failed",
            client=client,
            request_id=request_id,
            detail={"reason": reason},
        )
        await session.commit()
        raise _invalid_credentials()

    actor = Actor(
        username=user.username,
        roles=tuple(Role(role) for role in user.roles),
        approval_limit=user.approval_limit,
    )
    token, expires_in = create_access_token(settings, actor)
    request.state.user = actor.username  # for the access log line
    await auth_sessions.clear_failures(session, key=user_key)
    await audit.append(
        session, actor=actor.username, action="auth.login", client=client, request_id=request_id
    )
    await session.commit()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenRead(access_token=token, expires_in=expires_in, user=UserRead.from_actor(actor))


async def end_session(request: Request, session: AsyncSession, claims: TokenClaims) -> None:
    """Revoke the token of `claims` until it expires, audit it, and commit; expired
    revocations and stale throttle rows are purged on the way."""
    now = utcnow()
    settings: Settings = request.app.state.settings
    await auth_sessions.revoke_token(
        session,
        jti=claims.token_id,
        username=claims.username[:_MAX_USERNAME],
        expires_at=claims.expires_at,
        now=now,
    )
    await auth_sessions.purge_expired_revocations(session, now=now)
    keep = max(settings.login_failure_window, settings.login_lockout)
    await auth_sessions.purge_stale_throttles(session, now=now, keep=keep)
    await audit.append(
        session,
        actor=claims.username[:_MAX_USERNAME],
        action="auth.logout",
        client=client_address(request),
        request_id=getattr(request.state, "request_id", None),
    )
    await session.commit()


async def end_session_of_token(
    request: Request, session: AsyncSession, settings: Settings, token: str
) -> None:
    """Sign out the token, if it is still a valid one (the console's sign-out: a session
    that has already ended needs nothing more)."""
    try:
        claims = decode_access_token(settings, token)
    except ProblemError:
        return
    await end_session(request, session, claims)


@router.post("/logout", status_code=204)
async def logout(request: Request, actor: CurrentUser, session: SessionDep) -> Response:
    """Sign out: the bearer token of this request is revoked at once, on every API process
    and across restarts; using it again is 401 `invalid_token`. Other tokens of the same
    user are untouched."""
    claims: TokenClaims = request.state.token_claims
    await end_session(request, session, claims)
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.get("/me")
async def read_me(actor: CurrentUser) -> UserRead:
    """The signed-in user: username, roles and approval limit, as the user table says now."""
    return UserRead.from_actor(actor)
