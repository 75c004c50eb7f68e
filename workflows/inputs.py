"""The processes' inputs and messages: what starts them and what their Updates and signals
carry.

They live outside the workflow modules on purpose. The sandbox re-runs a workflow's module
for every new run it starts, and building a pydantic model class is most of that cost;
this module is imported passed through (``workflow.unsafe.imports_passed_through``), so
its classes are built once per worker. Like ``domain``, it must stay free of side effects.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.claims import ClaimDocument
from domain.clocks import ClaimLimits, ProcessClocks
from domain.enrollment import CustomerDetails, MaskedCustomer, PaymentMethod
from domain.policies import PolicyState, ReturnVisitDecision, Sealed
from domain.products import IncidentType
from domain.underwriting import Actor

# --- Enrollment ----------------------------------------------------------------------


class EnrollmentStart(BaseModel):
    application_no: str
    agent: str
    customer: CustomerDetails
    birth_date: date
    declared_conditions: list[str] = []
    clocks: ProcessClocks = ProcessClocks()
    # A keyed hash (HMAC) of the customer's real identity, so a retried create can tell
    # the same customer from another whose masked details coincide. Never the ID itself.
    customer_digest: str | None = None


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_code: str
    sum_insured: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    by: str


class ApplicationSubmit(BaseModel):
    quote_id: str
    payment_method: PaymentMethod
    bank_account: str | None = None  # for the gateway's charge
    # The same account sealed by the service, for the policy row (its later debits).
    payment_account: Sealed | None = None
    consent: bool
    start_date: date | None = None
    by: str


class UnderwritingDecision(BaseModel):
    task_id: str
    decision: Literal["approve", "reject", "request_info"]
    reason: str
    actor: Actor


class Withdrawal(BaseModel):
    by: str
    reason: str = ""


class PaymentNotice(BaseModel):
    order_id: str
    amount: Decimal
    paid_at: datetime
    gateway_ref: str


# --- Claim ---------------------------------------------------------------------------


class ClaimStart(BaseModel):
    claim_no: str
    agent: str
    policy_number: str
    product_code: str
    policy_effective_on: date
    incident_date: date
    incident_type: IncidentType
    description: str
    amount_claimed: Decimal
    documents: list[ClaimDocument] = []
    payee_account: str
    # Who reported the claim, when not the policy's agent (None: the agent did).
    filed_by: str | None = None
    clocks: ProcessClocks = ProcessClocks()
    limits: ClaimLimits = ClaimLimits()


class DocumentsSupplement(BaseModel):
    documents: list[ClaimDocument] = Field(min_length=1)
    by: str


class ClaimDecision(BaseModel):
    task_id: str
    decision: Literal["approve", "reject", "request_info"]
    reason: str
    amount: Decimal | None = None
    missing: list[str] = []
    actor: Actor


class ClaimAppeal(BaseModel):
    by: str
    reason: str


class PayoutFix(BaseModel):
    payee_account: str
    by: str
    reason: str = ""


# --- Policy --------------------------------------------------------------------------


class PolicyStart(BaseModel):
    """What the enrollment hands the policy's process when it issues the policy; each
    policy year's run hands the next one the same, with the state it reached (``carried``)."""

    policy_number: str
    application_no: str
    agent: str
    customer_id: str
    holder: MaskedCustomer
    holder_birth_date: date
    product_code: str
    sum_insured: Decimal
    premium: Decimal
    issued_at: datetime
    effective_at: datetime
    expires_at: datetime
    personal: bool = True
    payment_account: str | None = None  # the auto-debit account's mask
    clocks: ProcessClocks = ProcessClocks()
    carried: PolicyState | None = None


class ReceiptSigned(BaseModel):
    """The customer signed the policy receipt (回执) on ``signed_at``."""

    signed_at: datetime
    by: str


class PolicyCancellation(BaseModel):
    """The agent asks to cancel the policy within the cooling-off period."""

    reason: str
    by: str


class SurrenderRequest(BaseModel):
    """The agent asks, for the customer, to surrender the policy after cooling-off; the
    cash value goes to ``payee_account`` (sealed by the service), or without one to the
    policy's auto-debit account."""

    reason: str
    payee_account: Sealed | None = None
    by: str


class ValuePayoutFix(BaseModel):
    """After the bank declined a cash value's payout: the account to pay it to instead
    (sealed by the service), given by ops or a supervisor."""

    payee_account: Sealed
    by: str
    reason: str = ""


class ClaimPaid(BaseModel):
    """A claim on the policy was paid (the claim's process tells the policy's): a death or
    total-disability claim on a life policy ends it (domain.policies.claim_ends_policy)."""

    claim_no: str
    incident_type: str
    amount: Decimal


class RenewalDecision(BaseModel):
    """The customer's answer to a renewal offer, recorded by the agent."""

    decision: Literal["accept", "decline"]
    by: str


class ReinstatementApplication(BaseModel):
    """The agent applies, for the customer, to reinstate a suspended policy."""

    by: str


class ReinstatementDecision(BaseModel):
    """A supervisor's decision on a reinstatement: a refusal gives its risk reason."""

    task_id: str
    decision: Literal["approve", "reject"]
    reason: str
    actor: Actor


class ReturnVisitOutcome(BaseModel):
    """Customer service's record of one return-visit call."""

    task_id: str
    decision: ReturnVisitDecision
    checklist: dict[str, bool] = {}
    reason: str = ""
    dual_recording_checked: bool | None = None
    actor: Actor


class RemediationResolution(BaseModel):
    """The mis-selling remediation done, by someone other than the selling agent."""

    task_id: str
    reason: str
    actor: Actor


class ServicingChange(BaseModel):
    """A servicing change (保全) on the policy: any of the customer's phone, the auto-debit
    account and premium reminders. The phone and the account come sealed (encrypted by the
    service, with their masks): the clear values never enter the process."""

    premium_reminders: bool | None = None
    phone: Sealed | None = None
    payment_account: Sealed | None = None
    actor: Actor

    def names(self) -> list[str]:
        """What the change changes, in the API's words."""
        asked = {
            "phone": self.phone,
            "bank_account": self.payment_account,
            "premium_reminders": self.premium_reminders,
        }
        return [name for name, value in asked.items() if value is not None]
