"""A year's business reports (issue 17) over ``tasks`` inbox tasks and ``policies`` issued
policies, beside a tenth as many in force from before the year (their 13th policy month,
lapses and endings fall in it): the raw tables seeded by bulk INSERTs (not by workflows),
each business day aggregated by the function the daily schedule runs (``aggregate_day``)
as soon as its rows are written, as the schedule does the morning after; then each report
over the year timed from the aggregates (``services.reports.build_report``, as the API
calls it) beside the same report computed from the raw tables, and the two compared cell
by cell.

The raw side reads, once per report, every raw row with an event in the range and counts
it with the same rules (``domain.reports``) into per-day figures, which go through the same
folding (``fold_by_agent``, ``fold_sla``): the two sides differ only in where the day
figures come from.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.load import Ticker
from bench.stack import Stack
from bench.stats import Latencies
from db.models import (
    AuditEvent,
    Claim,
    Customer,
    Enrollment,
    Policy,
    ReportDaily,
    ReportSamples,
    ReportTaskDaily,
    Task,
)
from db.repositories import customers
from db.repositories.reports import aggregate_day, rows_of
from domain.business import SHANGHAI
from domain.claims import (
    ClaimHistoryEntry,
    ClaimStage,
    ClaimState,
    ClaimStatus,
    Deadlines,
    Payout,
)
from domain.enrollment import EnrollmentState, HistoryEntry, MaskedCustomer, Quote, Stage, Status
from domain.policies import (
    ENDED_STATUSES,
    PolicyHistoryEntry,
    PolicyStage,
    PolicyState,
    PolicyStatus,
    PremiumPayment,
    ReturnVisit,
    ReturnVisitDecision,
    ReturnVisitStatus,
    TerminationReason,
    VisitAttempt,
    add_months,
    add_years,
    cooling_off_ends_at,
    return_visit_items,
)
from domain.policy_query import FAILED, LOCK_AFTER, LOCK_WINDOW, SUCCEEDED
from domain.products import IncidentType, get_product
from domain.reports import (
    PERSISTENCY_MONTHS,
    DayFigures,
    QueryEvent,
    TaskFacts,
    count_claim,
    count_enrollment,
    count_policy,
    count_queries,
    count_task,
    day_bounds,
    persistency_ends_at,
)
from domain.underwriting import Actor, Role
from services.reports import (
    REPORT_NAMES,
    Report,
    build_report,
    fold_by_agent,
    fold_sla,
    new_report,
)

FIRST_DAY = date(2025, 1, 1)
DAYS = 365
AGENTS = tuple(f"agent{n:02d}" for n in range(20))
CHUNK = 5_000
CLAIM_EVERY = 20  # a claim on one policy in 20
QUERY_EVERY = 10  # a policy look-up for one policy in 10
LOCKOUT_EVERY = 1_000  # and LOCK_AFTER failed look-ups in a row for one in 1,000
REJECTED_EVERY = 10  # a rejected application beside one policy in 10
EARLIER_EVERY = 10  # a policy in force from before the year for every 10 issued in it
SUPERVISOR = Actor(username="sue", roles=(Role.SUPERVISOR,))
# What each report reads of the raw tables.
PARTS: dict[str, frozenset[str]] = {
    "new-business": frozenset({"enrollments"}),
    "turnaround": frozenset({"enrollments", "claims"}),
    "sla": frozenset({"tasks"}),
    "claims": frozenset({"claims"}),
    "policy-queries": frozenset({"queries"}),
    "return-visits": frozenset({"policies"}),
    "policy-persistency": frozenset({"policies"}),
}
COOLING_OFF = timedelta(days=15)
RETURN_VISIT_DUE = timedelta(days=10)


def _at(day: date, minutes: int) -> datetime:
    start, _ = day_bounds(day)
    return start + timedelta(minutes=minutes)


def _spread(total: int, days: int) -> list[range]:
    """Item numbers 0..total-1 cut into ``days`` consecutive ranges, as evenly as can be."""
    bounds = [total * d // days for d in range(days + 1)]
    return [range(bounds[d], bounds[d + 1]) for d in range(days)]


_CUSTOMER = MaskedCustomer(name="张*", id_number="1101**********123X", phone="138****0000")


def _enrollment_state(no: str, agent: str, premium: Decimal, steps: list[tuple[Any, ...]]) -> Any:
    return EnrollmentState(
        enrollment_id=no,
        workflow_id=f"enrollment-{no}",
        agent=agent,
        customer=_CUSTOMER,
        birth_date=date(1985, 6, 1),
        stage=steps[-1][0],
        status=steps[-1][1],
        quote=Quote(
            quote_id=f"Q-{no}",
            product_code="TERM_LIFE_20",
            sum_insured=Decimal("200000.00"),
            premium=premium,
            valid_until=steps[0][2] + timedelta(days=30),
        ),
        history=[HistoryEntry(stage=s, status=st, at=t, by=agent) for s, st, t in steps],
    ).model_dump(mode="json")


def _state(
    number: str,
    agent: str,
    *,
    product_code: str,
    issued: datetime,
    effective: datetime,
    premium: Decimal,
    history: list[PolicyHistoryEntry],
    application_no: str | None = None,
    **fields: Any,
) -> PolicyState:
    """A policy's state as its process records it: its status and stage those of its last
    timeline line unless ``fields`` say otherwise."""
    product = get_product(product_code)
    values: dict[str, Any] = dict(
        policy_number=number,
        workflow_id=f"policy-{number}",
        application_no=application_no or f"A{number}",
        agent=agent,
        customer_id="bench",
        holder=_CUSTOMER,
        product_code=product_code,
        term_years=product.term_years,
        sum_insured=Decimal("200000.00"),
        premium=premium,
        installments=product.term_years > 1,
        stage=history[-1].stage,
        status=history[-1].status,
        issued_at=issued,
        effective_at=effective,
        expires_at=add_years(effective, product.term_years),
        history=history,
    )
    return PolicyState.model_validate(values | fields)


def _policy_row(state: PolicyState, updated_at: datetime, customer_id: str) -> dict[str, Any]:
    """The policy table's row of ``state``, last written at ``updated_at``."""
    return {
        "policy_number": state.policy_number,
        "application_no": state.application_no,
        "customer_id": customer_id,
        "agent": state.agent,
        "product_code": state.product_code,
        "sum_insured": state.sum_insured,
        "premium": state.premium,
        "status": state.status.value,
        "effective_at": state.effective_at,
        "expires_at": state.expires_at,
        "workflow_id": state.workflow_id,
        "stage": state.stage.value,
        "cooling_off_ends_at": state.cooling_off_ends_at,
        "state": state.model_dump(mode="json"),
        "created_at": state.issued_at,
        "updated_at": updated_at,
    }


def _policy_state(
    i: int, number: str, agent: str, issued: datetime, effective: datetime, premium: Decimal
) -> tuple[PolicyState, datetime]:
    """A policy's state with its return visit, as its process leaves it: completed within
    the cooling-off period (six in ten), completed late after being escalated at its end,
    unreachable three times and escalated, mis-selling found, or never done (escalated at
    the end). With the moment of its last event (the row's ``updated_at``: the process
    records after each one)."""
    day = issued.astimezone(SHANGHAI).date()
    ends = cooling_off_ends_at(day, COOLING_OFF)
    by_day = [issued + timedelta(days=n, minutes=i % 90) for n in range(1, 20)]
    attempts: list[tuple[ReturnVisitDecision, datetime]] = []
    notes: list[tuple[datetime, str]] = []
    overdue = (ends, "return visit not completed within the cooling-off period")
    status: ReturnVisitStatus = "escalated"
    match i % 10:
        case 6:
            attempts, notes, status = (
                [("completed", ends + timedelta(days=1))],
                [overdue],
                "completed",
            )
        case 7:
            attempts = [("unreachable", by_day[n]) for n in (1, 3, 5)]
            notes = [(by_day[5], "return visit escalated: unreachable 3 times")]
        case 8:
            attempts, status = [("misselling", by_day[2])], "misselling"
        case 9:
            notes = [overdue]
        case _:
            attempts, status = [("completed", by_day[i % 10])], "completed"
    visit = ReturnVisit(
        status=status,
        task_id=f"rv-{number}",
        due_at=min(issued + RETURN_VISIT_DUE, ends),
        items=return_visit_items(installments=True),
        attempts=[VisitAttempt(at=t, by="cora", decision=d) for d, t in attempts],
    )
    history = [
        PolicyHistoryEntry(
            stage=PolicyStage.COOLING_OFF, status=PolicyStatus.ISSUED, at=issued, by=agent
        ),
        *(
            PolicyHistoryEntry(
                stage=PolicyStage.IN_FORCE, status=PolicyStatus.EFFECTIVE, at=t, by="system", note=n
            )
            for t, n in notes
        ),
    ]
    state = _state(
        number,
        agent,
        application_no=f"RE{i:08d}",
        product_code="TERM_LIFE_20",
        issued=issued,
        effective=effective,
        premium=premium,
        history=history,
        stage=PolicyStage.IN_FORCE,
        status=PolicyStatus.EFFECTIVE,
        cooling_off_ends_at=ends,
        return_visit=visit,
    )
    last = max([ends, *(t for _, t in attempts)])
    return state, last


DAY = timedelta(days=1)
S = PolicyStatus


def _earlier_policy(k: int, day: date) -> tuple[PolicyState, datetime]:
    """A policy in force from before the year, with an event on ``day``: its 13th policy
    month ends then (it took effect 13 months before, its second installment fell due a
    month before), and by its fate (``k`` % 20) it paid that installment on time (eight
    in twenty), in grace, or not: suspended at the end of grace and reinstated later, or
    still suspended; surrendered, ended by a claim or cancelled in the cooling-off period
    months before; surrendered on ``day`` after paying on time. One in twenty instead
    ends on ``day`` after two years suspended, one a one-year policy expires on ``day``.
    With the moment of its last event."""
    agent = AGENTS[k % len(AGENTS)]
    moment = _at(day, 8 * 60 + k % 600)
    effective = add_months(moment, -PERSISTENCY_MONTHS)
    due = add_years(effective, 1)  # the second installment
    product = "TERM_LIFE_20"
    changes: list[tuple[PolicyStatus, datetime]] = []
    paid: list[datetime] = []
    fields: dict[str, Any] = {}
    match k % 20:
        case 8 | 9:
            changes = [(S.GRACE, due + DAY), (S.EFFECTIVE, due + 20 * DAY)]
            paid = [due + 20 * DAY]
        case 10 | 11:
            changes = [(S.GRACE, due + DAY), (S.SUSPENDED, due + 38 * DAY)]
            changes.append((S.EFFECTIVE, due + 60 * DAY))
            paid = [due + 60 * DAY]
        case 12 | 13:
            changes = [(S.GRACE, due + DAY), (S.SUSPENDED, due + 38 * DAY)]
            fields["suspended_at"] = due + 38 * DAY
        case 14:
            changes = [(S.SURRENDERED, effective + 200 * DAY)]
        case 15:
            changes = [(S.TERMINATED, effective + 150 * DAY)]
            fields["termination_reason"] = TerminationReason.CLAIM_PAID
        case 16:
            changes = [(S.CANCELLED, effective + 5 * DAY)]
        case 17:
            suspended = add_years(moment, -2)
            due = suspended - 38 * DAY
            effective = add_years(due, -1)
            changes = [(S.GRACE, due + DAY), (S.SUSPENDED, suspended), (S.TERMINATED, moment)]
            fields["termination_reason"] = TerminationReason.NOT_REINSTATED
        case 18:
            product, effective = "ACCIDENT_1Y", add_years(moment, -1)
            changes = [(S.EXPIRED, moment)]
        case 19:
            changes, paid = [(S.SURRENDERED, moment + timedelta(hours=1))], [due]
        case _:
            paid = [due]
    issued = effective - DAY
    history = [
        PolicyHistoryEntry(stage=PolicyStage.IN_FORCE, status=S.EFFECTIVE, at=effective, by=agent)
    ]
    for status, at in changes:
        stage = PolicyStage.ENDED if status in ENDED_STATUSES else PolicyStage.IN_FORCE
        history.append(PolicyHistoryEntry(stage=stage, status=status, at=at, by="system"))
    premium = Decimal(f"{300 + k % 700}.00")
    payments = [PremiumPayment(n=1, paid_at=issued, amount=premium)]
    payments += [PremiumPayment(n=2, paid_at=at, amount=premium) for at in paid]
    ended = history[-1].at if history[-1].status in ENDED_STATUSES else None
    state = _state(
        f"RB{k:08d}",
        agent,
        product_code=product,
        issued=issued,
        effective=effective,
        premium=premium,
        history=history,
        payments=payments,
        ended_at=ended,
        **fields,
    )
    return state, max(history[-1].at, *paid, issued)


@dataclass
class Seeded:
    enrollments: int = 0
    policies: int = 0
    policies_before: int = 0
    claims: int = 0
    tasks: int = 0
    query_events: int = 0


def day_rows(day: date, policies: range, tasks: range, customer_id: str) -> dict[Any, list[Any]]:
    """The raw rows of one business day: its policies (each with its issued enrollment; a
    rejected application beside one in ten), claims on some, policy look-ups, and tasks."""
    rows: dict[Any, list[Any]] = {Enrollment: [], Policy: [], Claim: [], AuditEvent: [], Task: []}
    IP = Status.IN_PROGRESS
    for i in policies:
        agent = AGENTS[(i + i // CLAIM_EVERY) % len(AGENTS)]  # every agent has claims too
        no, number = f"RE{i:08d}", f"RP{i:08d}"
        began = _at(day, 9 * 60 + i % 600)
        premium = Decimal(f"{300 + i % 700}.{i % 100:02d}")
        steps = [
            (Stage.CONSULTATION, IP, began),
            (Stage.APPLICATION_SUBMITTED, IP, began + timedelta(minutes=5)),
            (Stage.AWAITING_PAYMENT, IP, began + timedelta(minutes=5, seconds=30 + i % 300)),
            (Stage.ISSUED, IP, began + timedelta(minutes=12, seconds=i % 240)),
            (Stage.EFFECTIVE, Status.EFFECTIVE, began + timedelta(minutes=13)),
        ]
        written = steps[-1][2]
        effective = steps[-1][2]
        rows[Enrollment].append(
            {
                "application_no": no,
                "workflow_id": f"enrollment-{no}",
                "agent": agent,
                "customer_id": customer_id,
                "stage": Stage.EFFECTIVE.value,
                "status": Status.EFFECTIVE.value,
                "product_code": "TERM_LIFE_20",
                "sum_insured": Decimal("200000.00"),
                "premium": premium,
                "payment_method": "auto_debit",
                "policy_number": number,
                "effective_at": effective,
                "state": _enrollment_state(no, agent, premium, steps),
                "created_at": began,
                "updated_at": written,
            }
        )
        state, last = _policy_state(i, number, agent, steps[3][2], effective, premium)
        rows[Policy].append(_policy_row(state, last, customer_id) | {"created_at": written})
        if i % REJECTED_EVERY == 0:
            rno = f"RR{i:08d}"
            rejected = [
                (Stage.CONSULTATION, IP, began),
                (Stage.APPLICATION_SUBMITTED, IP, began + timedelta(minutes=4)),
                (Stage.UNDERWRITING, Status.REJECTED, began + timedelta(minutes=50)),
            ]
            rows[Enrollment].append(
                {
                    "application_no": rno,
                    "workflow_id": f"enrollment-{rno}",
                    "agent": agent,
                    "customer_id": customer_id,
                    "stage": Stage.UNDERWRITING.value,
                    "status": Status.REJECTED.value,
                    "product_code": "TERM_LIFE_20",
                    "sum_insured": Decimal("200000.00"),
                    "premium": premium,
                    "state": _enrollment_state(rno, agent, premium, rejected),
                    "created_at": began,
                    "updated_at": rejected[-1][2],
                }
            )
        if i % CLAIM_EVERY == 0:
            rows[Claim].append(_claim(i, day, agent, number))
        if i % QUERY_EVERY == 0:
            action = FAILED if i % (4 * QUERY_EVERY) == 0 else SUCCEEDED
            looked_up = number if i % (5 * QUERY_EVERY) else "RPNOSUCH"  # a number we lack
            rows[AuditEvent].append(_query(_at(day, 8 * 60 + i % 700), looked_up, action, i))
        if i % LOCKOUT_EVERY == 0:
            for n in range(LOCK_AFTER):
                at = _at(day, 20 * 60 + n)
                rows[AuditEvent].append(_query(at, number, FAILED, i + n))
    for i in tasks:
        rows[Task].append(_task(i, day))
    return rows


def _claim(i: int, day: date, agent: str, number: str) -> dict[str, Any]:
    no = f"RC{i:08d}"
    reported = _at(day, 14 * 60 + i % 300)
    rejected = i % (5 * CLAIM_EVERY) == 0
    decided = reported + timedelta(minutes=30)
    # One in seven decided after its deadline.
    due = reported + (timedelta(minutes=20) if i % (7 * CLAIM_EVERY) == 0 else timedelta(days=5))
    amount = Decimal(f"{1000 + i % 4000}.00")
    IP = ClaimStatus.IN_PROGRESS
    history = [(ClaimStage.REPORTED, IP, reported)]
    if rejected:
        history.append((ClaimStage.REJECTED, ClaimStatus.REJECTED, decided))
    else:
        paid = decided + timedelta(minutes=10, seconds=i % 600)
        history += [(ClaimStage.APPROVED, IP, decided), (ClaimStage.PAID, ClaimStatus.PAID, paid)]
    state = ClaimState(
        claim_id=no,
        workflow_id=f"claim-{no}",
        agent=agent,
        policy_number=number,
        product_code="TERM_LIFE_20",
        incident_date=day,
        incident_type=IncidentType.HOSPITALISATION,
        description="benchmark",
        amount_claimed=amount,
        payee_account_masked="6222****7889",
        stage=history[-1][0],
        status=history[-1][1],
        amount_approved=None if rejected else amount,
        payout=Payout() if rejected else Payout(status="paid", amount=amount),
        deadlines=Deadlines(decision_due_at=due),
        history=[ClaimHistoryEntry(stage=s, status=st, at=t, by=agent) for s, st, t in history],
    )
    return {
        "claim_no": no,
        "workflow_id": f"claim-{no}",
        "agent": agent,
        "policy_number": number,
        "incident_date": day,
        "incident_type": IncidentType.HOSPITALISATION.value,
        "stage": state.stage.value,
        "status": state.status.value,
        "amount_claimed": amount,
        "amount_approved": state.amount_approved,
        "state": state.model_dump(mode="json"),
        "created_at": reported,
        "updated_at": history[-1][2],
    }


def _query(at: datetime, number: str, action: str, i: int) -> dict[str, Any]:
    return {
        "at": at,
        "actor": "customer",
        "action": action,
        "case_id": number,
        "detail": {"ms": 20 + i % 400},
    }


_KINDS = ("underwriting", "claim_review", "return_visit")


def _task(i: int, day: date) -> dict[str, Any]:
    created = _at(day, 8 * 60 + i % 600)
    due = created + timedelta(hours=4)
    status, closed = "open", None
    match i % 10:
        case 0 | 1 | 2 | 3 | 4:
            status, closed = "done", created + timedelta(minutes=30 + i % 120)
        case 5:
            status, closed = "done", due + timedelta(hours=2)  # decided late
        case 6:
            status, closed = "expired", created + timedelta(days=1)  # the next day
        case 7:
            status, closed = "cancelled", created + timedelta(hours=1)
    case = f"RT{i:08d}"
    return {
        "task_id": f"rt-{case}",
        "kind": _KINDS[i % len(_KINDS)],
        "workflow_id": f"enrollment-{case}",
        "case_id": case,
        "subject": "benchmark task",
        "amount": Decimal("1000.00"),
        "status": status,
        "assignee": None,
        "submitted_by": "alice",
        "agent": AGENTS[i % len(AGENTS)],
        "priority": 0,
        "escalation_level": 1 if i % 13 == 0 else 0,
        "due_at": due,
        "escalate_at": due + timedelta(hours=4),
        "expire_at": created + timedelta(days=1),
        "decision": "approve" if status == "done" else None,
        "details": {},
        "closed_at": closed,
        "created_at": created,
        "updated_at": closed or created,
    }


async def _customer(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session, session.begin():
        customer: Customer = await customers.upsert_customer(
            session,
            id_hash="bench-reports",
            id_number_enc="bench-not-encrypted",
            id_masked="110105********000X",
            name="报告客户",
            phone_enc="bench-not-encrypted",
            phone_masked="138****8000",
            email=None,
            birth_date=date(1985, 6, 1),
        )
        return customer.id


# --- the same figures from the raw tables ------------------------------------------------


def _days_of(instants: Iterable[datetime | None], first: date, last: date) -> set[date]:
    out = set()
    for at in instants:
        if at is not None and first <= (day := at.astimezone(SHANGHAI).date()) <= last:
            out.add(day)
    return out


async def figures_from_raw(
    session: AsyncSession, *, start: date, end: date, parts: frozenset[str]
) -> dict[date, DayFigures]:
    """Each business day's figures from ``start`` to ``end`` counted off the raw tables in
    one pass per table (only the ``parts`` a report needs), by the rules the aggregation
    counts with: each row counted on every day it has an event on."""
    begins, _ = day_bounds(start)
    _, ends = day_bounds(end)
    figures = {
        start + timedelta(days=n): DayFigures(day=start + timedelta(days=n))
        for n in range((end - start).days + 1)
    }
    if "enrollments" in parts:
        query = select(Enrollment.state).where(Enrollment.updated_at >= begins)
        for raw in await session.scalars(query):
            enrollment = EnrollmentState.model_validate(raw)
            for day in _days_of((h.at for h in enrollment.history), start, end):
                count_enrollment(figures[day], enrollment)
    if "claims" in parts:
        for raw in await session.scalars(select(Claim.state).where(Claim.updated_at >= begins)):
            claim = ClaimState.model_validate(raw)
            for day in _days_of((h.at for h in claim.history), start, end):
                count_claim(figures[day], claim)
    if "policies" in parts:
        # Every policy with a moment in the range: written in it, in its cooling-off period
        # then, or in force 13 months (a few days' margin for the months' lengths) by its end.
        reaches = add_months(begins, -PERSISTENCY_MONTHS) - timedelta(days=4)
        policies = select(Policy.state).where(
            or_(
                Policy.updated_at >= begins,
                Policy.cooling_off_ends_at >= begins,
                Policy.effective_at >= reaches,
            )
        )
        for raw in await session.scalars(policies):
            if raw is None:
                continue
            policy = PolicyState.model_validate(raw)
            visit = policy.return_visit
            instants = [persistency_ends_at(policy), *(h.at for h in policy.history)]
            if visit is not None:
                instants += [visit.due_at, *(a.at for a in visit.attempts)]
            for day in _days_of(instants, start, end):
                count_policy(figures[day], policy)
    if "tasks" in parts:
        columns = (
            Task.kind,
            Task.agent,
            Task.status,
            Task.created_at,
            Task.due_at,
            Task.closed_at,
            Task.escalation_level,
        )
        in_range = or_(
            (Task.created_at >= begins) & (Task.created_at < ends),
            (Task.closed_at >= begins) & (Task.closed_at < ends),
        )
        for row in (await session.execute(select(*columns).where(in_range))).all():
            task = TaskFacts(*row)
            for day in _days_of((task.created_at, task.closed_at), start, end):
                count_task(figures[day], task)
    if "queries" in parts:
        await _queries_from_raw(session, figures, begins, ends)
    return figures


async def _queries_from_raw(
    session: AsyncSession, figures: dict[date, DayFigures], begins: datetime, ends: datetime
) -> None:
    audited = (
        select(AuditEvent.at, AuditEvent.case_id, AuditEvent.action, AuditEvent.detail)
        .where(
            AuditEvent.action.in_((SUCCEEDED, FAILED, "policy_query.locked")),
            AuditEvent.at >= begins - LOCK_WINDOW,
            AuditEvent.at < ends,
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    events = [
        QueryEvent(
            at=at,
            case_id=case_id or "",
            action=action,
            ms=int(detail["ms"]) if isinstance(detail, dict) and "ms" in detail else None,
        )
        for at, case_id, action, detail in (await session.execute(audited)).all()
    ]
    numbers = sorted({e.case_id for e in events})
    agents: dict[str, str] = {}
    for n in range(0, len(numbers), 500):
        chunk = numbers[n : n + 500]
        query = select(Policy.policy_number, Policy.agent).where(Policy.policy_number.in_(chunk))
        agents.update({number: agent for number, agent in (await session.execute(query)).all()})
    instants = [e.at for e in events]
    for day, day_figures in figures.items():
        first, last = day_bounds(day)
        lo = bisect.bisect_left(instants, first - LOCK_WINDOW)
        hi = bisect.bisect_left(instants, last)
        count_queries(
            day_figures, events[lo:hi], agents, lock_after=LOCK_AFTER, lock_window=LOCK_WINDOW
        )


def report_from_figures(name: str, start: date, end: date, figures: Iterable[DayFigures]) -> Report:
    """Report ``name`` folded from day figures as ``build_report`` folds the aggregates."""
    daily, tasks, samples = [], [], []
    for day_figures in figures:
        agent_rows, task_rows, sample_rows = rows_of(day_figures)
        daily += [ReportDaily(**r) for r in agent_rows]
        tasks += [ReportTaskDaily(**r) for r in task_rows]
        samples += [ReportSamples(**r) for r in sample_rows]
    report = new_report(name, start, end, None)
    if name == "sla":
        fold_sla(report, tasks)
    else:
        fold_by_agent(report, daily, samples)
    return report


async def raw_report(session: AsyncSession, name: str, start: date, end: date) -> Report:
    figures = await figures_from_raw(session, start=start, end=end, parts=PARTS[name])
    report = report_from_figures(name, start, end, figures.values())
    await session.commit()
    return report


def _empty(cells: dict[str, Any], key: str) -> bool:
    return all(v in (None, 0, "0.00", "0.0000") for k, v in cells.items() if k != key)


def differences(a: Report, b: Report) -> list[str]:
    """Where two reports' cells differ: ``rows[<agent or kind>].key``, ``total.key``,
    ``series[<day>].key``. A row on one side only differs unless every figure in it is
    nothing (the aggregates list each agent who has a figure of any report on a day in
    the range; the raw side only those with a figure of this report)."""
    out: list[str] = []
    key = a.columns[0].key if a.columns else "agent"
    for part, by in (("rows", key), ("series", "day")):
        left = {str(r.get(by)): a.cells(r) for r in getattr(a, part)}
        right = {str(r.get(by)): b.cells(r) for r in getattr(b, part)}
        for name in sorted(set(left) | set(right)):
            x, y = left.get(name), right.get(name)
            if x is None or y is None:
                one = x if y is None else y
                assert one is not None
                if not _empty(one, by):
                    out.append(f"{part}[{name}]")
                continue
            out += [f"{part}[{name}].{k}" for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)]
    x, y = a.cells(a.total), b.cells(b.total)
    out += [f"total.{k}" for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)]
    return out


# --- the scenario ---------------------------------------------------------------------------


@dataclass
class Year:
    first: date
    days: int
    seeded: Seeded = field(default_factory=Seeded)

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days - 1)


async def _seed_earlier(
    sessions: async_sessionmaker[AsyncSession],
    count: int,
    first: date,
    days: int,
    customer_id: str,
) -> int:
    """The policies in force from before the year (``_earlier_policy``), spread over its
    days, written before the first day is aggregated: a policy of the year before has its
    row already when its 13th month ends or it lapses."""
    rows = [
        _policy_row(*_earlier_policy(k, first + timedelta(days=n)), customer_id)
        for n, these in enumerate(_spread(count, days))
        for k in these
    ]
    for c in range(0, len(rows), CHUNK):
        async with sessions() as session, session.begin():
            await session.execute(insert(Policy), rows[c : c + CHUNK])
    return len(rows)


async def seed_and_aggregate(
    stack: Stack, *, tasks: int, policies: int, days: int = DAYS, first: date = FIRST_DAY
) -> tuple[Year, Latencies, float]:
    """Seed each business day's raw rows, then aggregate that day (``aggregate_day`` in a
    transaction of its own, as the schedule's activity does); the aggregations' timings
    and the seconds spent inserting."""
    sessions = stack.sessions
    year = Year(first, days)
    customer_id = await _customer(sessions)
    aggregations = Latencies()
    began = time.monotonic()
    year.seeded.policies_before = await _seed_earlier(
        sessions, policies // EARLIER_EVERY, first, days, customer_id
    )
    inserting = time.monotonic() - began
    ticker = Ticker(stack.progress, "reports: days seeded and aggregated", days)
    for n, (these_policies, these_tasks) in enumerate(
        zip(_spread(policies, days), _spread(tasks, days), strict=True)
    ):
        day = first + timedelta(days=n)
        began = time.monotonic()
        rows = day_rows(day, these_policies, these_tasks, customer_id)
        for model in (Enrollment, Policy, Claim, AuditEvent, Task):  # claims need policies
            for c in range(0, len(rows[model]), CHUNK):
                async with sessions() as session, session.begin():
                    await session.execute(insert(model), rows[model][c : c + CHUNK])
        inserting += time.monotonic() - began
        seeded = year.seeded
        seeded.policies += len(rows[Policy])
        seeded.enrollments += len(rows[Enrollment])
        seeded.claims += len(rows[Claim])
        seeded.query_events += len(rows[AuditEvent])
        seeded.tasks += len(rows[Task])
        began = time.monotonic()
        async with sessions() as session, session.begin():
            await aggregate_day(session, day=day, lock_after=LOCK_AFTER, lock_window=LOCK_WINDOW)
        aggregations.add(time.monotonic() - began)
        ticker.tick()
    return year, aggregations, inserting


async def time_reports(
    stack: Stack, year: Year, *, reps: int, raw_reps: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Each report over the year, ``reps`` times from the aggregates and ``raw_reps`` times
    from the raw tables; and the cells where the two differ (none, if they agree)."""
    sessions = stack.sessions
    from_aggregates: dict[str, Any] = {}
    from_raw: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    for name in REPORT_NAMES:
        timed, raw_timed = Latencies(), Latencies()
        aggregated: Report | None = None
        for _ in range(reps):
            began = time.monotonic()
            async with sessions() as session:
                aggregated = await build_report(
                    session, actor=SUPERVISOR, name=name, start=year.first, end=year.last
                )
            timed.add(time.monotonic() - began)
        raw: Report | None = None
        for _ in range(raw_reps):
            began = time.monotonic()
            async with sessions() as session:
                raw = await raw_report(session, name, year.first, year.last)
            raw_timed.add(time.monotonic() - began)
        assert aggregated is not None and raw is not None
        differ = differences(aggregated, raw)
        checks[name] = {
            "rows": len(aggregated.rows),
            "series_days": len(aggregated.series),
            "mismatched_cells": len(differ),
            "first_mismatches": ", ".join(differ[:5]) if differ else None,
        }
        if differ:
            stack.progress.say(f"reports: {name} differs from the raw tables at {differ[:5]}")
        from_aggregates[name] = timed.summary()
        from_raw[name] = raw_timed.summary()
        stack.progress.say(
            f"reports: {name} p50 {from_aggregates[name].get('p50_ms')} ms from the aggregates,"
            f" {from_raw[name].get('p50_ms')} ms from the raw tables"
        )
    return from_aggregates, from_raw, checks


async def run_reports(
    stack: Stack, *, tasks: int, policies: int, reps: int, raw_reps: int, days: int = DAYS
) -> dict[str, Any]:
    stack.progress.say(f"reports: seeding a year of {policies} policies and {tasks} tasks")
    with stack.sampler.window() as seeding:
        year, aggregations, inserting = await seed_and_aggregate(
            stack, tasks=tasks, policies=policies, days=days
        )
    with stack.sampler.window() as reporting:
        from_aggregates, from_raw, checks = await time_reports(
            stack, year, reps=reps, raw_reps=raw_reps
        )
    seeded = year.seeded
    worst = max((v.get("p99_ms", 0.0) for v in from_aggregates.values()), default=0.0)
    return {
        "days": year.days,
        "first_day": year.first.isoformat(),
        "seeded": {
            "policies": seeded.policies,
            "policies_before": seeded.policies_before,
            "enrollments": seeded.enrollments,
            "claims": seeded.claims,
            "query_events": seeded.query_events,
            "tasks": seeded.tasks,
        },
        "insert_s": round(inserting, 1),
        "aggregate_day": aggregations.summary(),
        "aggregate_s": round(sum(aggregations.samples), 1),
        "seeding_window": seeding.as_dict(),
        "reps": reps,
        "raw_reps": raw_reps,
        "aggregates": from_aggregates,
        "raw": from_raw,
        "aggregates_worst_p99_ms": worst,
        "check": checks,
        "mismatched_cells": sum(c["mismatched_cells"] for c in checks.values()),
        "reporting_window": reporting.as_dict(),
    }
