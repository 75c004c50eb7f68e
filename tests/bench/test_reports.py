"""bench/reports.py at a tiny size on a fresh SQLite read model (no Temporal): a few days
seeded and aggregated by the schedule's function, every report timed from the aggregates
and from the raw tables, and the two found equal; a report that differs is counted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from bench.report import build
from bench.reports import (
    FIRST_DAY,
    SUPERVISOR,
    differences,
    raw_report,
    run_reports,
    seed_and_aggregate,
)
from db.migrate import upgrade_async
from db.models import ReportDaily
from db.session import make_engine, make_session_factory
from services.reports import REPORT_NAMES, build_report
from tests.bench.test_smoke import bare_stack


async def test_a_few_days_report_the_same_from_the_aggregates_and_the_raw_tables(
    tmp_path: Path,
) -> None:
    stack = bare_stack(tmp_path)
    await upgrade_async(stack.database_url)
    engine = make_engine(stack.database_url)
    stack.sessions = make_session_factory(engine)
    try:
        out = await run_reports(stack, tasks=300, policies=2_000, reps=2, raw_reps=1, days=3)
    finally:
        await engine.dispose()
    assert out["seeded"]["tasks"] == 300 and out["seeded"]["policies"] == 2_000
    assert out["seeded"]["claims"] == 100 and out["seeded"]["enrollments"] == 2_200
    assert out["seeded"]["policies_before"] == 200  # a tenth, in force from before
    assert out["aggregate_day"]["count"] == 3
    assert set(out["aggregates"]) == set(out["raw"]) == set(REPORT_NAMES)
    for name in REPORT_NAMES:
        assert out["aggregates"][name]["count"] == 2 and out["raw"][name]["count"] == 1
        assert out["check"][name]["series_days"] == 3
        assert out["check"][name]["rows"] > 0, name  # every report has figures to compare
    assert out["mismatched_cells"] == 0, out["check"]
    ratios = {r["name"] for r in build({}, {"reports": out})["ratios"]}
    assert {f"reports.{n}_raw_vs_aggregates" for n in REPORT_NAMES} <= ratios
    assert {f"reports.{n}_raw_vs_aggregates.p99" for n in REPORT_NAMES} <= ratios


async def test_an_aggregate_that_differs_from_the_raw_tables_is_found(tmp_path: Path) -> None:
    stack = bare_stack(tmp_path)
    await upgrade_async(stack.database_url)
    engine = make_engine(stack.database_url)
    stack.sessions = make_session_factory(engine)
    try:
        year, _, _ = await seed_and_aggregate(stack, tasks=30, policies=200, days=2)
        async with stack.sessions() as session, session.begin():
            await session.execute(
                update(ReportDaily)
                .where(ReportDaily.day == FIRST_DAY + timedelta(days=1))
                .values(policies_issued=ReportDaily.policies_issued + 1)
            )
        async with stack.sessions() as session:
            aggregated = await build_report(
                session, actor=SUPERVISOR, name="new-business", start=year.first, end=year.last
            )
        async with stack.sessions() as session:
            raw = await raw_report(session, "new-business", year.first, year.last)
    finally:
        await engine.dispose()
    differ = differences(aggregated, raw)
    second = (FIRST_DAY + timedelta(days=1)).isoformat()
    assert "total.policies_issued" in differ and f"series[{second}].policies_issued" in differ
    assert f"series[{FIRST_DAY.isoformat()}].policies_issued" not in differ
    # A row on one side only differs, unless it holds nothing.
    assert differences(raw, raw) == []
    assert all(r["agent"] for r in raw.rows)
    no_one = raw.rows[0] | {"agent": "nobody", "applications_started": 0, "policies_issued": 0}
    no_one |= {"applications_submitted": 0, "applications_approved": 0}
    no_one |= {"applications_rejected": 0, "premium_issued": 0}
    aggregated.rows.append(no_one)
    assert "rows[nobody]" not in differences(aggregated, raw)
    aggregated.rows[-1] = no_one | {"policies_issued": 1}
    assert "rows[nobody]" in differences(aggregated, raw)
