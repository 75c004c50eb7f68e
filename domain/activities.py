"""Inputs and outputs of the activities, shared by the workflows that call them and the
activities that implement them. One model in, one model out."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from domain.claims import ClaimState, Reduction
from domain.enrollment import CustomerDetails, EnrollmentState, Quote
from domain.policies import PolicyState, Sealed
from domain.tasks import TaskKind


class CustomerRegistration(BaseModel):
    application_no: str
    agent: str
    customer: CustomerDetails
    birth_date: date


class CustomerRef(BaseModel):
    customer_id: str


class QuoteRecord(BaseModel):
    application_no: str
    quote: Quote


class VerifyApplicant(BaseModel):
    application_no: str
    customer_id: str
    customer: CustomerDetails
    product_code: str
    sum_insured: Decimal
    on: date
    declared_conditions: list[str] = []


class TaskOpen(BaseModel):
    task_id: str
    kind: TaskKind
    workflow_id: str
    case_id: str
    subject: str
    amount: Decimal
    submitted_by: str
    agent: str
    due_at: datetime
    escalate_at: datetime | None = None
    expire_at: datetime | None = None
    details: dict[str, Any] = {}


class TaskChange(BaseModel):
    task_id: str
    action: Literal["remind", "escalate", "expire", "complete", "cancel"]
    by: str = "system"
    decision: str | None = None
    reason: str | None = None
    # For "escalate": the level this change brings the task to, so a retried activity
    # does not escalate twice.
    level: int | None = None


class Charge(BaseModel):
    """Collect money from a customer's account. ``idempotency_key`` is the business key."""

    idempotency_key: str
    case_id: str
    amount: Decimal
    account: str


class InstallmentCharge(BaseModel):
    """Collect a renewal premium from the policy's auto-debit account: the account is read
    from the policy row (encrypted there) by the step, so it never enters the process.
    ``idempotency_key`` is ``premium:<policy_number>:<n>``."""

    idempotency_key: str
    policy_number: str
    amount: Decimal


class PolicyPayout(BaseModel):
    """Pay a policy's value out (a surrender's or a termination's cash value): to
    ``account`` (sealed by the service that took it) or, without one, to the policy's
    auto-debit account, read from its row by the step. ``idempotency_key`` is the business
    key (``surrender:<policy_number>``)."""

    idempotency_key: str
    policy_number: str
    amount: Decimal
    account: Sealed | None = None


class Refund(BaseModel):
    """Give back what ``original_key`` collected, if it collected anything."""

    idempotency_key: str
    original_key: str
    case_id: str
    amount: Decimal


class PaymentOrder(BaseModel):
    order_id: str
    idempotency_key: str
    case_id: str
    amount: Decimal
    due_at: datetime


class Settlement(BaseModel):
    order_id: str
    idempotency_key: str
    case_id: str
    amount: Decimal
    gateway_ref: str
    paid_at: datetime


class LedgerEntry(BaseModel):
    ledger_id: str
    idempotency_key: str
    amount: Decimal
    status: Literal["pending", "succeeded", "declined", "nothing_to_refund"]
    gateway_ref: str | None = None
    order_id: str | None = None


class Notification(BaseModel):
    key: str  # business key: one message per (case, milestone)
    case_id: str
    recipient: str  # "agent:<username>" or "customer:<case id>" — a reference, never a phone
    channel: Literal["sms", "email", "inbox"]
    template: str
    params: dict[str, str] = {}


class PolicyIssue(BaseModel):
    policy_number: str
    application_no: str
    customer_id: str
    agent: str
    product_code: str
    sum_insured: Decimal
    premium: Decimal
    effective_at: datetime
    expires_at: datetime
    payment_account: Sealed | None = None  # the application's auto-debit account


class PolicyStatusChange(BaseModel):
    policy_number: str
    status: Literal[
        "issued",
        "effective",
        "grace",
        "suspended",
        "cancelled",
        "surrendered",
        "terminated",
        "lapsed",
        "expired",
    ]


class WorkingDaysAsk(BaseModel):
    """The ``days``-th PRC working day after ``after`` (domain.working_days)."""

    after: date
    days: int = 1


class WorkingDay(BaseModel):
    day: date


class PolicyRef(BaseModel):
    """The policy a claim is assessed on, and the claim's incident day (its arrears are
    counted up to that day)."""

    policy_number: str
    incident_date: date


class PolicyPosition(BaseModel):
    """What a claim assessment needs to know about its policy, read at assessment time:
    ``arrears``, the premium owed at the incident that the benefit is paid less
    (domain.premiums.claim_arrears), None when nothing was owed."""

    policy_number: str
    status: str
    sum_insured: Decimal
    paid_to_date: Decimal
    effective_at: datetime
    expires_at: datetime
    arrears: Reduction | None = None


class PayoutRequest(BaseModel):
    """Pay an approved claim to the payee. ``idempotency_key`` is the business key."""

    idempotency_key: str
    claim_no: str
    policy_number: str
    amount: Decimal
    account: str


class CustomerPhoneChange(BaseModel):
    """The customer's new phone, sealed (encrypted and masked by the service)."""

    customer_id: str
    phone: Sealed


class PaymentAccountChange(BaseModel):
    """The policy's new auto-debit account, sealed (encrypted and masked by the service)."""

    policy_number: str
    account: Sealed


class Change(BaseModel):
    """One read-model write a process step makes and needs nothing back from (a quote
    record, a task opened or changed, a policy row, an outbox notification). Exactly one
    field is set."""

    quote: QuoteRecord | None = None
    task_open: TaskOpen | None = None
    task_change: TaskChange | None = None
    policy_issue: PolicyIssue | None = None
    policy_status: PolicyStatusChange | None = None
    customer_phone: CustomerPhoneChange | None = None
    payment_account: PaymentAccountChange | None = None
    notification: Notification | None = None


class ChangeBatch(BaseModel):
    """What a process changed since its last write, applied in one transaction: its state
    (the enrollment's, the claim's or the policy's read-model row), then the changes in order."""

    enrollment: EnrollmentState | None = None
    claim: ClaimState | None = None
    policy: PolicyState | None = None
    changes: list[Change] = []


class ChangesRecorded(BaseModel):
    """The changes applied (without the state): all a local activity's history marker
    keeps, so the ops timeline reads the steps from here."""

    changes: list[Change] = []
