"""The remote codec for the Temporal Web UI: round trip, who may call it, CORS, audit."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.routes.codec import SESSION_COOKIE
from cli.main import dev_server_command
from core.config import Settings
from db.models import AuditEvent

UI_ORIGIN = "http://127.0.0.1:8233"
Headers = Callable[[str], dict[str, str]]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def json_payload(value: Any) -> dict[str, Any]:
    """A payload as the UI sends it: protobuf JSON, metadata and data base64."""
    return {
        "metadata": {"encoding": b64(b"json/plain")},
        "data": b64(json.dumps(value).encode()),
    }


async def test_encode_then_decode_gives_back_the_payloads(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    olga = auth_headers("olga")
    original = [json_payload({"id_number": "secret", "n": 1}), json_payload("two")]
    r = await api_client.post("/codec/encode", json={"payloads": original}, headers=olga)
    assert r.status_code == 200, r.text
    encoded = r.json()["payloads"]
    assert [base64.b64decode(p["metadata"]["encoding"]) for p in encoded] == [
        b"binary/encrypted",
        b"binary/encrypted",
    ]
    assert b"secret" not in base64.b64decode(encoded[0]["data"])

    r = await api_client.post(
        "/codec/decode", json={"payloads": encoded}, headers={**olga, "X-Namespace": "default"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["payloads"] == original


async def test_decode_passes_unencrypted_payloads_through_and_refuses_foreign_ciphertext(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    olga = auth_headers("olga")
    plain = json_payload({"a": 1})
    r = await api_client.post("/codec/decode", json={"payloads": [plain]}, headers=olga)
    assert r.status_code == 200 and r.json()["payloads"] == [plain]
    forged = {
        "metadata": {"encoding": b64(b"binary/encrypted"), "encryption-key-id": b64(b"test-1")},
        "data": b64(b"\0" * 40),
    }
    r = await api_client.post("/codec/decode", json={"payloads": [forged]}, headers=olga)
    assert (r.status_code, r.json()["code"]) == (422, "payload_not_decodable")
    r = await api_client.post("/codec/decode", json={"payloads": [{"data": 5}]}, headers=olga)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_payload")


async def test_codec_needs_an_ops_token_or_session_cookie(
    api_client: httpx.AsyncClient, auth_headers: Headers, token_for: Callable[[str], str]
) -> None:
    body = {"payloads": [json_payload(1)]}
    for path in ("/codec/decode", "/codec/encode"):
        r = await api_client.post(path, json=body)
        assert (r.status_code, r.json()["code"]) == (401, "not_authenticated"), path
        r = await api_client.post(path, json=body, headers={"Authorization": "Bearer nonsense"})
        assert (r.status_code, r.json()["code"]) == (401, "invalid_token"), path
        for username in ("sue", "alice"):
            r = await api_client.post(path, json=body, headers=auth_headers(username))
            assert (r.status_code, r.json()["code"]) == (403, "forbidden"), (path, username)
    r = await api_client.post(
        "/codec/decode", json=body, headers={"Cookie": f"{SESSION_COOKIE}={token_for('olga')}"}
    )
    assert r.status_code == 200, r.text


async def test_every_decode_is_audited_without_the_content(
    api_client: httpx.AsyncClient,
    auth_headers: Headers,
    api_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    payloads = [json_payload({"phone": "13800138000"}), json_payload(2), json_payload(3)]
    r = await api_client.post(
        "/codec/decode",
        json={"payloads": payloads},
        headers={**auth_headers("olga"), "X-Namespace": "default", "X-Request-ID": "codec-1"},
    )
    assert r.status_code == 200, r.text
    async with api_session_factory() as session:
        rows = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "ops.codec_decode"))
        )
    [row] = rows
    assert row.actor == "olga" and row.request_id == "codec-1"
    assert row.detail == {"payloads": 3, "namespace": "default"}
    # A refused call decodes nothing and is not a decode.
    r = await api_client.post(
        "/codec/decode", json={"payloads": payloads}, headers=auth_headers("sue")
    )
    assert r.status_code == 403
    async with api_session_factory() as session:
        count = len(
            list(
                await session.scalars(
                    select(AuditEvent).where(AuditEvent.action == "ops.codec_decode")
                )
            )
        )
    assert count == 1


def preflight(origin: str, path: str = "/codec/decode") -> dict[str, Any]:
    return {
        "url": path,
        "headers": {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-namespace",
        },
    }


async def test_cors_allows_the_temporal_ui_origin_only_and_only_on_the_codec(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    r = await api_client.options(**preflight(UI_ORIGIN))
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == UI_ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed

    r = await api_client.options(**preflight("https://evil.example"))
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers

    r = await api_client.options(**preflight(UI_ORIGIN, "/v1/ops/workflows"))
    assert "access-control-allow-origin" not in r.headers

    # The real call from the UI carries the header, errors included (the UI reads them).
    headers = {"Origin": UI_ORIGIN}
    r = await api_client.post("/codec/decode", json={"payloads": []}, headers=headers)
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == UI_ORIGIN
    r = await api_client.post(
        "/codec/decode", json={"payloads": []}, headers={**headers, **auth_headers("olga")}
    )
    assert r.status_code == 200 and r.json() == {"payloads": []}
    assert r.headers["access-control-allow-origin"] == UI_ORIGIN


def test_insureflow_dev_points_the_temporal_ui_at_the_codec() -> None:
    command = dev_server_command(Settings(api_host="127.0.0.1", api_port=8123))
    flag = command.index("--ui-codec-endpoint")
    assert command[flag + 1] == "http://127.0.0.1:8123/codec"
