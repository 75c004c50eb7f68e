"""``python -m bench [--quick] [--only NAME,...] [--out DIR] [--SIZE N ...]``: start a
private stack, run the scenarios, write ``<out>/<UTC stamp>/results.json`` and
``results.txt`` (bench.report). Sizes come from flags, else from ``BENCH_<SIZE>``
(``BENCH_PARKED=5000``), else from the defaults (``--quick``: smaller ones).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shlex
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bench import report
from bench.api_load import run_api_load
from bench.billing import run_billing
from bench.inbox import run_inbox
from bench.load import Progress
from bench.parked import run_parked
from bench.policies import run_policies
from bench.pools import run_pools
from bench.processes import People
from bench.profile import run_profiles
from bench.reports import run_reports
from bench.sampler import ProcessSampler
from bench.stack import REPO, Stack
from bench.throughput import run_throughput, run_tuning

SCENARIOS = (
    "baseline",
    "tuning",
    "pools",
    "enrollment",
    "claims",
    "api",
    "profile",
    "parked",
    "inbox",
    "policies",
    "billing",
    "reports",
)


@dataclass(frozen=True)
class Sizes:
    """How much each scenario does."""

    workflows: int = 120  # baseline pipelines per variant
    tuning_workflows: int = 60  # pipelines on each side of a tuning change
    wal_workflows: int = 40  # pipelines on each of the fresh WAL / no-WAL servers
    enrollments: int = 80
    claims: int = 80
    concurrency: int = 20
    rounds: int = 2  # interleaved rounds of each side-by-side comparison
    pool_writes: int = 1500  # batched read-model writes per connection pool
    api_flows: int = 150
    api_concurrency: int = 20
    api_seconds: float = 40.0
    api_readers: int = 2
    api_light_concurrency: int = 2  # a light load first: per-call latency without queueing
    api_light_seconds: float = 20.0
    parked: int = 1000
    parked_concurrency: int = 40
    decisions: int = 20
    inbox_tasks: int = 100_000
    inbox_pages: int = 150
    query_reps: int = 10
    profile_enrollments: int = 150  # enrollments run with py-spy on the worker
    profile_api_flows: int = 60  # API agent flows run with py-spy on the API and worker
    policies: int = 100_000  # PolicyWorkflows parked in force, and as many bare timers
    policies_concurrency: int = 50
    policy_pages: int = 100  # GET /v1/policies?status=effective and the ops search, each
    billing: int = 10_000  # policies due in the same minute, and as many bare wake-ups
    report_tasks: int = 1_000_000  # a year's raw rows for the reports
    report_policies: int = 200_000
    report_reps: int = 20  # each report over the year from the aggregates
    report_raw_reps: int = 3  # and from the raw tables


QUICK = replace(
    Sizes(),
    workflows=80,
    tuning_workflows=40,
    wal_workflows=30,
    pool_writes=600,
    enrollments=50,
    claims=50,
    api_flows=60,
    api_concurrency=10,
    api_light_seconds=15.0,
    parked=300,
    inbox_pages=100,
    query_reps=5,
    profile_enrollments=80,
    profile_api_flows=30,
    policies=2_000,
    policy_pages=50,
    billing=1_000,
    report_tasks=50_000,
    report_policies=10_000,
    report_reps=10,
    report_raw_reps=2,
)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Sizes]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the run's temp dir and logs")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or None,
        help="also measure the pools, and the enrollments with the read model, on this "
        "PostgreSQL database (postgresql+asyncpg://...; the run creates its tables there and "
        "leaves its rows); default $BENCH_POSTGRES_URL",
    )
    for name, value in asdict(Sizes()).items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=type(value), help=f"default {value}")
    args = parser.parse_args(argv)
    chosen: dict[str, Any] = {}
    for name, value in asdict(QUICK if args.quick else Sizes()).items():
        env = os.environ.get(f"BENCH_{name.upper()}")
        flag = getattr(args, name)
        chosen[name] = flag if flag is not None else type(value)(env) if env else value
    args.only = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    if unknown := set(args.only) - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.postgres_url and {"pools", "enrollment"} & set(args.only):
        try:
            backend = make_url(args.postgres_url).get_backend_name()
        except ArgumentError:
            backend = ""
        if backend != "postgresql":
            parser.error("--postgres-url must be a postgresql+asyncpg:// URL")
    return args, Sizes(**chosen)


def _command(argv: list[str]) -> str:
    """The command line as the report shows it: a database password never."""

    def hide(arg: str) -> str:
        if "://" not in arg:
            return arg
        flag, sep, url = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        try:
            return flag + sep + make_url(url).render_as_string(hide_password=True)
        except ArgumentError:  # not a database URL: show nothing of it
            return flag + sep + "***"

    return ("python -m bench " + shlex.join(hide(a) for a in argv)).strip()


def _output(*command: str) -> str:
    try:
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def _git() -> str:
    """The commit measured, and how many files differ from it (others edit as we run)."""
    dirty = _output("git", "status", "--porcelain").splitlines()
    rev = _output("git", "rev-parse", "--short", "HEAD")
    return f"{rev} + {len(dirty)} changed files" if dirty else rev


def _machine() -> dict[str, Any]:
    from cli.main import temporal_binary

    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if "model name" in line), "")
    with open("/proc/meminfo") as f:
        memory_kib = int(f.readline().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "temporal": _output(temporal_binary(), "--version"),
    }


async def run(args: argparse.Namespace, s: Sizes, stack: Stack) -> dict[str, Any]:
    """The scenarios asked for, in this order, on one stack; the results keyed as the
    report names its figures."""
    task = asyncio.current_task()
    assert task is not None  # SIGTERM ends the run as Ctrl-C does: main() stops the stack
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await stack.start(variants="enrollment" in args.only, postgres_url=args.postgres_url)
    only, people = set(args.only), People()
    out: dict[str, Any] = {}
    with stack.sampler.window() as whole:
        if {"baseline", "enrollment", "claims"} & only:
            out |= await run_throughput(
                stack,
                people,
                concurrency=s.concurrency,
                rounds=s.rounds,
                baseline=s.workflows if "baseline" in only else None,
                enrollments=s.enrollments if "enrollment" in only else None,
                claims=s.claims if "claims" in only else None,
            )
        if "tuning" in only:
            out["tuning"] = await run_tuning(
                stack,
                total=s.tuning_workflows,
                wal_total=s.wal_workflows,
                concurrency=s.concurrency,
                rounds=s.rounds,
            )
        if "pools" in only:
            out |= await run_pools(
                stack,
                total=s.pool_writes,
                concurrency=s.concurrency,
                rounds=s.rounds,
                postgres_url=args.postgres_url,
            )
        if "api" in only:
            for key, concurrency, within in (
                ("api_light", s.api_light_concurrency, s.api_light_seconds),
                ("api", s.api_concurrency, s.api_seconds),
            ):
                out[key] = await run_api_load(
                    stack,
                    people,
                    flows=s.api_flows,
                    concurrency=concurrency,
                    within=within,
                    readers=s.api_readers,
                    label=key,
                )
        if "profile" in only:
            out["profile"] = await run_profiles(
                stack,
                people,
                enrollments=s.profile_enrollments,
                api_flows=s.profile_api_flows,
                concurrency=s.api_concurrency,
                readers=s.api_readers,
            )
        if "parked" in only:
            out["parked"] = await run_parked(
                stack,
                people,
                parked=s.parked,
                concurrency=s.parked_concurrency,
                decisions=s.decisions,
            )
        if "inbox" in only:
            out["inbox"] = await run_inbox(
                stack,
                tasks=s.inbox_tasks,
                first_pages=s.inbox_pages,
                keyset_pages=s.inbox_pages,
                depths=[0, 10_000, 50_000, s.inbox_tasks - 100],
                reps=s.query_reps,
            )
        if "policies" in only:
            out["policies"] = await run_policies(
                stack,
                policies=s.policies,
                concurrency=s.policies_concurrency,
                pages=s.policy_pages,
            )
        if "billing" in only:
            out["billing"] = await run_billing(
                stack, policies=s.billing, concurrency=s.policies_concurrency
            )
        if "reports" in only:
            out["reports"] = await run_reports(
                stack,
                tasks=s.report_tasks,
                policies=s.report_policies,
                reps=s.report_reps,
                raw_reps=s.report_raw_reps,
            )
    out["whole_run"] = whole.as_dict()
    out["log_errors"] = stack.log_errors()
    await stack.close_database()
    return out


def main(argv: list[str] | None = None) -> int:
    args, sizes = parse_args(argv)
    progress, sampler = Progress(), ProcessSampler()
    sampler.watch("bench", os.getpid())
    sampler.start()
    stack = Stack.create(progress, sampler, keep=args.keep)
    started_at, code_at_start = datetime.now(UTC), _git()
    progress.say(f"bench: scenarios {', '.join(args.only)}; files in {stack.root}")
    failed = True
    try:
        results = asyncio.run(run(args, sizes, stack))
        failed = False
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress.say("interrupted; stopping the stack")
        failed = False  # nothing to look into: the temp dir goes unless --keep
        return 130
    finally:
        stack.stop(failed=failed)
        sampler.stop()
    context = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(progress.elapsed, 1),
        "command": _command(sys.argv[1:] if argv is None else argv),
        "scenarios": args.only,
        "quick": args.quick,
        "sizes": asdict(sizes),
        "postgres": bool(args.postgres_url),
        "machine": _machine(),
        # The worker and the API import what is on disk when they start: did it move?
        "git": code_at_start,
        "git_at_end": _git(),
    }
    built = report.build(context, results)
    run_dir = report.write(args.out, built, stamp=started_at.strftime("%Y%m%dT%H%M%SZ"))
    print(report.table(report.rows(built, figures=False)), end="")
    progress.say(f"every figure: {run_dir / 'results.txt'} (and results.json)")
    return 0
