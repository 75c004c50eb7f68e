"""Timestamps come back aware in UTC and money as exact decimals, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Quote
from db.repositories.quotes import save_quote

SHANGHAI = timezone(timedelta(hours=8))


async def reread(session: AsyncSession, quote_id: str) -> Quote:
    # Forget the objects in memory so the values come from the database.
    session.expunge_all()
    return (await session.scalars(select(Quote).where(Quote.quote_id == quote_id))).one()


async def test_datetimes_come_back_aware_in_utc(session: AsyncSession) -> None:
    valid_until = datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI)  # 30 Nov 16:00 UTC
    await save_quote(
        session,
        quote_id="Q1",
        application_no="A1",
        product_code="TERM_LIFE_20",
        sum_insured=Decimal("300000.00"),
        premium=Decimal("1234.56"),
        valid_until=valid_until,
    )
    quote = await reread(session, "Q1")
    assert quote.valid_until == valid_until
    assert quote.valid_until.tzinfo == UTC
    assert quote.valid_until.hour == 16
    assert quote.created_at.tzinfo == UTC
    assert abs(datetime.now(UTC) - quote.created_at) < timedelta(minutes=5)


async def test_sqlite_stores_utc_wall_time(session: AsyncSession) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's storage format only")
    await save_quote(
        session,
        quote_id="Q1",
        application_no="A1",
        product_code="TERM_LIFE_20",
        sum_insured=Decimal("300000.00"),
        premium=Decimal("1234.56"),
        valid_until=datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI),
    )
    stored = await session.scalar(text("SELECT valid_until FROM quote"))
    assert stored == "2026-11-30 16:00:00.000000"


async def test_a_naive_datetime_is_refused(session: AsyncSession) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await save_quote(
            session,
            quote_id="Q1",
            application_no="A1",
            product_code="TERM_LIFE_20",
            sum_insured=Decimal("300000.00"),
            premium=Decimal("1234.56"),
            valid_until=datetime(2026, 12, 1),
        )


async def test_money_round_trips_as_exact_decimals(session: AsyncSession) -> None:
    await save_quote(
        session,
        quote_id="Q1",
        application_no="A1",
        product_code="TERM_LIFE_20",
        sum_insured=Decimal("999999999999.99"),
        premium=Decimal("0.10"),
        valid_until=datetime(2026, 12, 1, tzinfo=UTC),
    )
    quote = await reread(session, "Q1")
    assert (quote.sum_insured, quote.premium) == (Decimal("999999999999.99"), Decimal("0.10"))
    assert isinstance(quote.premium, Decimal)
