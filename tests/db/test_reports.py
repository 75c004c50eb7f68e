"""The reports' daily aggregation, against the hand-counted world of tests/db/report_world.py:
each figure of a business day, events either side of midnight in Shanghai on their own
days, an empty day, and the same rows when a day is aggregated twice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Customer, Policy, ReportDaily, ReportSamples, ReportTaskDaily
from db.repositories.reports import aggregate_day
from domain.policies import PolicyState
from domain.policy_query import LOCK_AFTER, LOCK_WINDOW
from domain.reports import NO_AGENT, QUERY_ANSWER_MS, REPORT_TO_PAYMENT, SUBMISSION_TO_ISSUE
from tests.db.report_world import AFTER, BEFORE, DAY, PERSISTENCY, RETURN_VISITS, insert_world

MakeCustomer = Callable[[int], Awaitable[Customer]]


async def _aggregate(session: AsyncSession, day: date) -> None:
    await aggregate_day(session, day=day, lock_after=LOCK_AFTER, lock_window=LOCK_WINDOW)


async def _agents(session: AsyncSession, day: date) -> dict[str, dict[str, Any]]:
    rows = await session.scalars(select(ReportDaily).where(ReportDaily.day == day))
    return {
        r.agent: {k: v for k, v in r.__dict__.items() if not k.startswith("_")}
        | {"computed_at": None}
        for r in rows
    }


async def _nonzero(session: AsyncSession, day: date) -> dict[str, dict[str, Any]]:
    skip = {"day", "agent", "computed_at"}
    return {
        agent: {k: v for k, v in row.items() if k not in skip and v}
        for agent, row in (await _agents(session, day)).items()
    }


async def _tasks(session: AsyncSession, day: date) -> dict[tuple[str, str], dict[str, int]]:
    rows = await session.scalars(select(ReportTaskDaily).where(ReportTaskDaily.day == day))
    figures = ("opened", "decided", "decided_before_due", "escalated", "breached", "cancelled")
    return {(r.agent, r.kind): {f: getattr(r, f) for f in figures if getattr(r, f)} for r in rows}


async def _samples(session: AsyncSession, day: date) -> dict[tuple[str, str], list[int]]:
    rows = await session.scalars(select(ReportSamples).where(ReportSamples.day == day))
    return {(r.agent, r.measure): r.samples for r in rows}


async def test_a_days_figures_per_agent_are_the_hand_counted_ones(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    await insert_world(session, await make_customer(1))
    await _aggregate(session, DAY)
    assert await _nonzero(session, DAY) == {
        "alice": {
            "applications_started": 1,  # E2 (E1 started the evening before)
            "applications_submitted": 1,  # E2
            "applications_approved": 1,  # E1, 00:30
            "applications_rejected": 1,  # E2
            "policies_issued": 1,  # E1
            "premium_issued": Decimal("1200.00"),
            "claims_reported": 1,  # C2 (C1 the evening before)
            "claims_decided": 2,  # C1 approved, C2 rejected
            "claims_rejected": 1,
            "claims_decided_in_time": 1,  # C1; C2 was an hour late
            "claims_paid": 1,
            "claims_paid_amount": Decimal("3000.00"),
            "queries_attempted": 2,
            "queries_succeeded": 1,
            "queries_failed": 1,
            "return_visits_due": 1,  # RV1 (RV5's policy was cancelled before its due day)
            "return_visits_completed": 2,  # RV1 00:30, RV2 23:30
            "return_visits_in_cooling_off": 1,  # RV1; RV2's period ended at 00:00
            "return_visits_escalated": 1,  # RV2, overdue at 00:00
            "policies_reinstated": 1,  # L1, 00:30 (suspended at 23:30 the evening before)
            "policies_surrendered": 1,  # L3, 23:30
            "policies_terminated_claim_paid": 1,  # L5
            "persistency_13m_due": 2,  # K1, K2 (K5 ended by a claim, K7 a single premium)
            "persistency_13m_paid": 1,  # K1; K2 in grace when its 13th month ended at 23:30
        },
        "bob": {
            "applications_started": 1,
            "applications_submitted": 1,
            "applications_approved": 1,
            "policies_issued": 1,
            "premium_issued": Decimal("800.50"),
            "claims_reported": 1,
            "return_visits_due": 1,  # RV4 (RV3 the day after)
            "return_visits_unreachable": 1,  # RV3's third try
            "return_visits_escalated": 1,  # RV3, unreachable three times
            "return_visits_misselling": 1,  # RV4
            "policies_suspended": 1,  # L2
            "policies_expired": 1,  # L6, at 00:00
            "persistency_13m_due": 3,  # K6, K8, K10 (K4 cancelled in cooling-off)
            "persistency_13m_paid": 1,  # K6 in grace; K8 surrendered; K10 paid an hour late
        },
        NO_AGENT: {
            "queries_attempted": 5,
            "queries_failed": 4,
            "queries_locked": 1,
            "query_lockouts": 1,  # the fifth failure in 15 minutes, with one from 23:50
        },
    }


async def test_a_days_sla_figures_per_task_kind_are_the_hand_counted_ones(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    await insert_world(session, await make_customer(1))
    await _aggregate(session, DAY)
    assert await _tasks(session, DAY) == {
        ("alice", "underwriting"): {
            "opened": 2,  # T1, T5 (T2 the evening before)
            "decided": 2,  # T1 before due, T2 after (T5 the next day)
            "decided_before_due": 1,
            "breached": 1,
            "escalated": 1,
        },
        ("bob", "claim_approval"): {"opened": 1, "breached": 1},  # expired undecided
        ("bob", "claim_review"): {"opened": 1, "cancelled": 1},
    }


async def test_a_days_duration_samples_are_every_duration_sorted(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    await insert_world(session, await make_customer(1))
    await _aggregate(session, DAY)
    assert await _samples(session, DAY) == {
        ("alice", SUBMISSION_TO_ISSUE): [6300],  # 23:45 the evening before → 01:30
        ("bob", SUBMISSION_TO_ISSUE): [7200],
        ("alice", REPORT_TO_PAYMENT): [10800],
        ("alice", QUERY_ANSWER_MS): [120, 200],
        (NO_AGENT, QUERY_ANSWER_MS): [5, 300, 300, 300, 300],
    }


async def test_events_at_2330_and_0030_local_fall_on_different_business_days(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    await insert_world(session, await make_customer(1))
    for day in (BEFORE, DAY, AFTER):
        await _aggregate(session, day)
    before, after = await _nonzero(session, BEFORE), await _nonzero(session, AFTER)
    # E1 and C1 began at 23:30 the day before; E1 was approved and C1 decided at 00:30;
    # RV1's customer was not reached at 23:30 and was at 00:30; L1 was suspended at 23:30
    # and reinstated at 00:30; K9 paid at 23:00, before its 13th month ended at 23:30.
    assert before["alice"] == {
        "applications_started": 1,
        "applications_submitted": 1,
        "claims_reported": 1,
        "return_visits_unreachable": 1,
        "policies_suspended": 1,
        "persistency_13m_due": 1,
        "persistency_13m_paid": 1,
    }
    assert before[NO_AGENT] == {"queries_attempted": 1, "queries_failed": 1}
    assert (await _nonzero(session, DAY))["alice"]["applications_approved"] == 1
    assert (await _nonzero(session, DAY))["alice"]["return_visits_completed"] == 2
    # E4 started, a look-up came and RV6 was completed at 00:30 the day after; T5, opened
    # 23:30, closed then. RV3 is due that day. L4 was terminated at 00:00; K3's 13th month
    # ended at 00:30.
    assert after == {
        "bob": {
            "applications_started": 1,
            "return_visits_due": 1,
            "return_visits_completed": 1,
            "return_visits_in_cooling_off": 1,
            "policies_terminated_not_reinstated": 1,
            "persistency_13m_due": 1,
            "persistency_13m_paid": 1,
        },
        "alice": {"queries_attempted": 1, "queries_succeeded": 1},
    }
    assert await _tasks(session, AFTER) == {
        ("alice", "underwriting"): {"decided": 1, "decided_before_due": 1}
    }
    assert await _tasks(session, BEFORE) == {("alice", "underwriting"): {"opened": 1}}


async def _last_written_at_issue(session: AsyncSession, states: list[PolicyState]) -> None:
    for state in states:
        await session.execute(
            update(Policy)
            .where(Policy.policy_number == state.policy_number)
            .values(updated_at=state.issued_at)
        )


async def test_a_visit_falls_due_on_a_day_its_policy_row_was_not_written(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    await insert_world(session, await make_customer(1))
    # Each policy row last written when it was issued, weeks before: the due day's
    # aggregation still finds RV1 and RV4 (their cooling-off periods ran that day).
    await _last_written_at_issue(session, RETURN_VISITS)
    await _aggregate(session, DAY)
    due = {a: row.get("return_visits_due") for a, row in (await _nonzero(session, DAY)).items()}
    assert due == {"alice": 1, "bob": 1, NO_AGENT: None}


async def test_persistency_is_counted_on_a_day_its_policy_row_was_not_written(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    await insert_world(session, await make_customer(1))
    # Each row last written a year before its 13th month ended: the day's aggregation
    # still finds the policies that took effect 13 months before.
    await _last_written_at_issue(session, PERSISTENCY)
    await _aggregate(session, DAY)
    rows = await _nonzero(session, DAY)
    persistency = {
        agent: (row.get("persistency_13m_due"), row.get("persistency_13m_paid"))
        for agent, row in rows.items()
    }
    assert persistency == {"alice": (2, 1), "bob": (3, 1), NO_AGENT: (None, None)}


async def test_a_day_without_events_has_no_rows(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    await insert_world(session, await make_customer(1))
    empty = date(2025, 3, 1)
    await _aggregate(session, empty)
    assert await _agents(session, empty) == {}
    assert await _tasks(session, empty) == {}
    assert await _samples(session, empty) == {}


async def test_aggregating_a_day_twice_leaves_the_same_rows(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    await insert_world(session, await make_customer(1))
    await _aggregate(session, DAY)
    first = (await _agents(session, DAY), await _tasks(session, DAY), await _samples(session, DAY))
    await _aggregate(session, DAY)
    again = (await _agents(session, DAY), await _tasks(session, DAY), await _samples(session, DAY))
    assert again == first
    count = len(list(await session.scalars(select(ReportDaily).where(ReportDaily.day == DAY))))
    assert count == 3
