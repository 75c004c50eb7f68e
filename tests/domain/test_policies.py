"""The policy's pure rules: cooling-off, refund, return-visit checklist, 双录, expiry, periods
and statuses."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.business import SHANGHAI
from domain.clocks import ProcessClocks
from domain.policies import (
    CHECKLIST_ITEMS,
    ENDED_STATUSES,
    IN_FORCE_STATUSES,
    LIVE_STATUSES,
    PolicyStatus,
    add_months,
    cooling_off_ends_at,
    cooling_off_refund,
    expires_at,
    has_cooling_off,
    is_in_force,
    is_live,
    needs_dual_recording,
    period_ends_at,
    policy_year_ends_at,
    policy_years_after,
    return_visit_items,
    unconfirmed,
)
from tests.support import ACCIDENT, MEDICAL, TERM

SHORT_YEAR = ProcessClocks(policy_year=timedelta(minutes=2))


def test_only_personal_policies_over_one_year_have_a_cooling_off_period() -> None:
    assert has_cooling_off(TERM)
    assert not has_cooling_off(ACCIDENT)
    assert not has_cooling_off(MEDICAL)
    assert not has_cooling_off(TERM, personal=False)


def test_cooling_off_counts_fifteen_days_from_the_day_after_the_receipt() -> None:
    ends = cooling_off_ends_at(date(2026, 12, 3), timedelta(days=15))
    # 4 Dec is day 1, 18 Dec day 15: the period ends at midnight (Shanghai) after it.
    assert ends == datetime(2026, 12, 19, 0, 0, tzinfo=SHANGHAI)


def test_the_refund_is_the_premium_less_the_cost() -> None:
    assert cooling_off_refund(Decimal("180.00"), Decimal("10.00")) == Decimal("170.00")


def test_the_refund_never_goes_below_zero() -> None:
    assert cooling_off_refund(Decimal("6.00"), Decimal("10.00")) == Decimal("0.00")


def test_an_installment_policy_visit_confirms_all_seven_items() -> None:
    assert return_visit_items(installments=True) == list(CHECKLIST_ITEMS)
    assert len(CHECKLIST_ITEMS) == 7


def test_a_single_premium_policy_visit_has_no_payment_terms_item() -> None:
    items = return_visit_items(installments=False)
    assert "payment_terms_understood" not in items and len(items) == 6


def test_unconfirmed_lists_the_items_not_confirmed() -> None:
    items = return_visit_items(installments=True)
    confirmed = dict.fromkeys(items, True) | {"surrender_loss_understood": False}
    assert unconfirmed(items, confirmed) == ["surrender_loss_understood"]
    assert unconfirmed(items, dict.fromkeys(items, True)) == []


def test_a_buyer_aged_sixty_on_a_long_policy_needs_dual_recording() -> None:
    on = date(2026, 12, 3)
    assert needs_dual_recording(TERM, birth_date=date(1966, 12, 3), on=on)
    assert not needs_dual_recording(TERM, birth_date=date(1966, 12, 4), on=on)  # 59
    assert not needs_dual_recording(ACCIDENT, birth_date=date(1950, 1, 1), on=on)


def test_one_year_products_expire_after_a_year_and_term_life_after_twenty() -> None:
    start = datetime(2026, 12, 4, tzinfo=SHANGHAI)
    assert expires_at(start, ACCIDENT) == datetime(2027, 12, 4, tzinfo=SHANGHAI)
    assert expires_at(start, MEDICAL) == datetime(2027, 12, 4, tzinfo=SHANGHAI)
    assert expires_at(start, TERM) == datetime(2046, 12, 4, tzinfo=SHANGHAI)


def test_a_policy_year_ends_on_the_anniversary_and_29_february_on_the_28th() -> None:
    leap = datetime(2028, 2, 29, tzinfo=SHANGHAI)
    assert policy_year_ends_at(leap, 1) == datetime(2029, 2, 28, tzinfo=SHANGHAI)
    assert policy_year_ends_at(leap, 4) == datetime(2032, 2, 29, tzinfo=SHANGHAI)


def test_policy_years_are_calendar_years_unless_the_clocks_set_a_short_one() -> None:
    start = datetime(2026, 12, 4, 9, 30, tzinfo=SHANGHAI)
    assert policy_years_after(start, 20) == datetime(2046, 12, 4, 9, 30, tzinfo=SHANGHAI)
    assert policy_years_after(start, 20, ProcessClocks()) == policy_years_after(start, 20)
    leap = datetime(2028, 2, 29, tzinfo=SHANGHAI)
    assert policy_years_after(leap, 1) == datetime(2029, 2, 28, tzinfo=SHANGHAI)
    # PT2M: n policy years are n times two minutes, wherever the calendar stands.
    assert policy_years_after(start, 1, SHORT_YEAR) == start + timedelta(minutes=2)
    assert policy_years_after(leap, 20, SHORT_YEAR) == leap + timedelta(minutes=40)
    assert policy_years_after(start, 0, SHORT_YEAR) == start


def test_a_short_policy_year_shortens_the_term_and_the_anniversaries() -> None:
    start = datetime(2026, 12, 4, tzinfo=SHANGHAI)
    assert expires_at(start, TERM, SHORT_YEAR) == start + timedelta(minutes=40)
    assert expires_at(start, MEDICAL, SHORT_YEAR) == start + timedelta(minutes=2)
    assert policy_year_ends_at(start, 3, SHORT_YEAR) == start + timedelta(minutes=6)


def test_a_period_in_days_starts_the_day_after_and_ends_at_midnight_after_its_last_day() -> None:
    # 5 Dec is day 1, 3 Feb day 60: it ends when 4 Feb begins in Shanghai.
    assert period_ends_at(date(2027, 12, 4), days=60) == datetime(2028, 2, 3, tzinfo=SHANGHAI)


def test_a_period_in_years_ends_on_the_same_day_and_29_february_on_the_28th() -> None:
    assert period_ends_at(date(2028, 2, 3), years=2) == datetime(2030, 2, 4, tzinfo=SHANGHAI)
    # No 29 February in 2030: the month's last day is the period's last (Civil Code art. 202).
    assert period_ends_at(date(2028, 2, 29), years=2) == datetime(2030, 3, 1, tzinfo=SHANGHAI)


def test_in_force_means_effective_or_in_grace_and_ended_means_not_live() -> None:
    assert IN_FORCE_STATUSES == {PolicyStatus.EFFECTIVE, PolicyStatus.GRACE}
    assert is_in_force("grace") and not is_in_force("suspended") and not is_in_force("issued")
    assert ENDED_STATUSES == {
        PolicyStatus.CANCELLED,
        PolicyStatus.SURRENDERED,
        PolicyStatus.TERMINATED,
        PolicyStatus.EXPIRED,
    }
    assert IN_FORCE_STATUSES <= LIVE_STATUSES and not LIVE_STATUSES & ENDED_STATUSES
    assert is_live("suspended") and not is_live("terminated")


def test_months_keep_the_day_of_the_month_or_fall_on_the_months_last_day() -> None:
    assert add_months(date(2024, 2, 10), 13) == date(2025, 3, 10)
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 3, 31), -13) == date(2024, 2, 29)
    assert add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)
    moment = datetime(2024, 2, 10, 23, 30, tzinfo=SHANGHAI)
    assert add_months(moment, 13) == datetime(2025, 3, 10, 23, 30, tzinfo=SHANGHAI)
