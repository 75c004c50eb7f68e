"""The notification outbox: workflows enqueue messages here, a dispatcher sends them."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Notification, new_id, utcnow
from db.upsert import insert_or_ignore
from domain.activities import Notification as NotificationMessage


async def enqueue(session: AsyncSession, *, notification: NotificationMessage) -> Notification:
    """Queue a message once per business key; a repeat returns the queued one."""
    await insert_or_ignore(
        session,
        Notification,
        key="key",
        values={"id": new_id(), **notification.model_dump(), "status": "pending"},
    )
    query = select(Notification).where(Notification.key == notification.key)
    return (await session.scalars(query)).one()


async def list_for_case(session: AsyncSession, *, case_id: str) -> list[Notification]:
    """The messages of one case, oldest first."""
    query = (
        select(Notification)
        .where(Notification.case_id == case_id)
        .order_by(Notification.created_at, Notification.id)
    )
    return list(await session.scalars(query))


async def list_pending(session: AsyncSession, *, limit: int) -> list[Notification]:
    """Unsent messages, oldest first, for the dispatcher."""
    query = (
        select(Notification)
        .where(Notification.status == "pending")
        .order_by(Notification.created_at, Notification.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def mark_all_sent(session: AsyncSession, *, keys: list[str]) -> int:
    """Mark these messages sent in one statement (the relay's batch); messages already
    sent keep their first send time. Returns how many changed."""
    if not keys:
        return 0
    result = await session.execute(
        update(Notification)
        .where(Notification.key.in_(keys), Notification.status == "pending")
        .values(status="sent", sent_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
