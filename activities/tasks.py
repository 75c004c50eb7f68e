"""Task activities: the workflow's side of the supervisor inbox.

Each returns what it did: run as a local activity, its result is all the history keeps
(a local activity's marker holds no input), and the ops timeline reads it from there.
"""

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
    async def open_task(self, task: TaskOpen) -> TaskOpen:
        async with self._sessions() as session, session.begin():
            await tasks.insert_task(session, task=task)
        return task

    @activity.defn(name=act.CHANGE_TASK)
    async def change_task(self, change: TaskChange) -> TaskChange:
        async with self._sessions() as session, session.begin():
            await tasks.apply_task_change(session, change=change)
        return change
