"""Access tokens (JWT, HS256) and the password checks behind the login.

A token carries who the user is (``sub``), its own id (``jti``, which sign-out revokes:
``db.repositories.auth_sessions``) and, for clients' convenience, their roles and
approval limit; the API still reloads the user on every request (``api.deps``), so a
deactivated or demoted user loses access before their token expires.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from domain.texts import N_
from domain.underwriting import Actor, Role
from services import auth
from services.audit import Caller
from services.auth import invalid_token
from services.problems import ProblemError

# Pinned: a token naming any other algorithm (``none`` included) is refused.
ALGORITHM = "HS256"
# A token without a `jti` could not be revoked, so it is refused.
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]
_MAX_TOKEN_ID = 64  # revoked_token.jti


@dataclass(frozen=True)
class TokenClaims:
    """The claims of a verified token."""

    username: str
    roles: tuple[Role, ...]
    approval_limit: Decimal
    expires_at: datetime
    token_id: str  # the `jti`


def create_access_token(
    settings: Settings, actor: Actor, *, now: datetime | None = None
) -> tuple[str, int]:
    """A signed token for `actor` and its lifetime in seconds."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    ttl = int(settings.token_ttl.total_seconds())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": actor.username,
        "iat": issued,
        "exp": issued + settings.token_ttl,
        "roles": [str(role) for role in actor.roles],
        "approval_limit": str(actor.approval_limit),
        "jti": secrets.token_urlsafe(16),
    }
    token = jwt.encode(claims, settings.resolved_jwt_secret(), algorithm=ALGORITHM)
    return token, ttl


def decode_access_token(settings: Settings, token: str) -> TokenClaims:
    """Verify `token` (signature, algorithm, expiry, issuer, audience) and read its claims.

    Raises ``ProblemError`` 401 ``invalid_token`` for anything wrong with it.
    """
    try:
        claims = jwt.decode(
            token,
            settings.resolved_jwt_secret(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise invalid_token(N_("The access token has expired.")) from None
    except jwt.PyJWTError:
        raise invalid_token() from None
    username = claims.get("sub")
    raw_roles = claims.get("roles", [])
    token_id = claims.get("jti")
    if not isinstance(username, str) or not username or not isinstance(raw_roles, list):
        raise invalid_token()
    if not isinstance(token_id, str) or not 0 < len(token_id) <= _MAX_TOKEN_ID:
        raise invalid_token()
    try:
        roles = tuple(Role(role) for role in raw_roles)
        approval_limit = Decimal(str(claims.get("approval_limit", "0")))
    except (ValueError, InvalidOperation):
        raise invalid_token() from None
    return TokenClaims(
        username=username,
        roles=roles,
        approval_limit=approval_limit,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        token_id=token_id,
    )


async def sign_out(
    session: AsyncSession, settings: Settings, claims: TokenClaims, caller: Caller
) -> None:
    """Revoke the token of `claims` until it expires (services.auth.sign_out)."""
    await auth.sign_out(
        session,
        settings,
        username=claims.username,
        token_id=claims.token_id,
        expires_at=claims.expires_at,
        caller=caller,
    )


async def sign_out_token(
    session: AsyncSession, settings: Settings, token: str, caller: Caller
) -> None:
    """Sign out the token, if it is still a valid one (the console's sign-out: a session
    that has already ended needs nothing more)."""
    try:
        claims = decode_access_token(settings, token)
    except ProblemError:
        return
    await sign_out(session, settings, claims, caller)
