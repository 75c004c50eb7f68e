"""The API's one Temporal client: connected at start-up, reconnected lazily if that failed.

The API starts even when Temporal is down (``/healthz`` answers, ``/readyz`` says 503);
requests that need Temporal retry the connection, at most once per ``RETRY_INTERVAL``
so a flood of requests does not become a flood of connection attempts.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from fastapi import FastAPI
from temporalio.client import Client

from core.config import Settings
from core.temporal import connect

CONNECT_TIMEOUT = 5.0
RETRY_INTERVAL = 2.0

log = structlog.get_logger("api.temporal")


def init_temporal_state(app: FastAPI, client: Client | None) -> None:
    app.state.temporal = client
    app.state.temporal_lock = asyncio.Lock()
    app.state.temporal_next_attempt = 0.0


async def ensure_temporal(app: FastAPI, *, force: bool = False) -> Client | None:
    """The shared client, connecting first if there is none yet; None if Temporal is
    unreachable. `force` ignores the retry interval (start-up, readiness checks)."""
    client: Client | None = app.state.temporal
    if client is not None:
        return client
    async with app.state.temporal_lock:
        if app.state.temporal is not None:  # another request connected meanwhile
            return app.state.temporal
        now = time.monotonic()
        if not force and now < app.state.temporal_next_attempt:
            return None
        app.state.temporal_next_attempt = now + RETRY_INTERVAL
        settings: Settings = app.state.settings
        try:
            client = await asyncio.wait_for(connect(settings), timeout=CONNECT_TIMEOUT)
        except Exception as exc:  # any failure means "not now"; the next request retries
            log.warning(
                "temporal_unavailable",
                address=settings.effective_temporal_address,
                error=f"{type(exc).__name__}: {exc}",
            )
            return None
        log.info("temporal_connected", address=settings.effective_temporal_address)
        app.state.temporal = client
        return client
