"""The reports' pure rules for policies: each suspension and reinstatement on its day,
and which days of effect reach the end of their 13th policy month on a given day."""

from __future__ import annotations

from datetime import date

from domain.policies import PolicyStatus
from domain.reports import DayFigures, count_lapses, persistency_cohort
from tests.db.report_world import at, lapsing_policy


def test_a_day_has_the_policies_that_took_effect_thirteen_months_before() -> None:
    assert persistency_cohort(date(2025, 3, 10)) == [date(2024, 2, 10)]
    assert persistency_cohort(date(2025, 1, 1)) == [date(2023, 12, 1)]


def test_a_months_last_day_also_has_the_days_the_shorter_month_lacks() -> None:
    assert persistency_cohort(date(2026, 2, 28)) == [date(2025, 1, d) for d in (28, 29, 30, 31)]
    # February 2024 has a 29th: 29 March 2025 is its day, and no day is 30 or 31 March's.
    assert persistency_cohort(date(2025, 3, 29)) == [date(2024, 2, 29)]
    assert persistency_cohort(date(2025, 3, 30)) == []
    assert persistency_cohort(date(2025, 3, 31)) == []


def test_each_suspension_and_reinstatement_is_counted_on_its_day() -> None:
    S = PolicyStatus
    policy = lapsing_policy(
        "L",
        "alice",
        at(date(2023, 1, 5), 9),
        changes=[
            (S.SUSPENDED, at(date(2024, 2, 20), 0)),
            (S.EFFECTIVE, at(date(2024, 3, 1), 23, 30)),
            (S.SUSPENDED, at(date(2025, 2, 20), 0)),
        ],
        suspended_at=at(date(2025, 2, 20), 0),
    )
    counted: dict[date, dict[str, int]] = {}
    for day in (date(2024, 2, 20), date(2024, 3, 1), date(2025, 2, 20), date(2025, 3, 1)):
        figures = DayFigures(day=day)
        count_lapses(figures, policy)
        counted[day] = {k: v for k, v in figures.agents.get("alice", {}).items() if v}
    assert counted == {
        date(2024, 2, 20): {"policies_suspended": 1},
        date(2024, 3, 1): {"policies_reinstated": 1},  # back in force from that day
        date(2025, 2, 20): {"policies_suspended": 1},
        date(2025, 3, 1): {},
    }
