"""Task activities: the workflow's side of the supervisor inbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.repositories import tasks
from domain.activities import TaskChange, TaskOpen
from workflows import activity_names as act


class TaskActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn(name=act.OPEN_TASK)
    async def open_task(self, task: TaskOpen) -> None:
        async with self._sessions() as session, session.begin():
            await tasks.insert_task(session, task=task)

    @activity.defn(name=act.CHANGE_TASK)
    async def change_task(self, change: TaskChange) -> None:
        async with self._sessions() as session, session.begin():
            await tasks.apply_task_change(session, change=change)
