"""Customers. The caller encrypts and masks personal data; the database never sees it raw."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Customer, new_id, utcnow
from db.upsert import insert_or_update


async def upsert_customer(
    session: AsyncSession,
    *,
    id_hash: str,
    id_number_enc: str,
    id_masked: str,
    name: str,
    phone_enc: str,
    phone_masked: str,
    email: str | None,
    birth_date: date,
) -> Customer:
    """The customer with this ID hash, created if new; contact details are refreshed."""
    now = utcnow()
    await insert_or_update(
        session,
        Customer,
        key="id_hash",
        values={
            "id": new_id(),
            "id_hash": id_hash,
            "id_number_enc": id_number_enc,
            "id_masked": id_masked,
            "name": name,
            "phone_enc": phone_enc,
            "phone_masked": phone_masked,
            "email": email,
            "birth_date": birth_date,
            "created_at": now,
            "updated_at": now,
        },
        update=("name", "phone_enc", "phone_masked", "email", "updated_at"),
    )
    written = await session.scalars(
        select(Customer)
        .where(Customer.id_hash == id_hash)
        .execution_options(populate_existing=True)
    )
    return written.one()


async def get_customer(session: AsyncSession, *, customer_id: str) -> Customer | None:
    """The customer with this id, or None."""
    return await session.get(Customer, customer_id)


async def get_customer_by_id_hash(session: AsyncSession, *, id_hash: str) -> Customer | None:
    """The customer whose national ID hashes to `id_hash`, or None."""
    return await session.scalar(select(Customer).where(Customer.id_hash == id_hash))


async def set_phone(
    session: AsyncSession, *, customer_id: str, phone_enc: str, phone_masked: str
) -> None:
    """The customer's new phone (already encrypted and masked); a repeat is harmless."""
    await session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(phone_enc=phone_enc, phone_masked=phone_masked, updated_at=utcnow())
    )
