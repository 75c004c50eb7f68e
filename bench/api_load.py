"""Scenario (e): the API under load, over loopback, with httpx.

Agents run the full flow (create → quote → application → poll until effective), bounded
in count and in time, while supervisors read at the same time (one enrollment, the inbox's
first page). Every call is timed per endpoint; any non-2xx answer or transport error
counts as an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable
from typing import Any

import httpx

from bench.load import drive
from bench.processes import BANK_ACCOUNT, PRODUCT, People, shanghai_today
from bench.progress import Ticker
from bench.stack import Stack
from bench.stats import Latencies
from core.passwords import hash_password

AGENTS = ("alice", "bob")
POLL_EVERY = 0.25
FLOW_TIMEOUT = 120.0
READ_PAUSE = 0.1
PROBE_EVERY = 0.2


PROBE = "GET /healthz (event-loop probe)"


class CallFailed(RuntimeError):
    pass


async def login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Bearer headers for a development user (password ``<username>-dev``)."""
    r = await http.post(
        "/v1/auth/token", data={"username": username, "password": f"{username}-dev"}
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


class Endpoints:
    """Latencies and errors per endpoint."""

    def __init__(self) -> None:
        self.by_name: dict[str, Latencies] = {}

    async def call(self, name: str, request: Awaitable[httpx.Response]) -> httpx.Response:
        record = self.by_name.setdefault(name, Latencies())
        began = time.monotonic()
        try:
            response = await request
        except httpx.HTTPError as err:
            record.fail(type(err).__name__)
            raise CallFailed(f"{name}: {type(err).__name__}") from err
        elapsed = time.monotonic() - began
        if response.is_success:
            record.add(elapsed)
            return response
        code = ""
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            code = str(response.json().get("code", ""))
        record.fail(f"{response.status_code} {code}".strip())
        raise CallFailed(f"{name}: {response.status_code} {code}")

    def summary(self) -> dict[str, Any]:
        return {name: lat.summary() for name, lat in sorted(self.by_name.items())}


def argon2_cost(samples: int = 3) -> dict[str, float]:
    """Wall and CPU milliseconds of one argon2id hash, as the application route does it."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(samples):
        wall, cpu = time.perf_counter(), time.process_time()
        hash_password("bench-pass-1")
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "wall_ms": round(1000 * sorted(walls)[len(walls) // 2], 1),
        "cpu_ms": round(1000 * sorted(cpus)[len(cpus) // 2], 1),
    }


async def run_api_load(
    stack: Stack,
    people: People,
    *,
    flows: int,
    concurrency: int,
    within: float,
    readers: int,
    label: str = "API load",
) -> dict[str, Any]:
    progress = stack.progress
    endpoints = Endpoints()
    limits = httpx.Limits(max_connections=concurrency + readers + 4)
    async with httpx.AsyncClient(base_url=stack.api_base, timeout=30, limits=limits) as http:
        tokens = {user: await login(http, user) for user in (*AGENTS, "sue")}
        created: list[str] = []
        finished = asyncio.Event()

        async def flow(i: int) -> None:
            agent = tokens[AGENTS[i % len(AGENTS)]]
            customer, _ = people.next()
            r = await endpoints.call(
                "POST /v1/enrollments",
                http.post(
                    "/v1/enrollments",
                    json={"customer": customer.model_dump(exclude_none=True)},
                    headers=agent,
                ),
            )
            eid = r.json()["enrollment_id"]
            created.append(eid)
            r = await endpoints.call(
                "POST /v1/enrollments/{id}/quote",
                http.post(
                    f"/v1/enrollments/{eid}/quote",
                    json={"product_code": PRODUCT, "sum_insured": "200000.00"},
                    headers=agent,
                ),
            )
            await endpoints.call(
                "POST /v1/enrollments/{id}/application",
                http.post(
                    f"/v1/enrollments/{eid}/application",
                    json={
                        "quote_id": r.json()["quote_id"],
                        "payment_method": "auto_debit",
                        "bank_account": BANK_ACCOUNT,
                        "query_password": "bench-pass-1",
                        "consent": True,
                        "start_date": shanghai_today().isoformat(),
                    },
                    headers=agent,
                ),
            )
            deadline = time.monotonic() + FLOW_TIMEOUT
            while True:
                r = await endpoints.call(
                    "GET /v1/enrollments/{id} (agent poll)",
                    http.get(f"/v1/enrollments/{eid}", headers=agent),
                )
                status = r.json()["status"]
                if status == "effective":
                    return
                if status != "in_progress":
                    raise CallFailed(f"enrollment ended {status}")
                if time.monotonic() > deadline:
                    raise CallFailed("not effective in time")
                await asyncio.sleep(POLL_EVERY)

        async def reader(n: int) -> None:
            sue = tokens["sue"]
            turn = n
            while not finished.is_set():
                turn += 1
                try:
                    if turn % 2 and created:
                        eid = random.choice(created)
                        await endpoints.call(
                            "GET /v1/enrollments/{id} (supervisor read)",
                            http.get(f"/v1/enrollments/{eid}", headers=sue),
                        )
                    else:
                        await endpoints.call(
                            "GET /v1/tasks?status=open&limit=50",
                            http.get("/v1/tasks", params={"status": "open", "limit": 50},
                                     headers=sue),
                        )  # fmt: skip
                except CallFailed:
                    pass  # counted per endpoint
                await asyncio.sleep(READ_PAUSE)

        async def probe() -> None:
            # /healthz does nothing: its latency is how long a request waits for the API's
            # event loop, i.e. how much the loop is blocked or starved of CPU.
            while not finished.is_set():
                with contextlib.suppress(CallFailed):
                    await endpoints.call(PROBE, http.get("/healthz"))
                await asyncio.sleep(PROBE_EVERY)

        progress.say(
            f"{label}: {flows} agent flows ({concurrency} in flight, at most {within:.0f}s) "
            f"+ {readers} readers"
        )
        with stack.sampler.window() as window:
            reading = [asyncio.create_task(reader(n)) for n in range(readers)]
            reading.append(asyncio.create_task(probe()))
            try:
                result = await drive(
                    flows,
                    concurrency,
                    flow,
                    ticker=Ticker(progress, f"{label}: agent flows", flows, every=10),
                    within=within,
                )
            finally:
                finished.set()
                await asyncio.gather(*reading)
    calls = endpoints.summary()
    hashing = await asyncio.to_thread(argon2_cost)
    requests = sum(c["count"] + c["errors"] for c in calls.values())
    out = {
        "flows": result.as_dict(),
        "concurrency": concurrency,
        "readers": readers,
        "time_budget_s": within,
        "requests": requests,
        "requests_per_s": round(requests / window.wall_s, 1) if window.wall_s else 0.0,
        # Calls that failed; a flow that failed because of one is counted in flows, not here.
        "errors": sum(c["errors"] for c in calls.values()),
        "flows_failed": result.latencies.errors,
        "endpoints": calls,
        "query_password_hash": hashing,
        "api_log_errors": stack.log_errors("api"),
        "worker_log_errors": stack.log_errors("worker"),
        "window": window.as_dict(),
    }
    progress.say(
        f"{label}: {out['flows']['completed_per_s']} flows/s, {out['requests_per_s']} requests/s, "
        f"errors {out['errors']}"
    )
    return out
