"""The report, as data: every figure the run measured (with its unit), the ratios between
figures measured side by side, and the targets (wanted, measured, measured ÷ wanted).
Written as ``<out>/<stamp>/results.json`` and as a plain table, ``results.txt`` (name,
value, unit). What the figures mean is written by people, in docs/benchmarks.md.

A figure's name is the path of keys to it in the measurements' results; its unit comes
from the nearest key with a unit suffix (``_per_s``, ``_ms``, ``_s``, ...), none for counts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

UNITS = (
    ("_per_s", "/s"),
    ("_ms", "ms"),
    ("_s", "s"),
    ("_mib", "MiB"),
    ("_kib", "KiB"),
    ("_pct", "%"),
    ("_cores", "cores"),
)
RATE = "completed_per_s"
P50 = "latency.p50_ms"
TIMES = "x"  # the unit of a ratio


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str = ""


@dataclass(frozen=True)
class Ratio:
    name: str
    numerator: str
    denominator: str


@dataclass(frozen=True)
class Target:
    name: str
    figure: str  # a figure's name, or ``ratio.<name>``
    comparison: str  # the measured value wanted: "at_least", "below" or "at_most" the target
    target: float


TARGETS = (
    Target("enrollment_vs_baseline_local", "ratio.enrollment_vs_baseline_local", "at_least", 0.6),
    Target("api_flows_per_s", f"api.flows.{RATE}", "at_least", 20),
    Target("api_worst_p99_ms", "api.worst_p99_ms", "below", 250),
    Target("api_light_worst_p99_ms", "api_light.worst_p99_ms", "below", 250),
    Target("api_errors", "api.errors", "at_most", 0),
    Target("api_light_errors", "api_light.errors", "at_most", 0),
    Target("inbox_first_page_p99_ms", "inbox.api.first_page.p99_ms", "below", 20),
    Target("inbox_keyset_page_p99_ms", "inbox.api.keyset_page.p99_ms", "below", 20),
    # Both with 5,000 parked: parked.underwriting_tasks_open says how many were.
    Target("parked_decision_p99_ms", "parked.decisions.p99_ms", "below", 300),
    Target("parked_worker_rss_mib", "parked.rss_parked_mib.worker", "below", 1024),
    # Issue 14, meant with 100,000 policies in force (policies.parked says how many were).
    Target("policies_worker_rss_mib", "policies.policy.rss_parked_mib.worker", "below", 1024),
    Target("policies_list_p99_ms", "policies.api.list_effective.p99_ms", "below", 200),
    Target("policies_ops_search_p99_ms", "policies.api.ops_search.p99_ms", "below", 200),
    # Issue 17, meant over 1,000,000 tasks and 200,000 policies (reports.seeded.*).
    Target("reports_worst_p99_ms", "reports.aggregates_worst_p99_ms", "below", 1000),
    Target("reports_mismatched_cells", "reports.mismatched_cells", "at_most", 0),
    # Issue 15, meant with 10,000 policies due in the same minute (billing.requested).
    Target("billing_drain_vs_bare", "ratio.billing.drain_per_s_vs_bare", "at_least", 0.5),
)
ENROLLMENT_TARGET = TARGETS[0].target  # the CPU budget's rate: this times the baseline's
# Ratios between figures of the same run; tuning, pools and inbox ones are added per run.
RATIOS = (
    Ratio("baseline_local_vs_regular", f"baseline.local.{RATE}", f"baseline.regular.{RATE}"),
    Ratio("enrollment_vs_baseline_local", f"enrollment.{RATE}", f"baseline.local.{RATE}"),
    Ratio("enrollment_vs_baseline_regular", f"enrollment.{RATE}", f"baseline.regular.{RATE}"),
    Ratio("claims_vs_baseline_local", f"claims.{RATE}", f"baseline.local.{RATE}"),
    Ratio("claims_vs_baseline_regular", f"claims.{RATE}", f"baseline.regular.{RATE}"),
    Ratio(
        "enrollment_steps_vs_baseline_regular",
        "enrollment.steps_per_s",
        "baseline.regular.steps_per_s",
    ),
    Ratio("claims_steps_vs_baseline_regular", "claims.steps_per_s", "baseline.regular.steps_per_s"),
    Ratio("enrollment_two_workers_vs_one", f"enrollment_two_workers.{RATE}", f"enrollment.{RATE}"),
    Ratio("enrollment_postgres_vs_sqlite", f"enrollment_postgres.{RATE}", f"enrollment.{RATE}"),
    Ratio(
        "enrollment_postgres_two_workers_vs_one",
        f"enrollment_postgres_two_workers.{RATE}",
        f"enrollment_postgres.{RATE}",
    ),
    Ratio(
        "enrollment_postgres_two_workers_vs_baseline_local",
        f"enrollment_postgres_two_workers.{RATE}",
        f"baseline.local.{RATE}",
    ),
    Ratio("api_flows_vs_enrollment", f"api.flows.{RATE}", f"enrollment.{RATE}"),
)
_TUNING = re.compile(rf"tuning\.(\w+)\.after\.{RATE}")
_POOL = re.compile(rf"pools\.(\w+)\.(\w+)\.{RATE}")
_INBOX_ROW = re.compile(r"inbox\.sql\.with_index\.keyset\.row_(\d+)\.p50_ms")
_REPORT = re.compile(r"reports\.aggregates\.([\w-]+)\.p50_ms")
# The scenarios with a bare side: each figure of their ``policy`` side beside the same
# figure of their ``bare`` side, ratio ``<scenario>.<key>_vs_bare``.
BESIDE_BARE = {
    "policies": (
        ("parked_per_s", "parked_per_s"),
        ("worker_rss_grown", "rss_grown_mib.worker"),
        ("server_rss_grown", "rss_grown_mib.temporal"),
        ("disk_per_workflow", "disk_per_workflow_kib.temporal"),
        ("worker_cpu_per_workflow", "cpu_per_workflow_ms.worker"),
        ("server_cpu_per_workflow", "cpu_per_workflow_ms.temporal"),
    ),
    "billing": (
        ("drain_per_s", "drain_per_s"),
        ("p50", "due_to_booked.p50_ms"),
        ("p99", "due_to_booked.p99_ms"),
        ("worker_cpu_per_workflow", "drain_cpu_per_workflow_ms.worker"),
        ("server_cpu_per_workflow", "drain_cpu_per_workflow_ms.temporal"),
    ),
}


def unit_of(path: tuple[str, ...]) -> str:
    for key in reversed(path):
        for suffix, unit in UNITS:
            if key.endswith(suffix):
                return unit
    return ""


def flatten(
    results: dict[str, Any], path: tuple[str, ...] = ()
) -> Iterator[Figure | tuple[str, str]]:
    """Every number in ``results`` as a Figure; every other leaf (a query plan, an
    endpoint's name) as a (name, text) pair. None and NaN are left out."""
    for key, value in results.items():
        here = (*path, str(key))
        if isinstance(value, dict):
            yield from flatten(value, here)
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield Figure(".".join(here), value, unit_of(here))
        else:
            yield ".".join(here), str(value)


def ratios_for(values: dict[str, float]) -> list[Ratio]:
    """The fixed ratios, and those of the tuning changes, pools, inbox queries, reports, and
    of the scenarios with a bare side, measured."""
    out = list(RATIOS)
    for name in values:
        if m := _TUNING.fullmatch(name):
            key = f"tuning.{m[1]}"
            out.append(Ratio(f"{key}", f"{key}.after.{RATE}", f"{key}.before.{RATE}"))
            out.append(Ratio(f"{key}.p50", f"{key}.after.{P50}", f"{key}.before.{P50}"))
        elif (m := _POOL.fullmatch(name)) and m[2] != "pool_10_overflow":
            base = f"pools.{m[1]}.pool_10_overflow.{RATE}"
            out.append(Ratio(f"pools.{m[1]}.{m[2]}_vs_pool_10_overflow", name, base))
        elif m := _REPORT.fullmatch(name):
            key = f"reports.{m[1]}_raw_vs_aggregates"
            for suffix, q in (("", "p50_ms"), (".p99", "p99_ms")):
                raw, aggregated = f"reports.raw.{m[1]}.{q}", f"reports.aggregates.{m[1]}.{q}"
                out.append(Ratio(key + suffix, raw, aggregated))
    for scenario, figures in BESIDE_BARE.items():
        for key, figure in figures:
            if f"{scenario}.policy.{figure}" in values:
                out.append(
                    Ratio(
                        f"{scenario}.{key}_vs_bare",
                        f"{scenario}.policy.{figure}",
                        f"{scenario}.bare.{figure}",
                    )
                )
    rows = [int(m[1]) for name in values if (m := _INBOX_ROW.fullmatch(name))]
    if rows:
        deep, sql = f"row_{max(rows)}", "inbox.sql"
        keyset = f"{sql}.with_index.keyset.{deep}.p50_ms"
        out += [
            Ratio(
                "inbox.offset_without_index_vs_keyset_deepest",
                f"{sql}.without_index.offset.{deep}.p50_ms",
                keyset,
            ),
            Ratio(
                "inbox.offset_with_index_vs_keyset_deepest",
                f"{sql}.with_index.offset.{deep}.p50_ms",
                keyset,
            ),
            Ratio(
                "inbox.first_page_without_vs_with_index",
                f"{sql}.without_index.keyset.row_0.p50_ms",
                f"{sql}.with_index.keyset.row_0.p50_ms",
            ),
        ]
    return out


def divide(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return round(a / b, 3)


def cpu_budget(values: dict[str, float], cores: int) -> list[Figure]:
    """The arithmetic of the enrollment target: CPU milliseconds per enrollment, per process
    and in all, against what ``cores`` allow at the target's rate; the rates the measured
    costs allow; and what the bare pipeline's own worker costs per workflow."""

    def per_item(key: str) -> dict[str, float]:
        prefix = f"{key}.cpu_per_item_ms."
        return {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}

    enrollment, base = per_item("enrollment"), per_item("baseline.local")
    base_rate = values.get(f"baseline.local.{RATE}")
    if not enrollment or not base or not base_rate:
        return []
    total, wanted = sum(enrollment.values()), ENROLLMENT_TARGET * base_rate
    allowed = 1000 * cores / wanted
    server = enrollment.get("temporal")
    figures = {
        "cores": cores,
        "enrollment_cpu_ms": total,
        "baseline_local_cpu_ms": sum(base.values()),
        "wanted_per_s": wanted,
        "allowed_cpu_ms": allowed,
        "ceiling_per_s": 1000 * cores / total if total else None,
        "server_only_ceiling_per_s": 1000 * cores / server if server else None,
        "worker_allowed_ms": allowed - sum(v for n, v in enrollment.items() if n != "worker"),
        # The runner holds the bare pipeline's worker and its client; in the enrollment
        # rounds it is a client alone: the difference is at most the bare worker's cost.
        "bare_worker_floor_ms": base.get("bench", 0.0) - enrollment.get("bench", 0.0),
    }
    return [
        Figure(f"cpu_budget.{k}", round(v, 2), unit_of((k,)))
        for k, v in figures.items()
        if v is not None
    ]


def build(context: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """The whole report from the run's context and the measurements' results."""
    figures: list[Figure] = []
    text: dict[str, str] = {}
    for item in flatten(results):
        if isinstance(item, Figure):
            figures.append(item)
        else:
            text[item[0]] = item[1]
    cores = (context.get("machine") or {}).get("cpus") or 1
    figures += cpu_budget({f.name: f.value for f in figures}, cores)
    values = {f.name: f.value for f in figures}
    units = {f.name: f.unit for f in figures}
    ratios = []
    for r in ratios_for(values):
        value = divide(values.get(r.numerator), values.get(r.denominator))
        if value is not None:
            ratios.append(asdict(r) | {"value": value, "unit": TIMES})
    values |= {f"ratio.{r['name']}": r["value"] for r in ratios}
    units |= {f"ratio.{r['name']}": TIMES for r in ratios}
    targets = [
        asdict(t)
        | {"unit": units[t.figure], "measured": values[t.figure]}
        | {"measured_over_target": divide(values[t.figure], t.target)}
        for t in TARGETS
        if t.figure in values
    ]
    return {
        "context": context,
        "figures": [asdict(f) for f in figures],
        "ratios": ratios,
        "targets": targets,
        "text": text,
    }


def rows(report: dict[str, Any], *, figures: bool = True) -> Iterator[tuple[str, Any, str]]:
    """The report's table rows, (name, value, unit): the figures, the ratios, the targets."""
    for f in report["figures"] if figures else ():
        yield f["name"], f["value"], f["unit"]
    for r in report["ratios"]:
        yield f"ratio.{r['name']}", r["value"], r["unit"]
    for t in report["targets"]:
        yield f"target.{t['name']}.{t['comparison']}", t["target"], t["unit"]
        yield f"target.{t['name']}.measured", t["measured"], t["unit"]
        if t["measured_over_target"] is not None:
            yield f"target.{t['name']}.measured_over_target", t["measured_over_target"], TIMES


def table(lines: Iterable[tuple[str, Any, str]], *, widest: int = 80) -> str:
    """A plain table: the names left-aligned (padded up to ``widest``: a longer name
    pushes its own row only), the values right-aligned, then the units."""
    body = [("figure", "value", "unit"), *lines]
    width = min(widest, max(len(name) for name, _, _ in body))
    out = [f"{name:<{width}}  {value!s:>12}  {unit}".rstrip() for name, value, unit in body]
    return "\n".join(out) + "\n"


def write(out_dir: Path, report: dict[str, Any], *, stamp: str) -> Path:
    """``out_dir/<stamp>/results.json`` and ``results.txt``; ``out_dir/latest`` points there."""
    run_dir = out_dir / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (run_dir / "results.txt").write_text(table(rows(report)))
    latest = out_dir / "latest"
    if latest.is_symlink() or not latest.exists():
        latest.unlink(missing_ok=True)
        latest.symlink_to(stamp)
    return run_dir
