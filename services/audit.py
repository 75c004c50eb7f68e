"""The audit log (审计日志): who did what to which case, from every door a person uses.

``record`` adds an event to the caller's transaction (it commits with what the caller
changes); ``record_alone`` writes one in a transaction of its own, for the request log
written after the answer has gone. ``detail`` holds no raw personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AuditEvent
from db.repositories import audit


@dataclass(frozen=True)
class Caller:
    """Where a request came from, as the audit trail (and a rate limit) sees it."""

    client: str | None
    request_id: str | None


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    client: str | None = None,
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await audit.append(
        session,
        actor=actor,
        action=action,
        case_id=case_id,
        client=client,
        request_id=request_id,
        detail=detail,
    )


async def record_alone(
    sessions: async_sessionmaker[AsyncSession],
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    client: str | None = None,
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    async with sessions() as session, session.begin():
        await record(
            session,
            actor=actor,
            action=action,
            case_id=case_id,
            client=client,
            request_id=request_id,
            detail=detail,
        )


async def case_events(session: AsyncSession, *, case_id: str, limit: int) -> list[AuditEvent]:
    """The latest `limit` events of one case, newest first."""
    return await audit.list_for_case(session, case_id=case_id, limit=limit)
