"""The supervisor inbox with 100,000 open tasks, seeded by bulk INSERTs (not by
workflows): ``GET /v1/tasks`` pages through the API (the first page, and keyset pages deep
into the list); then the page query itself on the SQLite file, keyset against OFFSET, with
the inbox index and on a copy of the file without it.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    sessions = stack.sessions
    task = {
        "kind": "underwriting",
        "subject": "Underwrite TERM_LIFE_20 for 张*",
        "amount": Decimal("1000000.00"),
        "status": "open",
        "assignee": None,
        "submitted_by": "alice",
        "agent": "alice",
        "priority": 0,
        "escalation_level": 0,
        "details": {"product_code": "TERM_LIFE_20", "sum_insured": "1000000.00"},
        "created_at": now,
        "updated_at": now,
    }
    for first in range(0, count, CHUNK):
        rows = []
        for i in range(first, min(first + CHUNK, count)):
            due = now + timedelta(seconds=rng.randrange(30 * 86_400))
            case = f"BENCH{i:08d}"
            rows.append(
                task
                | {
                    "task_id": f"uw-{case}",
                    "workflow_id": f"enrollment-{case}",
                    "case_id": case,
                    "due_at": due,
                    "escalate_at": due + timedelta(days=1),
                    "expire_at": due + timedelta(days=6),
                }
            )
        async with sessions() as session, session.begin():
            await session.execute(insert(Task), rows)
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
            await endpoints.call("first_page", http.get("/v1/tasks", params=params, headers=sue))
        cursor: str | None = None
        for _ in range(keyset_pages):
            query = params | ({"cursor": cursor} if cursor else {})
            r = await endpoints.call(
                "keyset_page", http.get("/v1/tasks", params=query, headers=sue)
            )
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

    with contextlib.closing(sqlite3.connect(db_file)) as source:
        page_at = "SELECT due_at, task_id FROM task WHERE status = 'open' ORDER BY due_at, task_id"
        marks = {
            d: source.execute(page_at + " LIMIT 1 OFFSET ?", (d - 1,)).fetchone()
            for d in depths
            if d
        }
        bare = sqlite3.connect(copy)
        source.backup(bare)
    bare.execute(f"DROP INDEX {INDEX}")
    bare.commit()
    timings: dict[str, Any] = {}
    plans: dict[str, str] = {}
    for label, db in (("with_index", sqlite3.connect(db_file)), ("without_index", bare)):
        timings[label] = {"keyset": {}, "offset": {}}
        with contextlib.closing(db):
            plans[f"{label}.keyset"] = _plan(db, keyset, ("open", "", ""))
            plans[f"{label}.offset"] = _plan(db, offset, ("open", 0))
            for depth in depths:
                at_keyset = (keyset, ("open", *marks[depth])) if depth else (first, ("open",))
                for method, (sql, args) in (
                    ("keyset", at_keyset),
                    ("offset", (offset, ("open", depth))),
                ):
                    summary = _time_query(db, sql, args, reps).summary()
                    timings[label][method][f"row_{depth}"] = summary
    return {"queries": timings, "query_plans": plans}


async def run_inbox(
    stack: Stack,
    *,
    tasks: int,
    first_pages: int,
    keyset_pages: int,
    depths: list[int],
    reps: int,
) -> dict[str, Any]:
    stack.progress.say(f"inbox: seeding {tasks} open tasks")
    seeded_in = await seed_tasks(stack, tasks)
    # The worker finishes what earlier scenarios left running: the pages are timed quiet.
    await stack.wait_quiet("worker")
    with stack.sampler.window() as window:
        api = await _api_pages(stack, first_pages=first_pages, keyset_pages=keyset_pages)
    sql = await asyncio.to_thread(
        compare_queries,
        stack.db_file,
        stack.root / "inbox-without-index.db",
        depths=[d for d in depths if d < tasks],
        reps=reps,
    )
    return {
        "open_tasks": tasks,
        "seed_s": round(seeded_in, 1),
        "page_rows": PAGE,
        "keyset_depth_rows": keyset_pages * PAGE,
        "api": api,
        "window": window.as_dict(),
        "sql": sql["queries"],
        "query_plans": sql["query_plans"],
    }
