"""Access tokens: only HS256 tokens we signed, unexpired, for us, from us, are accepted."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import jwt
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from api.security import create_access_token, decode_access_token
from core.config import Settings
from core.passwords import hash_password, verify_and_rehash, verify_password
from domain.underwriting import Actor, Role


def claims_for(settings: Settings, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "alice",
        "iat": now,
        "exp": now + timedelta(hours=1),
        "roles": ["agent"],
        "approval_limit": "0",
        "jti": secrets.token_urlsafe(16),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, default=lambda d: int(d.timestamp())).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_a_token_round_trips_its_claims(app_settings: Settings) -> None:
    actor = Actor(
        username="sam", roles=(Role.AGENT, Role.SUPERVISOR), approval_limit=Decimal("500000.00")
    )
    now = datetime.now(UTC)

    token, expires_in = create_access_token(app_settings, actor, now=now)
    claims = decode_access_token(app_settings, token)

    assert expires_in == 8 * 3600
    assert claims.username == "sam"
    assert claims.roles == (Role.AGENT, Role.SUPERVISOR)
    assert claims.approval_limit == Decimal("500000.00")
    assert claims.expires_at == now.replace(microsecond=0) + timedelta(hours=8)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["approval_limit"] == "500000.00"
    assert raw["iss"] == "insureflow" and raw["aud"] == "insureflow-api"


async def test_a_valid_token_is_accepted(
    api_client: httpx.AsyncClient, app_settings: Settings
) -> None:
    token = jwt.encode(claims_for(app_settings), app_settings.jwt_secret, algorithm="HS256")

    assert (await me(api_client, token)).status_code == 200


def _none_alg(settings: Settings) -> str:
    header = {"alg": "none", "typ": "JWT"}
    return f"{b64(header)}.{b64(claims_for(settings))}."


def _hs512(settings: Settings) -> str:
    return jwt.encode(claims_for(settings), settings.jwt_secret, algorithm="HS512")


def _bad_signature(settings: Settings) -> str:
    return jwt.encode(claims_for(settings), "another-secret-" + "y" * 32, algorithm="HS256")


def _tampered(settings: Settings) -> str:
    token = jwt.encode(claims_for(settings), settings.jwt_secret, algorithm="HS256")
    header, _, signature = token.split(".")
    forged = claims_for(settings, roles=["supervisor"], approval_limit="99999999")
    return f"{header}.{b64(forged)}.{signature}"


def _expired(settings: Settings) -> str:
    past = datetime.now(UTC) - timedelta(hours=2)
    return jwt.encode(
        claims_for(settings, iat=past, exp=past + timedelta(hours=1)),
        settings.jwt_secret,
        algorithm="HS256",
    )


def _wrong_audience(settings: Settings) -> str:
    return jwt.encode(claims_for(settings, aud="someone-else"), settings.jwt_secret)


def _wrong_issuer(settings: Settings) -> str:
    return jwt.encode(claims_for(settings, iss="evil-issuer"), settings.jwt_secret)


def _missing(claim: str) -> Callable[[Settings], str]:
    def make(settings: Settings) -> str:
        return jwt.encode(claims_for(settings, **{claim: None}), settings.jwt_secret)

    make.__name__ = f"_missing_{claim}"
    return make


@pytest.mark.parametrize(
    "make_token",
    [
        _none_alg,
        _hs512,
        _bad_signature,
        _tampered,
        _expired,
        _wrong_audience,
        _wrong_issuer,
        _missing("exp"),
        _missing("sub"),
        _missing("aud"),
        _missing("iss"),
        _missing("jti"),
        lambda settings: "not-a-jwt",
    ],
    ids=lambda f: f.__name__.strip("_"),
)
async def test_a_bad_token_is_refused(
    api_client: httpx.AsyncClient, app_settings: Settings, make_token: Callable[[Settings], str]
) -> None:
    response = await me(api_client, make_token(app_settings))

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "invalid_token"


async def test_a_token_for_an_unknown_role_is_refused(
    api_client: httpx.AsyncClient, app_settings: Settings
) -> None:
    token = jwt.encode(claims_for(app_settings, roles=["root"]), app_settings.jwt_secret)

    assert (await me(api_client, token)).json()["code"] == "invalid_token"


def test_passwords_hash_with_argon2id_and_verify() -> None:
    hashed = hash_password("correct horse")

    assert hashed.startswith("$argon2id$")
    assert verify_password("correct horse", hashed)
    assert not verify_password("wrong horse", hashed)
    assert not verify_password("correct horse", "not-a-hash")


def test_an_unknown_user_is_checked_against_a_dummy_hash_and_refused() -> None:
    assert verify_and_rehash("anything", None) == (False, None)


def test_passwords_hash_with_owasp_minimum_argon2id_parameters() -> None:
    # OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
    assert "$argon2id$v=19$m=19456,t=2,p=1$" in hash_password("correct horse")


def test_a_hash_made_with_other_parameters_is_rehashed_on_a_right_password_only() -> None:
    old = PasswordHash((Argon2Hasher(),)).hash("correct horse")  # t=3, m=64 MiB, p=4
    assert "m=65536,t=3,p=4" in old

    assert verify_and_rehash("wrong horse", old) == (False, None)
    ok, new = verify_and_rehash("correct horse", old)
    assert ok and new is not None and "m=19456,t=2,p=1" in new
    assert verify_password("correct horse", new)
    assert verify_and_rehash("correct horse", new) == (True, None)  # current: kept


def test_each_token_carries_its_own_id(app_settings: Settings) -> None:
    actor = Actor(username="sue", roles=(Role.AGENT,), approval_limit=Decimal("0"))
    now = datetime.now(UTC)

    first, _ = create_access_token(app_settings, actor, now=now)
    second, _ = create_access_token(app_settings, actor, now=now)

    ids = {decode_access_token(app_settings, token).token_id for token in (first, second)}
    assert len(ids) == 2
    assert all(16 <= len(token_id) <= 64 for token_id in ids)
