"""/healthz and /readyz."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine


async def test_healthz_answers_ok_without_temporal(
    api_app: FastAPI, api_client: httpx.AsyncClient
) -> None:
    assert api_app.state.temporal is None

    response = await api_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_503_naming_temporal_when_it_is_unreachable(
    api_client: httpx.AsyncClient,
) -> None:
    response = await api_client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["code"] == "not_ready"
    # Without Temporal no one can say whether a worker polls.
    assert body["checks"] == {"database": "ok", "temporal": "unavailable", "worker": "unknown"}
    assert body["detail"] == "database: ok; temporal: unavailable; worker: unknown"


async def test_readyz_is_503_naming_the_database_when_it_fails(
    api_app: FastAPI, api_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # A directory is no database file: every connection attempt fails.
    broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}")
    api_app.state.session_factory = async_sessionmaker(broken)
    try:
        response = await api_client.get("/readyz")
    finally:
        await broken.dispose()

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"
