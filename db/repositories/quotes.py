"""Quotes given during consultation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Quote
from db.upsert import insert_or_ignore
from domain.activities import QuoteRecord


async def save_quote(
    session: AsyncSession,
    *,
    quote_id: str,
    application_no: str,
    product_code: str,
    sum_insured: Decimal,
    premium: Decimal,
    valid_until: datetime,
) -> Quote:
    """Store a quote once; a repeat with the same quote_id returns the stored one."""
    await insert_or_ignore(
        session,
        Quote,
        key="quote_id",
        values={
            "quote_id": quote_id,
            "application_no": application_no,
            "product_code": product_code,
            "sum_insured": sum_insured,
            "premium": premium,
            "valid_until": valid_until,
        },
    )
    return (await session.scalars(select(Quote).where(Quote.quote_id == quote_id))).one()


async def get_quote(session: AsyncSession, *, quote_id: str) -> Quote | None:
    """The quote with this id, or None."""
    return await session.get(Quote, quote_id)


async def list_quotes(session: AsyncSession, *, application_no: str) -> list[Quote]:
    """The quotes of one application, oldest first."""
    query = (
        select(Quote)
        .where(Quote.application_no == application_no)
        .order_by(Quote.created_at, Quote.quote_id)
    )
    return list(await session.scalars(query))


async def save_quote_record(session: AsyncSession, *, record: QuoteRecord) -> Quote:
    """``save_quote`` for a process's quote record."""
    q = record.quote
    return await save_quote(
        session,
        quote_id=q.quote_id,
        application_no=record.application_no,
        product_code=q.product_code,
        sum_insured=q.sum_insured,
        premium=q.premium,
        valid_until=q.valid_until,
    )
