"""The notification outbox's dispatch side and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories import audit
from db.repositories.notifications import enqueue, list_pending, mark_all_sent, mark_sent
from domain.activities import Notification as NotificationMessage


def message(key: str) -> NotificationMessage:
    return NotificationMessage(
        key=key, case_id="A1", recipient="agent:alice", channel="inbox", template="t"
    )


async def test_mark_sent_takes_a_message_out_of_the_pending_list(session: AsyncSession) -> None:
    await enqueue(session, notification=message("A1:quoted"))
    await enqueue(session, notification=message("A1:issued"))
    sent = await mark_sent(session, key="A1:quoted")
    first_sent_at = sent.sent_at
    again = await mark_sent(session, key="A1:quoted")
    pending = await list_pending(session, limit=10)
    assert (sent.status, again.sent_at) == ("sent", first_sent_at)
    assert [n.key for n in pending] == ["A1:issued"]


async def test_mark_all_sent_marks_a_batch_once(session: AsyncSession) -> None:
    for key in ("A1:a", "A1:b", "A1:c"):
        await enqueue(session, notification=message(key))
    assert await mark_all_sent(session, keys=["A1:a", "A1:b"]) == 2
    assert await mark_all_sent(session, keys=["A1:a", "A1:b"]) == 0  # already sent
    assert await mark_all_sent(session, keys=[]) == 0
    assert [n.key for n in await list_pending(session, limit=10)] == ["A1:c"]


async def test_audit_events_list_newest_first_and_count_by_action(session: AsyncSession) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    for n in range(3):
        await audit.append(
            session,
            actor="anonymous",
            action="policy_query_failed",
            case_id="P1",
            client="203.0.113.9",
            request_id=f"r{n}",
            detail={"attempt": n},
        )
    await audit.append(session, actor="olga", action="workflow_cancelled", case_id="P1")
    await audit.append(session, actor="olga", action="workflow_cancelled", case_id="P2")

    events = await audit.list_for_case(session, case_id="P1", limit=3)
    failures = await audit.count_for_case(
        session, case_id="P1", action="policy_query_failed", since=before
    )
    assert [e.action for e in events] == [
        "workflow_cancelled",
        "policy_query_failed",
        "policy_query_failed",
    ]
    assert [e.detail for e in events[1:]] == [{"attempt": 2}, {"attempt": 1}]
    assert failures == 3
    assert events[0].id > events[1].id


async def test_the_audit_log_refuses_updates_and_deletes(session: AsyncSession) -> None:
    await audit.append(session, actor="olga", action="workflow_cancelled", case_id="P9")
    for statement in ("UPDATE audit_event SET actor = 'mallory'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(text(statement))
    assert [e.actor for e in await audit.list_for_case(session, case_id="P9", limit=5)] == ["olga"]
