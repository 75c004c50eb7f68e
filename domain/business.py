"""Where the business is: its time zone (Asia/Shanghai, UTC+8 with no daylight saving)
and how it writes money. The one definition every layer uses."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def business_today(now: datetime) -> date:
    """The date in Shanghai at ``now`` (an aware moment)."""
    return now.astimezone(SHANGHAI).date()


def money(value: Any) -> str:
    """``¥1,234.00``; empty for nothing, and anything that is not a number as it is."""
    if value is None or value == "":
        return ""
    try:
        return f"¥{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)
