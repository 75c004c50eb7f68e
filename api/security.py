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
from starlette.concurrency import run_in_threadpool

from api.errors import ProblemError
from core.config import Settings
from core.passwords import hash_password, verify_password, verify_password_or_dummy
from domain.underwriting import Actor, Role

__all__ = [
    "ALGORITHM",
    "TokenClaims",
    "create_access_token",
    "decode_access_token",
    "hash_password",
    "invalid_token",
    "not_authenticated",
    "verify_password",
    "verify_password_async",
]

# Pinned: a token naming any other algorithm (``none`` included) is refused.
ALGORITHM = "HS256"
# A token without a `jti` could not be revoked, so it is refused.
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]
_MAX_TOKEN_ID = 64  # revoked_token.jti
_BEARER = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class TokenClaims:
    """The claims of a verified token."""

    username: str
    roles: tuple[Role, ...]
    approval_limit: Decimal
    expires_at: datetime
    token_id: str  # the `jti`


def not_authenticated() -> ProblemError:
    return ProblemError(
        401,
        "not_authenticated",
        "Not authenticated",
        "This endpoint needs an 'Authorization: Bearer <token>' header.",
        headers=_BEARER,
    )


def invalid_token(detail: str = "The access token is invalid or has expired.") -> ProblemError:
    return ProblemError(
        401,
        "invalid_token",
        "Invalid token",
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


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
        raise invalid_token("The access token has expired.") from None
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


async def verify_password_async(password: str, password_hash: str | None) -> bool:
    """Check a password off the event loop; with no hash (unknown user) it still spends
    the time of a real check and answers False."""
    return await run_in_threadpool(verify_password_or_dummy, password, password_hash)
