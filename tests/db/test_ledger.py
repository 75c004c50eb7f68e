"""The payment ledger: the database itself refuses a second movement under one key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.errors import NotFound
from db.models import PaymentLedger, new_id
from db.repositories.ledger import (
    decline_entry,
    get_entry_by_key,
    get_entry_by_order,
    record_entry,
    settle_entry,
    settle_late_entry,
)


def raw_entry(key: str, *, order_id: str | None = None) -> dict[str, object]:
    return {
        "id": new_id(),
        "idempotency_key": key,
        "kind": "premium",
        "case_id": "A1",
        "amount": Decimal("100.00"),
        "status": "pending",
        "order_id": order_id,
    }


async def test_a_raw_second_insert_with_the_same_key_is_refused(session: AsyncSession) -> None:
    await session.execute(insert(PaymentLedger).values(**raw_entry("premium:A1")))
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await session.execute(insert(PaymentLedger).values(**raw_entry("premium:A1")))
    # The savepoint kept the transaction usable and the first row intact.
    entry = await get_entry_by_key(session, idempotency_key="premium:A1")
    assert entry is not None and entry.status == "pending"


async def test_one_order_cannot_carry_two_keys(session: AsyncSession) -> None:
    await record_entry(
        session,
        idempotency_key="premium:A1",
        kind="premium",
        case_id="A1",
        amount=Decimal("100.00"),
        status="pending",
        order_id="O1",
    )
    # The conflict target is the key only, so another unique clash is still an error.
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await record_entry(
                session,
                idempotency_key="premium:A2",
                kind="premium",
                case_id="A2",
                amount=Decimal("100.00"),
                status="pending",
                order_id="O1",
            )


async def test_an_unknown_kind_is_refused_by_the_database(session: AsyncSession) -> None:
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await session.execute(
                insert(PaymentLedger).values(**{**raw_entry("gift:A1"), "kind": "gift"})
            )


async def test_settle_entry_settles_a_pending_entry_once(session: AsyncSession) -> None:
    await record_entry(
        session,
        idempotency_key="premium:A1",
        kind="premium",
        case_id="A1",
        amount=Decimal("1234.50"),
        status="pending",
        order_id="O1",
    )
    settled = await settle_entry(session, idempotency_key="premium:A1", gateway_ref="G1")
    repeat = await settle_entry(session, idempotency_key="premium:A1", gateway_ref="G2")
    assert (settled.status, repeat.status, repeat.gateway_ref) == ("succeeded", "succeeded", "G1")
    by_order = await get_entry_by_order(session, order_id="O1")
    assert by_order is not None and by_order.id == settled.id
    # A settled entry is not declined afterwards.
    assert (await decline_entry(session, idempotency_key="premium:A1")).status == "succeeded"


async def test_a_late_payment_settles_a_pending_or_lapsed_order_once(
    session: AsyncSession,
) -> None:
    # Defect 4: money that arrives after the order lapsed is booked, whatever the order's
    # entry says (pending, or declined as lapsed unpaid), and only the first time.
    for key, order, status in (("premium:A1", "O1", "pending"), ("premium:A2", "O2", "declined")):
        await record_entry(
            session,
            idempotency_key=key,
            kind="premium",
            case_id=key[-2:],
            amount=Decimal("100.00"),
            status=status,
            order_id=order,
        )
        late = await settle_late_entry(session, idempotency_key=key, gateway_ref="GW-LATE")
        repeat = await settle_late_entry(session, idempotency_key=key, gateway_ref="GW-OTHER")
        assert (late.status, late.gateway_ref) == ("succeeded", "GW-LATE")
        assert (repeat.status, repeat.gateway_ref) == ("succeeded", "GW-LATE")
    with pytest.raises(NotFound):
        await settle_late_entry(session, idempotency_key="premium:nope", gateway_ref="G1")
    # The ordinary settlement still only settles a pending entry.
    await record_entry(
        session,
        idempotency_key="premium:A3",
        kind="premium",
        case_id="A3",
        amount=Decimal("100.00"),
        status="declined",
        order_id="O3",
    )
    kept = await settle_entry(session, idempotency_key="premium:A3", gateway_ref="G3")
    assert (kept.status, kept.gateway_ref) == ("declined", None)


async def test_decline_and_settle_of_an_unknown_key_raise(session: AsyncSession) -> None:
    with pytest.raises(NotFound):
        await settle_entry(session, idempotency_key="premium:nope", gateway_ref="G1")
    with pytest.raises(NotFound):
        await decline_entry(session, idempotency_key="premium:nope")
    assert await get_entry_by_order(session, order_id="nope") is None
