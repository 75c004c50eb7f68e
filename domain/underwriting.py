"""Underwriting routing and the authority rules for human decisions."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.products import Product

SYSTEM = "system"
# Applicants within this many years of a product's maximum age are flagged for a person.
SENIOR_MARGIN_YEARS = 5


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    OPS = "ops"
    ADMIN = "admin"
    SERVICE = "service"  # customer service: return visits, complaints intake, data requests


class Actor(BaseModel):
    """Who acts, as the API authenticated them."""

    model_config = ConfigDict(frozen=True)
    username: str
    roles: tuple[Role, ...] = ()
    approval_limit: Decimal = Decimal("0")

    def has(self, role: Role) -> bool:
        return role in self.roles


class Route(BaseModel):
    auto_approve: bool
    reasons: list[str]


def risk_flags(product: Product, *, age: int, declared_conditions: list[str]) -> list[str]:
    """Facts about an applicant that a person should weigh; none means rules may decide."""
    flags: list[str] = []
    if age > product.max_age - SENIOR_MARGIN_YEARS:
        flags.append("near_max_age")
    if declared_conditions:
        flags.append("declared_health_conditions")
    return flags


def route_underwriting(product: Product, *, sum_insured: Decimal, flags: list[str]) -> Route:
    """Auto-approve within the product's limit with no flag; otherwise a person decides."""
    reasons = list(flags)
    if sum_insured > product.auto_underwriting_limit:
        reasons.append("above_auto_underwriting_limit")
    return Route(auto_approve=not reasons, reasons=reasons)


def decision_refusal(
    actor: Actor, *, amount: Decimal, submitted_by: str, participants: Collection[str] = ()
) -> str | None:
    """The API code refusing ``actor``'s decision on a case, or None when they may decide.

    Order: a non-supervisor is refused for that before anything else; then nobody decides
    a case they submitted or took any other step in (four eyes: ``participants`` are the
    people who acted on the case, whoever its agent is); then the amount must be within
    their limit.
    """
    if not actor.has(Role.SUPERVISOR):
        return "not_a_supervisor"
    if actor.username == submitted_by or actor.username in participants:
        return "four_eyes_violation"
    if amount > actor.approval_limit:
        return "approval_limit_exceeded"
    return None
