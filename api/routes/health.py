"""Liveness and readiness probes (no token needed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest
from temporalio.client import Client

from api.openapi import problem_responses
from api.temporal_client import ensure_temporal
from core.config import Settings
from domain.texts import N_
from services.problems import ProblemError

router = APIRouter(tags=["health"])

log = structlog.get_logger("api.health")

# Database probes still running after /readyz answered (see _check_database).
_stragglers: set[asyncio.Task[None]] = set()


class HealthRead(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessRead(BaseModel):
    status: Literal["ready"] = "ready"
    database: Literal["ok"] = "ok"
    temporal: Literal["ok"] = "ok"
    worker: Literal["ok"] = "ok"


@router.get("/healthz")
async def healthz() -> HealthRead:
    """The process is up. Checks nothing else: use `/readyz` for that."""
    return HealthRead()


@router.get("/readyz", responses=problem_responses({503: "not_ready"}))
async def readyz(request: Request) -> ReadinessRead:
    """The database answers `SELECT 1`, Temporal answers a system-info call, and a worker
    has polled the task queue recently; each within `readiness_timeout` seconds.

    Otherwise 503 `not_ready`, with `checks` naming the part that failed (`worker:
    no_worker` when no worker polls; `unknown` when Temporal itself cannot be asked).
    """
    settings: Settings = request.app.state.settings
    database, (temporal, worker) = await asyncio.gather(
        _check_database(request.app.state.session_factory, settings.readiness_timeout),
        _check_temporal_and_worker(request, settings),
    )
    checks = {"database": database, "temporal": temporal, "worker": worker}
    if any(result != "ok" for result in checks.values()):
        raise ProblemError(
            503,
            "not_ready",
            N_("Not ready"),
            "; ".join(f"{part}: {result}" for part, result in checks.items()),
            headers={"Retry-After": "5"},
            extra={"checks": checks},
        )
    return ReadinessRead()


async def _check_database(factory: async_sessionmaker[AsyncSession], within: float) -> str:
    """`SELECT 1` in a transaction of its own (so it needs what a request needs: a pooled
    connection and, on SQLite, the write lock), waited for at most `within` seconds.

    Run as a task that is left to finish on its own when it takes longer: cancelling it
    would not answer sooner, since closing its session waits for the connection's
    thread, which may sit in SQLite's busy handler."""

    async def probe() -> None:
        async with factory() as session:
            await session.execute(text("SELECT 1"))

    task = asyncio.create_task(probe())
    done, _ = await asyncio.wait({task}, timeout=within)
    if not done:
        log.warning("database_not_ready", error=f"no answer within {within} s")
        _stragglers.add(task)
        task.add_done_callback(_forget)
        return "unavailable"
    error = task.exception()
    if error is not None:  # any failure is "not ready"; the log says which
        log.warning("database_not_ready", error=f"{type(error).__name__}: {error}")
        return "unavailable"
    return "ok"


def _forget(task: asyncio.Task[None]) -> None:
    _stragglers.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as unhandled


async def _check_temporal_and_worker(request: Request, settings: Settings) -> tuple[str, str]:
    timeout = timedelta(seconds=settings.readiness_timeout)
    try:
        client = await asyncio.wait_for(
            ensure_temporal(request.app, force=True), settings.readiness_timeout
        )
    except TimeoutError:
        client = None
    if client is None:
        return "unavailable", "unknown"
    try:
        await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=timeout)
    except Exception as exc:  # any failure is "not ready"; the log says which
        log.warning("temporal_not_ready", error=f"{type(exc).__name__}: {exc}")
        return "unavailable", "unknown"
    return "ok", await _check_worker(client, settings, timeout)


async def _check_worker(client: Client, settings: Settings, rpc_timeout: timedelta) -> str:
    """`ok` if a worker polled the task queue's workflow tasks within
    `readiness_poller_age` (Temporal forgets pollers a few minutes after their last poll)."""
    try:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=settings.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=rpc_timeout,
        )
    except Exception as exc:  # any failure is "not ready"; the log says which
        log.warning("worker_not_ready", error=f"{type(exc).__name__}: {exc}")
        return "unknown"
    since = datetime.now(UTC) - settings.readiness_poller_age
    recent = [
        poller
        for poller in answer.pollers
        if poller.last_access_time.ToDatetime(tzinfo=UTC) >= since
    ]
    if not recent:
        log.warning("worker_not_ready", task_queue=settings.task_queue, pollers=0)
        return "no_worker"
    return "ok"
