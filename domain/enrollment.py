"""Business types of the enrollment process shared by the workflow, activities and API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.masking import mask_id_number, mask_name, mask_phone


class Stage(StrEnum):
    CONSULTATION = "consultation"
    QUOTED = "quoted"
    APPLICATION_SUBMITTED = "application_submitted"
    VERIFICATION = "verification"
    UNDERWRITING = "underwriting"
    AWAITING_PAYMENT = "awaiting_payment"
    ISSUED = "issued"
    EFFECTIVE = "effective"
    # Endings other than effective keep the stage they ended in; `status` says why.
    CLOSED = "closed"


# Stages from which the agent may still withdraw (nothing has been charged yet).
WITHDRAWABLE = frozenset(
    {
        Stage.CONSULTATION,
        Stage.QUOTED,
        Stage.APPLICATION_SUBMITTED,
        Stage.VERIFICATION,
        Stage.UNDERWRITING,
        Stage.AWAITING_PAYMENT,
    }
)


class Status(StrEnum):
    IN_PROGRESS = "in_progress"
    EFFECTIVE = "effective"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"
    EXPIRED = "expired"
    FAILED = "failed"
    CANCELLED = "cancelled"  # by ops; what was charged is refunded
    TERMINATED = "terminated"  # by ops, at once: nothing compensated


class PaymentMethod(StrEnum):
    AUTO_DEBIT = "auto_debit"
    ONLINE = "online"


class CustomerDetails(BaseModel):
    """Personal data as the agent entered it. Travels only inside encrypted payloads."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=18, max_length=18)
    phone: str = Field(min_length=5, max_length=20)
    email: str | None = Field(default=None, max_length=254)

    def masked(self) -> MaskedCustomer:
        return MaskedCustomer(
            name=mask_name(self.name),
            id_number=mask_id_number(self.id_number),
            phone=mask_phone(self.phone),
        )


class MaskedCustomer(BaseModel):
    name: str
    id_number: str
    phone: str


class Quote(BaseModel):
    quote_id: str
    product_code: str
    sum_insured: Decimal
    premium: Decimal
    valid_until: datetime


class CheckResult(BaseModel):
    name: Literal["id_number", "age_band", "sanctions", "duplicate_application"]
    passed: bool
    detail: str


class Verification(BaseModel):
    passed: bool
    failure_code: str | None = None
    checks: list[CheckResult] = []
    risk_flags: list[str] = []


class Underwriting(BaseModel):
    decision: Literal["approve", "reject"] | None = None
    decided_by: str | None = None
    reason: str | None = None
    task_id: str | None = None
    routed_because: list[str] = []


class Payment(BaseModel):
    method: PaymentMethod | None = None
    order_id: str | None = None
    status: Literal["none", "pending", "paid", "declined", "lapsed", "refunded"] = "none"
    amount: Decimal | None = None
    due_at: datetime | None = None
    ledger_id: str | None = None
    gateway_ref: str | None = None
    paid_at: datetime | None = None
    refund_ledger_id: str | None = None


class HistoryEntry(BaseModel):
    stage: Stage
    status: Status
    at: datetime
    by: str
    note: str | None = None


class EnrollmentState(BaseModel):
    """What the process knows, without raw personal data: the query answer and the read model."""

    enrollment_id: str
    workflow_id: str
    agent: str
    customer_id: str | None = None
    customer: MaskedCustomer
    # HMAC of the real identity (see workflows.inputs.EnrollmentStart): compared, never shown.
    customer_digest: str | None = None
    birth_date: date
    stage: Stage
    status: Status
    quote: Quote | None = None
    verification: Verification | None = None
    underwriting: Underwriting = Underwriting()
    payment: Payment = Payment()
    start_date: date | None = None
    policy_number: str | None = None
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    failure_code: str | None = None
    history: list[HistoryEntry] = []
