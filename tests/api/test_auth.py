"""POST /v1/auth/token and GET /v1/auth/me."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.main import create_app
from core.config import Settings
from db.models import AuditEvent, LoginThrottle, RevokedToken, User
from db.seed import DEV_USERS, DevUser


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": username, "password": password})


async def audit_rows(factory: async_sessionmaker[AsyncSession]) -> list[AuditEvent]:
    async with factory() as session:
        return list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


@pytest.mark.parametrize("user", DEV_USERS, ids=lambda u: u.username)
async def test_each_seeded_user_gets_a_token_with_their_roles_and_limit(
    api_client: httpx.AsyncClient, user: DevUser
) -> None:
    response = await login(api_client, user.username, user.password)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 8 * 3600
    assert body["user"] == {
        "username": user.username,
        "roles": [str(role) for role in user.roles],
        "approval_limit": f"{user.approval_limit:.2f}",
    }
    assert response.headers["cache-control"] == "no-store"
    me = await api_client.get(
        "/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json() == body["user"]


async def test_supervisor_limit_is_a_decimal_string(api_client: httpx.AsyncClient) -> None:
    response = await login(api_client, "sam", "sam-dev")

    assert response.json()["user"]["approval_limit"] == "500000.00"
    assert response.json()["user"]["roles"] == ["agent", "supervisor"]


async def test_wrong_password_and_unknown_user_get_byte_identical_answers(
    api_client: httpx.AsyncClient,
) -> None:
    wrong_password = await login(api_client, "alice", "not-her-password")
    unknown_user = await login(api_client, "mallory", "whatever")

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.content == unknown_user.content
    assert wrong_password.headers["content-type"] == "application/problem+json"
    assert wrong_password.headers["www-authenticate"] == unknown_user.headers["www-authenticate"]
    assert wrong_password.json()["code"] == "invalid_credentials"


async def test_failed_login_is_audited_without_the_password(
    api_client: httpx.AsyncClient, api_session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await login(api_client, "alice", "Sekret-Passw0rd")
    await login(api_client, "mallory", "Other-Sekret")

    rows = [r for r in await audit_rows(api_session_factory) if r.action == "auth.login_failed"]
    assert [(r.actor, r.client, r.detail) for r in rows] == [
        ("alice", "127.0.0.1", {"reason": "wrong_password"}),
        ("mallory", "127.0.0.1", {"reason": "unknown_user"}),
    ]
    assert all(r.request_id for r in rows)
    for row in rows:
        stored = repr([getattr(row, c.key) for c in AuditEvent.__table__.columns])
        assert "Sekret" not in stored


async def test_successful_login_is_audited(
    api_client: httpx.AsyncClient, api_session_factory: async_sessionmaker[AsyncSession]
) -> None:
    response = await login(api_client, "sue", "sue-dev")

    rows = await audit_rows(api_session_factory)
    assert [(r.actor, r.action, r.client) for r in rows] == [("sue", "auth.login", "127.0.0.1")]
    assert rows[0].request_id == response.headers["x-request-id"]


async def test_an_id_number_typed_as_username_is_masked_in_the_audit_log(
    api_client: httpx.AsyncClient, api_session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from tests.support import CUSTOMER_ID_NUMBER

    await login(api_client, CUSTOMER_ID_NUMBER, "x")

    (row,) = await audit_rows(api_session_factory)
    assert CUSTOMER_ID_NUMBER not in row.actor
    assert row.actor.startswith(CUSTOMER_ID_NUMBER[:6])


async def test_missing_form_fields_are_a_validation_problem(
    api_client: httpx.AsyncClient,
) -> None:
    response = await api_client.post("/v1/auth/token", data={"username": "alice"})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [e["loc"] for e in body["errors"]] == [["body", "password"]]


async def test_an_inactive_user_cannot_sign_in_and_gets_the_same_answer(
    api_client: httpx.AsyncClient, api_session_factory: async_sessionmaker[AsyncSession]
) -> None:
    unknown = await login(api_client, "nobody", "x")
    async with api_session_factory() as session:
        await session.execute(update(User).where(User.username == "bob").values(active=False))
        await session.commit()

    response = await login(api_client, "bob", "bob-dev")

    assert response.status_code == 401
    assert response.content == unknown.content
    rows = await audit_rows(api_session_factory)
    assert rows[-1].detail == {"reason": "inactive_user"}


async def test_a_token_of_a_user_made_inactive_stops_working(
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    auth_headers: Callable[[str], dict[str, str]],
) -> None:
    headers = auth_headers("bob")
    assert (await api_client.get("/v1/auth/me", headers=headers)).status_code == 200
    async with api_session_factory() as session:
        await session.execute(update(User).where(User.username == "bob").values(active=False))
        await session.commit()

    response = await api_client.get("/v1/auth/me", headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_a_token_of_a_deleted_user_stops_working(
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    auth_headers: Callable[[str], dict[str, str]],
) -> None:
    headers = auth_headers("olga")
    async with api_session_factory() as session:
        await session.execute(delete(User).where(User.username == "olga"))
        await session.commit()

    response = await api_client.get("/v1/auth/me", headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_roles_and_limit_come_from_the_user_table_not_the_token(
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    auth_headers: Callable[[str], dict[str, str]],
) -> None:
    headers = auth_headers("sid")  # minted as a supervisor with 2,000,000.00
    async with api_session_factory() as session:
        await session.execute(
            update(User).where(User.username == "sid").values(roles=["ops"], approval_limit=0)
        )
        await session.commit()

    response = await api_client.get("/v1/auth/me", headers=headers)

    assert response.json() == {"username": "sid", "roles": ["ops"], "approval_limit": "0.00"}


async def test_me_without_a_token_is_not_authenticated(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get("/v1/auth/me")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "not_authenticated"


async def test_a_non_bearer_authorization_is_not_authenticated(
    api_client: httpx.AsyncClient,
) -> None:
    response = await api_client.get("/v1/auth/me", headers={"Authorization": "Basic YWxpY2U6eA=="})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- sign-out revokes the token (defect 6) ---------------------------------------------


async def password_token(client: httpx.AsyncClient, username: str) -> str:
    response = await login(client, username, f"{username}-dev")
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_logout_revokes_the_bearer_token(api_client: httpx.AsyncClient) -> None:
    token = await password_token(api_client, "sue")
    assert (await api_client.get("/v1/auth/me", headers=bearer(token))).status_code == 200

    out = await api_client.post("/v1/auth/logout", headers=bearer(token))

    assert out.status_code == 204
    refused = await api_client.get("/v1/auth/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"
    # Another session of the same user is untouched.
    other = await password_token(api_client, "sue")
    assert (await api_client.get("/v1/auth/me", headers=bearer(other))).status_code == 200


async def test_a_revoked_token_stays_refused_after_a_restart(
    api_client: httpx.AsyncClient, app_settings: Settings
) -> None:
    token = await password_token(api_client, "bob")
    assert (await api_client.post("/v1/auth/logout", headers=bearer(token))).status_code == 204

    restarted = create_app(app_settings)  # a new process on the same database
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as fresh:
            response = await fresh.get("/v1/auth/me", headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_logout_is_audited_and_the_revocation_row_expires_with_the_token(
    api_client: httpx.AsyncClient, api_session_factory: async_sessionmaker[AsyncSession]
) -> None:
    token = await password_token(api_client, "sue")
    await api_client.post("/v1/auth/logout", headers=bearer(token))

    async with api_session_factory() as session:
        (row,) = list(await session.scalars(select(RevokedToken)))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert row.jti == claims["jti"]
    assert row.username == "sue"
    assert int(row.expires_at.timestamp()) == claims["exp"]
    assert [r.action for r in await audit_rows(api_session_factory)][-1] == "auth.logout"


async def csrf_from(client: httpx.AsyncClient, path: str = "/ui/signin") -> str:
    page = await client.get(path)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def console_sign_in(
    client: httpx.AsyncClient, username: str, password: str
) -> httpx.Response:
    csrf = await csrf_from(client)
    return await client.post(
        "/ui/signin", data={"username": username, "password": password, "csrf": csrf}
    )


async def test_console_sign_out_revokes_the_session_token(api_client: httpx.AsyncClient) -> None:
    signed_in = await console_sign_in(api_client, "alice", "alice-dev")
    assert signed_in.status_code == 303
    token = api_client.cookies["insureflow_session"]
    assert (await api_client.get("/ui/agent")).status_code == 200

    out = await api_client.post("/ui/signout", data={"csrf": await csrf_from(api_client)})

    assert out.status_code == 303
    api_client.cookies.set("insureflow_session", token)  # a copy of the cookie, replayed
    replayed = await api_client.get("/ui/agent")
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/ui/signin")
    api_client.cookies.delete("insureflow_session")
    as_bearer = await api_client.get("/v1/auth/me", headers=bearer(token))
    assert as_bearer.status_code == 401


# --- sign-in throttle and lockout (defect 7) ---------------------------------------------


async def fail(client: httpx.AsyncClient, username: str, times: int) -> None:
    for _ in range(times):
        response = await login(client, username, "wrong-guess")
        assert response.status_code == 401, response.text


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert 0 < int(response.headers["retry-after"]) <= 15 * 60


async def test_five_wrong_passwords_lock_the_user_even_against_the_right_one(
    api_client: httpx.AsyncClient,
) -> None:
    await fail(api_client, "alice", 5)

    response = await login(api_client, "alice", "alice-dev")

    assert_problem(response, 423, "login_locked")
    assert "access_token" not in response.text
    # Other users are not locked by alice's failures.
    assert (await login(api_client, "bob", "bob-dev")).status_code == 200


async def test_an_unknown_user_is_locked_exactly_like_a_known_one(
    api_client: httpx.AsyncClient,
) -> None:
    await fail(api_client, "alice", 5)
    await fail(api_client, "mallory", 5)

    known = await login(api_client, "alice", "x")
    unknown = await login(api_client, "mallory", "x")

    assert_problem(known, 423, "login_locked")
    assert known.content == unknown.content
    # Each lock counts from its own fifth failure, made a moment apart: the same lockout,
    # give or take the seconds between them, whether the user exists or not.
    assert abs(int(known.headers["retry-after"]) - int(unknown.headers["retry-after"])) <= 2


async def test_a_success_clears_the_users_failures(api_client: httpx.AsyncClient) -> None:
    await fail(api_client, "sue", 4)
    assert (await login(api_client, "sue", "sue-dev")).status_code == 200
    await fail(api_client, "sue", 4)

    assert (await login(api_client, "sue", "sue-dev")).status_code == 200


async def test_the_lockout_survives_a_restart_and_ends_after_its_time(
    api_client: httpx.AsyncClient,
    app_settings: Settings,
    api_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await fail(api_client, "olga", 5)

    restarted = create_app(app_settings)
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as fresh:
            assert_problem(await login(fresh, "olga", "olga-dev"), 423, "login_locked")

    async with api_session_factory() as session:  # fifteen minutes later
        await session.execute(
            update(LoginThrottle).values(unlock_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert (await login(api_client, "olga", "olga-dev")).status_code == 200


async def test_the_throttle_stores_no_username_or_password_in_clear(
    api_client: httpx.AsyncClient, api_session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from tests.support import CUSTOMER_ID_NUMBER

    await login(api_client, CUSTOMER_ID_NUMBER, "Sekret-Passw0rd")

    async with api_session_factory() as session:
        rows = list(await session.scalars(select(LoginThrottle)))
    stored = repr([[getattr(r, c.key) for c in LoginThrottle.__table__.columns] for r in rows])
    assert len(rows) == 2  # one for the username, one for the client address
    assert CUSTOMER_ID_NUMBER not in stored and "Sekret" not in stored
    assert "127.0.0.1" not in stored


async def test_one_client_guessing_across_usernames_is_throttled(app_settings: Settings) -> None:
    # A small per-client budget, so the client throttle shows within a few attempts.
    app = create_app(app_settings.model_copy(update={"login_client_max_failures": 8}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for number in range(8):
                await fail(client, f"user{number}", 1)

            response = await login(client, "sue", "sue-dev")

    assert_problem(response, 429, "login_throttled")


async def test_console_sign_in_is_locked_like_the_api(api_client: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await console_sign_in(api_client, "sid", "wrong-guess")).status_code == 401

    response = await console_sign_in(api_client, "sid", "sid-dev")

    assert response.status_code == 423
    assert int(response.headers["retry-after"]) > 0
    assert "该用户名登录失败次数过多" in response.text  # the console speaks Chinese by default
    assert "insureflow_session" not in api_client.cookies


async def test_a_password_hashed_with_old_parameters_is_rehashed_at_the_next_sign_in(
    api_client: httpx.AsyncClient, api_session_factory: async_sessionmaker[AsyncSession]
) -> None:
    old = PasswordHash((Argon2Hasher(),)).hash("bob-dev")  # argon2-cffi's t=3, m=64 MiB, p=4
    async with api_session_factory() as session:
        await session.execute(update(User).where(User.username == "bob").values(password_hash=old))
        await session.commit()

    async def stored() -> str:
        async with api_session_factory() as session:
            return str(
                await session.scalar(select(User.password_hash).where(User.username == "bob"))
            )

    assert (await login(api_client, "bob", "wrong")).status_code == 401
    assert await stored() == old  # a wrong password changes nothing
    assert (await login(api_client, "bob", "bob-dev")).status_code == 200
    assert "$m=19456,t=2,p=1$" in await stored()
    assert (await login(api_client, "bob", "bob-dev")).status_code == 200
