"""The process clocks' premium settings: their defaults, their list form and their bounds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.clocks import ProcessClocks

DAYS = timedelta(days=1)


def test_the_premium_defaults_are_the_laws_and_the_designs() -> None:
    clocks = ProcessClocks()
    assert clocks.premium_reminders == (30 * DAYS, 7 * DAYS)
    assert clocks.premium_debit_retries == (1 * DAYS, 3 * DAYS, 7 * DAYS)
    assert clocks.payment_demand_after == 7 * DAYS
    assert (clocks.premium_grace, clocks.payment_demand_grace) == (60 * DAYS, 30 * DAYS)
    assert clocks.suspension_notice_working_days == 10
    assert clocks.reinstatement_window_years == 2
    assert clocks.reinstatement_deemed_consent == 30 * DAYS
    assert clocks.reinstatement_interest_rate == Decimal("0")
    assert clocks.surrender_payment == 30 * DAYS
    assert clocks.renewal_notice == 30 * DAYS
    assert clocks.policy_year is None  # calendar policy years


def test_reminders_and_retries_are_read_from_one_comma_separated_value() -> None:
    clocks = ProcessClocks.model_validate(
        {"premium_reminders": "P14D, P3D", "premium_debit_retries": "86400,P2D"}
    )
    assert clocks.premium_reminders == (14 * DAYS, 3 * DAYS)
    assert clocks.premium_debit_retries == (1 * DAYS, 2 * DAYS)


def test_no_reminders_and_no_retries_are_allowed() -> None:
    clocks = ProcessClocks.model_validate({"premium_reminders": "", "premium_debit_retries": ""})
    assert clocks.premium_reminders == () and clocks.premium_debit_retries == ()


@pytest.mark.parametrize(
    "values",
    [
        {"premium_reminders": "PT12H"},  # under a day
        {"premium_reminders": "P400D"},  # over a year
        {"premium_reminders": "P30D,P30D"},  # twice the same
        {"premium_reminders": "P1D,P2D,P3D,P4D,P5D,P6D"},  # more than five
        {"premium_debit_retries": "P3D,P1D"},  # not increasing
        {"premium_debit_retries": "P1D,P8D"},  # after the demand (P7D)
        {"payment_demand_after": "P60D"},  # not inside grace
        {"premium_grace": "PT1H"},
        {"payment_demand_grace": "P0D"},
        {"suspension_notice_working_days": 11},  # the regulator's 10 at the most
        {"suspension_notice_working_days": 0},
        {"reinstatement_window_years": 1},  # the law's 2 at the least
        {"reinstatement_deemed_consent": "P31D"},  # the law's 30 days at the most
        {"reinstatement_interest_rate": "-0.01"},
        {"reinstatement_interest_rate": "0.11"},
        {"surrender_payment": "P31D"},  # the law's 30 days at the most
        {"renewal_notice": "P0D"},
    ],
)
def test_a_premium_setting_out_of_bounds_is_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ProcessClocks.model_validate(values)


def test_the_bounds_themselves_are_accepted() -> None:
    clocks = ProcessClocks.model_validate(
        {
            "premium_reminders": "P1D,P365D",
            "suspension_notice_working_days": 10,
            "reinstatement_window_years": 2,
            "reinstatement_deemed_consent": "P30D",
            "reinstatement_interest_rate": "0.10",
            "surrender_payment": "P30D",
            "payment_demand_after": "P59D",
        }
    )
    assert clocks.payment_demand_after == 59 * DAYS
