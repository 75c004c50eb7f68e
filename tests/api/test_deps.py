"""Role guards and the Temporal dependency."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import Depends, FastAPI

from api.deps import CurrentUser, SupervisorUser, TemporalDep, require_roles
from domain.underwriting import Role


@pytest.fixture
def api_app_with_test_routes(api_app: FastAPI) -> FastAPI:
    @api_app.get("/test/supervisors-only")
    async def supervisors_only(actor: SupervisorUser) -> dict[str, str]:
        return {"limit": str(actor.approval_limit)}

    @api_app.get("/test/ops-or-admin", dependencies=[Depends(require_roles(Role.OPS, Role.ADMIN))])
    async def ops_or_admin(actor: CurrentUser) -> dict[str, str]:
        return {"user": actor.username}

    @api_app.get("/test/temporal")
    async def needs_temporal(temporal: TemporalDep) -> dict[str, str]:
        return {"namespace": temporal.namespace}

    return api_app


@pytest.mark.parametrize(
    ("username", "status"),
    [("sue", 200), ("sam", 200), ("alice", 403), ("olga", 403)],
)
async def test_a_role_guard_lets_only_that_role_through(
    api_app_with_test_routes: FastAPI,
    api_client: httpx.AsyncClient,
    auth_headers: Callable[[str], dict[str, str]],
    username: str,
    status: int,
) -> None:
    response = await api_client.get("/test/supervisors-only", headers=auth_headers(username))

    assert response.status_code == status
    if status == 403:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "forbidden"


async def test_a_guard_with_several_roles_accepts_any_of_them(
    api_app_with_test_routes: FastAPI,
    api_client: httpx.AsyncClient,
    auth_headers: Callable[[str], dict[str, str]],
) -> None:
    assert (await api_client.get("/test/ops-or-admin", headers=auth_headers("olga"))).json() == {
        "user": "olga"
    }
    assert (
        await api_client.get("/test/ops-or-admin", headers=auth_headers("sue"))
    ).status_code == 403


async def test_a_role_guard_without_a_token_is_401_not_403(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.get("/test/supervisors-only")

    assert response.status_code == 401


def test_a_guard_needs_a_role() -> None:
    with pytest.raises(ValueError):
        require_roles()


async def test_without_temporal_a_route_needing_it_is_503(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.get("/test/temporal")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "temporal_unavailable"
    assert response.headers["retry-after"] == "5"
