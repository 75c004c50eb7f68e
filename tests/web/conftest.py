"""Console fixtures: the app served over real HTTP (uvicorn on a free loopback port) on the
integration fixtures' Temporal dev server, worker and database, so processes really move;
Chromium driven by playwright for the browser tests.

The integration fixtures are imported, not copied: ``dev_env``, ``integration_settings``,
``running_worker``, ``api`` (the JSON API in-process, to open cases) and ``login``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from db.repositories import tasks
from domain.activities import TaskChange, TaskOpen
from tests.integration.conftest import (  # noqa: F401  # fixtures, used by name
    api,
    dev_env,
    integration_dir,
    integration_settings,
    login,
    running_worker,
    sessions,
    temporal_db_file,
)

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing that reaches for the network: the test machine has none, and
# Chromium would otherwise keep retrying its background connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
# The console speaks Chinese unless asked otherwise; the tests written against its English
# texts ask for English, as a browser set to English does (the language tests ask for both).
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture(scope="session")
async def console_url(
    dev_env: WorkflowEnvironment,  # noqa: F811
    integration_settings: Settings,  # noqa: F811
    running_worker: None,  # noqa: F811
) -> AsyncIterator[str]:
    """The app (API and console) served by uvicorn on 127.0.0.1:<free port>."""
    app = create_app(integration_settings, temporal_client=dev_env.client)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        if time.monotonic() > deadline:
            raise AssertionError("the console's server did not start within 20 s")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


@pytest.fixture
async def web(console_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping HTTP client on the console, signed in as nobody, redirects not
    followed, asking for English."""
    async with httpx.AsyncClient(base_url=console_url, timeout=30, headers=ENGLISH) as client:
        yield client


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the browser tests leave their screenshots (gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        reason = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        print(f"\nSKIPPING: {reason}")
        pytest.skip(reason)
    playwright_api = pytest.importorskip(
        "playwright.async_api", reason="browser tests need the playwright package"
    )
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture(scope="session")
async def sla_examples(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:  # noqa: F811
    """Inbox rows in the SLA states a test run cannot wait for — overdue by a day, escalated,
    due soon — written straight to the task table (no process behind them: they are only
    listed, never opened). Their task ids by state."""
    now = datetime.now(UTC)

    def example(key: str, kind: Any, subject: str, amount: str, due: timedelta) -> TaskOpen:
        case = f"EXAMPLE{key.upper()}"
        return TaskOpen(
            task_id=f"{'uw' if kind == 'underwriting' else 'ca'}-{case}",
            kind=kind,
            workflow_id=f"{'enrollment' if kind == 'underwriting' else 'claim'}-{case}",
            case_id=case,
            subject=subject,
            amount=Decimal(amount),
            submitted_by="bob",
            agent="bob",
            due_at=now + due,
        )

    examples = {
        "overdue": example(
            "overdue",
            "underwriting",
            "Underwrite MEDICAL_1Y for 李*",
            "250000.00",
            -timedelta(hours=26),
        ),
        "escalated": example(
            "escalated",
            "claim_approval",
            "Approve hospitalisation claim on PEXAMPLE01",
            "86000.00",
            -timedelta(hours=3),
        ),
        "soon": example(
            "soon",
            "underwriting",
            "Underwrite ACCIDENT_1Y for 王**",
            "800000.00",
            timedelta(hours=2, minutes=30),
        ),
    }
    async with sessions() as session, session.begin():
        for task in examples.values():
            await tasks.insert_task(session, task=task)
        await tasks.apply_task_change(
            session,
            change=TaskChange(task_id=examples["escalated"].task_id, action="escalate", level=1),
        )
    return {state: task.task_id for state, task in examples.items()}
