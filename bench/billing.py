"""A billing day (issue 15): ``billing`` policies whose second premium falls due in the
same minute T, each debited by its own process on the real worker, beside as many bare
workflows that wake from a timer at their T and run one activity, in the same run.

The policies are TERM_LIFE_20 with an auto-debit account, stood as the integration tests
stand one (tests/integration/conftest.py ``policy_on_queue``): the policy row written
with the account encrypted by the worker's keyring (FieldCipher), then the process
started with ``effective_at`` a year before T, so that installment 2 falls due at T
(domain.premiums.installment_due_at) without a short policy year. Started, each goes
through its long-past cooling-off period, takes effect and sends its premium reminder,
then waits for T. At T it debits installment 2 (``charge_installment``: the policy row
read, the account decrypted, the gateway simulator charged under
``premium:<number>:2``, one ledger row) and, T being its anniversary, continues as new
into its second policy year.

The bare side is bench.pipeline.BenchWake on a worker process of its own (``python -m
bench.timers --wake``, ``worker_wake``, with the real worker's client, cache and slots):
it sleeps until its T, then runs ``bench_wake``: one INSERT, committed, into a scratch
table (``bench_wake``) of the read model's SQLite file, the file the ledger is in — one
write transaction, where the debit makes three reads and two (the gateway's book, then
the ledger).

The bare side goes first, then the policies, each with a T of its own so that the two
drains never overlap, each started and parked the same way (bench.parking.park: 50 at a
time, waited for until parked and its worker quiet).

How T is chosen: a policy's due moment is in its start input, so T must be fixed before
the first of them starts — far enough ahead that all of them are parked by then, but not
so far that the run idles. A fixed allowance would be wrong by several times on a shared
machine, so each side first parks a pilot (a twentieth of N, at least 20) the same way,
due a day later (it never fires in the run), and times it from its first row written
until it is parked and its worker quiet. T is then the first whole minute after now plus
N times that pace, times 1.5, plus 30 s (``due_minute``). ``spare_s`` says how much time
was left between all parked and T; below 0, some were still starting at T. (No policy has
its second premium due on 29 February: on that day T falls a day back, in the past.)

Measured on each side, from the rows' own timestamps (the worker's clock; the server fires
the timers on the same machine): how many were booked, the time from T to each booking
(p50/p99), and the drain rate, N ÷ the seconds from T to the last booking. On the policy
side also the books: ledger rows under ``premium:<number>:2`` collected, keys with more
than one ledger row or gateway transaction, charges of any other installment, and charges
without a booking. The result is the drain rate of the policies ÷ that of the bare
workflows (bench.report: ``ratio.billing.drain_per_s_vs_bare``, target at least 0.5).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, select

from bench.parking import park, per_workflow_ms
from bench.pipeline import BenchWakeWorkflow, Wake
from bench.policies import (
    IssuedPolicies,
    effective_policies,
    insert_issued_policies,
    start_policy,
)
from bench.stack import Stack
from bench.stats import Latencies
from bench.timers import WAKE
from core.crypto import FieldCipher
from core.keys import parse_keys
from db.models import GatewayTransaction, PaymentLedger
from domain.masking import mask_account
from domain.policies import Sealed, add_years
from domain.premiums import installment_due_at

PREFIX, PILOT_PREFIX = "BD", "BP"  # the billing day's numbers and keys, the pilot's
PRODUCT = "TERM_LIFE_20"
INSTALLMENT = 2
ACCOUNT = "6222020200112233445"
WAKE_WORKER = "worker_wake"  # the bare workflows' worker process
SAFETY = 1.5
MARGIN = timedelta(seconds=30)
PILOT_DUE = timedelta(days=1)
POLL_S = 1.0

Start = Callable[[int], Awaitable[None]]


def pilot_size(count: int) -> int:
    """How many of a side the pilot parks: a twentieth, at least 20, at most all."""
    return min(count, max(20, count // 20))


def due_minute(
    now: datetime,
    *,
    count: int,
    pilot: int,
    pilot_s: float,
    safety: float = SAFETY,
    margin: timedelta = MARGIN,
) -> datetime:
    """T: the first whole minute after ``now`` plus the time ``count`` workflows take to be
    written, started and parked at the pilot's pace (``pilot`` of them in ``pilot_s``),
    times ``safety``, plus ``margin``."""
    ready = now + timedelta(seconds=count * pilot_s / max(pilot, 1) * safety) + margin
    return ready.replace(second=0, microsecond=0) + timedelta(minutes=1)


def billing_day(minute: datetime) -> tuple[datetime, datetime]:
    """The effective moment that makes installment 2 fall due at ``minute``, and the moment
    it falls due (``minute``, but on a 29 February)."""
    effective_at = add_years(minute, -1)
    return effective_at, installment_due_at(effective_at, INSTALLMENT)


def twice(keys: Iterable[str]) -> int:
    """How many keys occur more than once."""
    return sum(1 for n in Counter(keys).values() if n > 1)


def count_books(ledger: list[tuple[str, str]], charges: list[str], *, count: int) -> dict[str, int]:
    """What the ledger (its keys and statuses) and the gateway's charges (their keys) say
    of the ``count`` policies' installment 2: collected, and nobody charged twice."""
    suffix = f":{INSTALLMENT}"
    due = [status for key, status in ledger if key.endswith(suffix)]
    collected = due.count("succeeded")
    return {
        "collected": collected,
        "not_collected": count - collected,
        "ledger_rows": len(due),
        "ledger_keys_twice": twice(key for key, _ in ledger),
        "gateway_charges": sum(key.endswith(suffix) for key in charges),
        "gateway_keys_twice": twice(charges),
        "other_installments_charged": sum(not key.endswith(suffix) for key in charges),
        "charged_not_booked": len(set(charges) - {key for key, _ in ledger}),
    }


def drain(due: datetime, booked: list[datetime]) -> dict[str, Any]:
    """The bookings against the due moment: how many, the time from due to each, and the
    drain rate (bookings ÷ the seconds from due to the last)."""
    since = Latencies()
    for at in booked:
        since.add((at - due).total_seconds())
    drain_s = (max(booked) - due).total_seconds() if booked else 0.0
    return {
        "booked": len(booked),
        "due_to_booked": since.summary(),
        "drain_s": round(drain_s, 2),
        "drain_per_s": round(len(booked) / drain_s, 2) if drain_s > 0 else None,
    }


class Side(Protocol):
    """One side of the billing day: how its workflows start, park and book."""

    name: str
    worker: str

    async def prepare(
        self, prefix: str, effective_at: datetime, due: datetime, count: int
    ) -> Start: ...

    def parked(self, prefix: str) -> Callable[[], Awaitable[int]] | None: ...

    async def booked(self, prefix: str) -> list[datetime]: ...

    async def booked_count(self, prefix: str) -> int: ...

    async def books(self, prefix: str, count: int) -> dict[str, int]: ...


@dataclass
class BareWakes:
    """BenchWake workflows on ``queue``, each booking one row of the scratch table."""

    stack: Stack
    queue: str
    name: str = "bare"
    worker: str = WAKE_WORKER

    async def prepare(
        self, prefix: str, effective_at: datetime, due: datetime, count: int
    ) -> Start:
        async def start(i: int) -> None:
            await self.stack.client.start_workflow(
                BenchWakeWorkflow.run,
                Wake(key=f"{prefix}{i:08d}", due_at=due),
                id=f"bench-wake-{prefix}{i:08d}",
                task_queue=self.queue,
            )

        return start

    def parked(self, prefix: str) -> None:
        return None  # parked once started and their worker is quiet

    async def booked(self, prefix: str) -> list[datetime]:
        query = select(WAKE.c.created_at).where(WAKE.c.key.like(f"{prefix}%"))
        async with self.stack.sessions() as session:
            return list((await session.scalars(query)).all())

    async def booked_count(self, prefix: str) -> int:
        query = select(func.count()).select_from(WAKE).where(WAKE.c.key.like(f"{prefix}%"))
        async with self.stack.sessions() as session:
            return int(await session.scalar(query) or 0)

    async def books(self, prefix: str, count: int) -> dict[str, int]:
        return {}


@dataclass
class Policies:
    """TERM_LIFE_20 policies on the real worker, debited from ``account``."""

    stack: Stack
    account: Sealed
    name: str = "policy"
    worker: str = "worker"

    async def prepare(
        self, prefix: str, effective_at: datetime, due: datetime, count: int
    ) -> Start:
        batch = IssuedPolicies(prefix, PRODUCT, effective_at, effective_at, self.account)
        customer_id = await insert_issued_policies(self.stack, batch, count)
        return partial(start_policy, self.stack, batch, customer_id)

    def parked(self, prefix: str) -> Callable[[], Awaitable[int]]:
        return partial(effective_policies, self.stack, prefix)

    def _due_rows(self, prefix: str) -> ColumnElement[bool]:
        return PaymentLedger.idempotency_key.like(f"premium:{prefix}%:{INSTALLMENT}")

    async def booked(self, prefix: str) -> list[datetime]:
        query = select(PaymentLedger.created_at).where(self._due_rows(prefix))
        async with self.stack.sessions() as session:
            return list((await session.scalars(query)).all())

    async def booked_count(self, prefix: str) -> int:
        query = select(func.count()).select_from(PaymentLedger).where(self._due_rows(prefix))
        async with self.stack.sessions() as session:
            return int(await session.scalar(query) or 0)

    async def books(self, prefix: str, count: int) -> dict[str, int]:
        keys = f"premium:{prefix}%"
        async with self.stack.sessions() as session:
            ledger = await session.execute(
                select(PaymentLedger.idempotency_key, PaymentLedger.status).where(
                    PaymentLedger.idempotency_key.like(keys)
                )
            )
            charges = await session.scalars(
                select(GatewayTransaction.idempotency_key)
                .where(GatewayTransaction.idempotency_key.like(keys))
                .where(GatewayTransaction.kind == "charge")
            )
            rows = [(key, status) for key, status in ledger.all()]
            return count_books(rows, list(charges.all()), count=count)


async def _wait_booked(stack: Stack, side: Side, count: int) -> int:
    """Poll until ``count`` bookings are in (or a deadline passes); how many are."""
    deadline = time.monotonic() + max(300.0, count * 0.2)
    said = time.monotonic()
    booked = await side.booked_count(PREFIX)
    while booked < count and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
        booked = await side.booked_count(PREFIX)
        if time.monotonic() - said >= 10:
            said = time.monotonic()
            stack.progress.say(f"billing: {side.name}: {booked}/{count} booked")
    return booked


async def _billing_day(stack: Stack, side: Side, count: int, concurrency: int) -> dict[str, Any]:
    """One side's pilot, its T, its workflows parked, then its drain from T."""
    say, label = stack.progress.say, f"billing: {side.name}"
    pilot = pilot_size(count)
    began = time.monotonic()
    effective_at, due = billing_day(datetime.now(UTC).replace(second=0, microsecond=0) + PILOT_DUE)
    start = await side.prepare(PILOT_PREFIX, effective_at, due, pilot)
    await park(
        stack, f"{label} pilot", side.worker, pilot, concurrency, start, side.parked(PILOT_PREFIX)
    )
    pilot_s = time.monotonic() - began

    chosen_at = datetime.now(UTC)
    effective_at, due = billing_day(
        due_minute(chosen_at, count=count, pilot=pilot, pilot_s=pilot_s)
    )
    lead_s = (due - chosen_at).total_seconds()
    say(f"{label}: {count} due at {due:%H:%M:%S} UTC, {lead_s:.0f} s ahead")
    began = time.monotonic()
    start = await side.prepare(PREFIX, effective_at, due, count)
    prepare_s = time.monotonic() - began
    parking = await park(stack, label, side.worker, count, concurrency, start, side.parked(PREFIX))
    spare_s = (due - datetime.now(UTC)).total_seconds()
    say(f"{label}: parked, {spare_s:.0f} s before they fall due")
    await asyncio.sleep(max(0.0, spare_s))

    with stack.sampler.window() as window:
        booked = await _wait_booked(stack, side, count)
    say(f"{label}: {booked}/{count} booked")
    drained = drain(due, await side.booked(PREFIX))
    figures = await side.books(PREFIX, count)
    await stack.wait_quiet(side.worker)
    processes = {side.worker: "worker", "temporal": "temporal"}
    return {
        "pilot": {
            "workflows": pilot,
            "ready_s": round(pilot_s, 1),
            "ready_per_s": round(pilot / pilot_s, 2) if pilot_s else None,
        },
        "due_at": due.isoformat(),
        "lead_s": round(lead_s, 1),
        "prepare_s": round(prepare_s, 2),
        "parking": parking,
        "spare_s": round(spare_s, 1),
        **drained,
        **figures,
        "drain_cpu_per_workflow_ms": {
            key: per_workflow_ms(window, name, drained["booked"]) for name, key in processes.items()
        },
        "drain_window": window.as_dict(),
    }


async def run_billing(stack: Stack, *, policies: int, concurrency: int) -> dict[str, Any]:
    """The billing day of ``policies`` policies, and of as many bare workflows first, each
    side started ``concurrency`` at a time; the figures keyed ``bare`` and ``policy``."""
    assert stack.engine is not None
    async with stack.engine.begin() as connection:
        await connection.run_sync(WAKE.metadata.create_all)
    queue = await stack.start_timer_worker(WAKE_WORKER, "--wake")
    await stack.wait_quiet("worker")
    cipher = FieldCipher(parse_keys(stack.codec_keys))
    account = Sealed(enc=cipher.encrypt(ACCOUNT), masked=mask_account(ACCOUNT))
    sides: list[Side] = [BareWakes(stack, queue), Policies(stack, account)]
    out: dict[str, Any] = {
        "requested": policies,
        "worker_cache_workflows": stack.settings.worker_max_cached_workflows,
    }
    for side in sides:
        stack.progress.say(f"billing: {side.name}: a pilot, then {policies} due in one minute")
        out[side.name] = await _billing_day(stack, side, policies, concurrency)
    return out
