"""POST /v1/auth/token and GET /v1/auth/me."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AuditEvent, User
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
