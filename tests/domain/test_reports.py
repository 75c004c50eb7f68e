"""The reports' pure rules for policies: which timeline lines are status changes, and
which days of effect reach the end of their 13th policy month on a given day."""

from __future__ import annotations

from datetime import date, datetime

from domain.business import SHANGHAI
from domain.policies import PolicyHistoryEntry, PolicyStage, PolicyStatus
from domain.reports import persistency_cohort, status_changes


def test_a_day_has_the_policies_that_took_effect_thirteen_months_before() -> None:
    assert persistency_cohort(date(2025, 3, 10)) == [date(2024, 2, 10)]
    assert persistency_cohort(date(2025, 1, 1)) == [date(2023, 12, 1)]


def test_a_months_last_day_also_has_the_days_the_shorter_month_lacks() -> None:
    assert persistency_cohort(date(2026, 2, 28)) == [date(2025, 1, d) for d in (28, 29, 30, 31)]
    # February 2024 has a 29th: 29 March 2025 is its day, and no day is 30 or 31 March's.
    assert persistency_cohort(date(2025, 3, 29)) == [date(2024, 2, 29)]
    assert persistency_cohort(date(2025, 3, 30)) == []
    assert persistency_cohort(date(2025, 3, 31)) == []


def test_status_changes_are_the_lines_whose_status_differs_from_the_line_before() -> None:
    def line(status: PolicyStatus, hour: int) -> PolicyHistoryEntry:
        at = datetime(2025, 3, 10, hour, tzinfo=SHANGHAI)
        return PolicyHistoryEntry(stage=PolicyStage.IN_FORCE, status=status, at=at, by="system")

    S = PolicyStatus
    history = [line(S.EFFECTIVE, 1), line(S.EFFECTIVE, 2), line(S.GRACE, 3), line(S.SUSPENDED, 4)]
    history += [line(S.SUSPENDED, 5), line(S.EFFECTIVE, 6)]
    changes = [(before, entry.status, entry.at.hour) for before, entry in status_changes(history)]
    assert changes == [
        (S.EFFECTIVE, S.GRACE, 3),
        (S.GRACE, S.SUSPENDED, 4),
        (S.SUSPENDED, S.EFFECTIVE, 6),
    ]
