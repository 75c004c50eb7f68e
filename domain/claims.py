"""Business types of the claim process (理赔) shared by the workflow, activities and API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.products import IncidentType


class ClaimStage(StrEnum):
    REPORTED = "reported"
    DOCUMENTS_PENDING = "documents_pending"
    UNDER_REVIEW = "under_review"
    ASSESSMENT = "assessment"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    PAYOUT_FAILED = "payout_failed"
    PAID = "paid"
    REJECTED = "rejected"
    APPEALED = "appealed"
    CLOSED = "closed"


# Stages from which the agent may withdraw a claim (nothing approved yet).
CLAIM_WITHDRAWABLE = frozenset(ClaimStage) - {
    ClaimStage.APPROVED,
    ClaimStage.PAYOUT_FAILED,
    ClaimStage.PAID,
    ClaimStage.REJECTED,
    ClaimStage.APPEALED,
    ClaimStage.CLOSED,
}


class ClaimStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    PAID = "paid"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"  # by ops
    TERMINATED = "terminated"  # by ops, at once: nothing compensated


# A claim in one of these counts as "the same claim already reported".
DUPLICATE_BLOCKING = (ClaimStatus.IN_PROGRESS, ClaimStatus.PAID)


class ClaimDocument(BaseModel):
    """One attachment. ``kind`` is a slug: a checklist kind (``GET /v1/products``,
    ``required_documents``) or any other, kept as a supplementary document."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")
    # A file name: no control characters (it is shown to people and written to logs).
    name: str = Field(
        min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
    )


class Reduction(BaseModel):
    """Why the approved amount is below what was claimed, and by how much."""

    reason: str  # stable code: deductible, co_payment, coverage_cap, remaining_sum_insured, ...
    amount: Decimal
    detail: str


class Assessment(BaseModel):
    amount_claimed: Decimal
    approved_amount: Decimal
    remaining_sum_insured: Decimal
    reductions: list[Reduction] = []
    flags: list[str] = []


class Approval(BaseModel):
    by: str
    decision: Literal["approve", "reject", "request_info"]
    at: datetime
    reason: str
    amount: Decimal | None = None


class Payout(BaseModel):
    idempotency_key: str | None = None
    status: Literal["none", "pending", "paid", "declined"] = "none"
    amount: Decimal | None = None
    ledger_id: str | None = None
    gateway_ref: str | None = None
    paid_at: datetime | None = None
    attempts: int = 0


class Deadlines(BaseModel):
    documents_due_at: datetime | None = None
    decision_due_at: datetime | None = None
    payout_due_at: datetime | None = None
    appeal_until: datetime | None = None
    breaches: list[str] = []


class ClaimHistoryEntry(BaseModel):
    stage: ClaimStage
    status: ClaimStatus
    at: datetime
    by: str
    note: str | None = None


class ClaimState(BaseModel):
    """What the claim process knows, without raw personal data (the payee account stays in
    the workflow's encrypted input): the query answer and the read model."""

    claim_id: str
    workflow_id: str
    agent: str
    policy_number: str
    product_code: str
    incident_date: date
    incident_type: IncidentType
    description: str
    amount_claimed: Decimal
    payee_account_masked: str
    stage: ClaimStage
    status: ClaimStatus
    documents: list[ClaimDocument] = []
    missing_documents: list[str] = []
    assessment: Assessment | None = None
    tier: Literal["auto", "single", "dual"] | None = None
    amount_approved: Decimal | None = None
    approvals: list[Approval] = []
    rejected_by: str | None = None
    open_task_id: str | None = None
    payout: Payout = Payout()
    deadlines: Deadlines = Deadlines()
    history: list[ClaimHistoryEntry] = []
