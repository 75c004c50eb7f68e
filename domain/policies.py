"""The policy's life (docs/policies.md): its state, stages and statuses, and the pure
rules of the cooling-off period, the return visit, the dual-recording check and expiry.

Statuses are the policy's own (docs/policies.md); stages are where its process
is: in the cooling-off period, in force, or ended.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.business import SHANGHAI
from domain.clocks import DEFAULT_CLOCKS, ProcessClocks
from domain.enrollment import MaskedCustomer
from domain.identity import age_on
from domain.products import CENT, Product


class PolicyStage(StrEnum):
    COOLING_OFF = "cooling_off"  # 犹豫期: the return visit, cancellation with refund
    IN_FORCE = "in_force"  # waits for the policy year's end or expiry
    ENDED = "ended"


class PolicyStatus(StrEnum):
    ISSUED = "issued"  # before its start
    EFFECTIVE = "effective"
    GRACE = "grace"  # a premium overdue, still in force
    SUSPENDED = "suspended"  # 效力中止
    CANCELLED = "cancelled"  # within cooling-off: void from the start
    SURRENDERED = "surrendered"
    TERMINATED = "terminated"
    EXPIRED = "expired"


# The statuses of a policy whose process is still under way.
LIVE_STATUSES = frozenset(
    {PolicyStatus.ISSUED, PolicyStatus.EFFECTIVE, PolicyStatus.GRACE, PolicyStatus.SUSPENDED}
)
# The statuses in which the policy covers an incident: in force, a premium overdue in grace
# included (Insurance Law art. 36). Not before its start, nor while suspended (效力中止).
IN_FORCE_STATUSES = frozenset({PolicyStatus.EFFECTIVE, PolicyStatus.GRACE})
# The endings: the process is gone and takes no more requests.
ENDED_STATUSES = frozenset(PolicyStatus) - LIVE_STATUSES


class TerminationReason(StrEnum):
    """Why a policy ended ``terminated``."""

    NOT_REINSTATED = "not_reinstated"  # 2 years suspended (Insurance Law art. 37)
    CLAIM_PAID = "claim_paid"  # a death or total-disability claim paid its sum insured


# The seven items a return visit confirms (人身保险业务基本服务规定 art. 15), in order.
CHECKLIST_ITEMS: tuple[str, ...] = (
    "policyholder_reached",
    "purchase_and_signature",
    "documents_read",
    "cover_understood",
    "surrender_loss_understood",
    "cooling_off_explained",
    "payment_terms_understood",  # installment policies only
)
INSTALLMENT_ONLY = "payment_terms_understood"

# Age from which a buyer of a policy over one year needs a dual-recording (双录) check.
DUAL_RECORDING_AGE = 60


ReturnVisitDecision = Literal["completed", "unreachable", "misselling"]
ReturnVisitStatus = Literal["pending", "unreachable", "escalated", "completed", "misselling"]


class PolicyHistoryEntry(BaseModel):
    stage: PolicyStage
    status: PolicyStatus
    at: datetime
    by: str
    note: str | None = None


class VisitAttempt(BaseModel):
    at: datetime
    by: str
    decision: ReturnVisitDecision
    confirmed: list[str] = []
    reason: str = ""
    dual_recording_checked: bool | None = None


class ReturnVisit(BaseModel):
    """The return visit (回访) of one policy and what came of it."""

    status: ReturnVisitStatus = "pending"
    task_id: str
    due_at: datetime
    items: list[str]  # the checklist items this policy's visit must confirm
    dual_recording_required: bool = False
    attempts: list[VisitAttempt] = []
    next_try_on: date | None = None  # after an unreachable try: not before this working day
    outcome: str | None = None  # "7 of 7 confirmed", "unreachable 3 times", "mis-selling"
    remediation_task_id: str | None = None
    remediation_due_on: date | None = None
    remediation_resolved_by: str | None = None

    @property
    def unreachable_tries(self) -> int:
        return sum(1 for a in self.attempts if a.decision == "unreachable")

    @property
    def open(self) -> bool:
        return self.status in ("pending", "unreachable", "escalated")


class Cancellation(BaseModel):
    """A cancellation within the cooling-off period, and its refund."""

    by: str
    reason: str
    at: datetime
    refund_amount: Decimal
    refund_status: Literal["pending", "succeeded", "nothing_to_refund", "declined"] = "pending"
    refund_ledger_id: str | None = None


class Surrender(BaseModel):
    """A surrender (退保) after the cooling-off period: the cash value on the day it was
    asked, paid by ``pay_by`` (Insurance Law art. 47)."""

    by: str
    reason: str
    at: datetime
    cash_value: Decimal
    pay_by: datetime
    payout_status: Literal["pending", "succeeded", "declined"] = "pending"


class ValuePayout(BaseModel):
    """A cash value being paid out, a surrender's or a termination's. Declined by the
    receiving bank (or with no account to pay to), the cover has ended all the same and the
    value stays owed: a ``value_payout_failed`` task asks ops or a supervisor for a
    corrected account (``task_id``), and the value is paid again under ``<key>:<attempt>``
    until it is paid. ``key`` is the attempt's business key."""

    key: str
    amount: Decimal
    attempts: int = 0
    status: Literal["pending", "declined", "paid"] = "pending"
    refusal: str | None = None
    task_id: str | None = None


class Reinstatement(BaseModel):
    """An application for reinstatement (复效) of a suspended policy and where it stands:
    a supervisor decides by ``deemed_consent_at`` or consent is deemed given (保险法解释三
    art. 8); consented, the arrears and interest are debited and the policy is back in
    force from that day."""

    task_id: str
    by: str
    applied_at: datetime
    deemed_consent_at: datetime
    status: Literal["applied", "approved", "refused", "reinstated", "charge_failed"] = "applied"
    decided_by: str | None = None
    reason: str | None = None
    charged: Decimal | None = None


class Renewal(BaseModel):
    """A one-year policy's renewal: offered when the window opens (30 days before expiry),
    decided by the agent for the customer; accepted, the premium is debited at expiry and
    the next period starts with no gap and no new waiting period."""

    task_id: str
    offered_at: datetime
    premium: Decimal
    guaranteed: bool
    starts_at: datetime
    ends_at: datetime
    status: Literal["offered", "accepted", "declined", "renewed", "charge_failed"] = "offered"
    decided_by: str | None = None
    decided_at: datetime | None = None


class Sealed(BaseModel):
    """A personal value as the read model stores it: its ciphertext (core.crypto.FieldCipher,
    made by the service that took the value) and its mask. The clear value never enters a
    process: its history, state and activity inputs carry this."""

    enc: str
    masked: str


class PremiumPayment(BaseModel):
    """An installment collected: the gateway's booking under ``premium:<number>:<n>``
    (the first: the enrollment's ``premium:<application_no>``)."""

    model_config = ConfigDict(frozen=True)

    n: int = Field(ge=1)
    paid_at: AwareDatetime
    amount: Decimal


class PolicyState(BaseModel):
    """What the policy's process knows, without raw personal data (the query answer, the
    read model, and what each policy year's run hands to the next)."""

    policy_number: str
    workflow_id: str
    application_no: str
    agent: str
    customer_id: str
    holder: MaskedCustomer
    product_code: str
    term_years: int
    sum_insured: Decimal
    premium: Decimal
    installments: bool
    stage: PolicyStage
    status: PolicyStatus
    issued_at: datetime
    effective_at: datetime
    expires_at: datetime
    policy_year: int = 1
    receipt_signed_at: datetime | None = None
    cooling_off_ends_at: datetime | None = None
    return_visit: ReturnVisit | None = None
    cancellation: Cancellation | None = None
    premium_reminders: bool = True
    # The auto-debit account, masked (****1234), once a servicing change names one; the
    # account itself is only in the policy row, encrypted.
    payment_account: str | None = None
    # The renewal premiums (domain.premiums): what was collected, and where the first
    # unpaid installment stands: its debits tried, the reminders sent (``<n>:<days>``),
    # the payment demand (催告), grace and suspension (效力中止).
    payments: list[PremiumPayment] = []
    # An online payer's order for the first unpaid installment (``PO-<number>-<n>``).
    payment_order: str | None = None
    debits_tried: int = 0
    reminders_sent: list[str] = []
    demand_at: datetime | None = None
    grace_ends_at: datetime | None = None
    suspended_at: datetime | None = None
    reinstatements: list[Reinstatement] = []
    surrender: Surrender | None = None
    termination_reason: TerminationReason | None = None
    value_payout: ValuePayout | None = None
    # One-year products: the period (1 = the first year) and when it began; the renewal
    # offered for the next, if any. ``effective_at`` stays the start of continuous cover.
    period: int = 1
    period_started_at: datetime | None = None
    renewal: Renewal | None = None
    renewal_note: str | None = None
    ended_at: datetime | None = None
    history: list[PolicyHistoryEntry] = []


# --- the rules -----------------------------------------------------------------------------


def has_cooling_off(product: Product, *, personal: bool = True) -> bool:
    """Personal policies with a term over one year have a cooling-off period and a return
    visit; one-year products have neither."""
    return personal and product.term_years > 1


def period_ends_at(start_day: date, *, days: int = 0, years: int = 0) -> datetime:
    """The moment a period of ``years`` years and ``days`` days counted from ``start_day``
    ends, as the Civil Code counts periods: the day of the event is not counted (art. 201),
    a period in years ends on the same day of the month ``years`` later, or the month's
    last day when there is none, so 29 February on the 28th (art. 202; ``add_years``);
    it ends at midnight Shanghai after its last day."""
    last_day = add_years(start_day, years) + timedelta(days=days)
    return datetime.combine(last_day + timedelta(days=1), time(0), SHANGHAI)


def cooling_off_ends_at(start_day: date, period: timedelta) -> datetime:
    """The moment the cooling-off period ends: ``period`` whole days counted from the day
    after ``start_day`` (the receipt's day, or the issuance's without one), the end of the
    last day in Shanghai (``period_ends_at``)."""
    return period_ends_at(start_day, days=period.days)


def cooling_off_refund(premium: Decimal, cost: Decimal) -> Decimal:
    """The refund of a cancellation in the cooling-off period: the premium paid less the
    cost (at most 10.00 yuan by default, a setting), never below zero."""
    return max(premium - min(cost, premium), Decimal(0)).quantize(CENT)


def return_visit_items(*, installments: bool) -> list[str]:
    """The checklist a return visit must confirm: all seven for an installment policy,
    six otherwise (no payment period and frequency to confirm)."""
    return [i for i in CHECKLIST_ITEMS if installments or i != INSTALLMENT_ONLY]


def needs_dual_recording(product: Product, *, birth_date: date, on: date) -> bool:
    """A buyer aged 60 or over on a policy over one year: the visit records the 双录 check
    (保险销售行为可回溯管理暂行办法 arts. 6, 11)."""
    return product.term_years > 1 and age_on(birth_date, on) >= DUAL_RECORDING_AGE


def unconfirmed(items: list[str], confirmed: dict[str, bool]) -> list[str]:
    """The checklist items a completed visit has not confirmed."""
    return [i for i in items if not confirmed.get(i, False)]


_Day = TypeVar("_Day", date, datetime)


def add_years(moment: _Day, years: int) -> _Day:
    """``moment`` (a day or a moment) ``years`` later; 29 February becomes 28 February in a
    common year."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def add_months(moment: _Day, months: int) -> _Day:
    """``moment`` ``months`` later (earlier when negative), the day of the month kept, or
    the month's last day where there is none (31 January, 1 month on: 28 or 29 February),
    as ``add_years`` counts an anniversary (Civil Code art. 202)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return moment.replace(year=year, month=month + 1, day=min(moment.day, last))


def policy_years_after(
    start: datetime, years: int, clocks: ProcessClocks = DEFAULT_CLOCKS
) -> datetime:
    """The moment ``years`` policy years after ``start``: the one rule every term,
    anniversary and window counted in policy years goes through. Calendar years
    (``add_years``) unless the clocks set a short policy year (``policy_year``, development
    only), and then ``start`` plus ``years`` of it."""
    if clocks.policy_year is None:
        return add_years(start, years)
    return start + years * clocks.policy_year


def expires_at(
    effective_at: datetime, product: Product, clocks: ProcessClocks = DEFAULT_CLOCKS
) -> datetime:
    """The end of the term: one policy year for ACCIDENT_1Y and MEDICAL_1Y, twenty for
    TERM_LIFE_20 (the product's ``term_years``)."""
    return policy_years_after(effective_at, product.term_years, clocks)


def policy_year_ends_at(
    effective_at: datetime, policy_year: int, clocks: ProcessClocks = DEFAULT_CLOCKS
) -> datetime:
    """The end of policy year ``policy_year`` (1 = the first): an anniversary."""
    return policy_years_after(effective_at, policy_year, clocks)


def is_live(status: str) -> bool:
    """Whether a policy with this status still has a running process (its read-model row
    says so: an ended policy's process is gone and takes no more requests)."""
    return status in {s.value for s in LIVE_STATUSES}


def claim_ends_policy(product: Product, incident_type: str) -> bool:
    """A paid death or total-disability claim ends a life policy over one year: its sum
    insured is paid, no cover is left, and no premium is due after (issue "renewal
    premiums"); other claims leave the policy running."""
    return product.term_years > 1 and incident_type in ("death", "total_disability")


def is_in_force(status: str) -> bool:
    """Whether a policy with this status covers an incident now (``IN_FORCE_STATUSES``)."""
    return status in {s.value for s in IN_FORCE_STATUSES}
