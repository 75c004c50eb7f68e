"""The reports' daily aggregates: computed for one business day from the raw tables, and
read back over a range.

``aggregate_day`` replaces a day's rows (delete, then insert, in the caller's transaction),
so running it twice for a day leaves the same rows. Which raw rows it reads:
- enrollments and claims written (``updated_at``) since the day began: every event of the
  day is in a row written at or after it, since the process records after it acts;
- policies written since the day began, and those whose cooling-off period had not ended
  when it began: a return visit falls due on a day its row may not be written on, but
  never after the cooling-off period ends (its due time is at the latest that end, which
  a receipt only moves later); and those whose 13th policy month ends on the day (their
  ``effective_at`` on a day of ``persistency_cohort``), whose persistency is counted then;
- inbox tasks opened or closed on the day;
- policy look-ups audited on the day, and the failures of the lock window before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Row, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    AuditEvent,
    Claim,
    Enrollment,
    Policy,
    ReportDaily,
    ReportSamples,
    ReportTaskDaily,
    Task,
    utcnow,
)
from domain.claims import ClaimState
from domain.enrollment import EnrollmentState
from domain.policies import PolicyState
from domain.policy_query import FAILED, LOCKED, SUCCEEDED
from domain.reports import (
    DayFigures,
    QueryEvent,
    ReportDayAggregated,
    TaskFacts,
    count_claim,
    count_enrollment,
    count_policy,
    count_queries,
    count_task,
    day_bounds,
    persistency_cohort,
)

_QUERY_ACTIONS = (SUCCEEDED, FAILED, LOCKED)
_BATCH = 500  # policy numbers per IN list


async def compute_day(
    session: AsyncSession, *, day: date, lock_after: int, lock_window: timedelta
) -> DayFigures:
    """One business day's figures from the raw tables; writes nothing."""
    start, end = day_bounds(day)
    figures = DayFigures(day=day)
    enrollments = select(Enrollment.state).where(Enrollment.updated_at >= start)
    for state in await session.scalars(enrollments):
        count_enrollment(figures, EnrollmentState.model_validate(state))
    claims = select(Claim.state).where(Claim.updated_at >= start)
    for state in await session.scalars(claims):
        count_claim(figures, ClaimState.model_validate(state))
    read = [Policy.updated_at >= start, Policy.cooling_off_ends_at >= start]
    if cohort := persistency_cohort(day):
        read.append(
            (Policy.effective_at >= day_bounds(cohort[0])[0])
            & (Policy.effective_at < day_bounds(cohort[-1])[1])
        )
    for state in await session.scalars(select(Policy.state).where(or_(*read))):
        if state is not None:  # a row its process has not recorded yet
            count_policy(figures, PolicyState.model_validate(state))

    tasks = select(
        Task.kind,
        Task.agent,
        Task.status,
        Task.created_at,
        Task.due_at,
        Task.closed_at,
        Task.escalation_level,
    ).where(
        or_(
            (Task.created_at >= start) & (Task.created_at < end),
            (Task.closed_at >= start) & (Task.closed_at < end),
        )
    )
    for row in (await session.execute(tasks)).all():
        count_task(figures, TaskFacts(*row))

    audited = (
        select(AuditEvent.at, AuditEvent.case_id, AuditEvent.action, AuditEvent.detail)
        .where(
            AuditEvent.action.in_(_QUERY_ACTIONS),
            AuditEvent.at >= start - lock_window,
            AuditEvent.at < end,
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    events = [
        QueryEvent(at=at, case_id=case_id or "", action=action, ms=_ms(detail))
        for at, case_id, action, detail in (await session.execute(audited)).all()
    ]
    numbers = {e.case_id for e in events}
    agents: dict[str, str] = {}
    for chunk in _chunks(sorted(numbers)):
        query = select(Policy.policy_number, Policy.agent).where(Policy.policy_number.in_(chunk))
        agents.update({number: agent for number, agent in (await session.execute(query)).all()})
    count_queries(figures, events, agents, lock_after=lock_after, lock_window=lock_window)
    return figures


async def aggregate_day(
    session: AsyncSession, *, day: date, lock_after: int, lock_window: timedelta
) -> ReportDayAggregated:
    """Compute one business day's aggregates and replace its rows with them, in the
    caller's transaction: run twice, the same rows."""
    figures = await compute_day(session, day=day, lock_after=lock_after, lock_window=lock_window)
    return await replace_day(session, figures)


async def replace_day(session: AsyncSession, figures: DayFigures) -> ReportDayAggregated:
    """Replace a day's aggregate rows by ``figures``."""
    day = figures.day
    for model in (ReportDaily, ReportTaskDaily, ReportSamples):
        await session.execute(delete(model).where(model.day == day))
    agent_rows, task_rows, sample_rows = rows_of(figures)
    for model, rows in (
        (ReportDaily, agent_rows),
        (ReportTaskDaily, task_rows),
        (ReportSamples, sample_rows),
    ):
        if rows:
            await session.execute(insert(model), rows)
    return ReportDayAggregated(
        day=day, agent_rows=len(agent_rows), task_rows=len(task_rows), sample_rows=len(sample_rows)
    )


def rows_of(
    figures: DayFigures,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A day's figures as the rows of ReportDaily, ReportTaskDaily and ReportSamples."""
    day, now = figures.day, utcnow()
    agent_rows = [
        {"day": day, "agent": agent, "computed_at": now, **values}
        for agent, values in sorted(figures.agents.items())
    ]
    task_rows = [
        {"day": day, "agent": agent, "kind": kind, **values}
        for (agent, kind), values in sorted(figures.tasks.items())
    ]
    sample_rows = [
        {"day": day, "agent": agent, "measure": measure, "samples": samples}
        for (agent, measure), samples in sorted(figures.sorted_samples().items())
    ]
    return agent_rows, task_rows, sample_rows


def _range(model: Any, start: date, end: date, agent: str | None) -> Any:
    condition = model.day.between(start, end)
    return condition if agent is None else condition & (model.agent == agent)


async def daily_rows(
    session: AsyncSession,
    *,
    start: date,
    end: date,
    agent: str | None,
    columns: Sequence[str],
) -> list[Row[Any]]:
    """The per-agent ``columns`` of every business day from ``start`` to ``end``
    (inclusive), of one agent or all, by day then agent: plain rows with ``day``, ``agent``
    and those columns (a report reads a few of ReportDaily's; whole ORM objects cost
    several times more to load than the sums they feed)."""
    table = ReportDaily.__table__.c
    query = (
        select(table.day, table.agent, *(table[c] for c in columns))
        .where(_range(ReportDaily, start, end, agent))
        .order_by(table.day, table.agent)
    )
    return list(await session.execute(query))


async def task_rows(
    session: AsyncSession, *, start: date, end: date, agent: str | None
) -> list[Row[Any]]:
    """The SLA figures over the range, by day, agent and task kind (plain rows)."""
    query = (
        select(*ReportTaskDaily.__table__.c)
        .where(_range(ReportTaskDaily, start, end, agent))
        .order_by(ReportTaskDaily.day, ReportTaskDaily.agent, ReportTaskDaily.kind)
    )
    return list(await session.execute(query))


async def sample_rows(
    session: AsyncSession, *, start: date, end: date, agent: str | None, measures: Sequence[str]
) -> list[Row[Any]]:
    """The duration samples of ``measures`` over the range, by day, agent and measure
    (plain rows)."""
    query = (
        select(*ReportSamples.__table__.c)
        .where(_range(ReportSamples, start, end, agent), ReportSamples.measure.in_(measures))
        .order_by(ReportSamples.day, ReportSamples.agent, ReportSamples.measure)
    )
    return list(await session.execute(query))


def _chunks(values: list[str], size: int = _BATCH) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _ms(detail: Any) -> int | None:
    value = detail.get("ms") if isinstance(detail, dict) else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
