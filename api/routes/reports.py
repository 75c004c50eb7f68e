"""Business reports for agents (their own figures), supervisors and ops: JSON, or a CSV or
XLSX download of the same table."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import SessionDep, require_roles
from api.openapi import problem_responses
from domain.underwriting import Actor, Role
from services import reports
from services.reports import Report

router = APIRouter(prefix="/v1/reports", tags=["reports"])

ReportReader = Annotated[Actor, Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.OPS))]
Cell = int | str | None

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportColumnRead(BaseModel):
    key: str
    title: str
    kind: Literal["text", "count", "money", "ratio", "seconds", "ms"]


class ReportRead(BaseModel):
    """A report: its columns, a row per agent or per branch (per task kind for ``sla``, or
    per branch and task kind), the total, and the daily series for a chart. Money and
    ratios are decimal strings."""

    model_config = ConfigDict(populate_by_name=True)

    name: str
    title: str
    from_: date = Field(alias="from")
    to: date
    agent: str | None
    group: Literal["agent", "branch"]
    columns: list[ReportColumnRead]
    rows: list[dict[str, Cell]]
    total: dict[str, Cell]
    series: list[dict[str, Cell]]


def _read(report: Report) -> dict[str, Any]:
    return {
        "name": report.name,
        "title": report.title,
        "from": report.start,
        "to": report.end,
        "agent": report.agent,
        "group": report.group,
        "columns": [c.__dict__ for c in report.columns],
        "rows": [report.cells(r) for r in report.rows],
        "total": report.cells(report.total),
        "series": [{"day": s["day"], **report.cells(s)} for s in report.series],
    }


@router.get(
    "/{name}",
    response_model=ReportRead,
    responses={
        **problem_responses(
            {422: ["invalid_range", "range_too_long", "invalid_group"], 404: "report_not_found"}
        ),
        200: {
            "description": "The report (JSON), or its CSV or XLSX download (`format`)",
            "content": {CSV: {}, XLSX: {}},
        },
    },
)
async def get_report(
    actor: ReportReader,
    session: SessionDep,
    name: Annotated[str, Path(description=f"one of {', '.join(reports.REPORT_NAMES)}")],
    start: Annotated[date, Query(alias="from", description="first business day, YYYY-MM-DD")],
    end: Annotated[date, Query(alias="to", description="last business day, inclusive")],
    agent: Annotated[
        str | None, Query(min_length=1, max_length=64, description="one agent's figures")
    ] = None,
    group: Annotated[
        str,
        Query(
            description="`agent` (default): a row per agent; `branch`: the agents' figures "
            "summed per branch (supervisors and ops)",
        ),
    ] = "agent",
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> Any:
    """A report over the business days (Asia/Shanghai) `from` to `to`, inclusive, at most
    three years, from the daily aggregates: `new-business`, `turnaround`, `sla`, `claims`,
    `policy-queries`, `return-visits`, `policy-persistency` (docs/reports.md). An agent
    sees their own figures only; supervisors and ops everyone's, or one agent's with
    `agent`, per agent or with `group=branch` per branch (the agents' figures summed by
    the user's branch as it is now; agents without one under `""`)."""
    report = await reports.build_report(
        session, actor=actor, name=name, start=start, end=end, agent=agent, group=group
    )
    if format == "csv":
        return Response(
            reports.to_csv(report),
            media_type=CSV,
            headers={
                "Content-Disposition": f'attachment; filename="{reports.filename(report, "csv")}"'
            },
        )
    if format == "xlsx":
        return Response(
            reports.to_xlsx(report),
            media_type=XLSX,
            headers={
                "Content-Disposition": f'attachment; filename="{reports.filename(report, "xlsx")}"'
            },
        )
    return ReportRead.model_validate(_read(report))
