"""The durations and limits a process runs on, passed into each workflow at start.

Workflows never read the environment; the starter hands them these values, so a
running process keeps the clocks it started with. Defined once here: ``core.config``
reads them from ``INSUREFLOW_<FIELD>`` (``INSUREFLOW_UNDERWRITING_DUE=PT24H``) into
``Settings.clocks`` and ``Settings.claim_limits``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _seconds_or_iso(value: object) -> object:
    """Durations: ISO-8601 (``PT24H``, ``P7D``) or a plain number of seconds (``3600``)."""
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_or_iso)]


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


class ClaimLimits(BaseModel):
    """The claim approval tiers (docs/claims.md "Tiers"): up to ``claim_auto_limit`` the
    rules approve, above ``dual_control_limit`` two supervisors must."""

    model_config = ConfigDict(frozen=True)

    claim_auto_limit: Decimal = Decimal("5000.00")
    dual_control_limit: Decimal = Decimal("1000000.00")
