"""The business rules of the claim process (docs/claims.md): documents, assessment,
approval tiers, authority, intake and reminders.

Pure functions only: the claim workflow calls them inside the Temporal sandbox, so
nothing here reads the clock, the environment or anything random; the caller passes
"today" and every other fact in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.claims import Assessment, Reduction
from domain.clocks import ClaimLimits
from domain.premiums import Suspension, suspended_on
from domain.products import CENT, IncidentType
from domain.underwriting import Actor, decision_refusal

# --- Documents -------------------------------------------------------------------------

# Every claim needs the signed claim form and the claimant's identity; the rest is the
# evidence an assessor needs for that kind of incident.
_COMMON_DOCUMENTS = ("claim_form", "id_proof")

REQUIRED_DOCUMENTS: dict[IncidentType, tuple[str, ...]] = {
    IncidentType.DEATH: (*_COMMON_DOCUMENTS, "death_certificate", "beneficiary_proof"),
    IncidentType.TOTAL_DISABILITY: (
        *_COMMON_DOCUMENTS,
        "disability_assessment",
        "medical_records",
    ),
    IncidentType.ACCIDENTAL_DEATH: (
        *_COMMON_DOCUMENTS,
        "death_certificate",
        "accident_report",
        "beneficiary_proof",
    ),
    IncidentType.ACCIDENT_DISABILITY: (
        *_COMMON_DOCUMENTS,
        "disability_assessment",
        "accident_report",
    ),
    IncidentType.ACCIDENT_MEDICAL: (
        *_COMMON_DOCUMENTS,
        "medical_invoice",
        "medical_records",
        "accident_report",
    ),
    IncidentType.HOSPITALISATION: (*_COMMON_DOCUMENTS, "discharge_summary", "medical_invoice"),
    IncidentType.OUTPATIENT_SURGERY: (*_COMMON_DOCUMENTS, "surgery_record", "medical_invoice"),
}

# Derived, so a kind added to one incident type is known everywhere at once.
DOCUMENT_KINDS: frozenset[str] = frozenset(
    kind for kinds in REQUIRED_DOCUMENTS.values() for kind in kinds
)


# A claim keeps at most this many documents in all (the intake and each supplement carry
# at most MAX_DOCUMENTS_PER_REQUEST): a bound on what one process holds in its history.
MAX_DOCUMENTS_PER_REQUEST = 50
MAX_CLAIM_DOCUMENTS = 100


def is_supplementary(kind: str) -> bool:
    """A kind no incident's checklist names (a bank-card copy, an expense list): kept with
    the claim and shown as supplementary, never refused, never counted as required."""
    return kind not in DOCUMENT_KINDS


def missing_documents(*, incident_type: IncidentType, provided: Iterable[str]) -> list[str]:
    """The document kinds ``incident_type`` requires that are not in ``provided``, sorted.

    Providing a kind twice counts once; kinds the incident does not need are ignored.
    """
    return sorted(set(REQUIRED_DOCUMENTS[incident_type]) - set(provided))


# --- Assessment ------------------------------------------------------------------------


class CoverageRule(BaseModel):
    """How much of a claim an incident type reimburses."""

    model_config = ConfigDict(frozen=True)

    share: Decimal = Field(gt=0, le=1)  # fraction reimbursed after the deductible
    deductible: Decimal = Field(ge=0)  # per claim, in CNY
    cap_fraction: Decimal = Field(gt=0, le=1)  # cap per claim, as a fraction of sum insured


def _rule(share: str, deductible: str, cap_fraction: str) -> CoverageRule:
    return CoverageRule(
        share=Decimal(share), deductible=Decimal(deductible), cap_fraction=Decimal(cap_fraction)
    )


COVERAGE: dict[IncidentType, CoverageRule] = {
    # Life and disability benefits pay the sum insured itself: no deductible, no co-payment.
    IncidentType.DEATH: _rule("1", "0", "1"),
    IncidentType.TOTAL_DISABILITY: _rule("1", "0", "1"),
    IncidentType.ACCIDENTAL_DEATH: _rule("1", "0", "1"),
    IncidentType.ACCIDENT_DISABILITY: _rule("1", "0", "1"),
    # Medical costs after an accident are a side benefit, capped well below the death benefit.
    IncidentType.ACCIDENT_MEDICAL: _rule("1", "100", "0.10"),
    # Reimbursement products share costs with the insured to keep premiums affordable.
    IncidentType.HOSPITALISATION: _rule("0.9", "1000", "1"),
    IncidentType.OUTPATIENT_SURGERY: _rule("0.8", "500", "0.2"),
}


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _percent(fraction: Decimal) -> str:
    # normalize() drops trailing zeros ("90.0" -> "90"); :f keeps it out of exponent form.
    return f"{(fraction * 100).normalize():f}%"


def assess(
    *,
    incident_type: IncidentType,
    amount_claimed: Decimal,
    sum_insured: Decimal,
    paid_to_date: Decimal,
    flags: Sequence[str] = (),
    arrears: Reduction | None = None,
) -> Assessment:
    """The amount the rules approve for a claim, with every reduction from the claimed amount.

    In order: the deductible, the co-payment (the share the policy does not reimburse),
    the per-claim cap, what is left of the sum insured after earlier payouts, then the
    premium ``arrears`` of an incident in grace (domain.premiums.claim_arrears: the benefit
    is paid less them, Insurance Law art. 36; at most what is left to pay). Each
    amount is rounded half-up to the cent before the next step, and each reduction is the
    exact difference between two rounded steps, so the reductions always add up to
    ``amount_claimed - approved_amount``. ``remaining_sum_insured`` is what was left before
    this claim.
    """
    if amount_claimed < 0 or sum_insured < 0 or paid_to_date < 0:
        raise ValueError("amounts must not be negative")
    rule = COVERAGE[incident_type]
    claimed = _cents(amount_claimed)
    reductions: list[Reduction] = []

    def step(before: Decimal, after: Decimal, reason: str, detail: str) -> Decimal:
        # Only a step that actually lowers the amount is worth explaining to the claimant.
        if after < before:
            reductions.append(Reduction(reason=reason, amount=before - after, detail=detail))
        return after

    deductible = _cents(rule.deductible)
    amount = step(
        claimed,
        max(claimed - deductible, Decimal("0.00")),
        "deductible",
        f"deductible of {deductible} per claim",
    )
    amount = step(
        amount,
        _cents(amount * rule.share),
        "co_payment",
        f"the policy reimburses {_percent(rule.share)} after the deductible",
    )
    cap = _cents(sum_insured * rule.cap_fraction)
    amount = step(
        amount,
        min(amount, cap),
        "coverage_cap",
        f"capped at {_percent(rule.cap_fraction)} of the sum insured per claim ({cap})",
    )
    remaining = max(_cents(sum_insured) - _cents(paid_to_date), Decimal("0.00"))
    amount = step(
        amount,
        min(amount, remaining),
        "remaining_sum_insured",
        f"only {remaining} of the sum insured remains after earlier payouts",
    )
    if arrears is not None:
        amount = step(
            amount,
            max(amount - arrears.amount, Decimal("0.00")),
            arrears.reason,
            arrears.detail,
        )
    return Assessment(
        amount_claimed=claimed,
        approved_amount=amount,
        remaining_sum_insured=remaining,
        reductions=reductions,
        flags=list(flags),
    )


# --- Flags and approval tiers ----------------------------------------------------------

# The waiting period (等待期): incidents this soon after the policy starts are the classic
# sign of a policy bought for a loss already under way, so a person looks at them.
EARLY_CLAIM_DAYS = 90


def claim_flags(
    *,
    incident_date: date,
    policy_effective_date: date,
    amount_claimed: Decimal,
    sum_insured: Decimal,
) -> list[str]:
    """Facts about a claim that a person should weigh; none means the rules may decide.

    ``early_claim``: the incident happened before day ``EARLY_CLAIM_DAYS`` of the policy,
    counting the effective date as day 0 (so day 89 is flagged, day 90 is not).
    ``claim_exceeds_sum_insured``: more is claimed than the policy can ever pay.
    """
    flags: list[str] = []
    if incident_date < policy_effective_date + timedelta(days=EARLY_CLAIM_DAYS):
        flags.append("early_claim")
    if amount_claimed > sum_insured:
        flags.append("claim_exceeds_sum_insured")
    return flags


class Tier(StrEnum):
    AUTO = "auto"
    SINGLE = "single"
    DUAL = "dual"


def approval_tier(
    *,
    amount: Decimal,
    flags: Sequence[str],
    limits: ClaimLimits = ClaimLimits(),
) -> Tier:
    """Who must approve ``amount``: ``system`` alone, one supervisor, or two.

    Above ``dual_control_limit`` two supervisors decide whatever the flags; up to
    ``claim_auto_limit`` with no flag the system approves; anything else needs one.
    """
    if amount > limits.dual_control_limit:
        return Tier.DUAL
    if amount <= limits.claim_auto_limit and not flags:
        return Tier.AUTO
    return Tier.SINGLE


_APPROVALS_NEEDED = {Tier.AUTO: 0, Tier.SINGLE: 1, Tier.DUAL: 2}


def approvals_needed(tier: Tier) -> int:
    """How many different supervisors must approve a claim of ``tier``."""
    return _APPROVALS_NEEDED[tier]


# --- Authority -------------------------------------------------------------------------

CLAIM_DECISIONS = frozenset({"approve", "reject", "request_info"})


def claim_decision_refusal(
    actor: Actor,
    *,
    decision: str,
    amount: Decimal,
    filed_by: str,
    prior_approvers: Sequence[str] = (),
    rejected_by: str | None = None,
    participants: Sequence[str] = (),
) -> str | None:
    """The API code refusing ``actor``'s ``decision`` on a claim, or None when they may decide.

    Order: ``not_a_supervisor``; then ``four_eyes_violation`` when the actor filed the
    claim or took another step in it (``participants``: supplemented documents, appealed,
    set the payee account), already approved it (dual control), or, on an appeal review, is
    the one who rejected it (``rejected_by``); then, for ``approve`` only,
    ``approval_limit_exceeded`` when ``amount`` is above their limit.
    """
    if decision not in CLAIM_DECISIONS:
        raise ValueError(f"unknown claim decision {decision!r}")
    # Rejecting or asking for information pays nothing out, so only approval is held
    # to the limit; a zero amount can never exceed a limit.
    amount_at_stake = amount if decision == "approve" else Decimal("0")
    refusal = decision_refusal(
        actor, amount=amount_at_stake, submitted_by=filed_by, participants=participants
    )
    if refusal in (None, "approval_limit_exceeded"):
        # Four eyes outranks the limit: a second look must come from a second person,
        # whatever their authority.
        if actor.username in prior_approvers or actor.username == rejected_by:
            return "four_eyes_violation"
    return refusal


# --- Intake ----------------------------------------------------------------------------

# An expired policy still pays for incidents that happened while it was in force.
# "issued": in force from its effective date, which the date check below decides (the policy
# process marks its row effective a moment after that date arrives).
# In grace the policy is in force (Insurance Law art. 36; the claim is paid less the
# arrears). Suspended (效力中止), it covers nothing from the day it was suspended, but an
# incident before that day was covered: the suspension's dates decide (``suspensions``).
_CLAIMABLE_POLICY_STATUSES = frozenset({"issued", "effective", "grace", "suspended", "expired"})


def intake_refusal(
    *,
    policy_status: str,
    effective_on: date,
    expires_on: date,
    covered: Sequence[IncidentType],
    incident_type: str,
    incident_date: date,
    today: date,
    amount_claimed: Decimal,
    limitation_years: int,
    suspensions: Sequence[Suspension] = (),
) -> tuple[str, str] | None:
    """The first reason a claim cannot be reported, as ``(code, message)``, or None.

    Checked in order: ``invalid_amount``, ``incident_in_future``, ``incident_too_old``
    (earlier than ``limitation_years`` before ``today``: the product's limitation period,
    Insurance Law art. 26; exactly that many years ago is still in time),
    ``unknown_incident_type``, ``incident_not_covered``, ``policy_not_effective`` (the
    policy has ended otherwise than by expiry, the incident is outside
    ``[effective_on, expires_on)``, or the policy was suspended that day: ``suspensions``,
    domain.premiums, read from the policy's state; a policy whose status is suspended with
    no suspension to date it by is refused whatever the day). Messages never echo the
    claimant's input or personal data, since they end up in API answers and logs.
    """
    if not amount_claimed.is_finite() or amount_claimed <= 0:
        return "invalid_amount", "amount_claimed must be a positive amount"
    if incident_date > today:
        return "incident_in_future", "the incident date is in the future"
    if incident_date < years_before(today, limitation_years):
        return (
            "incident_too_old",
            f"a claim must be made within {limitation_years} years of the incident",
        )
    try:
        kind = IncidentType(incident_type)
    except ValueError:
        known = ", ".join(t.value for t in IncidentType)
        return "unknown_incident_type", f"incident_type must be one of: {known}"
    if kind not in covered:
        return "incident_not_covered", f"the policy's product does not cover {kind.value}"
    if policy_status not in _CLAIMABLE_POLICY_STATUSES:
        return "policy_not_effective", f"a policy that is {policy_status} cannot be claimed on"
    if not effective_on <= incident_date < expires_on:
        return "policy_not_effective", "the policy was not in force on the incident date"
    if suspended_on(suspensions, incident_date) or (
        policy_status == "suspended" and not suspensions
    ):
        return "policy_not_effective", "the policy was suspended on the incident date"
    return None


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier; 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# --- Reminders -------------------------------------------------------------------------


def reminder_times(*, start: datetime, deadline: datetime, every: timedelta) -> list[datetime]:
    """When to remind about missing documents: ``start + every``, ``start + 2*every``, …
    strictly before ``deadline`` (at the deadline the claim moves on, so no reminder)."""
    if every <= timedelta(0):
        # A zero or negative interval would never reach the deadline.
        raise ValueError("the reminder interval must be positive")
    times: list[datetime] = []
    moment = start + every
    while moment < deadline:
        times.append(moment)
        moment += every
    return times
