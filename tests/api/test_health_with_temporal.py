"""/readyz and the Temporal dependency with a Temporal server up (the time-skipping
test server from the wheel, handed to the app through ``api_temporal_client``)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.deps import TemporalDep


@pytest.fixture
def api_temporal_client(time_env: WorkflowEnvironment) -> Client:
    return time_env.client


async def test_readyz_checks_database_and_temporal_and_asks_after_the_worker(
    api_client: httpx.AsyncClient,
) -> None:
    # The time-skipping server cannot describe a task queue, so whether a worker polls is
    # unknown: not ready. tests/integration/test_readiness.py has the dev server's answers.
    response = await api_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "temporal": "ok", "worker": "unknown"}


async def test_the_app_uses_the_client_it_was_given(
    api_app: FastAPI, api_client: httpx.AsyncClient, api_temporal_client: Client
) -> None:
    @api_app.get("/test/namespace")
    async def namespace(temporal: TemporalDep) -> dict[str, bool]:
        return {"same": temporal is api_temporal_client}

    assert (await api_client.get("/test/namespace")).json() == {"same": True}
