"""bench/billing.py without a Temporal server: how T is chosen, how the bookings are timed
and the books counted, the rows and inputs that make installment 2 fall due at T, the
bare side's one step, and the report's ratios and target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bench.billing import (
    PREFIX,
    BareWakes,
    Policies,
    billing_day,
    count_books,
    drain,
    due_minute,
    pilot_size,
    twice,
)
from bench.policies import PREMIUM, IssuedPolicies, policy_start
from bench.report import build
from bench.timers import WAKE, WakeActivities
from core.config import Settings
from core.crypto import FieldCipher
from db.models import GatewayTransaction, PaymentLedger, Policy
from domain.policies import Sealed
from domain.premiums import installment_due_at
from tests.bench.test_report import ratio_values
from tests.bench.test_smoke import migrated_stack
from tests.support import TEST_KEYRING
from workflows.policy import _opening_state

T = datetime(2026, 12, 4, 2, 9, tzinfo=UTC)


def test_the_pilot_is_a_twentieth_of_a_side_and_at_least_twenty() -> None:
    assert [pilot_size(n) for n in (10_000, 1_000, 30, 7)] == [500, 50, 20, 7]


def test_t_is_the_first_whole_minute_after_all_would_be_parked_at_the_pilots_pace() -> None:
    now = datetime(2026, 12, 4, 12, 0, 10, tzinfo=UTC)
    # 1,000 at 50 per 5 s: 100 s, times 1.5, plus 30 s = 12:03:10, so 12:04.
    assert due_minute(now, count=1_000, pilot=50, pilot_s=5.0) == now.replace(minute=4, second=0)
    on_the_minute = datetime(2026, 12, 4, 11, 59, 30, tzinfo=UTC)
    assert due_minute(on_the_minute, count=0, pilot=20, pilot_s=1.0) == now.replace(
        minute=1, second=0
    )
    slow = due_minute(now, count=1_000, pilot=50, pilot_s=50.0)
    assert slow - now >= timedelta(seconds=1_530) and slow.second == slow.microsecond == 0


def test_installment_2_falls_due_at_t_a_year_after_the_effective_moment() -> None:
    effective_at, due = billing_day(T)
    assert due == T == installment_due_at(effective_at, 2)
    assert effective_at == T.replace(year=2025)
    # No policy year ends on 29 February in a common year: a year back is the 28th.
    leap = datetime(2028, 2, 29, 8, 0, tzinfo=UTC)
    assert billing_day(leap) == (datetime(2027, 2, 28, 8, 0, tzinfo=UTC), leap - timedelta(days=1))


def test_the_drain_times_each_booking_from_due_and_rates_them_to_the_last() -> None:
    booked = [T + timedelta(seconds=s) for s in (2.0, 0.5, 1.0, 1.5)]
    out = drain(T, booked)
    assert (out["booked"], out["drain_s"], out["drain_per_s"]) == (4, 2.0, 2.0)
    assert out["due_to_booked"]["p50_ms"] == 1250.0
    assert out["due_to_booked"]["p99_ms"] == 1985.0 and out["due_to_booked"]["max_ms"] == 2000.0
    assert drain(T, []) == {
        "booked": 0,
        "due_to_booked": {"count": 0, "errors": 0},
        "drain_s": 0.0,
        "drain_per_s": None,
    }


def test_the_books_count_collections_and_anyone_charged_twice() -> None:
    assert twice(["a", "b", "a", "c", "b", "a"]) == 2
    ledger = [
        ("premium:BD00000000:2", "succeeded"),
        ("premium:BD00000001:2", "declined"),
        ("premium:BD00000002:2", "succeeded"),
        ("premium:BD00000002:2", "succeeded"),
        ("premium:BD00000003:3", "succeeded"),
    ]
    charges = [
        "premium:BD00000000:2",
        "premium:BD00000001:2",
        "premium:BD00000002:2",
        "premium:BD00000003:3",
        "premium:BD00000004:2",
        "premium:BD00000004:2",
    ]
    assert count_books(ledger, charges, count=5) == {
        "collected": 3,
        "not_collected": 2,
        "ledger_rows": 4,
        "ledger_keys_twice": 1,
        "gateway_charges": 5,
        "gateway_keys_twice": 1,
        "other_installments_charged": 1,
        "charged_not_booked": 1,
    }
    clean = [f"premium:BD{i:08d}:2" for i in range(3)]
    books = count_books([(k, "succeeded") for k in clean], clean, count=3)
    assert books["not_collected"] == books["ledger_keys_twice"] == books["gateway_keys_twice"] == 0


async def test_the_policies_are_written_with_the_account_and_fall_due_at_t(tmp_path: Path) -> None:
    cipher = FieldCipher(TEST_KEYRING)
    account = Sealed(enc=cipher.encrypt("6222020200112233445"), masked="***************3445")
    effective_at, due = billing_day(T)
    async with migrated_stack(tmp_path) as stack:
        stack.settings = Settings(environment="test", data_dir=tmp_path)
        side = Policies(stack, account)
        await side.prepare(PREFIX, effective_at, due, 3)
        async with stack.sessions() as session:
            rows = (await session.scalars(select(Policy).order_by(Policy.policy_number))).all()
        assert [r.policy_number for r in rows] == ["BD00000000", "BD00000001", "BD00000002"]
        assert {cipher.decrypt(r.payment_account_enc or "") for r in rows} == {
            "6222020200112233445"
        }
        assert {(r.product_code, r.effective_at) for r in rows} == {("TERM_LIFE_20", effective_at)}
        async with stack.sessions() as session, session.begin():
            for i in range(2):  # two of the three debited
                key = f"premium:BD{i:08d}:2"
                money = {"idempotency_key": key, "amount": PREMIUM, "status": "succeeded"}
                at = T + timedelta(seconds=i + 1)
                session.add(
                    PaymentLedger(**money, kind="premium", case_id=key[8:18], created_at=at)
                )
                session.add(GatewayTransaction(**money, kind="charge", gateway_ref=f"G{i}"))
        assert await side.booked_count(PREFIX) == 2
        assert sorted(await side.booked(PREFIX)) == [T + timedelta(seconds=s) for s in (1, 2)]
        books = await side.books(PREFIX, 3)
        assert (books["collected"], books["not_collected"], books["gateway_charges"]) == (2, 1, 2)

    batch = IssuedPolicies(PREFIX, "TERM_LIFE_20", effective_at, effective_at, account)
    start = policy_start(batch, 0, "customer", stack)
    assert start.payment_account == "***************3445"
    state = _opening_state(start)
    assert state.installments and [p.n for p in state.payments] == [1]


async def test_the_bare_step_books_one_row_and_a_retry_no_more(tmp_path: Path) -> None:
    async with migrated_stack(tmp_path) as stack:
        assert stack.engine is not None
        async with stack.engine.begin() as connection:
            await connection.run_sync(WAKE.metadata.create_all)
        step = WakeActivities(stack.sessions)
        before = datetime.now(UTC)
        await step.bench_wake("BD00000000")
        await step.bench_wake("BD00000000")
        async with stack.sessions() as session, session.begin():
            await session.execute(insert(WAKE).values(key="BP00000000", created_at=T))
        side = BareWakes(stack, "queue")
        assert await side.booked_count(PREFIX) == 1
        [at] = await side.booked(PREFIX)
        assert before <= at <= datetime.now(UTC)
        assert side.parked(PREFIX) is None and await side.books(PREFIX, 1) == {}


def test_the_drain_rate_and_times_stand_beside_the_bare_workflows() -> None:
    def side(rate: float, p50: float, p99: float, cpu: float) -> dict[str, object]:
        return {
            "drain_per_s": rate,
            "due_to_booked": {"p50_ms": p50, "p99_ms": p99},
            "drain_cpu_per_workflow_ms": {"worker": cpu, "temporal": 10.0},
        }

    results = {
        "billing": {
            "policy": side(30.0, 900.0, 1800.0, 40.0),
            "bare": side(80.0, 300.0, 600.0, 10.0),
        }
    }
    assert ratio_values(results) == {
        "billing.drain_per_s_vs_bare": 0.375,
        "billing.p50_vs_bare": 3.0,
        "billing.p99_vs_bare": 3.0,
        "billing.worker_cpu_per_workflow_vs_bare": 4.0,
        "billing.server_cpu_per_workflow_vs_bare": 1.0,
    }
    [target] = build({}, results)["targets"]
    assert (target["name"], target["comparison"], target["target"]) == (
        "billing_drain_vs_bare",
        "at_least",
        0.5,
    )
    assert (target["measured"], target["measured_over_target"]) == (0.375, 0.75)
