"""Liveness and readiness probes (no token needed)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Literal

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.deps import SessionDep
from api.errors import ProblemError, problem_responses
from api.temporal_client import ensure_temporal

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 2.0

log = structlog.get_logger("api.health")


class HealthRead(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessRead(BaseModel):
    status: Literal["ready"] = "ready"
    database: Literal["ok"] = "ok"
    temporal: Literal["ok"] = "ok"


@router.get("/healthz")
async def healthz() -> HealthRead:
    """The process is up. Checks nothing else: use `/readyz` for that."""
    return HealthRead()


@router.get("/readyz", responses=problem_responses({503: "not_ready"}))
async def readyz(request: Request, session: SessionDep) -> ReadinessRead:
    """The database answers `SELECT 1` and Temporal answers a system-info call.

    Otherwise 503 `not_ready`, with `checks` naming the part that failed.
    """
    checks = {
        "database": await _check_database(session),
        "temporal": await _check_temporal(request),
    }
    if any(result != "ok" for result in checks.values()):
        raise ProblemError(
            503,
            "not_ready",
            "Not ready",
            "; ".join(f"{part}: {result}" for part, result in checks.items()),
            headers={"Retry-After": "5"},
            extra={"checks": checks},
        )
    return ReadinessRead()


async def _check_database(session: SessionDep) -> str:
    try:
        await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=CHECK_TIMEOUT)
    except Exception as exc:  # any failure is "not ready"; the log says which
        log.warning("database_not_ready", error=f"{type(exc).__name__}: {exc}")
        return "unavailable"
    return "ok"


async def _check_temporal(request: Request) -> str:
    client = await ensure_temporal(request.app, force=True)
    if client is None:
        return "unavailable"
    try:
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=CHECK_TIMEOUT)
        )
    except Exception as exc:  # any failure is "not ready"; the log says which
        log.warning("temporal_not_ready", error=f"{type(exc).__name__}: {exc}")
        return "unavailable"
    return "ok"
