"""The API under load, over loopback, with httpx: agents run the whole flow (create →
quote → application → poll until effective), bounded in count and in time, while
supervisors read (one enrollment, the inbox's first page) and a probe calls /healthz.
Every call is timed per endpoint; a non-2xx answer or a transport error is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable
from typing import Any

import httpx

from bench.load import Ticker, drive
from bench.processes import BANK_ACCOUNT, PRODUCT, People, shanghai_today
from bench.stack import Stack
from bench.stats import Latencies
from core.passwords import hash_password

AGENTS = ("alice", "bob")
POLL_EVERY, READ_PAUSE, PROBE_EVERY = 0.25, 0.1, 0.2
FLOW_TIMEOUT = 120.0
# The endpoints' names in the figures: create POST /v1/enrollments, quote and application
# POST /v1/enrollments/{id}/quote and .../application, agent_poll and supervisor_read
# GET /v1/enrollments/{id}, inbox GET /v1/tasks?status=open&limit=50, and healthz: /healthz
# does nothing, so its latency is how long a request waits for the API's event loop.
PROBE = "healthz"


class CallFailed(RuntimeError):
    pass


async def login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Bearer headers for a development user (password ``<username>-dev``)."""
    form = {"username": username, "password": f"{username}-dev"}
    r = await http.post("/v1/auth/token", data=form)
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
        if response.is_success:
            record.add(time.monotonic() - began)
            return response
        code = ""
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            code = str(response.json().get("code", ""))
        record.fail(f"{response.status_code} {code}".strip())
        raise CallFailed(f"{name}: {response.status_code} {code}")

    def summary(self) -> dict[str, Any]:
        return {name: lat.summary() for name, lat in sorted(self.by_name.items())}


def worst_p99(endpoints: dict[str, Any]) -> tuple[str, float] | None:
    """The endpoint with the highest p99, the /healthz probe left out."""
    p99 = {k: v["p99_ms"] for k, v in endpoints.items() if k != PROBE and "p99_ms" in v}
    if not p99:
        return None
    name = max(p99, key=lambda k: p99[k])
    return name, p99[name]


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
    label: str = "api",
) -> dict[str, Any]:
    endpoints = Endpoints()
    limits = httpx.Limits(max_connections=concurrency + readers + 4)
    async with httpx.AsyncClient(base_url=stack.api_base, timeout=30, limits=limits) as http:
        tokens = {user: await login(http, user) for user in (*AGENTS, "sue")}
        created: list[str] = []
        finished = asyncio.Event()

        async def flow(i: int) -> None:
            agent = tokens[AGENTS[i % len(AGENTS)]]

            async def post(name: str, path: str, body: dict[str, Any]) -> Any:
                return (
                    await endpoints.call(name, http.post(path, json=body, headers=agent))
                ).json()

            customer = people.next()[0].model_dump(exclude_none=True)
            enrollment = await post("create", "/v1/enrollments", {"customer": customer})
            created.append(url := f"/v1/enrollments/{enrollment['enrollment_id']}")
            quote = await post(
                "quote", f"{url}/quote", {"product_code": PRODUCT, "sum_insured": "200000.00"}
            )
            application = {
                "quote_id": quote["quote_id"],
                "payment_method": "auto_debit",
                "bank_account": BANK_ACCOUNT,
                "query_password": "bench-pass-1",
                "consent": True,
                "start_date": shanghai_today().isoformat(),
            }
            await post("application", f"{url}/application", application)
            deadline = time.monotonic() + FLOW_TIMEOUT
            while True:
                r = await endpoints.call("agent_poll", http.get(url, headers=agent))
                if (status := r.json()["status"]) == "effective":
                    return
                if status != "in_progress" or time.monotonic() > deadline:
                    raise CallFailed(f"enrollment {status}")
                await asyncio.sleep(POLL_EVERY)

        async def reader(turn: int) -> None:
            sue, inbox = tokens["sue"], {"status": "open", "limit": "50"}
            while not finished.is_set():
                turn += 1
                with contextlib.suppress(CallFailed):  # counted per endpoint
                    if turn % 2 and created:
                        url = random.choice(created)
                        await endpoints.call("supervisor_read", http.get(url, headers=sue))
                    else:
                        await endpoints.call(
                            "inbox", http.get("/v1/tasks", params=inbox, headers=sue)
                        )
                await asyncio.sleep(READ_PAUSE)

        async def probe() -> None:
            while not finished.is_set():
                with contextlib.suppress(CallFailed):
                    await endpoints.call(PROBE, http.get("/healthz"))
                await asyncio.sleep(PROBE_EVERY)

        stack.progress.say(
            f"{label}: {flows} agent flows, {concurrency} in flight, {readers} readers"
        )
        ticker = Ticker(stack.progress, f"{label}: agent flows", flows)
        with stack.sampler.window() as window:
            reading = [asyncio.create_task(reader(n)) for n in range(readers)]
            reading.append(asyncio.create_task(probe()))
            try:
                result = await drive(flows, concurrency, flow, ticker=ticker, within=within)
            finally:
                finished.set()
                await asyncio.gather(*reading)
    calls = endpoints.summary()
    requests = sum(c["count"] + c["errors"] for c in calls.values())
    worst = worst_p99(calls)
    return {
        "flows": result.as_dict(),
        "requests": requests,
        "requests_per_s": round(requests / window.wall_s, 1) if window.wall_s else 0.0,
        # Calls that failed; a flow that failed because of one counts in flows, not here.
        "errors": sum(c["errors"] for c in calls.values()),
        "worst_p99_ms": worst[1] if worst else None,
        "worst_p99_endpoint": worst[0] if worst else None,
        "endpoints": calls,
        "argon2_hash": await asyncio.to_thread(argon2_cost),
        "window": window.as_dict(),
    }
