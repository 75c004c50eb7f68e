"""Base schemas shared by every route: strict request bodies, money, lists.

Schemas follow ``XCreate`` (request body) / ``XRead`` (response) naming. Request bodies
derive from ``StrictModel`` so an unknown field is a 422, never silently dropped.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

from domain.policies import CHECKLIST_ITEMS
from services.tasks import DecisionAsked

CENT = Decimal("0.01")
T = TypeVar("T")

# ASCII digits only (``\d`` would match full-width digits too), an optional sign, at
# most two decimals.
_MONEY_RE = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$", re.ASCII)
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", re.ASCII)
# Line breaks and tabs are text in a description; every other control character is not.
_TEXT_CONTROLS_ALLOWED = frozenset("\n\r\t")


def _money_text(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _money_in(value: Any) -> Any:
    """A money value as a client sends it: a string or JSON number written in plain ASCII
    digits with at most two decimals. Exponent notation ("1E+6"), full-width or other
    non-ASCII digits, NaN and infinities are refused; the value is normalised to cents, so
    it is echoed back as "200000.50" however it came in. A ``Decimal`` built by the
    application itself passes through unchanged."""
    if isinstance(value, bool):
        raise ValueError("an amount is a decimal number, not a boolean")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)  # 1e+16 and beyond print as exponents: refused below
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError("an amount is a decimal string or number")
    if not _MONEY_RE.match(text):
        raise ValueError(
            'an amount is plain ASCII digits with at most two decimals, e.g. "250000.00"'
        )
    return Decimal(text).quantize(CENT)


# A CNY amount. In: a decimal string or number in ASCII digits with at most two decimal
# places (see _money_in). Out: a decimal string with exactly two ("300000.00"), as docs/api.md
# says. Every money field of a request body uses this one type.
Money = Annotated[
    Decimal,
    BeforeValidator(_money_in),
    Field(max_digits=14, decimal_places=2, examples=["250000.00"]),
    PlainSerializer(_money_text, return_type=str, when_used="json"),
]


def _strict_date(value: Any) -> Any:
    if isinstance(value, str) and not _DATE_RE.match(value):
        raise ValueError("a date is YYYY-MM-DD, without a time")
    if not isinstance(value, (str, date)):
        raise ValueError("a date is a YYYY-MM-DD string")
    return value


# A calendar date exactly as "YYYY-MM-DD": a time part ("2026-11-01T10:00:00") or a
# timestamp number is refused rather than silently truncated.
StrictDate = Annotated[date, BeforeValidator(_strict_date)]


def _controls(value: str, allowed: frozenset[str]) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in value)


def _name_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if _controls(value, frozenset()):
        raise ValueError("must not contain control characters")
    return value


def _free_text(value: str) -> str:
    if _controls(value, _TEXT_CONTROLS_ALLOWED):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return value


def _required_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return _free_text(value)


# A one-line name: not blank, no control character at all.
NameText = Annotated[str, AfterValidator(_name_text)]
# Free text (a description, a reason): line breaks and tabs allowed, other control
# characters refused. RequiredText must also have something besides spaces.
FreeText = Annotated[str, AfterValidator(_free_text)]
RequiredText = Annotated[str, AfterValidator(_required_text)]


class StrictModel(BaseModel):
    """Base of request bodies: unknown fields are rejected (422 ``validation_error``)."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """A list answer: ``{"items": [...], "next_cursor": "..." | null}``."""

    items: list[T]
    next_cursor: str | None = None


# The bodies a JSON route and a console form both take: one model, so both validate alike.


class Checklist(StrictModel):
    """The return visit's seven items (docs/policies.md); a single-premium policy's visit
    does not ask `payment_terms_understood`."""

    policyholder_reached: bool = False
    purchase_and_signature: bool = False
    documents_read: bool = False
    cover_understood: bool = False
    surrender_loss_understood: bool = False
    cooling_off_explained: bool = False
    payment_terms_understood: bool = False


assert tuple(Checklist.model_fields) == CHECKLIST_ITEMS  # one list of items


class DecisionCreate(StrictModel):
    """A decision on a task (POST /v1/tasks/{id}/decision, the inbox form): a supervisor's
    `approve`, `reject` or `request_info`; customer service's return visit (`completed`,
    `unreachable`, `misselling`, with its checklist) or remediation (`resolved`)."""

    decision: Literal[
        "approve", "reject", "request_info", "completed", "unreachable", "misselling", "resolved"
    ]
    reason: RequiredText = Field(min_length=1, max_length=2000)
    amount: Annotated[Money, Field(gt=0)] | None = Field(
        default=None,
        description="Claims: approve less than assessed (never more)",
    )
    missing: list[str] = Field(
        default=[], max_length=20, description="Claims, with `request_info`: the document kinds"
    )
    checklist: Checklist | None = Field(
        default=None, description="Return visits: the items the customer confirmed"
    )
    dual_recording_checked: bool | None = Field(
        default=None, description="Return visits of a buyer aged 60 or over (双录)"
    )

    def asked(self) -> DecisionAsked:
        return DecisionAsked(
            self.decision,
            self.reason,
            self.amount,
            tuple(self.missing),
            checklist=self.checklist.model_dump() if self.checklist else None,
            dual_recording_checked=self.dual_recording_checked,
        )


class OpsActionCreate(StrictModel):
    """Why ops cancel or terminate a process (the ops routes and pages)."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
