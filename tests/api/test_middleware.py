"""Request ids, logging context, security headers and the body size limit."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api.middleware import DOCS_CSP, STRICT_CSP
from api.schemas import StrictModel
from core.config import Settings


class NoteCreate(StrictModel):
    text: str


@pytest.fixture
def api_app_with_test_routes(api_app: FastAPI) -> FastAPI:
    @api_app.post("/test/notes")
    async def create_note(body: NoteCreate) -> dict[str, int]:
        return {"length": len(body.text)}

    @api_app.get("/test/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<!doctype html><title>x</title>"

    return api_app


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        r.msg
        for r in caplog.records
        if r.name == "api.access" and isinstance(r.msg, dict) and r.msg["event"] == "request"
    ]


async def test_a_plain_request_id_is_echoed(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get("/healthz", headers={"X-Request-ID": "req-42.a:b"})

    assert response.headers["x-request-id"] == "req-42.a:b"


async def test_a_request_id_is_generated_when_absent(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get("/healthz")

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


@pytest.mark.parametrize("bad", ["x" * 65, "has spaces", "new\\nline", "<script>"])
async def test_an_unsafe_request_id_is_replaced(api_client: httpx.AsyncClient, bad: str) -> None:
    response = await api_client.get("/healthz", headers={"X-Request-ID": bad})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_the_access_log_carries_request_id_and_user_and_the_context_is_cleared(
    api_client: httpx.AsyncClient,
    auth_headers: Callable[[str], dict[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="api.access")

    await api_client.get("/v1/auth/me", headers={**auth_headers("alice"), "X-Request-ID": "r-1"})

    (line,) = access_lines(caplog)
    assert line["request_id"] == "r-1"
    assert line["user"] == "alice"
    assert line["status"] == 200
    assert line["path"] == "/v1/auth/me"
    assert "request_id" not in structlog.contextvars.get_contextvars()
    assert "user" not in structlog.contextvars.get_contextvars()


async def test_the_access_log_leaves_out_the_query_string(
    api_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="api.access")

    await api_client.get("/v1/products?id_number=secret")

    assert "secret" not in repr(access_lines(caplog))


async def test_security_headers_are_on_every_response(api_client: httpx.AsyncClient) -> None:
    for response in (
        await api_client.get("/healthz"),
        await api_client.get("/v1/products"),  # 401
        await api_client.get("/nowhere"),  # 404
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_api_answers_are_not_cached(api_client: httpx.AsyncClient) -> None:
    assert (await api_client.get("/v1/products")).headers["cache-control"] == "no-store"


async def test_html_pages_get_a_strict_content_security_policy(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.get("/test/page")

    assert response.headers["content-security-policy"] == STRICT_CSP
    assert "default-src 'self'" in STRICT_CSP
    assert "content-security-policy" not in (await api_client.get("/healthz")).headers


async def test_the_docs_page_gets_a_policy_that_lets_swagger_load(
    api_client: httpx.AsyncClient,
) -> None:
    response = await api_client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-security-policy"] == DOCS_CSP


async def test_a_declared_oversized_body_is_refused_before_reading(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient, app_settings: Settings
) -> None:
    text = "x" * (app_settings.max_body_bytes + 1)

    response = await api_client.post("/test/notes", json={"text": text})

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_streamed_oversized_body_is_refused_once_past_the_limit(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient, app_settings: Settings
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(app_settings.max_body_bytes // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = await api_client.post(
        "/test/notes", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_a_body_within_the_limit_is_accepted(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient, app_settings: Settings
) -> None:
    text = "x" * (app_settings.max_body_bytes - 100)

    response = await api_client.post("/test/notes", json={"text": text})

    assert response.json() == {"length": len(text)}
