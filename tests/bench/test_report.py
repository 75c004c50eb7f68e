"""bench/report.py: figures with their units, the ratios and targets computed from them,
the CPU budget's arithmetic, and the JSON and the table written from given figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.report import Figure, build, cpu_budget, flatten, rows, table, unit_of, write


def ratio_values(results: dict[str, Any]) -> dict[str, float]:
    """The ratios a report built from ``results`` gives, by name."""
    return {r["name"]: r["value"] for r in build({}, results)["ratios"]}


def arm(rate: float, p50: float, **extra: Any) -> dict[str, Any]:
    return {"completed": 100, "completed_per_s": rate, "latency": {"p50_ms": p50}, **extra}


def results() -> dict[str, Any]:
    return {
        "baseline.regular": arm(30.0, 600.0, steps_per_s=150.0),
        "baseline.local": arm(50.0, 400.0, cpu_per_item_ms={"bench": 15.0, "temporal": 10.0}),
        "enrollment": arm(
            10.0,
            1500.0,
            steps_per_s=90.0,
            cpu_per_item_ms={"worker": 80.0, "temporal": 40.0, "bench": 5.0},
        ),
        "claims": arm(12.5, 1000.0),
        "tuning": {"sqlite_wal": {"before": arm(20.0, 800.0), "after": arm(44.0, 400.0)}},
        "pools.sqlite.pool_10_overflow": arm(200.0, 5.0),
        "pools.sqlite.pool_1": arm(202.0, 4.0),
        "pools.sqlite.no_pool": arm(0.0, 9.0),
        "inbox": {
            "api": {"first_page": {"p99_ms": 12.5}},
            "sql": {
                "with_index": {
                    "keyset": {"row_0": {"p50_ms": 0.1}, "row_99900": {"p50_ms": 0.12}},
                    "offset": {"row_99900": {"p50_ms": 6.0}},
                },
                "without_index": {
                    "keyset": {"row_0": {"p50_ms": 20.0}},
                    "offset": {"row_99900": {"p50_ms": 412.32}},
                },
            },
            "query_plans": {"with_index.keyset": "SEARCH task USING INDEX ix"},
        },
        "api": {"flows": arm(4.0, 5000.0), "errors": 0, "worst_p99_endpoint": "POST /x"},
        "parked": {"rss_parked_mib": {"worker": 425.5}, "decisions": {"p99_ms": None}},
    }


def test_a_unit_comes_from_the_nearest_key_with_a_suffix() -> None:
    assert unit_of(("enrollment", "completed_per_s")) == "/s"
    assert unit_of(("window", "wall_s")) == "s"
    assert unit_of(("latency", "p99_ms")) == "ms"
    assert unit_of(("rss_parked_mib", "worker")) == "MiB"
    assert unit_of(("areas_pct", "sqlalchemy")) == "%"
    assert unit_of(("window", "outside_cores")) == "cores"
    assert unit_of(("history", "events")) == ""


def test_flatten_names_numbers_by_their_path_and_keeps_text_apart() -> None:
    items = list(flatten({"a": {"b_ms": 1.5, "n": 3, "plan": "SCAN", "gone": None, "ok": True}}))
    assert items == [
        Figure("a.b_ms", 1.5, "ms"),
        Figure("a.n", 3, ""),
        ("a.plan", "SCAN"),
        ("a.ok", "True"),
    ]


def test_ratios_are_computed_from_the_figures_measured_and_only_those() -> None:
    report = build({"machine": {"cpus": 2}}, results())
    ratios = {r["name"]: r for r in report["ratios"]}
    assert ratios["enrollment_vs_baseline_local"]["value"] == 0.2
    assert ratios["enrollment_vs_baseline_local"]["numerator"] == "enrollment.completed_per_s"
    assert ratios["enrollment_steps_vs_baseline_regular"]["value"] == 0.6
    assert ratios["claims_vs_baseline_local"]["value"] == 0.25
    assert ratios["api_flows_vs_enrollment"]["value"] == 0.4
    assert ratios["tuning.sqlite_wal"]["value"] == 2.2
    assert ratios["tuning.sqlite_wal.p50"]["value"] == 0.5
    assert ratios["pools.sqlite.pool_1_vs_pool_10_overflow"]["value"] == 1.01
    assert ratios["pools.sqlite.no_pool_vs_pool_10_overflow"]["value"] == 0.0
    assert ratios["inbox.offset_without_index_vs_keyset_deepest"]["value"] == 3436.0
    assert ratios["inbox.offset_with_index_vs_keyset_deepest"]["value"] == 50.0
    assert ratios["inbox.first_page_without_vs_with_index"]["value"] == 200.0
    # Not measured in this run (no second worker, no PostgreSQL): no ratio.
    assert "enrollment_two_workers_vs_one" not in ratios
    assert "enrollment_postgres_vs_sqlite" not in ratios
    assert {r["unit"] for r in report["ratios"]} == {"x"}


def test_a_ratio_over_zero_is_left_out() -> None:
    given = {"tuning": {"c": {"before": arm(0.0, 0.0), "after": arm(3.0, 1.0)}}}
    assert build({}, given)["ratios"] == []


def test_targets_give_the_wanted_and_the_measured_value_and_their_ratio() -> None:
    targets = {t["name"]: t for t in build({}, results())["targets"]}
    enrollment = targets["enrollment_vs_baseline_local"]
    assert (enrollment["comparison"], enrollment["target"]) == ("at_least", 0.6)
    assert (enrollment["measured"], enrollment["measured_over_target"]) == (0.2, 0.333)
    assert enrollment["unit"] == "x"
    assert targets["api_flows_per_s"]["measured_over_target"] == 0.2
    assert targets["inbox_first_page_p99_ms"]["unit"] == "ms"
    rss = targets["parked_worker_rss_mib"]
    assert (rss["measured"], rss["measured_over_target"]) == (425.5, 0.416)
    assert targets["api_errors"]["measured_over_target"] is None  # the target is 0
    # No verdict: what the figures mean is for docs/benchmarks.md to say.
    assert not any("met" in t for t in targets.values())
    assert "parked_decision_p99_ms" not in targets  # its figure is absent (None)


def test_the_cpu_budget_is_the_enrollment_targets_arithmetic() -> None:
    values = {f.name: f.value for f in flatten(results()) if isinstance(f, Figure)}
    budget = {f.name.removeprefix("cpu_budget."): f.value for f in cpu_budget(values, cores=2)}
    assert budget["enrollment_cpu_ms"] == 125.0  # 80 + 40 + 5
    assert budget["baseline_local_cpu_ms"] == 25.0
    assert budget["wanted_per_s"] == 30.0  # 0.6 x 50/s
    assert budget["allowed_cpu_ms"] == 66.67  # two cores' 2,000 ms a second over 30
    assert budget["ceiling_per_s"] == 16.0  # 2,000 / 125
    assert budget["server_only_ceiling_per_s"] == 50.0  # 2,000 / 40
    assert budget["worker_allowed_ms"] == 21.67  # 66.67 - 40 - 5
    assert budget["bare_worker_floor_ms"] == 10.0  # 15 - 5
    assert cpu_budget({}, cores=2) == []


def test_the_table_has_a_row_per_figure_ratio_and_target() -> None:
    report = build({"machine": {"cpus": 2}}, results())
    lines = table(rows(report)).splitlines()
    assert lines[0].split() == ["figure", "value", "unit"]
    by_name = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert by_name["enrollment.completed_per_s"] == ["10.0", "/s"]
    assert by_name["enrollment.completed"] == ["100"]
    assert by_name["ratio.tuning.sqlite_wal"] == ["2.2", "x"]
    assert by_name["cpu_budget.allowed_cpu_ms"] == ["66.67", "ms"]
    assert by_name["target.enrollment_vs_baseline_local.at_least"] == ["0.6", "x"]
    assert by_name["target.enrollment_vs_baseline_local.measured"] == ["0.2", "x"]
    assert by_name["target.enrollment_vs_baseline_local.measured_over_target"] == ["0.333", "x"]
    assert len(lines) == 1 + len(report["figures"]) + len(report["ratios"]) + sum(
        3 if t["measured_over_target"] is not None else 2 for t in report["targets"]
    )
    width = max(len(line.split()[0]) for line in lines)
    for line in lines[1:]:  # names padded to the longest, values right-aligned after them
        name, value, *_ = line.split()
        assert line[: width + 2].rstrip() == name
        assert line[width + 2 : width + 14] == f"{value:>12}"
    assert all(line.rstrip() == line for line in lines)
    capped = table([("a" * 90, 1, "s"), ("b", 22, "")], widest=10).splitlines()
    assert capped == [
        f"{'figure':<10}  {'value':>12}  unit",
        "a" * 90 + f"  {1:>12}  s",
        f"{'b':<10}  {22:>12}",
    ]


def test_write_puts_json_and_table_under_the_stamp_and_points_latest_there(
    tmp_path: Path,
) -> None:
    context = {"machine": {"cpus": 2}, "sizes": {"workflows": 120}}
    report = build(context, results())
    run_dir = write(tmp_path, report, stamp="20261202T063856Z")
    assert run_dir == tmp_path / "20261202T063856Z"
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["context"] == context
    assert saved["text"]["inbox.query_plans.with_index.keyset"] == "SEARCH task USING INDEX ix"
    assert saved["text"]["api.worst_p99_endpoint"] == "POST /x"
    assert {"name": "claims.completed_per_s", "value": 12.5, "unit": "/s"} in saved["figures"]
    assert (run_dir / "results.txt").read_text() == table(rows(report))
    assert (tmp_path / "latest").resolve() == run_dir.resolve()
    later = write(tmp_path, report, stamp="20261203T000000Z")
    assert (tmp_path / "latest").resolve() == later.resolve()


@pytest.mark.parametrize("figures", [True, False])
def test_the_printed_table_can_leave_the_figures_out(figures: bool) -> None:
    report = build({}, results())
    names = [name for name, _, _ in rows(report, figures=figures)]
    assert ("enrollment.completed_per_s" in names) is figures
    assert "ratio.enrollment_vs_baseline_local" in names
