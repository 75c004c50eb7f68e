"""The batched write (record_changes): the state and every queued change in one
transaction, applied once however often the activity runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.changes import ChangeActivities
from db.models import Enrollment, Notification, Quote, Task
from db.repositories import tasks
from domain.activities import (
    Change,
    ChangeBatch,
    QuoteRecord,
    TaskChange,
    TaskOpen,
)
from domain.activities import (
    Notification as NotificationMessage,
)
from domain.enrollment import CustomerDetails, EnrollmentState, Stage, Status
from domain.enrollment import Quote as QuoteModel
from tests.support import CUSTOMER_ID_NUMBER


def batch(stage: Stage, changes: list[Change]) -> ChangeBatch:
    now = datetime.now(UTC)
    state = EnrollmentState(
        enrollment_id="E1",
        workflow_id="enrollment-E1",
        agent="alice",
        customer=CustomerDetails(
            name="王五", id_number=CUSTOMER_ID_NUMBER, phone="13800138000"
        ).masked(),
        birth_date=date(1990, 5, 17),
        stage=stage,
        status=Status.IN_PROGRESS,
        quote=QuoteModel(
            quote_id="Q-E1-1",
            product_code="TERM_LIFE_20",
            sum_insured=Decimal("1000000.00"),
            premium=Decimal("1500.00"),
            valid_until=now + timedelta(days=30),
        ),
    )
    return ChangeBatch(enrollment=state, changes=changes)


async def count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_batch_writes_state_and_changes_together_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    quoted = batch(Stage.QUOTED, [])
    assert quoted.enrollment is not None and quoted.enrollment.quote is not None
    opened = batch(
        Stage.UNDERWRITING,
        [
            Change(quote=QuoteRecord(application_no="E1", quote=quoted.enrollment.quote)),
            Change(
                task_open=TaskOpen(
                    task_id="uw-E1",
                    kind="underwriting",
                    workflow_id="enrollment-E1",
                    case_id="E1",
                    subject="Underwrite TERM_LIFE_20",
                    amount=Decimal("1000000.00"),
                    submitted_by="alice",
                    agent="alice",
                    due_at=datetime.now(UTC) + timedelta(days=1),
                )
            ),
            Change(
                notification=NotificationMessage(
                    key="E1:underwriting_opened",
                    case_id="E1",
                    recipient="agent:alice",
                    channel="inbox",
                    template="underwriting_opened",
                )
            ),
            Change(task_change=TaskChange(task_id="uw-E1", action="remind")),
        ],
    )
    activities = ChangeActivities(sessions)
    recorded = await activities.record_changes(opened)
    await activities.record_changes(opened)  # a retry: nothing twice

    assert recorded.changes == opened.changes  # what the timeline reads
    assert [await count(sessions, m) for m in (Enrollment, Quote, Task, Notification)] == [
        1,
        1,
        1,
        1,
    ]
    async with sessions() as s:
        row = await s.get(Enrollment, "E1")
        task = await tasks.get_task(s, task_id="uw-E1")
    assert row is not None and row.stage == Stage.UNDERWRITING.value
    assert task is not None and task.reminded_at is not None


async def test_a_failing_change_leaves_nothing_of_its_batch(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    broken = batch(Stage.QUOTED, [Change()])  # no field set
    with pytest.raises(ValueError, match="empty change"):
        await ChangeActivities(sessions).record_changes(broken)
    assert await count(sessions, Enrollment) == 0
