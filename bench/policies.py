"""Policies in force (issue 14): ``policies`` PolicyWorkflows, each parked on its timer,
beside as many bare workflows that only wait on a timer (bench.pipeline.BenchTimer, on a
worker process of their own, bench.timers), started and parked the same way in the same
run: the bare ones first, then the policies. For each side: the start rate, the rate at
which they are parked, the worker's and the server's RSS grown, CPU per workflow and the
Temporal server's disk per workflow; with all of them parked, ``GET
/v1/policies?status=effective`` (as sue) and the ops search ``GET
/v1/ops/workflows?process=policy`` (as olga), first pages and keyset pages.

The policies are started directly (as bench.processes starts enrollments), with the
``PolicyStart`` the enrollment hands its policy (workflows.enrollment ``_start_policy``)
and the policy rows it inserts at issue written first in bulk: MEDICAL_1Y (no cooling-off,
no return visit), issued ten days ago and effective nine days ago, so each takes effect at
its first step and then waits for its year's end. Not through enrollments: a hundred
thousand of them would take hours here, and the enrollment's own work is measured in the
``enrollment`` and ``parked`` scenarios.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from bench.api_load import Endpoints, login
from bench.parking import park
from bench.pipeline import BenchTimerWorkflow
from bench.stack import Stack
from db.models import Policy
from db.repositories import customers
from domain.enrollment import MaskedCustomer
from domain.policies import PolicyStage, PolicyStatus, Sealed, expires_at, has_cooling_off
from domain.products import get_product
from workflows import search_attributes as sa
from workflows.inputs import PolicyStart
from workflows.policy import PolicyWorkflow, workflow_id_for

PREFIX = "PB"
PRODUCT = "MEDICAL_1Y"
SUM_INSURED = Decimal("50000.00")
PREMIUM = Decimal("125.00")
CHUNK = 5_000
PAGE = 50
BARE = "worker_bare"  # the bare timers' worker process
TIMER_SECONDS = 365 * 86_400.0
HOLDER = MaskedCustomer(name="张*", id_number="1101**********123X", phone="138****0000")


@dataclass(frozen=True)
class IssuedPolicies:
    """Policies the bench issues together, as the enrollment issues them: numbered
    ``<prefix><i>``, one product, issued and effective at the same moments, all of one
    customer (the policy's process never reads the customer row), with or without an
    auto-debit account (sealed as the enrollment stores it)."""

    prefix: str
    product: str
    issued_at: datetime
    effective_at: datetime
    account: Sealed | None = None

    def number(self, i: int) -> str:
        return f"{self.prefix}{i:08d}"

    @property
    def expires_at(self) -> datetime:
        return expires_at(self.effective_at, get_product(self.product))


def in_force_policies(issued_at: datetime) -> IssuedPolicies:
    """This scenario's policies: MEDICAL_1Y issued at ``issued_at`` and effective a day
    later."""
    return IssuedPolicies(PREFIX, PRODUCT, issued_at, issued_at + timedelta(days=1))


async def insert_issued_policies(stack: Stack, batch: IssuedPolicies, count: int) -> str:
    """The policy rows the enrollment inserts at issue (status ``issued``), in bulk; the
    customer id."""
    async with stack.sessions() as session, session.begin():
        customer = await customers.upsert_customer(
            session,
            id_hash="bench-policies",
            id_number_enc="bench-not-encrypted",
            id_masked="110105********000X",
            name="保单客户",
            phone_enc="bench-not-encrypted",
            phone_masked="138****8000",
            email=None,
            birth_date=date(1985, 6, 1),
        )
        customer_id = customer.id
    account = batch.account
    for first in range(0, count, CHUNK):
        rows = [
            {
                "policy_number": batch.number(i),
                "application_no": f"E{batch.number(i)}",
                "customer_id": customer_id,
                "agent": "alice",
                "product_code": batch.product,
                "sum_insured": SUM_INSURED,
                "premium": PREMIUM,
                "status": "issued",
                "effective_at": batch.effective_at,
                "expires_at": batch.expires_at,
                "payment_account_enc": account.enc if account else None,
                "payment_account_masked": account.masked if account else None,
                # Distinct, so the listing's keyset order is that of the numbers.
                "created_at": batch.issued_at + timedelta(milliseconds=i),
                "updated_at": batch.issued_at,
            }
            for i in range(first, min(first + CHUNK, count))
        ]
        async with stack.sessions() as session, session.begin():
            await session.execute(insert(Policy), rows)
    return customer_id


def policy_start(batch: IssuedPolicies, i: int, customer_id: str, stack: Stack) -> PolicyStart:
    """What the enrollment's ``_start_policy`` hands the policy's process."""
    return PolicyStart(
        policy_number=batch.number(i),
        application_no=f"E{batch.number(i)}",
        agent="alice",
        customer_id=customer_id,
        holder=HOLDER,
        holder_birth_date=date(1985, 6, 1),
        product_code=batch.product,
        sum_insured=SUM_INSURED,
        premium=PREMIUM,
        issued_at=batch.issued_at,
        effective_at=batch.effective_at,
        expires_at=batch.expires_at,
        payment_account=batch.account.masked if batch.account else None,
        clocks=stack.settings.clocks,
    )


async def start_policy(stack: Stack, batch: IssuedPolicies, customer_id: str, i: int) -> None:
    """Start policy ``i``'s process on the real worker, searchable as the enrollment
    makes it."""
    cooling_off = has_cooling_off(get_product(batch.product))
    stage = PolicyStage.COOLING_OFF if cooling_off else PolicyStage.IN_FORCE
    await stack.client.start_workflow(
        PolicyWorkflow.run,
        policy_start(batch, i, customer_id, stack),
        id=workflow_id_for(batch.number(i)),
        task_queue=stack.task_queue,
        search_attributes=sa.at_start(
            "policy",
            "alice",
            stage.value,
            PolicyStatus.ISSUED.value,
            SUM_INSURED,
        ),
    )


async def effective_policies(stack: Stack, prefix: str) -> int:
    """Policy rows numbered ``<prefix>...`` their process has recorded in force and
    effective."""
    async with stack.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Policy)
            .where(Policy.policy_number.like(f"{prefix}%"))
            .where(Policy.status == "effective", Policy.stage == PolicyStage.IN_FORCE.value)
        )
    return int(count or 0)


async def _api_pages(stack: Stack, *, pages: int) -> dict[str, Any]:
    """With all parked: the policies' listing and the ops search, first pages and keyset
    pages, one request at a time."""
    endpoints = Endpoints()
    async with httpx.AsyncClient(base_url=stack.api_base, timeout=30) as http:
        sue, olga = await login(http, "sue"), await login(http, "olga")
        lookups: list[tuple[str, str, dict[str, str], dict[str, str | int]]] = [
            ("list_effective", "/v1/policies", sue, {"status": "effective", "limit": PAGE}),
            ("ops_search", "/v1/ops/workflows", olga, {"process": "policy", "limit": PAGE}),
        ]
        for name, url, headers, params in lookups:
            for _ in range(3):  # warm the connection and the caches
                await http.get(url, params=params, headers=headers)
            cursor: str | None = None
            for _ in range(pages):
                query = params | ({"cursor": cursor} if cursor else {})
                r = await endpoints.call(name, http.get(url, params=query, headers=headers))
                cursor = r.json().get("next_cursor")
    return endpoints.summary()


async def run_policies(
    stack: Stack, *, policies: int, concurrency: int, pages: int
) -> dict[str, Any]:
    client = stack.client
    # The bare side first, on its own worker process; then the policies on the real worker.
    bare_queue = await stack.start_timer_worker(BARE)
    await stack.wait_quiet("worker")

    async def start_bare(i: int) -> None:
        await client.start_workflow(
            BenchTimerWorkflow.run,
            TIMER_SECONDS,
            id=f"bench-timer-{i:08d}",
            task_queue=bare_queue,
        )

    stack.progress.say(f"policies: starting {policies} bare timer workflows")
    label = "policies: bare timers"
    bare = await park(stack, label, BARE, policies, concurrency, start_bare, None)

    batch = in_force_policies(datetime.now(UTC) - timedelta(days=10))
    stack.progress.say(f"policies: writing {policies} issued policy rows")
    began = time.monotonic()
    customer_id = await insert_issued_policies(stack, batch, policies)
    rows_s = time.monotonic() - began

    stack.progress.say(f"policies: starting {policies} PolicyWorkflows")
    policy = await park(
        stack,
        "policies: PolicyWorkflows",
        "worker",
        policies,
        concurrency,
        partial(start_policy, stack, batch, customer_id),
        partial(effective_policies, stack, PREFIX),
    )
    policy["rows_insert_s"] = round(rows_s, 1)
    with stack.sampler.window() as reading:
        api = await _api_pages(stack, pages=pages)
    return {
        "requested": policies,
        "worker_cache_workflows": stack.settings.worker_max_cached_workflows,
        "bare": bare,
        "policy": policy,
        "api": api,
        "api_window": reading.as_dict(),
    }
