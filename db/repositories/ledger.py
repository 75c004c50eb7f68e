"""Our payment ledger. A UNIQUE idempotency key makes each money movement happen once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.errors import NotFound
from db.models import PaymentLedger, new_id
from db.repositories.policies import add_to_paid
from db.upsert import insert_or_ignore


async def record_entry(
    session: AsyncSession,
    *,
    idempotency_key: str,
    kind: str,
    case_id: str,
    amount: Decimal,
    status: str,
    gateway_ref: str | None = None,
    order_id: str | None = None,
) -> PaymentLedger:
    """Record a money movement once; a repeat with the same key returns the first entry."""
    await insert_or_ignore(
        session,
        PaymentLedger,
        key="idempotency_key",
        values={
            "id": new_id(),
            "idempotency_key": idempotency_key,
            "kind": kind,
            "case_id": case_id,
            "amount": amount,
            "status": status,
            "gateway_ref": gateway_ref,
            "order_id": order_id,
        },
    )
    return await _reload(session, PaymentLedger.idempotency_key == idempotency_key)


async def get_entry_by_key(session: AsyncSession, *, idempotency_key: str) -> PaymentLedger | None:
    """The entry with this idempotency key, or None."""
    query = select(PaymentLedger).where(PaymentLedger.idempotency_key == idempotency_key)
    return await session.scalar(query)


async def get_entry_by_order(session: AsyncSession, *, order_id: str) -> PaymentLedger | None:
    """The entry of this payment order, or None."""
    return await session.scalar(select(PaymentLedger).where(PaymentLedger.order_id == order_id))


async def settle_entry(
    session: AsyncSession, *, idempotency_key: str, gateway_ref: str
) -> PaymentLedger:
    """Mark a pending entry succeeded with the gateway's reference.

    Only a pending entry changes, so a repeated callback keeps the first settlement; the
    caller reads the returned status. Raises NotFound.
    """
    return await _transition(session, idempotency_key, status="succeeded", gateway_ref=gateway_ref)


async def settle_late_entry(
    session: AsyncSession, *, idempotency_key: str, gateway_ref: str
) -> PaymentLedger:
    """Mark a payment order's entry succeeded when the money arrived after the process
    stopped waiting for it (lapsed, withdrawn, ended): the entry may still be pending or
    already declined as lapsed unpaid, and either way the money was received.

    A succeeded entry keeps its first settlement, so a repeated callback changes nothing.
    Raises NotFound.
    """
    return await _transition(
        session,
        idempotency_key,
        from_statuses=("pending", "declined"),
        status="succeeded",
        gateway_ref=gateway_ref,
    )


async def decline_entry(session: AsyncSession, *, idempotency_key: str) -> PaymentLedger:
    """Mark a pending entry declined (refused, or lapsed unpaid). Raises NotFound."""
    return await _transition(session, idempotency_key, status="declined")


async def count_entries(session: AsyncSession, *, idempotency_key: str) -> int:
    """How many entries carry this key: 0 or 1, as the UNIQUE constraint guarantees."""
    query = select(func.count()).where(PaymentLedger.idempotency_key == idempotency_key)
    return int(await session.scalar(query) or 0)


async def record_payout(
    session: AsyncSession,
    *,
    idempotency_key: str,
    case_id: str,
    policy_number: str,
    amount: Decimal,
    status: str,
    gateway_ref: str | None,
    against_cover: bool = True,
) -> PaymentLedger:
    """Record a claim payout once and count it against the policy's sum insured (not
    ``against_cover``: a policy's cash value paid out, which no claim draws on).

    The first call with a key inserts the entry and, when the payout `succeeded`, raises the
    policy's paid to date by `amount`, both in one savepoint so they stand or fall together.
    A repeat with the same key (an activity retried) returns the first entry and changes
    nothing. A payout is recorded with its outcome, `succeeded` or `declined`: a `pending`
    one is refused, because settling it later would never reach paid to date. Raises
    ValueError for those and for a non-positive amount, NotFound for an unknown policy.
    """
    if status not in ("succeeded", "declined"):
        raise ValueError(f"a payout is recorded succeeded or declined, not {status!r}")
    if amount <= 0:
        raise ValueError("a payout amount must be positive")
    entry_id = new_id()
    async with session.begin_nested():
        await insert_or_ignore(
            session,
            PaymentLedger,
            key="idempotency_key",
            values={
                "id": entry_id,
                "idempotency_key": idempotency_key,
                "kind": "payout",
                "case_id": case_id,
                "amount": amount,
                "status": status,
                "gateway_ref": gateway_ref,
            },
        )
        entry = await _reload(session, PaymentLedger.idempotency_key == idempotency_key)
        # Our fresh id on the stored row means this call inserted it; a repeat (or the loser
        # of a race, which waits for the winner's commit) finds the first call's id instead.
        if entry.id == entry_id and entry.status == "succeeded" and against_cover:
            await add_to_paid(session, policy_number=policy_number, amount=amount)
    return entry


async def payouts_for_case(session: AsyncSession, *, case_id: str) -> list[PaymentLedger]:
    """The payout entries of a case (a claim number), oldest first."""
    query = (
        select(PaymentLedger)
        .where(PaymentLedger.case_id == case_id, PaymentLedger.kind == "payout")
        .order_by(PaymentLedger.created_at, PaymentLedger.id)
    )
    return list(await session.scalars(query))


async def _transition(
    session: AsyncSession,
    idempotency_key: str,
    *,
    from_statuses: tuple[str, ...] = ("pending",),
    **values: Any,
) -> PaymentLedger:
    await session.execute(
        update(PaymentLedger)
        .where(
            PaymentLedger.idempotency_key == idempotency_key,
            PaymentLedger.status.in_(from_statuses),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return await _reload(session, PaymentLedger.idempotency_key == idempotency_key)


async def _reload(session: AsyncSession, condition: Any) -> PaymentLedger:
    query = select(PaymentLedger).where(condition).execution_options(populate_existing=True)
    entry = await session.scalar(query)
    if entry is None:
        raise NotFound("no ledger entry with this idempotency key")
    return entry


async def entries_for_case(session: AsyncSession, *, case_id: str) -> list[PaymentLedger]:
    """Every money movement of one case (premium, refund, payout), oldest first."""
    query = (
        select(PaymentLedger)
        .where(PaymentLedger.case_id == case_id)
        .order_by(PaymentLedger.created_at, PaymentLedger.id)
    )
    return list(await session.scalars(query))
