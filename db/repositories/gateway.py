"""The simulated payment gateway's own book of transactions."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import GatewayTransaction, new_id
from db.upsert import insert_or_ignore


async def get_transaction(
    session: AsyncSession, *, idempotency_key: str
) -> GatewayTransaction | None:
    """The gateway's transaction for this idempotency key, or None."""
    query = select(GatewayTransaction).where(GatewayTransaction.idempotency_key == idempotency_key)
    return await session.scalar(query)


async def insert_transaction(
    session: AsyncSession,
    *,
    idempotency_key: str,
    kind: str,
    amount: Decimal,
    status: str,
    gateway_ref: str,
    account_last4: str | None = None,
) -> GatewayTransaction:
    """Book a transaction once; a repeat with the same key returns the first one."""
    await insert_or_ignore(
        session,
        GatewayTransaction,
        key="idempotency_key",
        values={
            "id": new_id(),
            "idempotency_key": idempotency_key,
            "kind": kind,
            "amount": amount,
            "status": status,
            "gateway_ref": gateway_ref,
            "account_last4": account_last4,
        },
    )
    query = select(GatewayTransaction).where(GatewayTransaction.idempotency_key == idempotency_key)
    return (await session.scalars(query)).one()
