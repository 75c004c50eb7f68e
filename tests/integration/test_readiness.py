"""/readyz on the dev server: ready only while a worker polls the task queue."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings

pytestmark = pytest.mark.devserver


async def test_readyz_is_ready_while_a_worker_polls_the_task_queue(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/readyz")
    for _ in range(20):  # the worker's first poll may not have reached the server yet
        if response.status_code == 200:
            break
        await asyncio.sleep(0.25)
        response = await api.get("/readyz")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "temporal": "ok",
        "worker": "ok",
    }


async def test_readyz_is_503_naming_the_worker_when_none_polls_the_task_queue(
    integration_settings: Settings, dev_env: WorkflowEnvironment, sessions: object
) -> None:
    settings = integration_settings.model_copy(update={"task_queue": f"nobody-{uuid.uuid4()}"})
    app = create_app(settings, temporal_client=dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alone") as client:
            response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "not_ready"
    assert body["checks"] == {"database": "ok", "temporal": "ok", "worker": "no_worker"}
