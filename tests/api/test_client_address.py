"""The client address of the policy query's rate limit and of the audit log: the direct
peer's, unless the peer is a trusted proxy (INSUREFLOW_TRUSTED_PROXIES); a spoofed
X-Forwarded-For from anyone else is ignored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from api.main import create_app
from core.config import Settings
from db.models import AuditEvent

NO_SUCH = {"policy_number": "PNOSUCH", "id_number": "110101199001011237", "query_password": "x"}


@pytest.fixture
def app_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(update={"policy_query_rate_per_minute": 2})


async def _client(app: FastAPI, peer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _clients_audited(app: FastAPI) -> list[str | None]:
    async with app.state.session_factory() as session:
        rows = await session.scalars(
            select(AuditEvent.client).where(AuditEvent.case_id == "PNOSUCH").order_by(AuditEvent.id)
        )
        return list(rows)


@pytest.fixture
async def proxied_app(app_settings: Settings) -> AsyncIterator[FastAPI]:
    settings = app_settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    api_app: FastAPI,
) -> None:
    async with await _client(api_app, "203.0.113.7") as client:
        codes = [
            (
                await client.post(
                    "/v1/policy-query", json=NO_SUCH, headers={"X-Forwarded-For": f"198.51.100.{n}"}
                )
            ).status_code
            for n in range(3)
        ]

    # One client, whatever it claims: the limit (2 a minute) holds.
    assert codes == [401, 401, 429]
    assert await _clients_audited(api_app) == ["203.0.113.7", "203.0.113.7"]


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    proxied_app: FastAPI,
) -> None:
    async with await _client(proxied_app, "10.1.2.3") as client:
        codes = [
            (
                await client.post(
                    "/v1/policy-query",
                    json=NO_SUCH,
                    # The left entry is the client's own claim; the proxy appended the rest.
                    headers={"X-Forwarded-For": f"6.6.6.6, 198.51.100.{n}, 10.9.9.9"},
                )
            ).status_code
            for n in range(3)
        ]

    # Three clients behind the proxy, each within its own limit.
    assert codes == [401, 401, 401]
    assert await _clients_audited(proxied_app) == [f"198.51.100.{n}" for n in range(3)]


async def test_the_served_api_does_not_let_uvicorn_believe_forwarded_for(
    api_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `insureflow api` as served: uvicorn's options, its proxy-header rewriting if on
    # (which by default believes any local peer, so the audit row got the spoofed address).
    import uvicorn
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from cli import main as cli

    options: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: options.update(kwargs))
    cli.api()
    served: object = api_app
    if options.get("proxy_headers", True):
        served = ProxyHeadersMiddleware(api_app, trusted_hosts="127.0.0.1")
    transport = httpx.ASGITransport(app=served, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await client.post(
            "/v1/policy-query", json=NO_SUCH, headers={"X-Forwarded-For": "198.51.100.1"}
        )

    assert await _clients_audited(api_app) == ["127.0.0.1"]
