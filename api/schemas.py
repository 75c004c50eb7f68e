"""Base schemas shared by every route: strict request bodies, money, lists.

Schemas follow ``XCreate`` (request body) / ``XRead`` (response) naming. Request bodies
derive from ``StrictModel`` so an unknown field is a 422, never silently dropped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

CENT = Decimal("0.01")
T = TypeVar("T")


def _money_text(value: Decimal) -> str:
    return str(value.quantize(CENT))


# A CNY amount. In: a decimal string or number with at most two decimal places. Out: a
# decimal string with exactly two ("300000.00"), as API.md requires.
Money = Annotated[
    Decimal,
    Field(max_digits=14, decimal_places=2, examples=["250000.00"]),
    PlainSerializer(_money_text, return_type=str, when_used="json"),
]


class StrictModel(BaseModel):
    """Base of request bodies: unknown fields are rejected (422 ``validation_error``)."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """A list answer: ``{"items": [...], "next_cursor": "..." | null}``."""

    items: list[T]
    next_cursor: str | None = None
