"""The business reports (业务报告) over a range of business days, from the daily aggregates
(db.repositories.reports), never from the raw tables: a year is a few thousand rows.

Each report has rows (per agent, or per task kind for ``sla``; with ``group="branch"`` the
agents' figures summed per branch, the users' ``branch`` as it is when the report is
asked), a total over them, and a series per business day for a chart (the console's hook:
``Report.series``). Who sees what: an agent their own figures only, never a branch's; a
supervisor and ops everyone's. docs/reports.md says what every figure counts; the
downloads (CSV, XLSX) hold the same cells as the JSON.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from openpyxl import Workbook
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories import reports as aggregates
from db.repositories import users
from domain.reports import (
    QUERY_ANSWER_MS,
    REPORT_TO_PAYMENT,
    SUBMISSION_TO_ISSUE,
    merge_sorted,
    nearest_rank,
)
from domain.texts import N_
from domain.underwriting import Actor, Role
from services.problems import ProblemError

# Three years of business days: longer ranges are refused (a report, not an export).
MAX_DAYS = 3 * 365 + 1
RATIO = Decimal("0.0001")
CENT = Decimal("0.01")

Kind = Literal["text", "count", "money", "ratio", "seconds", "ms"]
Value = int | Decimal | str | None
# What a report's rows are per: each agent, or each branch (its agents' figures summed).
GROUPS = ("agent", "branch")
# The branch row of the agents who have none (and of figures that belong to no agent).
NO_BRANCH = ""


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: Kind


@dataclass
class Report:
    """One report's figures: ``rows`` and ``total`` keyed by the columns' keys, ``series``
    one entry per business day of the range (``day`` and the chartable columns)."""

    name: str
    title: str
    start: date
    end: date
    agent: str | None
    group: str
    columns: list[Column]
    rows: list[dict[str, Value]]
    total: dict[str, Value]
    series: list[dict[str, Value]] = field(default_factory=list)

    def cells(self, values: dict[str, Value]) -> dict[str, int | str | None]:
        """A row as the JSON and CSV carry it: money with two decimals and ratios with
        four, as strings; counts and durations as integers; nothing known as None."""
        return {c.key: _cell(c.kind, values.get(c.key)) for c in self.columns}


def _cell(kind: Kind, value: Value) -> int | str | None:
    if value is None:
        return None
    if kind == "money":
        return str(Decimal(value).quantize(CENT))
    if kind == "ratio":
        return str(Decimal(value).quantize(RATIO))
    if isinstance(value, Decimal):
        return int(value)
    return value


def _ratio(part: Value, whole: Value) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(str(part or 0)) / Decimal(str(whole))).quantize(RATIO)


# --- which reports there are ------------------------------------------------------------

_AGENT = Column("agent", N_("Agent"), "text")
_BRANCH = Column("branch", N_("Branch"), "text")
_SUMS: dict[str, list[Column]] = {
    "new-business": [
        Column("applications_started", N_("Applications started"), "count"),
        Column("applications_submitted", N_("Applications submitted"), "count"),
        Column("applications_approved", N_("Applications approved"), "count"),
        Column("applications_rejected", N_("Applications rejected"), "count"),
        Column("policies_issued", N_("Policies issued"), "count"),
        Column("premium_issued", N_("Premium issued (CNY)"), "money"),
    ],
    "claims": [
        Column("claims_reported", N_("Claims reported"), "count"),
        Column("claims_decided", N_("Claims decided"), "count"),
        Column("claims_rejected", N_("Claims rejected"), "count"),
        Column("claims_decided_in_time", N_("Decided within the deadline"), "count"),
        Column("claims_paid", N_("Claims paid"), "count"),
        Column("claims_paid_amount", N_("Amount paid (CNY)"), "money"),
    ],
    "policy-queries": [
        Column("queries_attempted", N_("Look-ups"), "count"),
        Column("queries_succeeded", N_("Succeeded"), "count"),
        Column("queries_failed", N_("Failed verification"), "count"),
        Column("queries_locked", N_("Refused while locked"), "count"),
        Column("query_lockouts", N_("Lockouts (security incidents)"), "count"),
    ],
    "return-visits": [
        Column("return_visits_due", N_("Return visits due"), "count"),
        Column("return_visits_completed", N_("Return visits completed"), "count"),
        Column("return_visits_in_cooling_off", N_("Completed within cooling-off"), "count"),
        Column("return_visits_unreachable", N_("Unreachable attempts"), "count"),
        Column("return_visits_escalated", N_("Escalated"), "count"),
        Column("return_visits_misselling", N_("Mis-selling found"), "count"),
    ],
    "policy-persistency": [
        Column("persistency_13m_due", N_("Policies at 13 months"), "count"),
        Column("persistency_13m_paid", N_("Of those, second premium paid"), "count"),
        Column("policies_suspended", N_("Policies suspended"), "count"),
        Column("policies_reinstated", N_("Policies reinstated"), "count"),
        Column("policies_surrendered", N_("Policies surrendered"), "count"),
        Column("policies_terminated_not_reinstated", N_("Terminated, not reinstated"), "count"),
        Column("policies_terminated_claim_paid", N_("Terminated by a claim paid"), "count"),
        Column("policies_expired", N_("Policies expired"), "count"),
    ],
}
# Figures derived from the sums: (column, numerator, denominator).
_RATIOS: dict[str, list[tuple[Column, str, str]]] = {
    "claims": [
        (
            Column("rejection_rate", N_("Rejection rate"), "ratio"),
            "claims_rejected",
            "claims_decided",
        ),
        (
            Column("in_time_rate", N_("Decided in time rate"), "ratio"),
            "claims_decided_in_time",
            "claims_decided",
        ),
    ],
    "policy-queries": [
        (
            Column("success_rate", N_("Success rate"), "ratio"),
            "queries_succeeded",
            "queries_attempted",
        ),
    ],
    "return-visits": [
        (
            Column("in_cooling_off_rate", N_("Share completed within cooling-off"), "ratio"),
            "return_visits_in_cooling_off",
            "return_visits_completed",
        ),
    ],
    "policy-persistency": [
        (
            Column("persistency_13m_rate", N_("13-month persistency"), "ratio"),
            "persistency_13m_paid",
            "persistency_13m_due",
        ),
    ],
}
# Percentiles over the samples: (column, measure, percent).
_PERCENTILES: dict[str, list[tuple[Column, str, int]]] = {
    "policy-queries": [
        (Column("answer_p95_ms", N_("Answer time p95 (ms)"), "ms"), QUERY_ANSWER_MS, 95),
    ],
    "turnaround": [
        (Column("issue_median_s", N_("Submit → issue median"), "seconds"), SUBMISSION_TO_ISSUE, 50),
        (Column("issue_p90_s", N_("Submit → issue p90"), "seconds"), SUBMISSION_TO_ISSUE, 90),
        (Column("payment_median_s", N_("Report → pay median"), "seconds"), REPORT_TO_PAYMENT, 50),
        (Column("payment_p90_s", N_("Report → pay p90"), "seconds"), REPORT_TO_PAYMENT, 90),
    ],
}
_SAMPLE_COUNTS: dict[str, list[tuple[Column, str]]] = {
    "turnaround": [
        (Column("issued", N_("Policies issued"), "count"), SUBMISSION_TO_ISSUE),
        (Column("paid", N_("Claims paid"), "count"), REPORT_TO_PAYMENT),
    ],
}
_SLA = [
    Column("kind", N_("Task kind"), "text"),
    Column("opened", N_("Opened"), "count"),
    Column("decided", N_("Decided"), "count"),
    Column("decided_before_due", N_("Decided before due"), "count"),
    Column("escalated", N_("Escalated"), "count"),
    Column("breached", N_("Breached"), "count"),
    Column("cancelled", N_("Cancelled"), "count"),
    Column("compliance_rate", N_("SLA compliance"), "ratio"),
]
_TASK_FIGURES = [c.key for c in _SLA[1:-1]]

TITLES = {
    "new-business": N_("New business"),
    "turnaround": N_("Turnaround"),
    "sla": N_("SLA compliance per task kind"),
    "claims": N_("Claims"),
    "policy-queries": N_("Policy queries"),
    "return-visits": N_("Return visits"),
    "policy-persistency": N_("Persistency and lapses"),
}
REPORT_NAMES = tuple(TITLES)
# What each report's chart draws from its daily ``series`` (the console's SVG): the
# figures that belong on one axis together (counts with counts, durations with durations).
CHARTS: dict[str, tuple[str, ...]] = {
    "new-business": ("applications_started", "applications_submitted", "policies_issued"),
    "turnaround": ("issue_median_s", "payment_median_s"),
    "sla": ("opened", "decided", "breached"),
    "claims": ("claims_reported", "claims_decided", "claims_paid"),
    "policy-queries": ("queries_attempted", "queries_failed", "query_lockouts"),
    "return-visits": (
        "return_visits_due",
        "return_visits_completed",
        "return_visits_in_cooling_off",
    ),
    "policy-persistency": ("policies_suspended", "policies_reinstated", "policies_surrendered"),
}


# --- who may see what -------------------------------------------------------------------


def visible_agent(actor: Actor, asked: str | None, *, group: str = "agent") -> str | None:
    """The agent whose figures ``actor`` gets (None: everyone's). Supervisors and ops see
    any agent or all, per agent or per branch; an agent only their own, whatever they ask
    (asking for another's, or for their branch's, is 403 ``forbidden``)."""
    if actor.has(Role.SUPERVISOR) or actor.has(Role.OPS):
        return asked
    if actor.has(Role.AGENT):
        if asked is not None and asked != actor.username:
            raise ProblemError(
                403, "forbidden", N_("Forbidden"), N_("An agent sees their own figures only.")
            )
        if group == "branch":
            raise ProblemError(
                403,
                "forbidden",
                N_("Forbidden"),
                N_("An agent sees their own figures only, not their branch's."),
            )
        return actor.username
    raise ProblemError(
        403,
        "forbidden",
        N_("Forbidden"),
        N_("Reports need one of the roles: agent, supervisor, ops."),
    )


def check_range(start: date, end: date) -> None:
    """422 ``invalid_range`` when ``start`` is after ``end``; 422 ``range_too_long`` past
    ``MAX_DAYS`` business days."""
    if start > end:
        raise ProblemError(
            422,
            "invalid_range",
            N_("Invalid range"),
            N_("from (%(start)s) is after to (%(end)s)."),
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise ProblemError(
            422,
            "range_too_long",
            N_("Range too long"),
            N_("A report covers at most %(days)s business days."),
            params={"days": MAX_DAYS},
        )


def check_group(group: str) -> None:
    """422 ``invalid_group`` unless ``group`` is one of ``GROUPS``."""
    if group not in GROUPS:
        raise ProblemError(
            422,
            "invalid_group",
            N_("Invalid group"),
            N_("group is one of: %(groups)s."),
            params={"groups": ", ".join(GROUPS)},
        )


# --- the reports ------------------------------------------------------------------------


async def build_report(
    session: AsyncSession,
    *,
    actor: Actor,
    name: str,
    start: date,
    end: date,
    agent: str | None = None,
    group: str = "agent",
) -> Report:
    """Report ``name`` over the business days ``start`` to ``end`` (inclusive), for the
    agents ``actor`` may see (``agent`` narrows to one), per agent or (``group="branch"``)
    per branch. 404 ``report_not_found`` for an unknown name; see ``check_range``,
    ``check_group`` and ``visible_agent`` for the other refusals."""
    if name not in TITLES:
        raise ProblemError(
            404,
            "report_not_found",
            N_("No such report"),
            N_("Reports: %(names)s."),
            params={"names": ", ".join(REPORT_NAMES)},
        )
    check_range(start, end)
    check_group(group)
    who = visible_agent(actor, agent, group=group)
    report = new_report(name, start, end, who, group)
    branches = await users.branches(session) if group == "branch" else None
    if name == "sla":
        rows = await aggregates.task_rows(session, start=start, end=end, agent=who)
        fold_sla(report, rows, branches)
    else:
        daily: list[Any] = []
        samples: list[Any] = []
        if _SUMS.get(name):
            daily = await aggregates.daily_rows(
                session, start=start, end=end, agent=who, columns=[c.key for c in _SUMS[name]]
            )
        if measures := measures_of(name):
            samples = await aggregates.sample_rows(
                session, start=start, end=end, agent=who, measures=measures
            )
        fold_by_agent(report, daily, samples, branches)
    await session.commit()  # reads only: end the transaction
    return report


def new_report(
    name: str, start: date, end: date, agent: str | None, group: str = "agent"
) -> Report:
    """An empty report of ``name`` over the range, for ``fold_by_agent`` or ``fold_sla``."""
    return Report(
        name=name,
        title=TITLES[name],
        start=start,
        end=end,
        agent=agent,
        group=group,
        columns=[],
        rows=[],
        total={},
    )


def measures_of(name: str) -> list[str]:
    """The sample measures report ``name`` reads."""
    percentiles = _PERCENTILES.get(name, [])
    counts = _SAMPLE_COUNTS.get(name, [])
    return sorted({m for _, m, _ in percentiles} | {m for _, m in counts})


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _grouping(
    report: Report, branches: Mapping[str, str] | None
) -> tuple[Column, Callable[[str], str]]:
    """The first column of ``report``'s rows and the row an agent's figures go to: the
    agent's own, or their branch's (``NO_BRANCH`` for an agent ``branches`` does not name)."""
    if report.group == "branch":
        known = branches or {}
        return _BRANCH, lambda agent: known.get(agent) or NO_BRANCH
    return _AGENT, lambda agent: agent


def fold_by_agent(
    report: Report,
    daily: Iterable[Any],
    samples_read: Iterable[Any],
    branches: Mapping[str, str] | None = None,
) -> None:
    """Sum the per-agent day rows (``ReportDaily``) and merge the samples
    (``ReportSamples``) of the range into ``report``: its columns, rows, total, series.
    The rows are the aggregates' or (the benchmark's check) the same built from the raw
    tables. Grouped by branch, an agent's figures go to the row of their branch in
    ``branches`` (username → branch): sums add up, percentiles come from the branch's
    samples, ratios from its sums."""
    name = report.name
    first, row_of = _grouping(report, branches)
    sums = _SUMS.get(name, [])
    ratios = _RATIOS.get(name, [])
    percentiles = _PERCENTILES.get(name, [])
    counts = _SAMPLE_COUNTS.get(name, [])
    report.columns = [
        first,
        *sums,
        *(c for c, _ in counts),
        *(c for c, _, _ in ratios),
        *(c for c, _, _ in percentiles),
    ]
    per_agent: dict[str, dict[str, Value]] = defaultdict(dict)
    per_day: dict[date, dict[str, Value]] = defaultdict(dict)
    total: dict[str, Value] = {}
    if sums:
        for row in daily:
            for column in sums:
                value = getattr(row, column.key)
                for bucket in (per_agent[row_of(row.agent)], per_day[row.day], total):
                    bucket[column.key] = _add(bucket.get(column.key), value)
    measures = measures_of(name)
    samples: dict[tuple[str, str], list[list[int]]] = defaultdict(list)
    daily_samples: dict[tuple[date, str], list[list[int]]] = defaultdict(list)
    if measures:
        for s in samples_read:
            if s.measure not in measures:
                continue
            per_agent.setdefault(row_of(s.agent), {})
            samples[(row_of(s.agent), s.measure)].append(s.samples)
            samples[("*", s.measure)].append(s.samples)
            daily_samples[(s.day, s.measure)].append(s.samples)

    def finish(values: dict[str, Value], merged: dict[str, list[int]]) -> dict[str, Value]:
        for column in sums:
            values.setdefault(column.key, Decimal("0.00") if column.kind == "money" else 0)
        for column, measure in counts:
            values[column.key] = len(merged.get(measure, []))
        for column, numerator, denominator in ratios:
            values[column.key] = _ratio(values.get(numerator), values.get(denominator))
        for column, measure, percent in percentiles:
            values[column.key] = nearest_rank(merged.get(measure, []), percent)
        return values

    def merged_for(key: str) -> dict[str, list[int]]:
        return {m: merge_sorted(samples.get((key, m), [])) for m in measures}

    report.rows = [
        {first.key: key, **finish(per_agent[key], merged_for(key))} for key in sorted(per_agent)
    ]
    report.total = {first.key: None, **finish(total, merged_for("*"))}
    report.series = [
        {
            "day": day.isoformat(),
            **finish(
                per_day.get(day, {}),
                {m: merge_sorted(daily_samples.get((day, m), [])) for m in measures},
            ),
        }
        for day in _days(report.start, report.end)
    ]


def fold_sla(
    report: Report, task_rows: Iterable[Any], branches: Mapping[str, str] | None = None
) -> None:
    """Sum the SLA day rows (``ReportTaskDaily``) of the range into ``report``: a row per
    task kind, or per branch and task kind when grouped by branch."""
    by_branch = report.group == "branch"
    _, row_of = _grouping(report, branches)
    report.columns = [_BRANCH, *_SLA] if by_branch else list(_SLA)
    per_kind: dict[tuple[str, str], dict[str, Value]] = defaultdict(dict)
    per_day: dict[date, dict[str, Value]] = defaultdict(dict)
    total: dict[str, Value] = {}
    for row in task_rows:
        where = (row_of(row.agent) if by_branch else "", row.kind)
        for key in _TASK_FIGURES:
            value = getattr(row, key)
            for bucket in (per_kind[where], per_day[row.day], total):
                bucket[key] = _add(bucket.get(key), value)

    def finish(values: dict[str, Value]) -> dict[str, Value]:
        for key in _TASK_FIGURES:
            values.setdefault(key, 0)
        # Of the tasks that came to an end undecided or decided (cancelled ones aside).
        ended = _int(values["decided"]) + _expired(values)
        values["compliance_rate"] = _ratio(values["decided_before_due"], ended)
        return values

    def first(branch: str | None) -> dict[str, Value]:
        return {"branch": branch} if by_branch else {}

    report.rows = [
        {**first(branch), "kind": kind, **finish(per_kind[(branch, kind)])}
        for branch, kind in sorted(per_kind)
    ]
    report.total = {**first(None), "kind": None, **finish(total)}
    report.series = [
        {"day": day.isoformat(), **finish(per_day.get(day, {}))}
        for day in _days(report.start, report.end)
    ]


def _expired(values: dict[str, Value]) -> int:
    # Breached = decided after due + expired; decided = before due + after due.
    late = _int(values["decided"]) - _int(values["decided_before_due"])
    return _int(values["breached"]) - late


def _int(value: Value) -> int:
    return int(value or 0)


def _add(a: Value, b: Value) -> Value:
    if a is None:
        return b
    return a + b  # type: ignore[operator]


# --- downloads --------------------------------------------------------------------------


def _header(report: Report) -> list[str]:
    return [c.key for c in report.columns]


def _lines(report: Report) -> Iterable[dict[str, Value]]:
    yield from report.rows
    yield report.total


def filename(report: Report, extension: str) -> str:
    """The download's file name: the report, per branch or not, and its range."""
    per = "_per-branch" if report.group == "branch" else ""
    return f"{report.name}{per}_{report.start}_{report.end}.{extension}"


def to_csv(report: Report) -> str:
    """The report as CSV: a header of column keys, a line per row, the total last (its
    first cell empty). Money and ratios as in the JSON, empty for nothing known."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_header(report))
    for values in _lines(report):
        cells = report.cells(values)
        writer.writerow(["" if cells[k] is None else cells[k] for k in _header(report)])
    return out.getvalue()


def to_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook: the same table as the CSV on a sheet named after the
    report, numbers as numbers (money to two decimals), and a second sheet with the daily
    series."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = report.name[:31]
    _table(sheet, report.columns, list(_lines(report)))
    daily = book.create_sheet("daily")
    day = Column("day", N_("Day"), "text")
    figures = [c for c in report.columns if c.kind != "text"]  # a day has no agent or kind
    _table(daily, [day, *figures], report.series)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _table(sheet: Any, columns: Sequence[Column], lines: Sequence[dict[str, Value]]) -> None:
    sheet.append([c.key for c in columns])
    for values in lines:
        sheet.append([_number(c.kind, values.get(c.key)) for c in columns])
        for column, cell in zip(columns, sheet[sheet.max_row], strict=True):
            if column.kind == "money":
                cell.number_format = "0.00"
            elif column.kind == "ratio":
                cell.number_format = "0.0000"


def _number(kind: Kind, value: Value) -> Any:
    if value is None:
        return None
    if kind == "money":
        return Decimal(value).quantize(CENT)
    if kind == "ratio":
        return Decimal(value).quantize(RATIO)
    return value
