"""Our payment ledger. A UNIQUE idempotency key makes each money movement happen once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.errors import NotFound
from db.models import PaymentLedger, new_id
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


async def decline_entry(session: AsyncSession, *, idempotency_key: str) -> PaymentLedger:
    """Mark a pending entry declined (refused, or lapsed unpaid). Raises NotFound."""
    return await _transition(session, idempotency_key, status="declined")


async def count_entries(session: AsyncSession, *, idempotency_key: str) -> int:
    """How many entries carry this key: 0 or 1, as the UNIQUE constraint guarantees."""
    query = select(func.count()).where(PaymentLedger.idempotency_key == idempotency_key)
    return int(await session.scalar(query) or 0)


async def _transition(session: AsyncSession, idempotency_key: str, **values: Any) -> PaymentLedger:
    await session.execute(
        update(PaymentLedger)
        .where(
            PaymentLedger.idempotency_key == idempotency_key,
            PaymentLedger.status == "pending",
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
