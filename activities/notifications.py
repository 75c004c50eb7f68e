"""Notification activity: write to the outbox, once per business key. The outbox relay
(workers/outbox.py) delivers what is pending."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.repositories import notifications
from domain.activities import Notification
from workflows import activity_names as act


class NotificationActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn(name=act.SEND_NOTIFICATION)
    async def send_notification(self, notification: Notification) -> None:
        async with self._sessions() as session, session.begin():
            await notifications.enqueue(session, notification=notification)
