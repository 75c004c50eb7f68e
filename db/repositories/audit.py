"""The append-only audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent, utcnow


async def append(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    client: str | None = None,
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the log. `detail` must hold no raw personal data."""
    event = AuditEvent(
        at=utcnow(),
        actor=actor,
        action=action,
        case_id=case_id,
        client=client,
        request_id=request_id,
        detail=detail or {},
    )
    session.add(event)
    await session.flush()  # assigns the id
    return event


async def list_for_case(session: AsyncSession, *, case_id: str, limit: int) -> list[AuditEvent]:
    """The latest `limit` events of one case, newest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(query))


async def count_for_case(
    session: AsyncSession, *, case_id: str, action: str, since: datetime
) -> int:
    """How many `action` events a case has had since `since` (e.g. failed policy queries)."""
    query = select(func.count()).where(
        AuditEvent.case_id == case_id, AuditEvent.action == action, AuditEvent.at >= since
    )
    return int(await session.scalar(query) or 0)
