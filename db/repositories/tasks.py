"""The supervisor inbox: tasks opened by workflows and claimed and decided by people."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.errors import NotFound
from db.models import TASK_CLOSED_STATUSES, Task, utcnow
from db.pagination import decode_cursor, encode_cursor
from db.upsert import insert_or_ignore
from domain.activities import TaskChange, TaskOpen

_CURSOR_SCOPE = "task"


class TaskNotFound(NotFound):
    """No task has this id."""


class TaskError(Exception):
    """A person's action on a task that its current state does not allow."""


class TaskNotOpen(TaskError):
    """The task is closed (done, cancelled, expired), or not claimed when releasing."""


class ClaimedByOther(TaskError):
    """Someone else holds the task."""


async def insert_task(session: AsyncSession, *, task: TaskOpen) -> Task:
    """Open a task once; a repeat with the same task_id returns the stored task unchanged."""
    await insert_or_ignore(
        session,
        Task,
        key="task_id",
        values={
            **task.model_dump(exclude={"details"}),
            # JSON-ready details: a Decimal or datetime inside would not serialise.
            "details": task.model_dump(mode="json", include={"details"})["details"],
            "status": "open",
        },
    )
    return await _reload(session, task.task_id)


async def get_task(session: AsyncSession, *, task_id: str) -> Task | None:
    """The task with this id, or None."""
    return await session.get(Task, task_id)


async def list_tasks(
    session: AsyncSession,
    *,
    status: str | None,
    kind: str | None,
    assignee: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Task], str | None]:
    """Tasks soonest due first (ties by task_id), filtered by whichever filters are given.

    Returns one page and the cursor of the next page (None on the last page). Raises
    ValueError for a malformed cursor or a limit below 1.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = select(Task)
    if status is not None:
        query = query.where(Task.status == status)
    if kind is not None:
        query = query.where(Task.kind == kind)
    if assignee is not None:
        query = query.where(Task.assignee == assignee)
    if cursor is not None:
        after_at, after_key = decode_cursor(_CURSOR_SCOPE, cursor)
        query = query.where(tuple_(Task.due_at, Task.task_id) > (after_at, after_key))
    query = query.order_by(Task.due_at, Task.task_id)
    # One extra row tells whether another page exists.
    rows = list(await session.scalars(query.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    last = page[-1]
    return page, encode_cursor(_CURSOR_SCOPE, last.due_at, last.task_id)


async def claim_task(session: AsyncSession, *, task_id: str, username: str) -> Task:
    """Take an open task; claiming one you already hold is fine.

    Raises TaskNotFound, TaskNotOpen (closed) or ClaimedByOther.
    """
    # One conditional UPDATE, so two supervisors racing for a task cannot both win.
    claimed = await _update_where(
        session,
        task_id,
        or_(Task.status == "open", and_(Task.status == "claimed", Task.assignee == username)),
        status="claimed",
        assignee=username,
    )
    task = await _reload(session, task_id)
    if not claimed:
        if task.status == "claimed":
            raise ClaimedByOther(f"task {task_id} is claimed by someone else")
        raise TaskNotOpen(f"task {task_id} is {task.status}")
    return task


async def release_task(session: AsyncSession, *, task_id: str, username: str) -> Task:
    """Give a claimed task back to the inbox; only its holder may.

    Releasing an open task again is harmless. Raises TaskNotFound, TaskNotOpen (closed) or
    ClaimedByOther.
    """
    released = await _update_where(
        session,
        task_id,
        and_(Task.status == "claimed", Task.assignee == username),
        status="open",
        assignee=None,
    )
    task = await _reload(session, task_id)
    if not released:
        if task.status == "claimed":
            raise ClaimedByOther(f"task {task_id} is claimed by someone else")
        if task.status != "open":
            raise TaskNotOpen(f"task {task_id} is {task.status}")
    return task


async def apply_task_change(session: AsyncSession, *, change: TaskChange) -> Task:
    """Apply a workflow's change to a task: remind, escalate, expire, complete or cancel.

    A closed task stays as it is, so a retried change that already closed it does nothing.
    Raises TaskNotFound.
    """
    now = utcnow()
    values: dict[str, Any]
    condition: Any = Task.status.not_in(TASK_CLOSED_STATUSES)
    match change.action:
        case "remind":
            values = {"reminded_at": now}
        case "escalate":
            values = {
                "escalation_level": Task.escalation_level + 1
                if change.level is None
                else change.level,
                "priority": Task.priority + 1,
            }
            if change.level is not None:
                condition = and_(condition, Task.escalation_level < change.level)
        case "expire":
            values = {"status": "expired", "closed_at": now}
        case "complete":
            values = {
                "status": "done",
                "decision": change.decision,
                "decided_by": change.by,
                "reason": change.reason,
                "closed_at": now,
            }
        case "cancel":
            values = {"status": "cancelled", "reason": change.reason, "closed_at": now}
    await _update_where(session, change.task_id, condition, **values)
    return await _reload(session, change.task_id)


async def cancel_open_tasks(session: AsyncSession, *, workflow_id: str, reason: str) -> list[str]:
    """Cancel every task of this process that is still open or claimed (its process was
    terminated and will never close them); the ids of those cancelled."""
    open_ids = list(
        await session.scalars(
            select(Task.task_id).where(
                Task.workflow_id == workflow_id, Task.status.not_in(TASK_CLOSED_STATUSES)
            )
        )
    )
    cancelled = []
    for task_id in open_ids:
        closed = await _update_where(
            session,
            task_id,
            Task.status.not_in(TASK_CLOSED_STATUSES),
            status="cancelled",
            reason=reason,
            closed_at=utcnow(),
        )
        if closed:
            cancelled.append(task_id)
    return cancelled


async def _update_where(session: AsyncSession, task_id: str, condition: Any, **values: Any) -> bool:
    """Update the task if `condition` holds; whether it did."""
    statement = (
        update(Task)
        .where(Task.task_id == task_id, condition)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


async def _reload(session: AsyncSession, task_id: str) -> Task:
    query = select(Task).where(Task.task_id == task_id).execution_options(populate_existing=True)
    task = await session.scalar(query)
    if task is None:
        raise TaskNotFound(f"task {task_id} not found")
    return task
