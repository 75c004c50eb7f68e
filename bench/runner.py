"""``python -m bench [--quick] [--only NAME,...] [--out DIR]``: start a private stack, run
the scenarios, write ``<out>/<UTC stamp>/results.json`` and ``results.txt`` (bench.report).

Sizes come from flags, or from ``BENCH_<FLAG>`` environment variables (``BENCH_PARKED=5000``);
``--quick`` shrinks the defaults. Progress goes to stderr with the time elapsed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import os
import platform
import shlex
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bench import report
from bench.api_load import run_api_load
from bench.inbox import run_inbox
from bench.load import Progress
from bench.parked import run_parked
from bench.pools import run_pools
from bench.processes import People
from bench.profile import run_profiles
from bench.sampler import ProcessSampler
from bench.stack import REPO, Stack
from bench.throughput import run_throughput, run_tuning

SCENARIOS = (
    "baseline", "tuning", "pools", "enrollment", "claims", "api", "profile", "parked", "inbox",
)  # fmt: skip


@dataclass
class Sizes:
    """How much each scenario does. Full defaults first, ``--quick`` ones second."""

    workflows: int = 120  # baseline pipelines per variant
    tuning_workflows: int = 60  # pipelines on each side of a tuning change
    wal_workflows: int = 40  # pipelines on each of the fresh WAL / no-WAL servers
    enrollments: int = 80
    claims: int = 80
    concurrency: int = 20
    rounds: int = 2  # interleaved rounds of each side-by-side comparison
    pool_writes: int = 1500  # batched read-model writes per connection-pool choice
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
    profile_enrollments: int = 150  # enrollments run with py-spy on the worker, not measured
    profile_api_flows: int = 60  # API agent flows run with py-spy on the API and worker


QUICK = Sizes(
    workflows=80,
    tuning_workflows=40,
    wal_workflows=30,
    pool_writes=600,
    enrollments=50,
    claims=50,
    api_flows=60,
    api_concurrency=10,
    api_seconds=40.0,
    api_light_seconds=15.0,
    parked=300,
    inbox_pages=100,
    query_reps=5,
    profile_enrollments=80,
    profile_api_flows=30,
)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Sizes]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument(
        "--only", default="", help=f"comma-separated scenarios, from: {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the run's temp dir and logs")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or None,
        help="also measure the pools, and the enrollments with the read model, on this "
        "PostgreSQL database (postgresql+asyncpg://...; the run creates its tables there and "
        "leaves its rows); default $BENCH_POSTGRES_URL",
    )
    defaults = Sizes()
    for name, value in asdict(defaults).items():
        parser.add_argument(
            "--" + name.replace("_", "-"), type=type(value), default=None, help=f"default {value}"
        )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else defaults
    chosen: dict[str, Any] = {}
    for name, value in asdict(sizes).items():
        flag = getattr(args, name)
        env = os.environ.get(f"BENCH_{name.upper()}")
        chosen[name] = flag if flag is not None else type(value)(env) if env else value
    only = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    args.only = only
    if args.postgres_url and {"pools", "enrollment"} & set(only):
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


def _temporal_version() -> str:
    from cli.main import temporal_binary

    try:
        out = subprocess.run(
            [temporal_binary(), "--version"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _git() -> str:
    """The commit measured, and how many files differ from it (others edit as we run)."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True
        ).stdout.splitlines()
    except OSError:
        return "unknown"
    return f"{rev} + {len(dirty)} changed files" if dirty else rev


def _machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if "model name" in line), "")
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "temporal": _temporal_version(),
    }


def _read_model() -> dict[str, Any]:
    """How the code under test opens SQLite transactions: the busy timeout, and whether
    every transaction is IMMEDIATE (read at the end of the run: others edit the tree)."""
    from db import session

    timeout = next((p.split("=")[1] for p in session.SQLITE_PRAGMAS if "busy_timeout" in p), "")
    return {
        "busy_timeout_ms": int(timeout) if timeout else None,
        "every_transaction_immediate": '"BEGIN IMMEDIATE"' in inspect.getsource(session),
    }


async def run(args: argparse.Namespace, sizes: Sizes, stack: Stack) -> dict[str, Any]:
    results: dict[str, Any] = {}
    # SIGTERM ends the run like Ctrl-C: the main task is cancelled, and main() stops the stack.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    await stack.start(variants="enrollment" in args.only, postgres_url=args.postgres_url)
    with stack.sampler.window() as whole:
        await _scenarios(args, sizes, stack, results)
    results["whole_run"] = whole.as_dict()
    results["log_errors"] = stack.log_errors()
    await stack.close_database()
    return results


async def _scenarios(
    args: argparse.Namespace, sizes: Sizes, stack: Stack, results: dict[str, Any]
) -> None:
    people = People()
    only = set(args.only)
    s = sizes
    wanted = {"baseline", "enrollment", "claims"} & only
    if wanted:
        results.update(
            await run_throughput(
                stack,
                people,
                baseline=s.workflows if "baseline" in wanted else None,
                enrollments=s.enrollments if "enrollment" in wanted else None,
                claims=s.claims if "claims" in wanted else None,
                concurrency=s.concurrency,
                rounds=s.rounds,
            )
        )
    if "tuning" in only:
        results["tuning"] = await run_tuning(
            stack,
            total=s.tuning_workflows,
            concurrency=s.concurrency,
            wal_total=s.wal_workflows,
            rounds=s.rounds,
        )
    if "pools" in only:
        results |= await run_pools(
            stack,
            total=s.pool_writes,
            concurrency=s.concurrency,
            rounds=s.rounds,
            postgres_url=args.postgres_url,
        )
    if "api" in only:
        results["api_light"] = await run_api_load(
            stack,
            people,
            flows=s.api_flows,
            concurrency=s.api_light_concurrency,
            within=s.api_light_seconds,
            readers=s.api_readers,
            label="api_light",
        )
        results["api"] = await run_api_load(
            stack,
            people,
            flows=s.api_flows,
            concurrency=s.api_concurrency,
            within=s.api_seconds,
            readers=s.api_readers,
        )
    if "profile" in only:
        results["profile"] = await run_profiles(
            stack,
            people,
            enrollments=s.profile_enrollments,
            api_flows=s.profile_api_flows,
            concurrency=s.api_concurrency,
            readers=s.api_readers,
        )
    if "parked" in only:
        results["parked"] = await run_parked(
            stack, people, parked=s.parked, concurrency=s.parked_concurrency, decisions=s.decisions
        )
    if "inbox" in only:
        results["inbox"] = await run_inbox(
            stack,
            tasks=s.inbox_tasks,
            first_pages=s.inbox_pages,
            keyset_pages=s.inbox_pages,
            depths=[0, 10_000, 50_000, s.inbox_tasks - 100],
            reps=s.query_reps,
        )


def main(argv: list[str] | None = None) -> int:
    args, sizes = parse_args(argv)
    progress = Progress()
    sampler = ProcessSampler()
    sampler.watch("bench", os.getpid())
    sampler.start()
    stack = Stack.create(progress, sampler, keep=args.keep)
    started_at = datetime.now(UTC)
    code_at_start = _git()
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
        "quick": args.quick,
        "scenarios": args.only,
        "sizes": asdict(sizes),
        "machine": _machine(),
        # The worker and API import what is on disk when they start; the end state shows
        # whether the tree moved meanwhile.
        "git": code_at_start,
        "git_at_end": _git(),
        "read_model": _read_model(),
    }
    built = report.build(context, results)
    run_dir = report.write(args.out, built, stamp=started_at.strftime("%Y%m%dT%H%M%SZ"))
    print(report.table(report.rows(built, figures=False)), end="")
    progress.say(f"all figures: {run_dir / 'results.txt'} and results.json")
    return 0
