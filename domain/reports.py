"""The business reports' figures (业务报告), as pure rules: what happened to one case on one
business day, and how exact median and percentiles come out of stored samples.

A business day is a calendar day in Asia/Shanghai. Each case's timeline (the process's
``history``, stamped by the workflow's clock) says on which day it was submitted, issued,
decided or paid, a policy's return visit when it was tried and escalated, and when a
policy was suspended, reinstated or ended; ``db.repositories.reports`` reads the rows,
these functions count them, and the daily aggregates it writes hold the counts per
business day and agent. docs/reports.md says what every figure counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from domain.business import SHANGHAI
from domain.claims import ClaimStage, ClaimState
from domain.enrollment import EnrollmentState, Stage, Status
from domain.policies import (
    LIVE_STATUSES,
    PolicyState,
    PolicyStatus,
    TerminationReason,
    add_months,
)
from domain.policy_query import FAILED, LOCKED, SUCCEEDED
from domain.premiums import installment_due_at, suspensions

# Durations kept as samples, so that median and percentiles are exact over any range.
SUBMISSION_TO_ISSUE = "submission_to_issue"  # seconds, on the day of issue
REPORT_TO_PAYMENT = "report_to_payment"  # seconds, on the day of payment
QUERY_ANSWER_MS = "query_answer_ms"  # milliseconds, on the day of the look-up
MEASURES = (SUBMISSION_TO_ISSUE, REPORT_TO_PAYMENT, QUERY_ANSWER_MS)

# The agent column of figures that belong to no agent: a look-up of a policy number we
# do not have.
NO_AGENT = ""


class ReportDay(BaseModel):
    """The business day whose aggregates to (re)compute."""

    day: date


class ReportDayAggregated(BaseModel):
    """What one aggregation wrote: the day and its row counts per table."""

    day: date
    agent_rows: int
    task_rows: int
    sample_rows: int


class ReportsRun(BaseModel):
    """The input of ReportsWorkflow: a day, or none for the business day before the run."""

    day: date | None = None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants a business day runs over: [00:00, next 00:00) in Shanghai."""
    start = datetime.combine(day, time(0), SHANGHAI)
    return start, start + timedelta(days=1)


def previous_business_day(now: datetime) -> date:
    """The business day before the one ``now`` falls on."""
    return now.astimezone(SHANGHAI).date() - timedelta(days=1)


def on_day(at: datetime | None, day: date) -> bool:
    return at is not None and at.astimezone(SHANGHAI).date() == day


def nearest_rank(sorted_samples: Sequence[int], percent: int) -> int | None:
    """The ``percent``-th percentile by the nearest-rank method: the smallest sample with at
    least ``percent`` % of the samples at or below it (the median of 1, 2, 3, 4 is 2). None
    for no samples. Always a sample that occurred, never an interpolation."""
    if not sorted_samples:
        return None
    rank = max(1, math.ceil(percent * len(sorted_samples) / 100))
    return sorted_samples[rank - 1]


def merge_sorted(lists: Iterable[Sequence[int]]) -> list[int]:
    """Every sample of ``lists``, in order (each day's list is stored sorted)."""
    merged = [s for samples in lists for s in samples]
    merged.sort()
    return merged


RETURN_VISIT_FIGURES = (
    "return_visits_due",
    "return_visits_completed",
    "return_visits_in_cooling_off",
    "return_visits_unreachable",
    "return_visits_escalated",
    "return_visits_misselling",
)
LAPSE_FIGURES = (
    "policies_suspended",
    "policies_reinstated",
    "policies_surrendered",
    "policies_terminated_not_reinstated",
    "policies_terminated_claim_paid",
    "policies_expired",
)
# The 13-month persistency (13个月继续率) as a numerator and a denominator, each a count
# per day, so that a range's rate is the ratio of its sums.
PERSISTENCY_FIGURES = ("persistency_13m_due", "persistency_13m_paid")
POLICY_PERSISTENCY_FIGURES = (*LAPSE_FIGURES, *PERSISTENCY_FIGURES)
AGENT_FIGURES = (
    "applications_started",
    "applications_submitted",
    "applications_approved",
    "applications_rejected",
    "policies_issued",
    "premium_issued",
    "claims_reported",
    "claims_decided",
    "claims_rejected",
    "claims_decided_in_time",
    "claims_paid",
    "claims_paid_amount",
    "queries_attempted",
    "queries_succeeded",
    "queries_failed",
    "queries_locked",
    "query_lockouts",
    *RETURN_VISIT_FIGURES,
    *POLICY_PERSISTENCY_FIGURES,
)
MONEY_FIGURES = frozenset({"premium_issued", "claims_paid_amount"})
TASK_FIGURES = ("opened", "decided", "decided_before_due", "escalated", "breached", "cancelled")


def _zero(name: str) -> int | Decimal:
    return Decimal("0.00") if name in MONEY_FIGURES else 0


@dataclass
class DayFigures:
    """One business day's counts: per agent, per (agent, task kind), and the duration
    samples per (agent, measure)."""

    day: date
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    samples: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, agent: str, figure: str, amount: int | Decimal = 1) -> None:
        row = self.agents.setdefault(agent, {name: _zero(name) for name in AGENT_FIGURES})
        row[figure] += amount

    def add_task(self, agent: str, kind: str, figure: str) -> None:
        row = self.tasks.setdefault((agent, kind), dict.fromkeys(TASK_FIGURES, 0))
        row[figure] += 1

    def sample(self, agent: str, measure: str, value: int) -> None:
        self.samples.setdefault((agent, measure), []).append(value)

    def sorted_samples(self) -> dict[tuple[str, str], list[int]]:
        return {key: sorted(values) for key, values in self.samples.items()}


def _first(history: Iterable[Any], matches: Any) -> Any:
    return next((entry for entry in history if matches(entry)), None)


def count_enrollment(figures: DayFigures, state: EnrollmentState) -> None:
    """An enrollment's events on the day: started (its first timeline line), submitted,
    approved (underwriting approved: it moved on to payment), rejected, issued (with its
    premium, and its submission-to-issue duration)."""
    day, history, agent = figures.day, state.history, state.agent
    if history and on_day(history[0].at, day):
        figures.add(agent, "applications_started")
    submitted = _first(history, lambda h: h.stage == Stage.APPLICATION_SUBMITTED)
    if submitted is not None and on_day(submitted.at, day):
        figures.add(agent, "applications_submitted")
    approved = _first(history, lambda h: h.stage == Stage.AWAITING_PAYMENT)
    if approved is not None and on_day(approved.at, day):
        figures.add(agent, "applications_approved")
    rejected = _first(history, lambda h: h.status == Status.REJECTED)
    if rejected is not None and on_day(rejected.at, day):
        figures.add(agent, "applications_rejected")
    issued = _first(history, lambda h: h.stage == Stage.ISSUED)
    if issued is not None and on_day(issued.at, day):
        figures.add(agent, "policies_issued")
        if state.quote is not None:
            figures.add(agent, "premium_issued", state.quote.premium)
        if submitted is not None:
            seconds = int((issued.at - submitted.at).total_seconds())
            figures.sample(agent, SUBMISSION_TO_ISSUE, seconds)


def count_claim(figures: DayFigures, state: ClaimState) -> None:
    """A claim's events on the day: reported (its first timeline line), first decided
    (approved or rejected; in time when by its decision deadline), paid (with the amount
    and the report-to-payment duration)."""
    day, history, agent = figures.day, state.history, state.agent
    if not history:
        return
    reported = history[0]
    if on_day(reported.at, day):
        figures.add(agent, "claims_reported")
    decided = _first(history, lambda h: h.stage in (ClaimStage.APPROVED, ClaimStage.REJECTED))
    if decided is not None and on_day(decided.at, day):
        figures.add(agent, "claims_decided")
        if decided.stage == ClaimStage.REJECTED:
            figures.add(agent, "claims_rejected")
        due = state.deadlines.decision_due_at
        if due is None or decided.at <= due:
            figures.add(agent, "claims_decided_in_time")
    paid = _first(history, lambda h: h.stage == ClaimStage.PAID)
    if paid is not None and on_day(paid.at, day):
        figures.add(agent, "claims_paid")
        if state.payout.amount is not None:
            figures.add(agent, "claims_paid_amount", state.payout.amount)
        figures.sample(agent, REPORT_TO_PAYMENT, int((paid.at - reported.at).total_seconds()))


# The timeline lines PolicyWorkflow writes when it escalates a return visit
# (workflows/policy.py): still open when the cooling-off period ends, or the customer not
# reached ``return_visit_tries`` times. The visit's status does not keep it (a visit
# escalated and then completed reads ``completed``); its timeline does, with the moment.
VISIT_ESCALATION_NOTES = (
    "return visit not completed within the cooling-off period",
    "return visit escalated:",
)


def policy_ended_at(state: PolicyState) -> datetime | None:
    """When the policy's process ended: its ``ended_at`` (cancelled in the cooling-off
    period, expired), or the last timeline line of one that ended otherwise (cancelled by
    ops); None while it lives."""
    if state.ended_at is not None:
        return state.ended_at
    if state.status not in LIVE_STATUSES and state.history:
        return state.history[-1].at
    return None


def count_policy(figures: DayFigures, state: PolicyState) -> None:
    """A policy's events on the day, for the selling agent: its return visit's
    (``count_return_visit``), its lapses and endings (``count_lapses``) and its 13-month
    persistency (``count_persistency``)."""
    count_return_visit(figures, state)
    count_lapses(figures, state)
    count_persistency(figures, state)


def count_return_visit(figures: DayFigures, state: PolicyState) -> None:
    """A policy's return visit (回访) on the day: due (its due time is on the day, and the
    policy had not ended before), each attempt by its outcome (completed, and within the
    cooling-off period or not; customer unreachable; mis-selling found), escalated (the
    first time it was)."""
    visit = state.return_visit
    if visit is None:
        return
    day, agent = figures.day, state.agent
    ended = policy_ended_at(state)
    if on_day(visit.due_at, day) and (ended is None or ended >= visit.due_at):
        figures.add(agent, "return_visits_due")
    ends = state.cooling_off_ends_at
    for attempt in visit.attempts:
        if not on_day(attempt.at, day):
            continue
        if attempt.decision == "completed":
            figures.add(agent, "return_visits_completed")
            if ends is not None and attempt.at < ends:
                figures.add(agent, "return_visits_in_cooling_off")
        elif attempt.decision == "unreachable":
            figures.add(agent, "return_visits_unreachable")
        else:
            figures.add(agent, "return_visits_misselling")
    escalated = _first(
        state.history, lambda h: h.note is not None and h.note.startswith(VISIT_ESCALATION_NOTES)
    )
    if escalated is not None and on_day(escalated.at, day):
        figures.add(agent, "return_visits_escalated")


_ENDINGS = {
    PolicyStatus.SURRENDERED: "policies_surrendered",
    PolicyStatus.EXPIRED: "policies_expired",
}
_TERMINATIONS = {
    TerminationReason.NOT_REINSTATED: "policies_terminated_not_reinstated",
    TerminationReason.CLAIM_PAID: "policies_terminated_claim_paid",
}


def count_lapses(figures: DayFigures, state: PolicyState) -> None:
    """A policy's lapses on the day: suspended (效力中止, grace ended unpaid) and reinstated
    (复效: back in force), each suspension as ``domain.premiums.suspensions`` reads it from
    the timeline (a reinstatement clears ``suspended_at``); and its ending
    (``policy_ended_at``) if it was surrendered (退保), terminated (by its reason: not
    reinstated within two years, or a claim paid) or expired."""
    day, agent = figures.day, state.agent
    for period in suspensions(state):
        if on_day(period.since, day):
            figures.add(agent, "policies_suspended")
        if period.until is not None and on_day(period.until, day):
            figures.add(agent, "policies_reinstated")
    if not on_day(policy_ended_at(state), day):
        return
    figure = _ENDINGS.get(state.status)
    if state.status == PolicyStatus.TERMINATED and state.termination_reason is not None:
        figure = _TERMINATIONS[state.termination_reason]
    if figure is not None:
        figures.add(agent, figure)


PERSISTENCY_MONTHS = 13


def persistency_ends_at(state: PolicyState) -> datetime:
    """When a policy's 13th policy month ends: ``effective_at`` 13 calendar months on in
    Shanghai (the day of the month kept, or the month's last day; ``add_months``)."""
    return add_months(state.effective_at.astimezone(SHANGHAI), PERSISTENCY_MONTHS)


def persistency_cohort(day: date) -> list[date]:
    """The business days of effect whose policies' 13th policy month ends on ``day``: one,
    none (31 March after a February without a 29th, 30th or 31st) or, on a month's last
    day, also the days the month 13 months before has beyond it (28 February 2026: 28 to
    31 January 2025)."""
    around = add_months(day, -PERSISTENCY_MONTHS)
    candidates = (around + timedelta(days=n) for n in range(-3, 4))
    return [d for d in candidates if add_months(d, PERSISTENCY_MONTHS) == day]


def count_persistency(figures: DayFigures, state: PolicyState) -> None:
    """The 13-month persistency (13个月继续率), counted on the day a policy's 13th policy
    month ends (``persistency_ends_at``): an installment policy that owed its second
    installment is due (``persistency_13m_due``), and paid (``persistency_13m_paid``) when
    that installment was collected by then, on time, in grace or by a reinstatement. Not
    counted: single-premium policies, a policy cancelled (in the cooling-off period, or
    its process by ops: void from the start), and one a claim ended before the second
    installment fell due (nothing was owed)."""
    if not state.installments or state.status == PolicyStatus.CANCELLED:
        return
    ends = persistency_ends_at(state)
    if not on_day(ends, figures.day):
        return
    second_due = installment_due_at(state.effective_at, 2)
    ended = policy_ended_at(state)
    if state.termination_reason == TerminationReason.CLAIM_PAID and ended and ended < second_due:
        return
    figures.add(state.agent, "persistency_13m_due")
    if any(p.n == 2 and p.paid_at <= ends for p in state.payments):
        figures.add(state.agent, "persistency_13m_paid")


@dataclass(frozen=True)
class TaskFacts:
    """What the SLA figures read of an inbox task."""

    kind: str
    agent: str
    status: str
    created_at: datetime
    due_at: datetime
    closed_at: datetime | None
    escalation_level: int


def count_task(figures: DayFigures, task: TaskFacts) -> None:
    """A task's events on the day: opened; and on the day it closed, decided (and before
    its due time or not), expired undecided, cancelled; escalated if it ever was."""
    day, agent, kind = figures.day, task.agent, task.kind
    if on_day(task.created_at, day):
        figures.add_task(agent, kind, "opened")
    if task.closed_at is None or not on_day(task.closed_at, day):
        return
    if task.status == "cancelled":
        figures.add_task(agent, kind, "cancelled")
        return
    if task.status == "done":
        figures.add_task(agent, kind, "decided")
        if task.closed_at <= task.due_at:
            figures.add_task(agent, kind, "decided_before_due")
        else:
            figures.add_task(agent, kind, "breached")
    elif task.status == "expired":
        figures.add_task(agent, kind, "breached")
    if task.escalation_level > 0:
        figures.add_task(agent, kind, "escalated")


@dataclass(frozen=True)
class QueryEvent:
    """One audited policy look-up: which policy number it named and how it ended."""

    at: datetime
    case_id: str
    action: str
    ms: int | None


def count_queries(
    figures: DayFigures,
    events: Sequence[QueryEvent],
    agents: Mapping[str, str],
    *,
    lock_after: int,
    lock_window: timedelta,
) -> None:
    """The day's policy look-ups, per agent of the policy they named (``NO_AGENT`` for a
    number we do not have). ``events`` are in time order and reach back ``lock_window``
    before the day, so a lockout is seen: the failure that made ``lock_after`` failures
    for one policy number within the window (the look-up locks it from then on)."""
    day = figures.day
    failures: dict[str, list[datetime]] = {}
    for event in events:
        if event.action == FAILED:
            recent = [at for at in failures.get(event.case_id, []) if event.at - at <= lock_window]
            recent.append(event.at)
            failures[event.case_id] = recent
        if not on_day(event.at, day):
            continue
        agent = agents.get(event.case_id, NO_AGENT)
        figures.add(agent, "queries_attempted")
        if event.action == SUCCEEDED:
            figures.add(agent, "queries_succeeded")
        elif event.action == FAILED:
            figures.add(agent, "queries_failed")
            if len(failures[event.case_id]) == lock_after:
                figures.add(agent, "query_lockouts")
        elif event.action == LOCKED:
            figures.add(agent, "queries_locked")
        if event.ms is not None:
            figures.sample(agent, QUERY_ANSWER_MS, event.ms)
