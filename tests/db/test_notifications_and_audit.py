"""The notification outbox's dispatch side and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories import audit
from db.repositories.notifications import enqueue, list_for_case, list_pending, mark_all_sent
from domain.activities import Notification as NotificationMessage


def message(key: str) -> NotificationMessage:
    return NotificationMessage(
        key=key, case_id="A1", recipient="agent:alice", channel="inbox", template="t"
    )


async def test_marking_sent_takes_messages_out_of_the_pending_list_once(
    session: AsyncSession,
) -> None:
    for key in ("A1:a", "A1:b", "A1:c"):
        await enqueue(session, notification=message(key))
    assert await mark_all_sent(session, keys=["A1:a", "A1:b"]) == 2
    first = {n.key: n.sent_at for n in await list_for_case(session, case_id="A1")}
    assert await mark_all_sent(session, keys=["A1:a", "A1:b"]) == 0  # already sent
    assert await mark_all_sent(session, keys=[]) == 0
    again = {n.key: n.sent_at for n in await list_for_case(session, case_id="A1")}
    assert again == first and first["A1:a"] is not None  # the first send time is kept
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
