"""Scenario (f): the supervisor inbox with 100,000 open tasks.

The task rows are seeded by bulk INSERTs (not by workflows). Then ``GET /v1/tasks`` pages
are timed through the API (the first page and keyset pages deep into the list), and, as
the before/after of "indexes and keyset pagination", the page query itself is timed on the
SQLite file with the inbox index and keyset against OFFSET, and on a copy of the file
without the index.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from bench.api_load import Endpoints, login
from bench.progress import Progress
from bench.stack import Stack
from bench.stats import Latencies
from db.models import Task

INDEX = "ix_task_status_due_at_task_id"
PAGE = 50
CHUNK = 5_000
COLUMNS = (
    "task_id, kind, workflow_id, case_id, subject, amount, status, assignee, priority, "
    "escalation_level, due_at, escalate_at, expire_at, created_at"
)


async def seed_tasks(stack: Stack, count: int) -> float:
    """Insert ``count`` open underwriting tasks, due over the next 30 days; seconds taken."""
    now = datetime.now(UTC)
    rng = random.Random(7)
    began = time.monotonic()
    sessions = stack.require_sessions()
    for first in range(0, count, CHUNK):
        rows = []
        for i in range(first, min(first + CHUNK, count)):
            due = now + timedelta(seconds=rng.randrange(30 * 86_400))
            rows.append(
                {
                    "task_id": f"uw-BENCH{i:08d}",
                    "kind": "underwriting",
                    "workflow_id": f"enrollment-BENCH{i:08d}",
                    "case_id": f"BENCH{i:08d}",
                    "subject": "Underwrite TERM_LIFE_20 for 张*",
                    "amount": Decimal("1000000.00"),
                    "status": "open",
                    "assignee": None,
                    "submitted_by": "alice",
                    "agent": "alice",
                    "priority": 0,
                    "escalation_level": 0,
                    "due_at": due,
                    "escalate_at": due + timedelta(days=1),
                    "expire_at": due + timedelta(days=6),
                    "details": {"product_code": "TERM_LIFE_20", "sum_insured": "1000000.00"},
                    "created_at": now,
                    "updated_at": now,
                }
            )
        async with sessions() as session, session.begin():
            await session.execute(insert(Task), rows)
        if (first // CHUNK) % 5 == 4:
            stack.progress.say(f"inbox: {first + len(rows)}/{count} tasks seeded")
    return time.monotonic() - began


async def _api_pages(
    stack: Stack, *, first_pages: int, keyset_pages: int
) -> dict[str, dict[str, Any]]:
    endpoints = Endpoints()
    async with httpx.AsyncClient(base_url=stack.api_base, timeout=30) as http:
        sue = await login(http, "sue")
        params: dict[str, str | int] = {"status": "open", "limit": PAGE}
        for _ in range(5):  # warm the connection and the page cache
            await http.get("/v1/tasks", params=params, headers=sue)
        for _ in range(first_pages):
            await endpoints.call("first page", http.get("/v1/tasks", params=params, headers=sue))
        cursor: str | None = None
        for _ in range(keyset_pages):
            query = params | ({"cursor": cursor} if cursor else {})
            r = await endpoints.call("keyset page", http.get("/v1/tasks", params=query,
                                                             headers=sue))  # fmt: skip
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
    return endpoints.summary()


def _time_query(db: sqlite3.Connection, sql: str, args: tuple[Any, ...], reps: int) -> Latencies:
    out = Latencies()
    for _ in range(reps):
        began = time.perf_counter()
        rows = db.execute(sql, args).fetchall()
        out.add(time.perf_counter() - began)
        if not rows:
            out.fail("empty page")
    return out


def _plan(db: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> str:
    return "; ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql, args))


def compare_queries(db_file: Path, copy: Path, *, depths: list[int], reps: int) -> dict[str, Any]:
    """The page query at several depths: keyset vs OFFSET, with and without the index."""
    keyset = (
        f"SELECT {COLUMNS} FROM task WHERE status = ? AND (due_at, task_id) > (?, ?) "
        f"ORDER BY due_at, task_id LIMIT {PAGE + 1}"
    )
    first = f"SELECT {COLUMNS} FROM task WHERE status = ? ORDER BY due_at, task_id LIMIT {PAGE + 1}"
    offset = first + " OFFSET ?"

    source = sqlite3.connect(db_file)
    try:
        marks: dict[int, tuple[str, str]] = {}
        for depth in depths:
            if depth:
                row = source.execute(
                    "SELECT due_at, task_id FROM task WHERE status = 'open' "
                    "ORDER BY due_at, task_id LIMIT 1 OFFSET ?",
                    (depth - 1,),
                ).fetchone()
                marks[depth] = (row[0], row[1])
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    bare = sqlite3.connect(copy)
    bare.execute(f"DROP INDEX {INDEX}")
    bare.commit()

    results: dict[str, Any] = {}
    plans: dict[str, str] = {}
    for label, path_or_db in (("with_index", db_file), ("without_index", None)):
        db = sqlite3.connect(path_or_db) if path_or_db is not None else bare
        try:
            plans[f"{label} keyset"] = _plan(db, keyset, ("open", "", ""))
            plans[f"{label} offset"] = _plan(db, offset, ("open", 0))
            for depth in depths:
                for method in ("keyset", "offset"):
                    args: tuple[Any, ...]
                    if method == "keyset":
                        sql, args = (
                            (keyset, ("open", *marks[depth])) if depth else (first, ("open",))
                        )
                    else:
                        sql, args = offset, ("open", depth)
                    results[f"{label} {method} @ row {depth:,}"] = _time_query(
                        db, sql, args, reps
                    ).summary()
        finally:
            db.close()
    return {"pages": results, "query_plans": plans}


async def run_inbox(
    stack: Stack,
    *,
    tasks: int,
    first_pages: int,
    keyset_pages: int,
    depths: list[int],
    reps: int,
) -> dict[str, Any]:
    progress: Progress = stack.progress
    progress.say(f"inbox: seeding {tasks} open tasks (bulk INSERT, {CHUNK} rows a statement)")
    seeded_in = await seed_tasks(stack, tasks)
    # Let the worker finish what earlier scenarios left running, so the pages are timed on
    # a quiet stack.
    waited = await stack.wait_quiet("worker")
    progress.say(
        f"inbox: seeded in {seeded_in:.1f}s, worker quiet after {waited:.0f}s; timing pages"
    )
    with stack.sampler.window() as window:
        api = await _api_pages(stack, first_pages=first_pages, keyset_pages=keyset_pages)
    progress.say(
        f"inbox: first page p99 {api['first page']['p99_ms']} ms, keyset page p99 "
        f"{api['keyset page']['p99_ms']} ms; timing the page query with and without the index"
    )
    sql = await asyncio.to_thread(
        compare_queries,
        stack.db_file,
        stack.root / "inbox-without-index.db",
        depths=[d for d in depths if d < tasks],
        reps=reps,
    )
    return {
        "open_tasks_seeded": tasks,
        "seed_s": round(seeded_in, 1),
        "page_size": PAGE,
        "api": api,
        "api_keyset_depth_rows": keyset_pages * PAGE,
        "window": window.as_dict(),
        "sql": sql,
    }
