"""The report pages (业务报告): choose a report, a range of business days and (supervisors,
ops) an agent and rows per agent or per branch; the table of figures, a chart of the days
drawn on the server as SVG, and the CSV and XLSX downloads.

The figures are ``services.reports.build_report``'s, the same the JSON API serves, with its
rule of who sees what: an agent their own figures (whatever the form asks), supervisors and
ops everyone's or one agent's, per agent or per branch. Column titles are the service's
msgids, translated here.

The chart is an ``<img>`` of ``/ui/reports/{name}/chart.svg``, not SVG inline in the page:
pygal's SVG styles itself with a ``<style>`` element and style attributes, which the pages'
strict CSP (``default-src 'self'``) refuses inline. The SVG answer carries its own CSP,
styles allowed and scripts not (an ``<img>`` runs none anyway).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import pygal
from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pygal.style import Style

from api.deps import SessionDep
from api.web import formatting
from api.web.language import page_language
from api.web.rendering import NO_STORE, WebRoute, render
from api.web.session import REPORT_ROLES, PageError, page_roles
from core.i18n import Language
from domain.business import SHANGHAI
from domain.texts import N_
from domain.underwriting import Actor, Role
from services import reports
from services.problems import ProblemError

router: APIRouter = APIRouter(route_class=WebRoute)

ReportUser = Annotated[Actor, Depends(page_roles(*REPORT_ROLES))]
ReportName = Annotated[str, Path(pattern=r"^[a-z-]{1,32}$")]
# A range typed into the form: the last seven business days unless chosen.
DEFAULT_DAYS = 7
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GROUP_LABELS = {"agent": N_("Per agent"), "branch": N_("Per branch")}


def sees_all(user: Actor) -> bool:
    """Supervisors and ops choose an agent; an agent sees their own figures only."""
    return user.has(Role.SUPERVISOR) or user.has(Role.OPS)


def _yesterday() -> date:
    return datetime.now(SHANGHAI).date() - timedelta(days=1)


def _form(
    user: Actor, name: str, start: str, end: str, agent: str, group: str, lang: Language
) -> tuple[dict[str, str], date | None, date | None, str | None, list[str]]:
    """The form's values as given, the range as dates, the agent asked, and what is wrong.
    An agent's form asks for their own figures, per agent, whatever the address says."""
    errors: list[str] = []
    last = _yesterday()
    values = {
        "report": name if name in reports.REPORT_NAMES else reports.REPORT_NAMES[0],
        "from": start.strip() or (last - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "to": end.strip() or last.isoformat(),
        "agent": agent.strip() if sees_all(user) else user.username,
        "group": (group.strip() or "agent") if sees_all(user) else "agent",
    }
    days: list[date | None] = []
    for key, label in (("from", lang.gettext("From")), ("to", lang.gettext("To"))):
        try:
            days.append(date.fromisoformat(values[key]))
        except ValueError:
            errors.append(lang.gettext("%(field)s must be a date like 2025-03-01.", field=label))
            days.append(None)
    if len(values["agent"]) > 64:
        errors.append(lang.gettext("Agent must be a username (letters, digits, . _ -)."))
    return values, days[0], days[1], values["agent"] or None, errors


def cell(kind: str, value: Any, lang: Language) -> str:
    """One figure as the reader's language writes it: counts with digit grouping, money as
    ``¥1,200.00``, rates as percentages, durations as a span, answer times in ms."""
    if value is None or value == "":
        return "—"
    match kind:
        case "money":
            return lang.money(value)
        case "ratio":
            return format_percent(Decimal(str(value)), "#,##0.0%", locale=lang.locale)
        case "seconds":
            return formatting.span(timedelta(seconds=int(value)), lang=lang)
        case "ms":
            return lang.gettext("%(n)s ms", n=format_decimal(int(value), locale=lang.locale))
        case "count":
            return format_decimal(int(value), locale=lang.locale)
    return str(value)


def label(key: str, value: Any, lang: Language) -> str:
    """A row's naming cell: the agent (``""``: no agent), the branch (``""``: no branch),
    or the task kind in words."""
    if key == "kind":
        return formatting.words(value, lang=lang)
    if key == "branch":
        return str(value) or lang.gettext("(no branch)")
    return str(value) or lang.gettext("(no agent)")


def table(report: reports.Report, lang: Language) -> dict[str, Any]:
    """The report as the page's table: translated headers, rows and the total in words."""
    columns = [
        {"key": c.key, "title": lang.gettext(c.title), "kind": c.kind} for c in report.columns
    ]

    def line(values: dict[str, Any]) -> list[str]:
        cells = report.cells(values)
        out = []
        for n, c in enumerate(report.columns):
            value = values.get(c.key)
            if c.kind != "text":
                out.append(cell(c.kind, cells[c.key], lang))
            elif value is None:  # the total's: named in its first cell only
                out.append(lang.gettext("Total") if n == 0 else "")
            else:
                out.append(label(c.key, value, lang))
        return out

    return {
        "columns": columns,
        "rows": [line(r) for r in report.rows],
        "total": line(report.total),
    }


def _query(values: dict[str, str], **extra: str) -> str:
    query = {"from": values["from"], "to": values["to"]}
    if values["agent"]:
        query["agent"] = values["agent"]
    if values["group"] != "agent":
        query["group"] = values["group"]
    return urlencode({**query, **extra})


@router.get("/reports")
async def reports_page(
    request: Request,
    user: ReportUser,
    session: SessionDep,
    report: str = "",
    start: Annotated[str, Query(alias="from")] = "",
    to: str = "",
    agent: str = "",
    group: str = "",
) -> Response:
    """A report over a range of business days, as a table and a chart, with downloads."""
    lang = page_language(request)
    values, first, last, who, errors = _form(user, report, start, to, agent, group, lang)
    built: reports.Report | None = None
    if not errors and first is not None and last is not None:
        try:
            built = await reports.build_report(
                session,
                actor=user,
                name=values["report"],
                start=first,
                end=last,
                agent=who,
                group=values["group"],
            )
        except ProblemError as err:
            await session.rollback()
            errors.append(lang.gettext(err.detail_msgid or err.title, **err.params))
    name = values["report"]
    return render(
        request,
        "reports.html",
        {
            "title": lang.gettext("Reports"),
            "reports": [(n, lang.gettext(reports.TITLES[n])) for n in reports.REPORT_NAMES],
            "groups": [(g, lang.gettext(GROUP_LABELS[g])) for g in reports.GROUPS],
            "values": values,
            "sees_all": sees_all(user),
            "errors": errors,
            "report": built,
            "report_title": lang.gettext(reports.TITLES[name]),
            "table": table(built, lang) if built else None,
            "has_figures": bool(built and (built.rows or any(_any(s) for s in built.series))),
            "chart_url": f"/ui/reports/{name}/chart.svg?{_query(values)}" if built else None,
            "csv_url": f"/ui/reports/{name}/download?{_query(values, format='csv')}",
            "xlsx_url": f"/ui/reports/{name}/download?{_query(values, format='xlsx')}",
        },
        status_code=422 if errors else 200,
    )


def _any(day: dict[str, Any]) -> bool:
    return any(v for k, v in day.items() if k != "day")


async def _report(
    request: Request,
    user: Actor,
    session: Any,
    name: str,
    start: str,
    end: str,
    agent: str,
    group: str,
) -> tuple[reports.Report, Language]:
    """The report a chart or a download asks for; a refusal is the error page (WebRoute)."""
    lang = page_language(request)
    values, first, last, who, errors = _form(user, name, start, end, agent, group, lang)
    if errors or first is None or last is None:
        raise PageError(422, N_("Not understood"), "; ".join(errors))
    report = await reports.build_report(
        session, actor=user, name=name, start=first, end=last, agent=who, group=values["group"]
    )
    return report, lang


def chart_svg(report: reports.Report, lang: Language) -> str:
    """The daily series of ``report`` as a pygal line chart: the figures of
    ``services.reports.CHARTS``, one line each, days along the bottom. Durations are drawn
    in hours. No JavaScript and no XML declaration: it is an image."""
    titles = {c.key: (lang.gettext(c.title), c.kind) for c in report.columns}
    chart = pygal.Line(
        js=[],
        disable_xml_declaration=True,
        width=900,
        height=360,
        show_dots=len(report.series) <= 62,
        x_label_rotation=30 if len(report.series) > 10 else 0,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(report.series) // 10),
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        include_x_axis=True,
        allow_interruptions=True,
        style=Style(
            font_family='system-ui, "Noto Sans CJK SC", "Noto Sans", sans-serif',
            background="#ffffff",
            plot_background="#ffffff",
            colors=("#1f5fa8", "#2e8b57", "#c0392b", "#8e44ad"),
            label_font_size=13,
            major_label_font_size=13,
            legend_font_size=14,
            title_font_size=16,
        ),
        title=lang.gettext(reports.TITLES[report.name]),
        y_title=lang.gettext("hours") if report.name == "turnaround" else None,
    )
    chart.x_labels = [_day_label(s["day"], lang) for s in report.series]
    for key in reports.CHARTS.get(report.name, ()):
        title, kind = titles[key]
        chart.add(title, [_point(kind, s.get(key)) for s in report.series])
    return str(chart.render(is_unicode=True))


def _day_label(day: Any, lang: Language) -> str:
    d = date.fromisoformat(str(day))
    return f"{d.month}月{d.day}日" if lang.locale == "zh_CN" else d.strftime("%b %-d")


def _point(kind: str, value: Any) -> float | None:
    if value is None:
        return None
    if kind == "seconds":
        return round(int(value) / 3600, 2)
    return float(value)


@router.get("/reports/{name}/chart.svg")
async def chart(
    request: Request,
    name: ReportName,
    user: ReportUser,
    session: SessionDep,
    start: Annotated[str, Query(alias="from")] = "",
    to: str = "",
    agent: str = "",
    group: str = "",
) -> Response:
    """The report's chart, an SVG image for the page's ``<img>``."""
    report, lang = await _report(request, user, session, name, start, to, agent, group)
    return Response(
        chart_svg(report, lang),
        media_type="image/svg+xml",
        headers={**NO_STORE, "Content-Security-Policy": SVG_CSP},
    )


@router.get("/reports/{name}/download")
async def download(
    request: Request,
    name: ReportName,
    user: ReportUser,
    session: SessionDep,
    start: Annotated[str, Query(alias="from")] = "",
    to: str = "",
    agent: str = "",
    group: str = "",
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    """The report as CSV or XLSX: the files ``GET /v1/reports/{name}?format=`` gives, for
    the signed-in user (the console's session is a cookie; the JSON API takes a bearer)."""
    report, _ = await _report(request, user, session, name, start, to, agent, group)
    body: str | bytes = reports.to_csv(report) if format == "csv" else reports.to_xlsx(report)
    return Response(
        body,
        media_type="text/csv; charset=utf-8" if format == "csv" else XLSX,
        headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="{reports.filename(report, format)}"',
        },
    )
