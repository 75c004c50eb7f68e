"""The report: ratios measured side by side, targets met or missed (and, when missed, which
process used the CPU: the profile), findings, every figure, and what was not measured.
Written as JSON and as Markdown."""

from __future__ import annotations

import json
import math
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

GIB_MIB = 1024.0
RATE = "completed_per_s"
LOCAL_VS_REGULAR = "baseline local ÷ baseline regular"
ENROLL_VS_LOCAL = "enrollment ÷ baseline local (target ≥ 0.6)"
ENROLL_ACTS = "enrollment steps/s ÷ baseline regular activities/s"
LOCAL_STEPS_ENROLL = "enrollment: local steps ÷ regular steps, throughput"
TWO_WORKERS = "enrollment: two worker processes ÷ one, throughput"
PG_VS_SQLITE = "enrollment: read model on PostgreSQL ÷ on SQLite, one worker, throughput"
PG_TWO_WORKERS = "enrollment on PostgreSQL: two worker processes ÷ one, throughput"
PG_PAIR_VS_LOCAL = "enrollment on PostgreSQL with two workers ÷ baseline local"

NOT_MEASURED = [
    (
        "worker concurrency and workflow cache of the real InsureFlow worker",
        "measured on the bare pipeline (tuning), where one setting changes and nothing else; "
        "the real worker takes the same settings (INSUREFLOW_WORKER_*, docs/deployment.md)",
    ),
    (
        "eager workflow start through the API",
        "eager start needs a worker in the starting process; the API process has none",
    ),
    (
        "the API with the read model on PostgreSQL, and Temporal on PostgreSQL (docker-compose)",
        "the API scenarios measure the embedded default (SQLite); given --postgres-url, the "
        "pools and the enrollments at workflow level are measured on PostgreSQL too",
    ),
    (
        "the inbox page through the API without the index or with OFFSET",
        "the API has one query (keyset on the index); the before/after is timed on the query "
        "itself, on the run's SQLite file and on a copy without the index",
    ),
]
POOLS_WITHOUT_POSTGRES = (
    "connection pools on PostgreSQL",
    "no --postgres-url (BENCH_POSTGRES_URL) given: the pools were measured on SQLite only",
)


def _get(data: Any, *path: str) -> Any:
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return round(a / b, 3)


def outside_cores(window: dict[str, Any] | None) -> float | None:
    """Cores' worth of CPU used outside this run's processes during a window."""
    if not window or not window.get("wall_s"):
        return None
    return round(window.get("outside_watched_cpu_s", 0.0) / window["wall_s"], 2)


def profile(window: dict[str, Any] | None) -> str:
    """Which process used the CPU during a window, busiest first."""
    if not window:
        return "no CPU profile for this window"
    ranked = sorted(window.get("processes", {}).items(), key=lambda kv: -kv[1]["cpu_s"])
    parts = [
        f"{name} {p['cpu_s']:.1f} s ({p['cpu_pct_of_one_core']:.0f}% of a core)"
        for name, p in ranked
        if p["cpu_s"] > 0.05
    ]
    outside = window.get("outside_watched_cpu_s", 0.0)
    if outside > 0.05:
        parts.append(f"outside the stack {outside:.1f} s")
    return (
        f"machine {window.get('machine_busy_pct_of_all_cores', 0):.0f}% busy over "
        f"{window.get('wall_s', 0):.0f} s; CPU: " + ", ".join(parts)
    )


def read_model_facts() -> dict[str, Any]:
    """How the code under test opens SQLite transactions (read at report time, since other
    engineers change it): the busy timeout and whether every transaction is IMMEDIATE."""
    import inspect

    from db import session

    timeout = next(
        (int(p.split("=")[1]) for p in session.SQLITE_PRAGMAS if "busy_timeout" in p), None
    )
    return {
        "busy_timeout_ms": timeout,
        "every_transaction_immediate": '"BEGIN IMMEDIATE"' in inspect.getsource(session),
    }


# --- ratios ---------------------------------------------------------------------------


def compute_ratios(results: dict[str, Any]) -> dict[str, float | None]:
    regular = _get(results, "baseline", "regular", RATE)
    local = _get(results, "baseline", "local", RATE)
    enroll = _get(results, "enrollment", RATE)
    claims = _get(results, "claims", RATE)
    ratios: dict[str, float | None] = {
        LOCAL_VS_REGULAR: _ratio(local, regular),
        ENROLL_VS_LOCAL: _ratio(enroll, local),
        "enrollment ÷ baseline regular": _ratio(enroll, regular),
        "claims ÷ baseline local": _ratio(claims, local),
        "claims ÷ baseline regular": _ratio(claims, regular),
        LOCAL_STEPS_ENROLL: _ratio(enroll, _get(results, "enrollment_regular_steps", RATE)),
        "claims: local steps ÷ regular steps, throughput": _ratio(
            claims, _get(results, "claims_regular_steps", RATE)
        ),
        TWO_WORKERS: _ratio(_get(results, "enrollment_two_workers", RATE), enroll),
        "enrollment: local steps ÷ regular steps, p50 latency": _ratio(
            _get(results, "enrollment", "latency", "p50_ms"),
            _get(results, "enrollment_regular_steps", "latency", "p50_ms"),
        ),
    }
    pg, pg_pair = (
        _get(results, "enrollment_postgres", RATE),
        _get(results, "enrollment_postgres_two_workers", RATE),
    )
    if pg:
        ratios[PG_VS_SQLITE] = _ratio(pg, enroll)
        ratios[PG_TWO_WORKERS] = _ratio(pg_pair, pg)
        ratios[PG_PAIR_VS_LOCAL] = _ratio(pg_pair, local)
    reg_acts = _get(results, "baseline", "regular", "per_process", "activities")
    enr_acts = _get(results, "enrollment", "per_process", "steps")
    clm_acts = _get(results, "claims", "per_process", "steps")
    if regular and reg_acts:
        if enroll and enr_acts:
            ratios[ENROLL_ACTS] = _ratio(enroll * enr_acts, regular * reg_acts)
        if claims and clm_acts:
            ratios["claims steps/s ÷ baseline regular activities/s"] = _ratio(
                claims * clm_acts, regular * reg_acts
            )
    api_rate = _get(results, "api", "flows", RATE)
    if api_rate is not None and enroll:
        ratios["API agent flows/s ÷ enrollments/s at workflow level"] = _ratio(api_rate, enroll)
    for key, t in (results.get("tuning") or {}).items():
        ratios[f"tuning {key}: after ÷ before, throughput"] = _ratio(
            t["after"][RATE], t["before"][RATE]
        )
        ratios[f"tuning {key}: after ÷ before, p50 latency"] = _ratio(
            t["after"]["latency"]["p50_ms"], t["before"]["latency"]["p50_ms"]
        )
    for backend, p in (results.get("pools") or {}).items():
        base_key = _pool_base(p)
        base = p["choices"][base_key]
        for key, c in p["choices"].items():
            if key != base_key:
                ratios[f"pools {backend}: {key} ÷ {base_key}, throughput"] = _ratio(
                    c[RATE], base[RATE]
                )
    pages = _get(results, "inbox", "sql", "pages") or {}
    deep = [k for k in pages if k.startswith("with_index keyset @ row ")]
    if deep:
        last = max(deep, key=lambda k: int(k.rsplit(" ", 1)[1].replace(",", "")))
        row = last.rsplit("@ ", 1)[1]
        for before in (f"without_index offset @ {row}", f"with_index offset @ {row}"):
            if before in pages:
                ratios[f"inbox query {before} ÷ with_index keyset @ {row}, p50"] = _ratio(
                    pages[before]["p50_ms"], pages[last]["p50_ms"]
                )
        ratios["inbox query first page without index ÷ with index, p50"] = _ratio(
            _get(pages, "without_index keyset @ row 0", "p50_ms"),
            _get(pages, "with_index keyset @ row 0", "p50_ms"),
        )
    return ratios


# --- findings -------------------------------------------------------------------------


def _locked_errors(results: dict[str, Any]) -> tuple[int, int]:
    """(answers that failed, of which log lines say 'database is locked')."""
    logged = results.get("log_errors") or {}
    locked = sum(
        e["count"]
        for v in logged.values()
        for e in (v.get("by_event") or {}).values()
        if "database is locked" in e.get("exception", "")
    )
    return int(_get(results, "api", "errors") or 0), locked


def _pool_base(pools: dict[str, Any]) -> str:
    """The pool the others are compared with: 10 with overflow, under the names it had."""
    return next(k for k in ("pool_10_overflow", "default", "pool_10") if k in pools["choices"])


def cpu_per_item(result: dict[str, Any] | None) -> dict[str, float]:
    """CPU milliseconds per completed item, per process, over a measurement's window."""
    if not result or not result.get("completed") or not result.get("window"):
        return {}
    done = result["completed"]
    return {
        name: round(1000 * p["cpu_s"] / done, 1)
        for name, p in result["window"].get("processes", {}).items()
        if p["cpu_s"] > 0.05
    }


def cpu_budget(results: dict[str, Any], cores: int) -> dict[str, Any] | None:
    """What the enrollment target asks of the CPU: the cost of one enrollment against the
    cost the target allows, and the ceiling the server's share alone sets."""
    enr = cpu_per_item(results.get("enrollment"))
    base = cpu_per_item(_get(results, "baseline", "local"))
    base_rate = _get(results, "baseline", "local", RATE)
    if not enr or not base or not base_rate:
        return None
    wanted = 0.6 * base_rate
    server = enr.get("temporal", 0.0)
    return {
        "cores": cores,
        "enrollment_ms": enr,
        "enrollment_total_ms": round(sum(enr.values()), 1),
        "baseline_local_ms": base,
        "baseline_local_total_ms": round(sum(base.values()), 1),
        "wanted_per_s": round(wanted, 2),
        "allowed_total_ms": round(1000 * cores / wanted, 1),
        "ceiling_per_s": round(1000 * cores / sum(enr.values()), 2),
        "server_only_ceiling_per_s": round(1000 * cores / server, 2) if server else None,
        "worker_allowed_ms": round(
            1000 * cores / wanted - sum(v for n, v in enr.items() if n != "worker"), 1
        ),
        # The runner holds the bare pipeline's worker and its client; the enrollment rounds'
        # runner is a client alone, making more calls (a start and two Updates) than the
        # pipeline's one. So the difference is at most what the bare worker costs.
        "bare_worker_floor_ms": round(base.get("bench", 0.0) - enr.get("bench", 0.0), 1),
    }


def _pair_load(window: dict[str, Any] | None, prefix: str) -> dict[str, float]:
    """The % of a core each of a pair of workers used during a window."""
    processes = (window or {}).get("processes", {})
    return {
        name: p["cpu_pct_of_one_core"]
        for name, p in sorted(processes.items())
        if name.startswith(prefix)
    }


def _pair_cpu(window: dict[str, Any] | None, prefix: str) -> str:
    """The CPU each of a pair of workers used, and how busy the machine was."""
    split = [f"{name} {pct:.0f}%" for name, pct in _pair_load(window, prefix).items()]
    busy = (window or {}).get("machine_busy_pct_of_all_cores", 0)
    return f"the two used {' and '.join(split) or '?'} of a core, the machine {busy:.0f}% busy"


def _noise(results: dict[str, Any]) -> tuple[float, str]:
    """How far a ratio of two identical sides strays here: the tuning's A/A control when
    this run has it (at least 5 %), else 10 %, and where that figure comes from."""
    before = _get(results, "tuning", "control_no_change", "before", RATE)
    after = _get(results, "tuning", "control_no_change", "after", RATE)
    control = _ratio(after, before)
    if control is None:
        return 0.10, "10 %, this run having no A/A control (scenario tuning)"
    return max(0.05, abs(control - 1)), f"the A/A control's {control} x in this run"


def _second_worker(results: dict[str, Any], ratios: dict[str, float | None]) -> str:
    """What a second worker process gives, on SQLite and (when measured) on PostgreSQL."""
    one, pair = results["enrollment"], results["enrollment_two_workers"]
    noise, source = _noise(results)
    gain = ratios.get(TWO_WORKERS)
    busy = list(_pair_load(pair.get("window"), "worker_pair").values())
    text = (
        f"Two worker processes on the SQLite read model: {pair[RATE]}/s against "
        f"{one[RATE]}/s with one ({gain} x, {pair['latency']['errors']} errors); "
        f"{_pair_cpu(pair.get('window'), 'worker_pair')}. "
    )
    if gain is None:
        text += "No ratio: one side completed nothing. "
    elif abs(gain - 1) <= noise:
        text += f"No change beyond the noise ({source}). "
        if busy and max(busy) < 80:
            text += (
                "Neither process is a saturated core any more, yet the rate stays: every "
                "transaction of both takes the SQLite file's one write lock, and a process "
                "waiting for a lock another process holds sleeps in SQLite's busy handler. "
            )
    else:
        text += f"{'Faster' if gain > 1 else 'Slower'} beyond the noise ({source}). "
    pg, pg_pair = results.get("enrollment_postgres"), results.get("enrollment_postgres_two_workers")
    if not (pg and pg_pair):
        return text + "Not measured with the read model on PostgreSQL (no --postgres-url)."
    text += (
        f"With the read model on PostgreSQL, which has no such lock: one worker "
        f"{pg[RATE]}/s ({ratios.get(PG_VS_SQLITE)} x the SQLite one), two {pg_pair[RATE]}/s "
        f"({ratios.get(PG_TWO_WORKERS)} x one; "
        f"{_pair_cpu(pg_pair.get('window'), 'worker_pg_pair')}; PostgreSQL's own CPU is in "
        "the 'outside' column). "
    )
    variants = {
        "one worker on SQLite": one,
        "two on SQLite": pair,
        "one on PostgreSQL": pg,
        "two on PostgreSQL": pg_pair,
    }
    best = max(variants, key=lambda k: variants[k][RATE])
    local = _get(results, "baseline", "local", RATE)
    return text + (
        f"The fastest here: {best}, {variants[best][RATE]}/s"
        + (f", {_ratio(variants[best][RATE], local)} x the local baseline." if local else ".")
    )


def findings(
    results: dict[str, Any], ratios: dict[str, float | None], *, cores: int = 1
) -> dict[str, str]:
    """What the figures say about where the time goes, keyed for the targets to cite."""
    out: dict[str, str] = {}
    budget = cpu_budget(results, cores)
    if budget:
        per = ", ".join(f"{n} {v:g}" for n, v in budget["enrollment_ms"].items())
        base = ", ".join(f"{n} {v:g}" for n, v in budget["baseline_local_ms"].items())
        out["cpu_budget"] = (
            f"CPU per completed enrollment: {per} ms ({budget['enrollment_total_ms']:g} ms "
            f"in all); per local-baseline workflow: {base} ms "
            f"({budget['baseline_local_total_ms']:g} ms, the runner holding its worker). "
            f"0.6 x the baseline is {budget['wanted_per_s']:g} enrollments/s, which "
            f"{budget['cores']} cores can carry only if an enrollment costs at most "
            f"{budget['allowed_total_ms']:g} ms of CPU in all processes together; at the "
            f"measured cost they carry at most {budget['ceiling_per_s']:g}/s. With the server "
            "and the runner as measured, that leaves the worker "
            f"{budget['worker_allowed_ms']:g} ms per enrollment against "
            f"{budget['enrollment_ms'].get('worker', 0):g} ms measured."
        )
        if budget["server_only_ceiling_per_s"] is not None:
            out["cpu_budget"] += (
                " The Temporal server's share alone caps them at "
                f"{budget['server_only_ceiling_per_s']:g}/s."
            )
        floor, allowed = budget["bare_worker_floor_ms"], budget["worker_allowed_ms"]
        if floor > 0:
            out["cpu_budget"] += (
                f" The bare pipeline's worker costs about {floor:g} ms per workflow (the "
                "runner's share of a baseline workflow less the enrollment client's share) "
                "for one workflow task and five empty local activities; an enrollment's "
                "worker runs three workflow tasks, two Updates and nine steps with their "
                "database work, so "
                + (
                    f"an allowance of {allowed:g} ms is out of reach on "
                    f"{budget['cores']} cores whatever the worker's own code does: the target "
                    "asks for more cores or a different target, not tuning."
                    if allowed <= floor
                    else f"the allowance of {allowed:g} ms leaves "
                    f"{allowed - floor:g} ms for all of that above the bare SDK's cost."
                )
            )
    pair = results.get("enrollment_two_workers")
    if pair and results.get("enrollment"):
        out["second_worker"] = _second_worker(results, ratios)
    for segment in ("enrollment", "api"):
        for name, prof in (_get(results, "profile", segment, "profiles") or {}).items():
            key = f"profile_{segment}_{name}"
            if "skipped" in prof:
                out[key] = f"not taken: {prof['skipped']}"
                continue
            areas = ", ".join(f"{a['area']} {a['percent']:g}%" for a in prof["areas"][:6])
            out[key] = (
                f"py-spy on the {name} during {results['profile'][segment]['segment']}: "
                f"{prof['samples']} busy samples; {areas} (section Profiles)."
            )
    whole = results.get("whole_run")
    if whole and whole.get("wall_s"):
        outside = outside_cores(whole)
        out["noise"] = (
            f"Shared machine: during the scenarios, work outside this run's processes used "
            f"{whole.get('outside_watched_cpu_s', 0):.0f} CPU s, {outside} of a core on average "
            "(other jobs on the machine). Each table shows it per measurement; comparisons "
            "run interleaved in rounds so it falls on both sides alike, but absolute "
            "figures are lower and tails longer than on an idle machine."
        )
    enr = results.get("enrollment")
    if enr and results.get("baseline"):
        pp = enr["per_process"]
        before = _get(results, "enrollment_regular_steps", "per_process") or {}
        out["round_trips"] = (
            f"One enrollment is {pp.get('steps')} steps ({pp['activities']} regular "
            f"activities, {pp.get('local_activities')} local), {pp['updates']} Updates and "
            f"{pp['workflow_tasks']} workflow tasks ({pp['history_events']} history events); "
            f"with every step a regular activity (runs from before the local-steps patch) "
            f"it was {before.get('workflow_tasks')} workflow tasks and "
            f"{before.get('history_events')} events, and local steps give "
            f"{ratios.get(LOCAL_STEPS_ENROLL)} x its throughput in this run; "
            "the local-activity baseline is 5 local activities in "
            f"{_get(results, 'baseline', 'local', 'per_process', 'workflow_tasks')} workflow "
            f"task(s). Per step, the enrollment runs at {ratios.get(ENROLL_ACTS)} x the "
            "bare pipeline's regular activity rate. Local activities on the bare pipeline give "
            f"{ratios.get(LOCAL_VS_REGULAR)} x regular ones. Where the CPU went during the "
            f"enrollment rounds: {profile(enr.get('window'))}."
        )
    api = results.get("api")
    if api:
        errors, locked = _locked_errors(results)
        facts = read_model_facts()
        timeout_s = (facts.get("busy_timeout_ms") or 0) / 1000
        immediate = facts.get("every_transaction_immediate")
        if errors or locked:
            out["sqlite_lock"] = (
                f"{errors} API answers failed under load; the logs hold {locked} "
                f"'database is locked' errors (SQLite's busy_timeout, {timeout_s:g} s in "
                "db/session.py at report time, ran out). "
                + (
                    "Every transaction starts with BEGIN IMMEDIATE, reads included, so every "
                    "authenticated request (the user lookup in get_current_user), every audit "
                    "row and every worker record activity queue on the one write lock of the "
                    "read model's file. "
                    if immediate
                    else ""
                )
                + "On a saturated machine some waits exceed the timeout and the request "
                "answers 500. Read-only transactions that do not take the write lock, fewer "
                "writes per process step, a longer busy_timeout, or PostgreSQL for the read "
                "model would each lower it."
            )
        probe = api["endpoints"].get("GET /healthz (event-loop probe)", {})
        hashing = api.get("query_password_hash") or {}
        cpu_ms = hashing.get("cpu_ms") or 0
        blocked = (probe.get("p99_ms") or 0) > 100
        out["argon2"] = (
            f"The application call hashes the query password with argon2id: {cpu_ms} ms of "
            f"CPU per hash here, so 20 flows/s need {20 * cpu_ms / 1000:.1f} cores for the "
            "hashes alone, whether they run on the event loop or in a thread. /healthz, "
            f"which does nothing, answered at p50 {probe.get('p50_ms')} ms and p99 "
            f"{probe.get('p99_ms')} ms during the load"
            + (
                ": the API's event loop was blocked or starved of CPU at times."
                if blocked
                else ": the API's event loop itself stayed responsive."
            )
        )
        eps = api["endpoints"]
        out["updates_wait"] = (
            "The quote and application calls are Updates whose handlers apply their "
            "read-model writes (one batched local activity) before answering, and a GET of "
            "a running enrollment is a query (a finished one is read from the read model): "
            "each waits for the worker, which the load keeps busy: "
            f"quote p50 {_get(eps, 'POST /v1/enrollments/{id}/quote', 'p50_ms')} ms, "
            "application p50 "
            f"{_get(eps, 'POST /v1/enrollments/{id}/application', 'p50_ms')} ms, against "
            f"create (a start, no wait) p50 {_get(eps, 'POST /v1/enrollments', 'p50_ms')} ms."
        )
    parked = results.get("parked")
    if parked:
        n = parked["underwriting_tasks_open"]
        before = _get(parked, "rss_mib_before_parking", "worker")
        after = _get(parked, "rss_mib_with_all_parked", "worker")
        server_before = _get(parked, "rss_mib_before_parking", "temporal")
        server_after = _get(parked, "rss_mib_with_all_parked", "temporal")
        if n and before is not None and after is not None:
            per_case = (after - before) / n
            out["parked_memory"] = (
                f"Parking {n:,} cases raised the worker's RSS from {before} to {after} MiB "
                f"({1024 * per_case:.0f} KiB per cached case) and the server's from "
                f"{server_before} to {server_after} MiB. The worker caches at most 1,000 "
                "workflows (SDK default, INSUREFLOW_WORKER_MAX_CACHED_WORKFLOWS); beyond that "
                "the least recently used cases are evicted and replay their history when a "
                "decision arrives."
            )
    return out


# --- targets --------------------------------------------------------------------------


def _target(
    name: str,
    target: str,
    measured: Any,
    met: bool | None,
    window: dict[str, Any] | None,
    *,
    why: str = "",
    lift: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "target": target,
        "measured": measured,
        "met": met,
        "outside_cores": outside_cores(window),
    }
    if met is False:
        out["why"] = why or profile(window)
        out["profile"] = profile(window)
        out["what_would_lift_it"] = lift
    return out


def _worst_p99(api: dict[str, Any] | None) -> tuple[str, float] | None:
    """The endpoint with the highest p99 (the /healthz probe left out)."""
    if not api:
        return None
    endpoints = {k: v for k, v in api["endpoints"].items() if not k.startswith("GET /healthz")}
    if not endpoints:
        return None
    name = max(endpoints, key=lambda k: endpoints[k]["p99_ms"] or 0)
    return name, endpoints[name]["p99_ms"]


def _cite(found: dict[str, str], key: str, text: str) -> str:
    """``text`` with the finding it rests on, if this run has that finding."""
    return f"{text} (finding {key})" if key in found else ""


def evaluate_targets(
    results: dict[str, Any], ratios: dict[str, float | None], found: dict[str, str]
) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    ratio = ratios.get(ENROLL_VS_LOCAL)
    if ratio is not None:
        targets.append(
            _target(
                "enrollment auto path vs the local-activity baseline",
                "≥ 0.6 x baseline local throughput",
                f"{ratio} x ({results['enrollment'][RATE]} vs "
                f"{results['baseline']['local'][RATE]} per s)",
                ratio >= 0.6,
                _get(results, "enrollment", "window"),
                why="an enrollment is three client calls (start and two Updates), a regular "
                "activity for the charge and eight database transactions (local activities) "
                "against the baseline's one call and five trivial steps; the worker process "
                "is the bottleneck, near one core of CPU (finding round_trips, CPU table)"
                + _cite(
                    found,
                    "cpu_budget",
                    "; the CPU an enrollment costs across the processes is more than this "
                    "machine's cores can carry at the target's rate",
                )
                + _cite(
                    found,
                    "profile_enrollment_worker",
                    "; where the worker's CPU goes, library by library",
                ),
                lift="less CPU per enrollment in every process at once"
                + _cite(found, "cpu_budget", ", down to the allowance the budget gives")
                + "; in the worker that is the database steps (SQLAlchemy and the driver), the "
                "SDK's sandbox (each payload crosses into it for its serialization context) and "
                "the SDK's own work per activation"
                + _cite(found, "profile_enrollment_worker", ", in the shares measured")
                + "; fewer transactions per enrollment (fold each batched write into the step "
                "that follows it)"
                + _cite(found, "second_worker", "; what more worker processes give here")
                + "; a Temporal server and database on their own machines, with more cores",
            )
        )
    api = results.get("api")
    if api:
        window = api.get("window")
        rate = api["flows"][RATE]
        targets.append(
            _target(
                "API agent flow throughput",
                "≥ 20 enrollments/s sustained",
                f"{rate} flows/s ({api['flows']['completed']} of {api['flows']['started']} "
                f"flows, {api['concurrency']} in flight)",
                rate >= 20,
                window,
                why="each flow is one enrollment, which the worker and server complete at "
                f"{_get(results, 'enrollment', RATE)}/s on this machine even without HTTP "
                "(finding round_trips); the API adds an argon2 hash per application (finding "
                "argon2) and a worker wait per Update and per GET of a running enrollment "
                "(finding updates_wait)"
                + _cite(found, "profile_api_api", "; the API's own CPU, library by library"),
                lift="the enrollment target's remedies first; then several API processes "
                "(uvicorn --workers) and more cores: the hashes alone need several cores at "
                "20 flows/s",
            )
        )
        worst_name, p99 = _worst_p99(api) or ("", None)
        light = _worst_p99(results.get("api_light"))
        targets.append(
            _target(
                "API p99 per call under load",
                "< 250 ms for every endpoint",
                f"worst {worst_name}: p99 {p99} ms"
                + (f"; at light load worst {light[0]}: p99 {light[1]} ms" if light else ""),
                p99 is not None and p99 < 250,
                window,
                why="the load keeps the machine saturated, so every call queues behind the "
                "worker: Updates wait for their batched write and GETs of running cases are "
                "queries answered by it (finding updates_wait); argon2 costs CPU per "
                "application (finding "
                "argon2); requests share the SQLite write lock with the worker",
                lift="see the findings; a lighter offered load (fewer flows in flight) shows "
                "the per-call latency without the queueing",
            )
        )
        targets.append(
            _target(
                "API errors under load",
                "0",
                api["errors"],
                api["errors"] == 0,
                window,
                why="see finding sqlite_lock: "
                + json.dumps(
                    {k: v["error_kinds"] for k, v in api["endpoints"].items() if v["errors"]},
                    ensure_ascii=False,
                ),
                lift="read transactions that do not take the write lock, a longer "
                "busy_timeout, or PostgreSQL for the read model",
            )
        )
    inbox = results.get("inbox")
    if inbox:
        first, keyset = inbox["api"]["first page"], inbox["api"]["keyset page"]
        worst_page = max(first["p99_ms"] or 0, keyset["p99_ms"] or 0)
        targets.append(
            _target(
                f"inbox page p99 at {inbox['open_tasks_seeded']:,} open tasks",
                "< 20 ms",
                f"first page p50 {first['p50_ms']} / p99 {first['p99_ms']} ms, keyset page "
                f"p50 {keyset['p50_ms']} / p99 {keyset['p99_ms']} ms (API, sequential)",
                worst_page < 20,
                inbox.get("window"),
                why="the query itself takes about 0.1 ms on the index (SQL table); the page "
                "is the API's per-request work (token, user lookup, 50 rows serialised) on a "
                "machine shared with other jobs",
                lift="the p50 is well inside the target: the tail comes from CPU contention",
            )
        )
    parked = results.get("parked")
    if parked:
        n = parked["underwriting_tasks_open"]
        decisions = parked["decisions"]
        p99 = decisions.get("p99_ms")
        at = "" if n >= 5000 else f" (measured with {n:,} parked; the target is at 5,000)"
        targets.append(
            _target(
                "decision on a parked case",
                "p99 < 300 ms with 5,000 parked",
                f"p50 {decisions.get('p50_ms')} / p99 {p99} ms over {decisions.get('count')} "
                f"decisions{at}",
                None if p99 is None else p99 < 300,
                parked.get("deciding_window"),
                why="the decision Update answers once the process has moved on: the task "
                "closed and the next writes applied (one batched local activity); a case "
                "evicted from the worker's cache first replays its history",
                lift="a larger workflow cache where memory allows; fewer writes before the answer",
            )
        )
        rss = _get(parked, "rss_mib_with_all_parked", "worker")
        targets.append(
            _target(
                "worker RSS with the cases parked",
                "< 1 GiB with 5,000 parked",
                f"{rss} MiB{at}",
                None if rss is None else rss < GIB_MIB,
                parked.get("idle_cpu_with_all_parked"),
                why=found.get("parked_memory", ""),
                lift="a smaller max_cached_workflows",
            )
        )
    return targets


def build(meta: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    ratios = compute_ratios(results)
    found = findings(results, ratios, cores=_get(meta, "machine", "cpus") or 1)
    not_measured = list(NOT_MEASURED)
    if "pools" in results and "postgresql" not in results["pools"]:
        not_measured.append(POOLS_WITHOUT_POSTGRES)
    meta = meta | {"read_model": meta.get("read_model") or read_model_facts()}
    return {
        "meta": meta,
        "ratios": {k: v for k, v in ratios.items() if v is not None},
        "targets": evaluate_targets(results, ratios, found),
        "findings": found,
        "results": results,
        "not_measured": [{"what": w, "why": y} for w, y in not_measured],
    }


# --- Markdown -------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _cpu_table(title: str, window: dict[str, Any]) -> list[str]:
    rows: list[list[Any]] = [
        [name, p["cpu_s"], p["cpu_pct_of_one_core"], p["rss_peak_mib"], p["rss_end_mib"]]
        for name, p in sorted(window["processes"].items(), key=lambda kv: -kv[1]["cpu_s"])
    ]
    outside = window.get("outside_watched_cpu_s", 0.0)
    rows.append(["(outside the stack)", outside, 100 * (outside_cores(window) or 0), None, None])
    head = (
        f"{title} ({window['wall_s']} s, machine {window['machine_busy_pct_of_all_cores']}% busy):"
    )
    return [
        head,
        "",
        *_table(["process", "CPU s", "% of a core", "peak RSS MiB", "end RSS MiB"], rows),
    ]


def _latency_row(name: str, r: dict[str, Any]) -> list[Any]:
    lat = r["latency"]
    return [
        name,
        r["completed"],
        lat["errors"],
        r[RATE],
        lat["p50_ms"],
        lat["p95_ms"],
        lat["p99_ms"],
        outside_cores(r.get("window")),
    ]


def _profiles(profile: dict[str, Any]) -> list[str]:
    out = [
        "## Profiles (py-spy, apart from the measured rounds)",
        "",
        "Each process's CPU by library: a sample is charged to its innermost frame outside "
        "Python's standard library (a `json.dumps` called by SQLAlchemy counts as "
        "SQLAlchemy); samples of threads waiting are left out. Then the heaviest frames, each "
        "with the share of samples that passed through it; entry points, the standard "
        "library and callers that pass 95 % of their samples on to one callee (a "
        "middleware chain) are left out, the chain's innermost frame standing for it. "
        "Profiled segments run after the throughput and API scenarios, apart from their "
        "measurements, since py-spy's own CPU would otherwise fall on them.",
        "",
    ]
    for segment in ("enrollment", "api"):
        part = profile.get(segment)
        if not part:
            continue
        for name, prof in part["profiles"].items():
            out += [f"### {name} during {part['segment']}", ""]
            if "skipped" in prof:
                out += [f"Not taken: {prof['skipped']}.", ""]
                continue
            out += [
                f"`{prof['command']}`: {prof['samples']} busy samples "
                f"({prof['idle_samples_dropped']} of waiting threads left out).",
                "",
            ]
            out += _table(["library", "% of busy samples"],
                          [[a["area"], a["percent"]] for a in prof["areas"]])  # fmt: skip
            out += _table(["frame", "% of busy samples through it"],
                          [[f["frame"], f["percent"]] for f in prof["frames"]])  # fmt: skip
    return out


def render_markdown(report: dict[str, Any]) -> str:
    meta, results = report["meta"], report["results"]
    m = meta["machine"]
    out: list[str] = [
        f"# InsureFlow benchmark, {meta['started_at']}",
        "",
        f"`{meta['command']}` · {meta['duration_s']} s · {m['cpus']} CPUs ({m['cpu_model']}), "
        f"{m['memory_gib']} GiB · Python {m['python']} · {m['temporal']} · code at "
        f"{meta.get('git', '?')}"
        + (
            f" (at the end: {meta['git_at_end']})"
            if meta.get("git_at_end") not in (None, meta.get("git"))
            else ""
        ),
        "",
        "Compare the ratios, measured side by side (interleaved rounds) in this run, rather "
        "than absolute numbers, which move with the machine. Processes: `temporal` (dev "
        "server, SQLite), `worker` (`insureflow worker`), `api` (`insureflow api`), `bench` "
        "(this runner: client, load generator, the bare pipeline's workers). 'Outside' is "
        "CPU used by anything else on the machine, in cores.",
        "",
        "## Targets",
        "",
    ]
    rows = []
    for t in report["targets"]:
        verdict = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
        rows.append([t["name"], t["target"], t["measured"], verdict, t["outside_cores"]])
    out += _table(["target", "wanted", "measured", "", "outside (cores)"], rows)
    shared = [t["name"] for t in report["targets"] if (t["outside_cores"] or 0) > 0.5]
    if shared:
        out += [
            "Measured while other work on the machine used more than half a core (the "
            "'outside' column): " + "; ".join(shared) + ". Latency verdicts there say as "
            "much about the machine as about InsureFlow; the ratios are the fairer figures.",
            "",
        ]
    for t in report["targets"]:
        if t["met"] is False:
            out += [
                f"- **{t['name']}**: missed. Why: {t['why']}. Profile: {t['profile']}. "
                f"What would lift it: {t['what_would_lift_it']}."
            ]
    out += ["", "## Findings", ""]
    out += [f"- **{key}**: {text}" for key, text in report["findings"].items()]
    out += ["", "## Ratios (same run, side by side)", ""]
    out += _table(["ratio", "value"], [[k, v] for k, v in report["ratios"].items()])

    if any(k in results for k in ("baseline", "enrollment", "claims")):
        out += ["## Process throughput (workflow level, no HTTP, interleaved rounds)", ""]
        rows = [
            _latency_row(f"baseline, 5 {variant} activities", r)
            for variant, r in (results.get("baseline") or {}).items()
        ]
        for key, label in (
            ("enrollment", "enrollment → effective"),
            ("enrollment_regular_steps", "enrollment, every step a regular activity"),
            ("enrollment_two_workers", "enrollment, two worker processes"),
            ("enrollment_postgres", "enrollment, read model on PostgreSQL"),
            ("enrollment_postgres_two_workers", "enrollment, PostgreSQL, two worker processes"),
            ("claims", "claim → closed"),
            ("claims_regular_steps", "claim, every step a regular activity"),
        ):
            if key in results:
                rows.append(_latency_row(label, results[key]))
        out += _table(
            ["process", "completed", "errors", "per s", "p50 ms", "p95 ms", "p99 ms",
             "outside (cores)"],
            rows,
        )  # fmt: skip
        for key in ("enrollment", "enrollment_regular_steps", "claims", "claims_regular_steps"):
            if key in results:
                pp = results[key]["per_process"]
                out.append(
                    f"- one {key.replace('_', ' ')} process: {pp.get('steps')} steps "
                    f"({pp['activities']} regular activities, {pp.get('local_activities')} "
                    f"local), {pp['updates']} "
                    f"Updates, {pp['workflow_tasks']} workflow tasks, "
                    f"{pp['history_events']} history events; {results[key]['concurrency']} "
                    f"in flight, {results[key]['rounds']} rounds."
                )
        out.append("")
        for variant, r in (results.get("baseline") or {}).items():
            out += _cpu_table(f"CPU and memory during baseline {variant}", r["window"])
        for key in (
            "enrollment", "enrollment_regular_steps", "enrollment_two_workers",
            "enrollment_postgres", "enrollment_postgres_two_workers", "claims",
            "claims_regular_steps",
        ):  # fmt: skip
            if key in results:
                title = key.replace("_", " ")
                out += _cpu_table(f"CPU and memory during {title}", results[key]["window"])

    if "profile" in results:
        out += _profiles(results["profile"])

    if "tuning" in results:
        out += ["## Tuning, before/after on the bare pipeline (interleaved rounds)", ""]
        rows = [
            [
                key,
                t["what"],
                t["before"][RATE],
                t["after"][RATE],
                _ratio(t["after"][RATE], t["before"][RATE]),
                t["before"]["latency"]["p50_ms"],
                t["after"]["latency"]["p50_ms"],
                t["after"].get("eager_started"),
                outside_cores(t["before"].get("window")),
                outside_cores(t["after"].get("window")),
            ]
            for key, t in results["tuning"].items()
        ]
        out += _table(
            ["change", "before → after", "before /s", "after /s", "after ÷ before",
             "before p50 ms", "after p50 ms", "eager starts (after)", "outside before",
             "outside after"],
            rows,
        )  # fmt: skip
        out += [
            "`control_no_change` runs the same pipeline on both sides: its after ÷ before is "
            "the noise floor of these comparisons on this machine. "
            "The worker changes turn InsureFlow's settings (the SDK defaults: 1,000 cached "
            "workflows, 100 workflow-task slots) *down*, to show what the defaults buy. "
            "`sqlite_wal` runs on two fresh dev servers, without and with the pragmas, alive "
            "together and used in alternate rounds.",
            "",
        ]

    if "pools" in results:
        out += ["## Connection pools for the read model (interleaved rounds)", ""]
        rows = [
            [
                backend,
                key,
                c["what"],
                c[RATE],
                _ratio(c[RATE], p["choices"][_pool_base(p)][RATE]),
                c["latency"]["p50_ms"],
                c["latency"]["p99_ms"],
                c["latency"]["errors"],
                outside_cores(c.get("window")),
            ]
            for backend, p in results["pools"].items()
            for key, c in p["choices"].items()
        ]
        out += _table(
            ["database", "pool", "what", "writes /s", "÷ first", "p50 ms", "p99 ms",
             "errors", "outside (cores)"],
            rows,
        )  # fmt: skip
        out += [
            "Each write is the worker's batched `record_changes` transaction (an enrollment's "
            "state row, a quote record, an outbox notification), called directly in the runner "
            "through engines that differ only in their pool, "
            f"{_get(results, 'pools', 'sqlite', 'concurrency')} in flight.",
            "",
        ]

    for key, title, during in (
        ("api_light", "API at light load", "the light load"),
        ("api", "API under load", "the load"),
    ):
        if key not in results:
            continue
        api = results[key]
        flows = api["flows"]
        out += [f"## {title}", ""]
        out += [
            f"{flows['completed']} agent flows completed of {flows['started']} started "
            f"({api['concurrency']} in flight, budget {api['time_budget_s']} s), with "
            f"{api['readers']} supervisor readers and a /healthz probe: "
            f"**{flows[RATE]} flows/s**, {api['requests_per_s']} requests/s, "
            f"{api['errors']} errors. Flow end to end: p50 {flows['latency']['p50_ms']} ms, "
            f"p99 {flows['latency']['p99_ms']} ms.",
            "",
        ]
        out += _table(
            ["endpoint", "calls", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [
                [n, e["count"], e["errors"], e["p50_ms"], e["p95_ms"], e["p99_ms"], e["max_ms"]]
                for n, e in api["endpoints"].items()
            ],
        )
        out += _cpu_table(f"CPU during {during}", api["window"])

    if "parked" in results:
        p = results["parked"]
        d = p["decisions"]
        rss = ", ".join(f"{k} {v} MiB" for k, v in p["rss_mib_with_all_parked"].items())
        out += ["## Parked in underwriting", ""]
        out += [
            f"{p['underwriting_tasks_open']:,} enrollments parked (of "
            f"{p['parked_requested']:,} asked) in {p['parking']['wall_s']} s "
            f"({p['parking']['parked_per_s']} per s). RSS with all parked: {rss}.",
            "",
            f"Decisions (`POST /v1/tasks/{{id}}/decision` as sue, one at a time, "
            f"{p['decision_pause_s']} s apart): {d.get('count')} answered, {d.get('errors')} "
            f"errors, p50 {d.get('p50_ms')} ms, p99 {d.get('p99_ms')} ms, max "
            f"{d.get('max_ms')} ms (with {d.get('count')} samples the p99 is about the "
            "maximum).",
            "",
            f"- {p['worker_cache_note']}.",
            f"- CPU while parking: {profile(p['parking']['window'])}.",
            f"- CPU while deciding: {profile(p['deciding_window'])}.",
            f"- CPU idle with all parked (3 s): {profile(p['idle_cpu_with_all_parked'])}.",
            "",
        ]

    if "inbox" in results:
        ib = results["inbox"]
        out += ["## Inbox at scale", ""]
        out += [
            f"{ib['open_tasks_seeded']:,} open tasks seeded by bulk INSERT in {ib['seed_s']} "
            f"s. Through the API (`GET /v1/tasks?status=open&limit={ib['page_size']}` as sue, "
            f"sequential; the keyset pages walk {ib['api_keyset_depth_rows']:,} rows deep):",
            "",
        ]
        out += _table(
            ["page", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [
                [k, v["count"], v["errors"], v["p50_ms"], v["p95_ms"], v["p99_ms"], v["max_ms"]]
                for k, v in ib["api"].items()
            ],
        )
        out += [
            "The page query alone (sqlite3, 51 rows), with the inbox index and without it "
            "(a copy of the file with the index dropped), keyset against OFFSET:",
            "",
        ]
        out += _table(
            ["variant", "p50 ms", "p99 ms"],
            [[k, v["p50_ms"], v["p99_ms"]] for k, v in ib["sql"]["pages"].items()],
        )
        out += ["Query plans:", ""]
        out += [f"- {k}: `{v}`" for k, v in ib["sql"]["query_plans"].items()]
        out.append("")

    logged = results.get("log_errors") or {}
    if any(v.get("count") for v in logged.values()):
        out += ["## Errors in the logs (whole run)", ""]
        out += _table(
            ["process", "event", "count", "exception"],
            [
                [name, event, entry["count"], entry["exception"]]
                for name, v in logged.items()
                for event, entry in (v.get("by_event") or {}).items()
            ],
        )
    out += ["## Not measured", ""]
    out += [f"- **{n['what']}**: {n['why']}." for n in report["not_measured"]]
    out += ["", "## Sizes", "", "```", json.dumps(meta["sizes"], indent=2), "```", ""]
    return "\n".join(out)


def write_reports(
    out_dir: Path, meta: dict[str, Any], results: dict[str, Any], *, stamp: datetime
) -> tuple[Path, Path]:
    """Write report-<timestamp>.json/.md and copy them to latest.json/.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = build(meta, results)
    name = "report-" + stamp.strftime("%Y%m%dT%H%M%SZ")
    json_path = out_dir / f"{name}.json"
    md_path = out_dir / f"{name}.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(render_markdown(report))
    shutil.copyfile(json_path, out_dir / "latest.json")
    shutil.copyfile(md_path, out_dir / "latest.md")
    return json_path, md_path
