"""The durations and limits a process runs on, passed into each workflow at start.

Workflows never read the environment; the starter hands them these values, so a
running process keeps the clocks it started with. Defined once here: ``core.config``
reads them from ``INSUREFLOW_<FIELD>`` (``INSUREFLOW_UNDERWRITING_DUE=PT24H``) into
``Settings.clocks`` and ``Settings.claim_limits``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _seconds_or_iso(value: object) -> object:
    """Durations: ISO-8601 (``PT24H``, ``P7D``) or a plain number of seconds (``3600``)."""
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_or_iso)]


def _comma_separated(value: object) -> object:
    """A list of durations from one variable: ``P30D,P7D`` (empty: none)."""
    if isinstance(value, str):
        return [_seconds_or_iso(part.strip()) for part in value.split(",") if part.strip()]
    return value


def _empty_is_none(value: object) -> object:
    """An optional duration set to nothing (``INSUREFLOW_POLICY_YEAR=``) is not set."""
    return None if isinstance(value, str) and not value.strip() else value


_DAY = timedelta(days=1)
_YEAR = timedelta(days=365)
# Days before a due date (a reminder) or after it (a retried debit): at least a day, within
# a year, at most five of them.
_Offset = Annotated[Duration, Field(ge=_DAY, le=_YEAR)]
_Offsets = Annotated[tuple[_Offset, ...], BeforeValidator(_comma_separated), Field(max_length=5)]
# A short policy year (development): a minute at the least (each policy year is a run of
# its own), a year at the most.
_PolicyYear = Annotated[
    Annotated[Duration, Field(ge=timedelta(minutes=1), le=_YEAR)] | None,
    BeforeValidator(_empty_is_none),
]


class ProcessClocks(BaseModel):
    model_config = ConfigDict(frozen=True)

    consultation_window: Duration = timedelta(days=30)
    quote_validity: Duration = timedelta(days=30)
    underwriting_due: Duration = timedelta(hours=24)
    underwriting_escalate: Duration = timedelta(hours=48)
    underwriting_expire: Duration = timedelta(days=7)
    payment_deadline: Duration = timedelta(days=7)
    documents_deadline: Duration = timedelta(days=30)
    documents_reminder_every: Duration = timedelta(days=7)
    claim_decision_deadline: Duration = timedelta(days=30)
    payout_deadline: Duration = timedelta(days=10)
    appeal_window: Duration = timedelta(days=60)
    # How far ahead an application's start_date may lie (a policy begins soon after sale).
    start_date_window: Duration = timedelta(days=90)
    # The policy's life (docs/policies.md): the cooling-off period from the receipt (or
    # issuance), its cost kept from the refund, the return visit's due time, its tries.
    cooling_off: Duration = timedelta(days=15)
    cooling_off_cost: Decimal = Decimal("10.00")
    return_visit_due: Duration = timedelta(days=10)
    return_visit_tries: int = 3
    remediation_working_days: int = 15
    # Renewal premiums and what follows an unpaid one (docs/premiums.md, domain.premiums).
    # Reminders this long before each due date, if the customer wants them.
    premium_reminders: _Offsets = (timedelta(days=30), timedelta(days=7))
    # A failed debit is tried again this long after the due date; once the last has failed,
    # at ``payment_demand_after``, the customer gets the payment demand (催告).
    premium_debit_retries: _Offsets = (timedelta(days=1), timedelta(days=3), timedelta(days=7))
    payment_demand_after: Duration = Field(default=timedelta(days=7), ge=timedelta(0), le=_YEAR)
    # Grace (Insurance Law art. 36): in force until this long after the due date, or after
    # the payment demand, whichever ends first; the law's figures unless the contract says
    # otherwise.
    premium_grace: Duration = Field(default=timedelta(days=60), ge=_DAY, le=_YEAR)
    payment_demand_grace: Duration = Field(default=timedelta(days=30), ge=_DAY, le=_YEAR)
    # The suspension notice within this many PRC working days (人身保险业务基本服务规定
    # art. 21: ten at the most).
    suspension_notice_working_days: int = Field(default=10, ge=1, le=10)
    # Reinstatement (复效): applied for within this many years of the suspension, after
    # which the policy is terminated (Insurance Law art. 37: two years; never fewer). In
    # years, not days: two calendar years, a leap day included.
    reinstatement_window_years: int = Field(default=2, ge=2, le=5)
    # No refusal this long after the application is consent (保险法解释三 art. 8: 30 days
    # at the most).
    reinstatement_deemed_consent: Duration = Field(
        default=timedelta(days=30), ge=_DAY, le=timedelta(days=30)
    )
    # Simple annual interest on the arrears a reinstatement collects (market practice, not
    # law: 保险法解释三 art. 8 allows it; insurers charge a rate they announce, such as their
    # policy-loan rate). 0: none unless the operator sets one; at most 10 % a year.
    reinstatement_interest_rate: Decimal = Field(
        default=Decimal("0"), ge=Decimal("0"), le=Decimal("0.10")
    )
    # The surrender's cash value is paid within this long of the request (Insurance Law
    # art. 47: 30 days at the most).
    surrender_payment: Duration = Field(default=timedelta(days=30), ge=_DAY, le=timedelta(days=30))
    # One-year products: the renewal offer this long before expiry.
    renewal_notice: Duration = Field(default=timedelta(days=30), ge=_DAY, le=timedelta(days=90))
    # Development only (docs/premiums.md "A short policy year"): a policy year this long
    # instead of a calendar year, so a demo or test stack watches a twenty-year policy live
    # in minutes. Unset (None): calendar years, the only value production accepts
    # (core.config refuses to start otherwise). What is counted in policy years (the term,
    # the anniversaries, the reinstatement window) shrinks with it; what is counted in
    # days does not (domain.policies.policy_years_after).
    policy_year: _PolicyYear = None

    @model_validator(mode="after")
    def _premium_clocks_agree(self) -> Self:
        retries = self.premium_debit_retries
        if list(retries) != sorted(set(retries)):
            raise ValueError("premium_debit_retries must be increasing")
        if len(set(self.premium_reminders)) != len(self.premium_reminders):
            raise ValueError("premium_reminders must be distinct")
        # A demand while a debit is still planned would ask for what the bank is about to take.
        if retries and self.payment_demand_after < retries[-1]:
            raise ValueError("payment_demand_after must not come before the last debit retry")
        if self.payment_demand_after >= self.premium_grace:
            raise ValueError("payment_demand_after must fall inside premium_grace")
        return self


# The defaults, calendar policy years among them: what a rule counts with when its caller
# passes no clocks.
DEFAULT_CLOCKS = ProcessClocks()


class ClaimLimits(BaseModel):
    """The claim approval tiers (docs/claims.md "Tiers"): up to ``claim_auto_limit`` the
    rules approve, above ``dual_control_limit`` two supervisors must."""

    model_config = ConfigDict(frozen=True)

    claim_auto_limit: Decimal = Decimal("5000.00")
    dual_control_limit: Decimal = Decimal("1000000.00")
