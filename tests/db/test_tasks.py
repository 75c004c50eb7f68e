"""The supervisor inbox: opening, listing, claiming, releasing and changing tasks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.models import Task, new_id
from db.repositories.tasks import (
    ClaimedByOther,
    TaskNotFound,
    TaskNotOpen,
    apply_task_change,
    cancel_open_tasks,
    claim_task,
    get_task,
    insert_task,
    list_tasks,
    release_task,
)
from db.session import make_session_factory
from domain.activities import TaskChange, TaskOpen

DUE = datetime(2026, 11, 23, 9, tzinfo=UTC)


Kind = Literal["underwriting", "claim_review", "claim_approval", "payout_failed"]
Action = Literal["remind", "escalate", "expire", "complete", "cancel"]


def task_open(task_id: str, *, due_at: datetime = DUE, kind: Kind = "underwriting") -> TaskOpen:
    return TaskOpen(
        task_id=task_id,
        kind=kind,
        workflow_id=f"enrollment-{task_id}",
        case_id=task_id,
        subject="Underwrite TERM_LIFE_20 for 800,000.00",
        amount=Decimal("800000.00"),
        submitted_by="alice",
        agent="alice",
        due_at=due_at,
        details={"sum_insured": Decimal("800000.00"), "flags": ["high_sum"]},
    )


async def test_insert_task_twice_keeps_one_row_and_the_first_version(
    session: AsyncSession,
) -> None:
    first = await insert_task(session, task=task_open("T1"))
    again = await insert_task(session, task=task_open("T1", due_at=DUE + timedelta(days=1)))
    count = await session.scalar(select(func.count()).select_from(Task))
    assert count == 1
    assert again.due_at == first.due_at == DUE
    assert again.status == "open"
    assert again.details == {"sum_insured": "800000.00", "flags": ["high_sum"]}


async def test_list_tasks_pages_through_due_time_ties_in_task_id_order(
    session: AsyncSession,
) -> None:
    # Five tasks share one due time: only the task_id tie-break keeps pages apart.
    for task_id in ["T5", "T3", "T1", "T4", "T2"]:
        await insert_task(session, task=task_open(task_id))
    await insert_task(session, task=task_open("T0", due_at=DUE + timedelta(hours=1)))
    await insert_task(session, task=task_open("T9", due_at=DUE - timedelta(hours=1)))

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = await list_tasks(
            session, status="open", kind=None, assignee=None, cursor=cursor, limit=2
        )
        seen += [task.task_id for task in page]
        pages += 1
        if cursor is None:
            break
    assert seen == ["T9", "T1", "T2", "T3", "T4", "T5", "T0"]
    assert pages == 4


async def test_list_tasks_filters_by_status_kind_and_assignee(session: AsyncSession) -> None:
    await insert_task(session, task=task_open("T1"))
    await insert_task(session, task=task_open("T2", kind="claim_review"))
    await insert_task(session, task=task_open("T3"))
    await claim_task(session, task_id="T3", username="sue")

    def ids(tasks: list[Task]) -> list[str]:
        return [task.task_id for task in tasks]

    open_uw, _ = await list_tasks(
        session, status="open", kind="underwriting", assignee=None, cursor=None, limit=10
    )
    mine, _ = await list_tasks(
        session, status=None, kind=None, assignee="sue", cursor=None, limit=10
    )
    everything, last = await list_tasks(
        session, status=None, kind=None, assignee=None, cursor=None, limit=10
    )
    assert ids(open_uw) == ["T1"]
    assert ids(mine) == ["T3"]
    assert ids(everything) == ["T1", "T2", "T3"]
    assert last is None


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", "eyJzIjoiZW5yb2xsbWVudCJ9", ""])
async def test_list_tasks_rejects_a_malformed_cursor(session: AsyncSession, cursor: str) -> None:
    with pytest.raises(ValueError, match="malformed cursor"):
        await list_tasks(session, status=None, kind=None, assignee=None, cursor=cursor, limit=5)


async def test_claim_gives_the_task_to_one_supervisor(session: AsyncSession) -> None:
    await insert_task(session, task=task_open("T1"))
    task = await claim_task(session, task_id="T1", username="sue")
    assert (task.status, task.assignee) == ("claimed", "sue")
    # Claiming a task you hold is a harmless repeat.
    assert (await claim_task(session, task_id="T1", username="sue")).assignee == "sue"
    with pytest.raises(ClaimedByOther):
        await claim_task(session, task_id="T1", username="sid")


async def test_claim_refuses_a_closed_task_and_an_unknown_one(session: AsyncSession) -> None:
    await insert_task(session, task=task_open("T1"))
    await apply_task_change(session, change=TaskChange(task_id="T1", action="cancel"))
    with pytest.raises(TaskNotOpen):
        await claim_task(session, task_id="T1", username="sue")
    with pytest.raises(TaskNotFound):
        await claim_task(session, task_id="nope", username="sue")


async def test_release_is_for_the_holder_only(session: AsyncSession) -> None:
    await insert_task(session, task=task_open("T1"))
    await claim_task(session, task_id="T1", username="sue")
    with pytest.raises(ClaimedByOther):
        await release_task(session, task_id="T1", username="sid")
    task = await release_task(session, task_id="T1", username="sue")
    assert (task.status, task.assignee) == ("open", None)
    # A repeated release finds the task open and leaves it so.
    assert (await release_task(session, task_id="T1", username="sue")).status == "open"
    assert (await claim_task(session, task_id="T1", username="sid")).assignee == "sid"


async def test_release_refuses_a_closed_task(session: AsyncSession) -> None:
    await insert_task(session, task=task_open("T1"))
    await claim_task(session, task_id="T1", username="sue")
    await apply_task_change(
        session,
        change=TaskChange(task_id="T1", action="complete", by="sue", decision="approve"),
    )
    with pytest.raises(TaskNotOpen):
        await release_task(session, task_id="T1", username="sue")


async def test_changes_remind_escalate_then_complete(session: AsyncSession) -> None:
    await insert_task(session, task=task_open("T1"))
    reminded = await apply_task_change(session, change=TaskChange(task_id="T1", action="remind"))
    assert reminded.reminded_at is not None
    escalated = await apply_task_change(session, change=TaskChange(task_id="T1", action="escalate"))
    assert (escalated.escalation_level, escalated.priority) == (1, 1)
    done = await apply_task_change(
        session,
        change=TaskChange(
            task_id="T1", action="complete", by="sue", decision="approve", reason="ok"
        ),
    )
    assert (done.status, done.decision, done.decided_by, done.reason) == (
        "done",
        "approve",
        "sue",
        "ok",
    )
    assert done.closed_at is not None


async def test_a_change_to_a_closed_task_does_nothing(session: AsyncSession) -> None:
    await insert_task(session, task=task_open("T1"))
    expired = await apply_task_change(session, change=TaskChange(task_id="T1", action="expire"))
    assert expired.status == "expired"
    closed_at = expired.closed_at
    actions: list[Action] = ["expire", "escalate", "complete", "cancel", "remind"]
    for action in actions:
        task = await apply_task_change(
            session,
            change=TaskChange(task_id="T1", action=action, by="sue", decision="approve"),
        )
        assert (task.status, task.closed_at, task.escalation_level) == ("expired", closed_at, 0)
        assert task.decision is None and task.reminded_at is None


async def test_get_task_returns_none_for_an_unknown_id(session: AsyncSession) -> None:
    assert await get_task(session, task_id="nope") is None
    with pytest.raises(TaskNotFound):
        await apply_task_change(session, change=TaskChange(task_id="nope", action="remind"))


async def test_two_supervisors_racing_for_a_task_cannot_both_win(engine: AsyncEngine) -> None:
    # Real, committed transactions on separate connections; the row is removed afterwards.
    factory = make_session_factory(engine)
    task_id = f"race-{new_id()}"
    async with factory() as session, session.begin():
        await insert_task(session, task=task_open(task_id))

    async def claim(username: str) -> Task:
        async with factory() as session, session.begin():
            return await claim_task(session, task_id=task_id, username=username)

    try:
        results = await asyncio.gather(claim("sue"), claim("sid"), return_exceptions=True)
        winners = [r for r in results if isinstance(r, Task)]
        losers = [r for r in results if isinstance(r, ClaimedByOther)]
        assert len(winners) == 1 and len(losers) == 1, results
        async with factory() as session:
            task = await get_task(session, task_id=task_id)
            assert task is not None and task.assignee == winners[0].assignee
    finally:
        async with factory() as session, session.begin():
            await session.execute(delete(Task).where(Task.task_id == task_id))


async def test_cancel_open_tasks_closes_only_the_process_open_ones(session: AsyncSession) -> None:
    for task_id in ("T1", "T2"):
        await insert_task(session, task=task_open(task_id))
    await claim_task(session, task_id="T1", username="sue")

    assert await cancel_open_tasks(session, workflow_id="enrollment-T1", reason="ended") == ["T1"]
    assert await cancel_open_tasks(session, workflow_id="enrollment-T1", reason="again") == []

    t1 = await get_task(session, task_id="T1")
    t2 = await get_task(session, task_id="T2")
    assert t1 is not None and t2 is not None
    await session.refresh(t1)
    assert (t1.status, t1.reason) == ("cancelled", "ended") and t1.closed_at is not None
    assert t2.status == "open"
