"""Renewal premiums and what follows an unpaid one (domain.premiums), on hand-worked examples.

The running example: a TERM_LIFE_20 policy for 1,000,000 bought at 35 (1.50 per mille: an
annual premium of 1,500.00), in force from 4 December 2026, midnight in Shanghai. Its
second installment falls due on 4 December 2027.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.activities import WorkingDaysAsk
from domain.business import SHANGHAI
from domain.clocks import ProcessClocks
from domain.enrollment import MaskedCustomer
from domain.policies import PolicyHistoryEntry, PolicyStage, PolicyState, PolicyStatus
from domain.premiums import (
    InstallmentStatus,
    PremiumPayment,
    PremiumSchedule,
    RenewalOffer,
    Suspension,
    arrears_on,
    arrears_reduction,
    cash_value,
    claim_arrears,
    completed_policy_years,
    debit_retries_at,
    grace_ends_at,
    installment_due_at,
    interest_on,
    is_renewable,
    payment_demand_at,
    premium_reminders_at,
    premium_schedule,
    premium_standing,
    reinstated_from,
    reinstatement_charge,
    reinstatement_deadline,
    reinstatement_deemed_consent_at,
    reinstatement_refusal,
    renewal_offer,
    renewal_refusal,
    renewal_window_opens_at,
    status_from_premiums,
    surrender_payment_due_at,
    surrender_refusal,
    suspended_on,
    suspension_notice_due,
    suspensions,
)
from domain.products import QuoteRefused, annual_premium
from domain.refusals import REFUSALS
from tests.support import ACCIDENT, MEDICAL, TERM

CLOCKS = ProcessClocks()
PREMIUM = Decimal("1500.00")
EFFECTIVE = datetime(2026, 12, 4, tzinfo=SHANGHAI)
DUE_2 = datetime(2027, 12, 4, tzinfo=SHANGHAI)  # the second installment
SECOND = timedelta(seconds=1)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def paid(*installments: int, effective_at: datetime = EFFECTIVE) -> list[PremiumPayment]:
    """Each installment paid on its due date."""
    return [
        PremiumPayment(n=n, paid_at=installment_due_at(effective_at, n), amount=PREMIUM)
        for n in installments
    ]


def schedule(on: datetime, *installments: int, ended_at: datetime | None = None) -> PremiumSchedule:
    return premium_schedule(
        TERM,
        effective_at=EFFECTIVE,
        premium=PREMIUM,
        payments=paid(*installments),
        on=on,
        ended_at=ended_at,
    )


def statuses(s: PremiumSchedule) -> list[str]:
    return [i.status.value for i in s.installments]


# --- the schedule --------------------------------------------------------------------------


def test_the_running_example_premium_is_1500() -> None:
    assert annual_premium(TERM, sum_insured=Decimal("1000000"), age=35) == PREMIUM


def test_a_twenty_year_policy_pays_twenty_level_installments_one_each_anniversary() -> None:
    s = schedule(at(2027, 1, 10), 1)

    assert [i.n for i in s.installments] == list(range(1, 21))
    assert [i.due_at for i in s.installments] == [at(2026 + k, 12, 4) for k in range(20)]
    assert {i.amount for i in s.installments} == {PREMIUM}
    assert statuses(s) == ["paid"] + ["due"] * 19
    assert s.installments[0].paid_at == EFFECTIVE
    assert (s.next_due_at, s.amount_due, s.arrears) == (DUE_2, PREMIUM, Decimal("0.00"))
    assert (s.installments_paid, s.paid_to) == (1, DUE_2)


def test_every_installment_paid_covers_the_whole_term_and_owes_nothing() -> None:
    s = schedule(at(2046, 1, 1), *range(1, 21))

    assert statuses(s) == ["paid"] * 20
    assert s.next_due_at is None and s.amount_due == Decimal("0.00")
    assert s.installments_paid == 20
    assert s.paid_to == at(2046, 12, 4)  # the expiry


def test_each_year_paid_in_turn_moves_paid_to_one_anniversary_on() -> None:
    for n in range(1, 21):
        s = schedule(installment_due_at(EFFECTIVE, n), *range(1, n + 1))
        assert s.installments_paid == n
        assert s.paid_to == at(2026 + n, 12, 4)
        assert s.next_due_at == (at(2026 + n, 12, 4) if n < 20 else None)


def test_an_installment_is_due_through_its_due_day_and_overdue_from_the_next() -> None:
    assert schedule(DUE_2 - SECOND, 1).installments[1].status == InstallmentStatus.DUE
    on_the_day = schedule(at(2027, 12, 4, 23, 59), 1)
    assert on_the_day.installments[1].status == InstallmentStatus.DUE
    assert on_the_day.arrears == Decimal("0.00") and on_the_day.amount_due == PREMIUM
    next_day = schedule(at(2027, 12, 5), 1)
    assert next_day.installments[1].status == InstallmentStatus.OVERDUE
    assert (next_day.arrears, next_day.amount_due, next_day.next_due_at) == (
        PREMIUM,
        PREMIUM,
        DUE_2,
    )


def test_two_missed_anniversaries_are_both_due_and_paid_to_stays_at_the_first() -> None:
    s = schedule(at(2028, 12, 5), 1)

    assert statuses(s)[:4] == ["paid", "overdue", "overdue", "due"]
    assert s.amount_due == s.arrears == Decimal("3000.00")
    assert s.next_due_at == DUE_2 and s.paid_to == DUE_2


def test_a_payment_after_a_gap_does_not_extend_the_cover_paid_in_order() -> None:
    s = schedule(at(2028, 12, 5), 1, 3)

    assert statuses(s)[:3] == ["paid", "overdue", "paid"]
    assert s.installments_paid == 1 and s.paid_to == DUE_2


def test_after_the_policy_ends_nothing_unpaid_is_owed() -> None:
    ended = at(2030, 1, 12)
    s = schedule(at(2030, 2, 1), 1, ended_at=ended)

    assert statuses(s) == ["paid"] + ["waived"] * 19
    assert s.next_due_at is None and s.amount_due == s.arrears == Decimal("0.00")
    # Before its end, the same schedule still shows what was owed.
    assert schedule(ended - SECOND, 1, ended_at=ended).installments[1].status == "overdue"


def test_29_february_policies_pay_on_28_february_in_common_years() -> None:
    leap = at(2028, 2, 29)
    s = premium_schedule(
        TERM, effective_at=leap, premium=PREMIUM, payments=paid(1, effective_at=leap), on=leap
    )

    assert [i.due_at.date() for i in s.installments[:5]] == [
        date(2028, 2, 29),
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]
    assert s.paid_to == at(2029, 2, 28)


def test_a_one_year_product_has_one_installment_the_enrollment_collected() -> None:
    s = premium_schedule(
        MEDICAL,
        effective_at=EFFECTIVE,
        premium=Decimal("250.00"),
        payments=[PremiumPayment(n=1, paid_at=EFFECTIVE, amount=Decimal("250.00"))],
        on=at(2027, 6, 1),
    )

    assert statuses(s) == ["paid"]
    assert s.next_due_at is None and s.paid_to == DUE_2  # its expiry


def test_amounts_are_quantised_to_the_cent() -> None:
    s = premium_schedule(
        TERM, effective_at=EFFECTIVE, premium=Decimal("1500.005"), payments=[], on=EFFECTIVE
    )
    assert s.installments[0].amount == Decimal("1500.01")


def test_a_payment_the_schedule_does_not_have_or_a_second_one_is_an_error() -> None:
    with pytest.raises(ValueError, match="20 installments"):
        schedule(EFFECTIVE, 21)
    with pytest.raises(ValueError, match="paid twice"):
        schedule(EFFECTIVE, 1, 1)
    with pytest.raises(ValidationError):
        PremiumPayment(n=0, paid_at=EFFECTIVE, amount=PREMIUM)
    with pytest.raises(ValidationError):  # a moment without its offset
        PremiumPayment(n=1, paid_at=datetime(2026, 12, 4), amount=PREMIUM)
    with pytest.raises(ValueError, match="numbered from 1"):
        installment_due_at(EFFECTIVE, 0)


# --- reminders, debits, the payment demand -------------------------------------------------


def test_reminders_go_out_30_and_7_days_before_the_due_date() -> None:
    assert premium_reminders_at(DUE_2, CLOCKS) == [at(2027, 11, 4), at(2027, 11, 27)]


def test_reminders_follow_the_setting_earliest_first() -> None:
    clocks = ProcessClocks.model_validate({"premium_reminders": "P1D,P14D"})
    assert premium_reminders_at(DUE_2, clocks) == [at(2027, 11, 20), at(2027, 12, 3)]


def test_a_failed_debit_is_tried_again_on_days_1_3_and_7_then_the_demand_goes_out() -> None:
    assert debit_retries_at(DUE_2, CLOCKS) == [at(2027, 12, 5), at(2027, 12, 7), at(2027, 12, 11)]
    assert payment_demand_at(DUE_2, CLOCKS) == at(2027, 12, 11)


# --- grace and suspension ------------------------------------------------------------------


def test_without_a_demand_grace_ends_with_the_60th_day_after_the_due_date() -> None:
    # 5 Dec is day 1, 2 Feb 2028 day 60.
    assert grace_ends_at(DUE_2, CLOCKS) == at(2028, 2, 3)


def test_a_demand_ends_grace_30_days_after_it_when_that_comes_first() -> None:
    demand = payment_demand_at(DUE_2, CLOCKS)  # 11 Dec: day 30 is 10 Jan
    assert grace_ends_at(DUE_2, CLOCKS, demand_at=demand) == at(2028, 1, 11)


def test_a_late_demand_does_not_lengthen_grace_beyond_60_days() -> None:
    late = at(2028, 1, 20, 10)  # its 30 days would end on 20 Feb
    assert grace_ends_at(DUE_2, CLOCKS, demand_at=late) == at(2028, 2, 3)


def test_the_two_limits_meet_when_the_demand_is_30_days_after_the_due_date() -> None:
    demand = at(2028, 1, 3, 9)  # 30 + 30 = 60 days after 4 Dec
    assert grace_ends_at(DUE_2, CLOCKS, demand_at=demand) == at(2028, 2, 3)


def test_grace_spans_29_february_in_a_leap_year() -> None:
    due = at(2028, 1, 1)  # 60 days: 31 of January, 29 of February → 1 March
    assert grace_ends_at(due, CLOCKS) == at(2028, 3, 2)
    assert grace_ends_at(at(2027, 1, 1), CLOCKS) == at(2027, 3, 3)


def test_the_policy_is_effective_then_in_grace_then_suspended() -> None:
    demand = payment_demand_at(DUE_2, CLOCKS)

    def status(on: datetime, *installments: int) -> PolicyStatus:
        return status_from_premiums(schedule(on, *installments), CLOCKS, demand_at=demand)

    assert status(at(2027, 12, 4, 23, 59), 1) == PolicyStatus.EFFECTIVE  # the due day
    assert status(at(2027, 12, 5), 1) == PolicyStatus.GRACE
    assert status(at(2028, 1, 11) - SECOND, 1) == PolicyStatus.GRACE
    assert status(at(2028, 1, 11), 1) == PolicyStatus.SUSPENDED
    assert status(at(2028, 1, 11), 1, 2) == PolicyStatus.EFFECTIVE  # paid in time


def test_the_suspension_notice_is_due_on_the_10th_working_day_after_suspension() -> None:
    assert suspension_notice_due(at(2028, 1, 11), CLOCKS) == WorkingDaysAsk(
        after=date(2028, 1, 11), days=10
    )


# --- reinstatement and termination ---------------------------------------------------------

SUSPENDED_AT = at(2028, 1, 11)


def test_the_reinstatement_window_closes_two_years_after_the_day_of_suspension() -> None:
    assert reinstatement_deadline(SUSPENDED_AT, CLOCKS) == at(2030, 1, 12)


def test_a_suspension_on_29_february_closes_its_window_at_the_end_of_28_february() -> None:
    assert reinstatement_deadline(at(2028, 2, 29), CLOCKS) == at(2030, 3, 1)


def test_reinstatement_is_open_while_suspended_up_to_the_deadline() -> None:
    def refusal(on: datetime, status: PolicyStatus = PolicyStatus.SUSPENDED) -> str | None:
        return reinstatement_refusal(status=status, suspended_at=SUSPENDED_AT, on=on, clocks=CLOCKS)

    assert refusal(SUSPENDED_AT) is None
    assert refusal(at(2030, 1, 12) - SECOND) is None  # the last moment of the window
    assert refusal(at(2030, 1, 12)) == "not_reinstatable"
    assert refusal(at(2029, 1, 1), PolicyStatus.GRACE) == "not_reinstatable"
    assert refusal(at(2029, 1, 1), PolicyStatus.TERMINATED) == "not_reinstatable"
    assert (
        reinstatement_refusal(
            status=PolicyStatus.SUSPENDED, suspended_at=None, on=SUSPENDED_AT, clocks=CLOCKS
        )
        == "not_reinstatable"
    )


def test_no_decision_within_30_days_of_the_application_is_consent() -> None:
    # Applied on 1 March: day 30 is 31 March.
    assert reinstatement_deemed_consent_at(at(2028, 3, 1, 10), CLOCKS) == at(2028, 4, 1)


def test_interest_on_a_worked_example() -> None:
    # 1,500.00 at 5 % a year for 194 days: 1500 x 0.05 x 194 / 365 = 39.863... → 39.86.
    assert interest_on(PREMIUM, rate=Decimal("0.05"), days=194) == Decimal("39.86")
    assert interest_on(PREMIUM, rate=Decimal("0"), days=194) == Decimal("0.00")


def test_reinstatement_collects_the_arrears_with_interest_from_the_due_date() -> None:
    clocks = ProcessClocks(reinstatement_interest_rate=Decimal("0.05"))
    paid_at = at(2028, 6, 15, 15, 30)  # 194 days after 4 December 2027

    charge = reinstatement_charge(schedule(paid_at, 1), paid_at=paid_at, clocks=clocks)

    assert [(line.n, line.days, line.interest) for line in charge.lines] == [
        (2, 194, Decimal("39.86"))
    ]
    assert (charge.arrears, charge.interest, charge.total) == (
        Decimal("1500.00"),
        Decimal("39.86"),
        Decimal("1539.86"),
    )


def test_an_anniversary_passed_in_suspension_is_collected_too_each_from_its_own_date() -> None:
    clocks = ProcessClocks(reinstatement_interest_rate=Decimal("0.05"))
    paid_at = at(2029, 3, 1)
    # n=2: 453 days → 93.082... → 93.08; n=3 (4 Dec 2028): 87 days → 17.876... → 17.88.
    charge = reinstatement_charge(schedule(paid_at, 1), paid_at=paid_at, clocks=clocks)

    assert [(line.n, line.days, line.interest) for line in charge.lines] == [
        (2, 453, Decimal("93.08")),
        (3, 87, Decimal("17.88")),
    ]
    assert charge.total == Decimal("3110.96")


def test_an_installment_due_on_the_payment_day_is_collected_without_interest() -> None:
    clocks = ProcessClocks(reinstatement_interest_rate=Decimal("0.05"))
    paid_at = at(2028, 12, 4, 12)
    charge = reinstatement_charge(schedule(paid_at, 1), paid_at=paid_at, clocks=clocks)

    assert [(line.n, line.days) for line in charge.lines] == [(2, 366), (3, 0)]
    assert charge.lines[1].interest == Decimal("0.00")


def test_without_an_interest_rate_reinstatement_collects_the_arrears_alone() -> None:
    paid_at = at(2028, 6, 15)
    charge = reinstatement_charge(schedule(paid_at, 1), paid_at=paid_at, clocks=CLOCKS)
    assert (charge.interest, charge.total) == (Decimal("0.00"), Decimal("1500.00"))


def test_a_reinstated_policy_is_in_force_from_the_start_of_the_payment_day() -> None:
    assert reinstated_from(at(2028, 6, 15, 15, 30)) == at(2028, 6, 15)
    # 16:30 UTC on the 14th is 00:30 on the 15th in Shanghai.
    assert reinstated_from(datetime(2028, 6, 14, 16, 30, tzinfo=UTC)) == at(2028, 6, 15)


# --- cash value ----------------------------------------------------------------------------


def value(on: datetime, installments_paid: int, *, effective_at: datetime = EFFECTIVE) -> Decimal:
    return cash_value(
        TERM,
        premium=PREMIUM,
        effective_at=effective_at,
        installments_paid=installments_paid,
        on=on,
    )


def test_policy_years_are_completed_on_each_anniversary() -> None:
    assert completed_policy_years(EFFECTIVE, EFFECTIVE - SECOND) == 0
    assert completed_policy_years(EFFECTIVE, DUE_2 - SECOND) == 0
    assert completed_policy_years(EFFECTIVE, DUE_2) == 1
    assert completed_policy_years(EFFECTIVE, at(2046, 12, 4)) == 20
    # The same moment told in UTC (16:00 on the 3rd is midnight on the 4th in Shanghai).
    assert completed_policy_years(EFFECTIVE, DUE_2.astimezone(UTC)) == 1


def test_the_cash_value_at_a_year_end_is_the_tables_figure_per_thousand_of_premium() -> None:
    # End of year 10: 540 per 1,000 of 1,500.00.
    assert value(at(2036, 12, 4), 11) == Decimal("810.00")
    assert value(at(2027, 12, 4), 2) == Decimal("45.00")  # end of year 1: 30


def test_within_a_year_the_cash_value_moves_pro_rata_by_whole_days() -> None:
    # 182 of 365 days into year 11 (540 → 550): (540 + 10 x 182/365) x 1.5 = 817.479...
    assert value(at(2037, 6, 4, 18), 11) == Decimal("817.48")


def test_a_policy_year_with_29_february_has_366_days() -> None:
    # Year 1 (30 per 1,000 at its end), 184 days in: of 366 days 22.62, of 365 it would be 22.68.
    assert value(at(2027, 9, 1), 1, effective_at=at(2027, 3, 1)) == Decimal("22.62")
    assert value(at(2026, 9, 1), 1, effective_at=at(2026, 3, 1)) == Decimal("22.68")


def test_term_life_has_no_cash_value_at_the_start_nor_at_the_end() -> None:
    assert value(EFFECTIVE, 1) == Decimal("0.00")
    assert value(EFFECTIVE - timedelta(days=3), 1) == Decimal("0.00")
    assert value(at(2046, 12, 4), 20) == Decimal("0.00")
    assert value(at(2050, 1, 1), 20) == Decimal("0.00")


def test_unpaid_cover_builds_no_value_it_stays_at_the_last_paid_year_end() -> None:
    # Ten installments paid, the eleventh missed: year 10's 810.00, in grace and after.
    assert value(at(2036, 12, 20), 10) == Decimal("810.00")
    assert value(at(2038, 5, 1), 10) == Decimal("810.00")


def test_termination_after_two_years_suspended_refunds_the_cash_value() -> None:
    # Only the first premium paid; suspended 11 January 2028, terminated 12 January 2030.
    terminated_at = reinstatement_deadline(SUSPENDED_AT, CLOCKS)
    assert value(terminated_at, 1) == Decimal("45.00")


def test_a_one_year_product_refunds_its_unearned_premium_less_a_quarter() -> None:
    def one_year(on: datetime) -> Decimal:
        return cash_value(
            ACCIDENT,
            premium=Decimal("800.00"),
            effective_at=EFFECTIVE,
            installments_paid=1,
            on=on,
        )

    assert one_year(EFFECTIVE) == Decimal("600.00")
    # 182 of 365 days gone: 750 x 183/365 x 0.8 = 300.82.
    assert one_year(at(2027, 6, 4)) == Decimal("300.82")
    assert one_year(DUE_2) == Decimal("0.00")


# --- surrender -----------------------------------------------------------------------------

COOLING_OFF_ENDS = at(2026, 12, 19)


def test_surrender_in_the_cooling_off_period_is_sent_to_the_cancellation() -> None:
    def refusal(on: datetime, status: PolicyStatus = PolicyStatus.EFFECTIVE) -> str | None:
        return surrender_refusal(status=status, cooling_off_ends_at=COOLING_OFF_ENDS, on=on)

    assert refusal(COOLING_OFF_ENDS - SECOND) == "use_cooling_off_cancellation"
    assert refusal(COOLING_OFF_ENDS) is None
    assert refusal(at(2029, 1, 1), PolicyStatus.SUSPENDED) is None
    assert refusal(at(2029, 1, 1), PolicyStatus.SURRENDERED) == "already_surrendered"
    assert refusal(at(2029, 1, 1), PolicyStatus.TERMINATED) == "policy_closed"


def test_a_policy_without_a_cooling_off_period_may_be_surrendered_at_once() -> None:
    assert (
        surrender_refusal(status=PolicyStatus.EFFECTIVE, cooling_off_ends_at=None, on=EFFECTIVE)
        is None
    )


def test_the_surrender_is_paid_by_the_end_of_the_30th_day_after_the_request() -> None:
    # Requested 10 May: day 30 is 9 June.
    assert surrender_payment_due_at(at(2030, 5, 10, 14), CLOCKS) == at(2030, 6, 10)


# --- a claim in grace ----------------------------------------------------------------------


def test_a_claim_in_grace_is_paid_less_the_installments_due_by_the_incident() -> None:
    s = schedule(at(2028, 1, 5), 1)

    assert arrears_on(s, at(2027, 12, 3, 23)) == Decimal("0.00")  # before the due date
    assert arrears_on(s, at(2027, 12, 4, 8)) == PREMIUM  # on the due date, unpaid
    assert arrears_on(s, at(2027, 12, 20)) == PREMIUM


def test_the_arrears_show_as_a_reduction_of_the_assessment() -> None:
    s = schedule(at(2028, 1, 5), 1)

    reduction = arrears_reduction(s, at(2027, 12, 20))

    assert reduction is not None
    assert (reduction.reason, reduction.amount) == ("arrears", PREMIUM)
    assert arrears_reduction(schedule(at(2028, 1, 5), 1, 2), at(2027, 12, 20)) is None


# --- one-year renewal ----------------------------------------------------------------------

EXPIRES = DUE_2  # a one-year policy from 4 December 2026


def test_only_one_year_products_renew() -> None:
    assert is_renewable(MEDICAL) and is_renewable(ACCIDENT) and not is_renewable(TERM)


def test_the_renewal_window_is_the_30_days_before_expiry() -> None:
    def refusal(on: datetime, status: PolicyStatus = PolicyStatus.EFFECTIVE) -> str | None:
        return renewal_refusal(MEDICAL, status=status, expires_at=EXPIRES, on=on, clocks=CLOCKS)

    assert renewal_window_opens_at(EXPIRES, CLOCKS) == at(2027, 11, 4)
    assert refusal(at(2027, 11, 4) - SECOND) == "renewal_window_closed"
    assert refusal(at(2027, 11, 4)) is None
    assert refusal(EXPIRES - SECOND) is None
    assert refusal(EXPIRES) == "renewal_window_closed"
    assert refusal(at(2027, 11, 20), PolicyStatus.EXPIRED) == "policy_closed"


def test_term_life_takes_no_renewal_decision() -> None:
    assert (
        renewal_refusal(
            TERM,
            status=PolicyStatus.EFFECTIVE,
            expires_at=at(2046, 12, 4),
            on=at(2046, 11, 20),
            clocks=CLOCKS,
        )
        == "renewal_window_closed"
    )
    with pytest.raises(ValueError, match="not renewed"):
        renewal_offer(
            TERM,
            sum_insured=Decimal("1000000"),
            birth_date=date(1991, 1, 1),
            offered_at=at(2046, 11, 4),
            expires_at=at(2046, 12, 4),
            continuous_since=EFFECTIVE,
        )


def renew(birth_date: date) -> RenewalOffer:
    """MEDICAL_1Y for 100,000, offered when the window opens (4 November 2027)."""
    return renewal_offer(
        MEDICAL,
        sum_insured=Decimal("100000"),
        birth_date=birth_date,
        offered_at=renewal_window_opens_at(EXPIRES, CLOCKS),
        expires_at=EXPIRES,
        continuous_since=EFFECTIVE,
    )


def test_the_renewal_premium_is_at_the_age_on_the_offers_day() -> None:
    # 41 on 4 November 2027: the 41-55 band (4.00 per mille); a day younger, still 40 (2.50).
    older, younger = renew(date(1986, 11, 4)), renew(date(1986, 11, 5))

    assert (older.age, older.premium) == (41, Decimal("400.00"))
    assert (younger.age, younger.premium) == (40, Decimal("250.00"))


def test_the_next_period_starts_at_the_old_expiry_without_a_new_waiting_period() -> None:
    o = renew(date(1990, 6, 1))

    assert (o.starts_at, o.ends_at) == (EXPIRES, at(2028, 12, 4))
    assert o.continuous_since == EFFECTIVE  # waiting periods count from the first start
    assert o.guaranteed is False  # MEDICAL_1Y: renewal is not guaranteed


def test_an_insured_past_the_products_age_is_not_offered_a_renewal() -> None:
    with pytest.raises(QuoteRefused) as caught:
        renew(date(1961, 11, 4))  # 66 on the offer's day
    assert caught.value.code == "age_not_eligible"


# --- where a policy's premiums stand, for its readers --------------------------------------

DEMAND = payment_demand_at(DUE_2, CLOCKS)  # 11 Dec 2027


def policy(status: PolicyStatus, *installments: int, **recorded: object) -> PolicyState:
    """The running example's policy as its process recorded it: these installments paid,
    and ``recorded`` what it set for an unpaid one (demand, grace, suspension, ending)."""
    return PolicyState(
        policy_number="P1",
        workflow_id="policy-P1",
        application_no="A-1",
        agent="alice",
        customer_id="c-1",
        holder=MaskedCustomer(name="张*", id_number="1101**********123X", phone="138****0000"),
        product_code=TERM.code,
        term_years=20,
        sum_insured=Decimal("1000000.00"),
        premium=PREMIUM,
        installments=True,
        stage=PolicyStage.ENDED if "ended_at" in recorded else PolicyStage.IN_FORCE,
        status=status,
        issued_at=EFFECTIVE,
        effective_at=EFFECTIVE,
        expires_at=at(2046, 12, 4),
        payments=paid(*installments),
    ).model_copy(update=recorded)


def test_a_policy_in_force_owes_its_next_installment_on_the_anniversary() -> None:
    standing = premium_standing(policy(PolicyStatus.EFFECTIVE, 1), on=at(2027, 6, 1), clocks=CLOCKS)

    assert statuses(standing.schedule)[:3] == ["paid", "due", "due"]
    assert (standing.next_due_at, standing.amount_due) == (DUE_2, PREMIUM)
    assert standing.schedule.arrears == Decimal("0.00")
    assert standing.schedule.paid_to == DUE_2
    assert (standing.grace_ends_at, standing.suspended_at) == (None, None)
    assert standing.reinstatement_deadline is None
    # 179 of 365 days into year 1 (0 → 30 per 1,000): 45.00 x 179/365 = 22.07.
    assert standing.cash_value == Decimal("22.07")


def test_a_policy_in_grace_shows_the_overdue_installment_as_arrears_and_the_end_of_grace() -> None:
    grace_end = grace_ends_at(DUE_2, CLOCKS, demand_at=DEMAND)
    in_grace = policy(PolicyStatus.GRACE, 1, demand_at=DEMAND, grace_ends_at=grace_end)

    standing = premium_standing(in_grace, on=at(2027, 12, 20), clocks=CLOCKS)

    assert statuses(standing.schedule)[:3] == ["paid", "overdue", "due"]
    assert (standing.next_due_at, standing.amount_due) == (DUE_2, PREMIUM)
    assert standing.schedule.arrears == PREMIUM
    assert standing.grace_ends_at == at(2028, 1, 11)
    assert standing.reinstatement_deadline is None
    assert standing.cash_value == Decimal("45.00")  # unpaid cover builds nothing: year 1's


def test_a_suspended_policy_shows_when_it_was_suspended_and_until_when_it_may_be_reinstated() -> (
    None
):
    suspended = policy(PolicyStatus.SUSPENDED, 1, demand_at=DEMAND, suspended_at=SUSPENDED_AT)

    standing = premium_standing(suspended, on=at(2029, 1, 10), clocks=CLOCKS)

    # A second anniversary passed in suspension: both overdue, both owed.
    assert statuses(standing.schedule)[:4] == ["paid", "overdue", "overdue", "due"]
    assert standing.next_due_at == DUE_2
    assert standing.amount_due == standing.schedule.arrears == Decimal("3000.00")
    assert standing.schedule.paid_to == DUE_2
    assert (standing.grace_ends_at, standing.suspended_at) == (None, SUSPENDED_AT)
    assert standing.reinstatement_deadline == at(2030, 1, 12)
    assert standing.cash_value == Decimal("45.00")


def test_an_ended_policy_is_read_as_it_stood_at_its_ending_nothing_owed_no_value_left() -> None:
    ended_at = at(2026, 12, 10)
    cancelled = policy(PolicyStatus.CANCELLED, 1, ended_at=ended_at)

    standing = premium_standing(cancelled, on=at(2030, 1, 1), clocks=CLOCKS)

    assert standing.schedule.as_of == ended_at
    assert statuses(standing.schedule) == ["paid"] + ["waived"] * 19
    assert (standing.next_due_at, standing.amount_due) == (None, None)
    assert standing.schedule.arrears == Decimal("0.00")
    assert standing.cash_value == Decimal("0.00")


# --- a short policy year (development: INSUREFLOW_POLICY_YEAR) ----------------------------

SHORT = ProcessClocks(policy_year=timedelta(minutes=2))
MINUTE = timedelta(minutes=1)


def short_schedule(on: datetime, *installments: int) -> PremiumSchedule:
    return premium_schedule(
        TERM,
        effective_at=EFFECTIVE,
        premium=PREMIUM,
        payments=[
            PremiumPayment(
                n=n, paid_at=installment_due_at(EFFECTIVE, n, clocks=SHORT), amount=PREMIUM
            )
            for n in installments
        ],
        on=on,
        clocks=SHORT,
    )


def test_with_a_short_policy_year_an_installment_falls_due_every_such_year() -> None:
    s = short_schedule(EFFECTIVE + 5 * MINUTE, 1, 2, 3)

    assert [i.due_at for i in s.installments] == [EFFECTIVE + 2 * k * MINUTE for k in range(20)]
    assert statuses(s) == ["paid"] * 3 + ["due"] * 17  # due, not overdue: still the same day
    assert (s.installments_paid, s.paid_to) == (3, EFFECTIVE + 6 * MINUTE)
    assert short_schedule(EFFECTIVE, *range(1, 21)).paid_to == EFFECTIVE + 40 * MINUTE


def test_short_policy_years_are_completed_and_valued_by_the_clock_not_the_day() -> None:
    assert completed_policy_years(EFFECTIVE, EFFECTIVE + 2 * MINUTE - SECOND, clocks=SHORT) == 0
    assert completed_policy_years(EFFECTIVE, EFFECTIVE + 21 * MINUTE, clocks=SHORT) == 10
    assert completed_policy_years(EFFECTIVE, EFFECTIVE + 41 * MINUTE, clocks=SHORT) == 20

    def short_value(on: datetime) -> Decimal:
        return cash_value(
            TERM, premium=PREMIUM, effective_at=EFFECTIVE, installments_paid=11, on=on, clocks=SHORT
        )

    # Half way through year 11 (540 → 550), a minute in: (540 + 10 x 0.5) x 1.5 = 817.50.
    assert short_value(EFFECTIVE + 21 * MINUTE) == Decimal("817.50")
    assert short_value(EFFECTIVE + 20 * MINUTE) == value(at(2036, 12, 4), 11)  # end of year 10


def test_with_a_short_policy_year_the_reinstatement_window_is_two_of_them() -> None:
    assert reinstatement_deadline(SUSPENDED_AT, SHORT) == SUSPENDED_AT + 4 * MINUTE
    assert (
        reinstatement_refusal(
            status=PolicyStatus.SUSPENDED,
            suspended_at=SUSPENDED_AT,
            on=SUSPENDED_AT + 4 * MINUTE,
            clocks=SHORT,
        )
        == "not_reinstatable"
    )


def test_periods_in_days_keep_their_days_with_a_short_policy_year() -> None:
    # Grace, the demand, deemed consent and the surrender's payment are not policy years.
    assert grace_ends_at(DUE_2, SHORT) == grace_ends_at(DUE_2, CLOCKS) == at(2028, 2, 3)
    assert payment_demand_at(DUE_2, SHORT) == DUE_2 + timedelta(days=7)
    assert reinstatement_deemed_consent_at(SUSPENDED_AT, SHORT) == at(2028, 2, 11)
    assert surrender_payment_due_at(SUSPENDED_AT, SHORT) == at(2028, 2, 11)


def test_a_one_year_renewal_runs_one_short_year() -> None:
    expires = EFFECTIVE + 2 * MINUTE
    offer = renewal_offer(
        MEDICAL,
        sum_insured=Decimal("100000"),
        birth_date=date(1990, 6, 1),
        offered_at=EFFECTIVE,
        expires_at=expires,
        continuous_since=EFFECTIVE,
        clocks=SHORT,
    )
    assert (offer.starts_at, offer.ends_at) == (expires, expires + 2 * MINUTE)


def test_the_readers_standing_counts_policy_years_with_the_clocks_they_pass() -> None:
    standing = premium_standing(policy(PolicyStatus.EFFECTIVE, 1), on=EFFECTIVE, clocks=SHORT)
    assert standing.next_due_at == EFFECTIVE + 2 * MINUTE


# --- the refusals --------------------------------------------------------------------------


def test_every_refusal_these_rules_answer_is_registered_as_a_conflict() -> None:
    for code in (
        "use_cooling_off_cancellation",
        "already_surrendered",
        "not_reinstatable",
        "renewal_window_closed",
        "policy_closed",
    ):
        assert REFUSALS[code].status == 409, code


# --- a claim and the policy's premiums: suspended days, arrears ---------------------------

# The running example's second installment missed: in grace from 5 December 2027, the payment
# demand on 11 December (day 7), so grace ends after 10 January (30 days after the demand,
# before the 60 after the due date): suspended at midnight starting 11 January 2028
# (SUSPENDED_AT). Reinstated on 15 June 2028 at 15:30, in force again from that day's start.
REINSTATED_AT = at(2028, 6, 15, 15, 30)
STATUS_LINES = [
    (EFFECTIVE, PolicyStatus.EFFECTIVE),
    (at(2027, 12, 5), PolicyStatus.GRACE),
    (at(2027, 12, 11, 9), PolicyStatus.GRACE),  # the payment demand
    (SUSPENDED_AT, PolicyStatus.SUSPENDED),
    (at(2028, 3, 1, 10), PolicyStatus.SUSPENDED),  # the reinstatement applied for
    (REINSTATED_AT, PolicyStatus.EFFECTIVE),
]


def after(lines: int, *installments: int, **recorded: object) -> PolicyState:
    """The running example's policy after its first ``lines`` status lines (``policy``)."""
    history = [
        PolicyHistoryEntry(stage=PolicyStage.IN_FORCE, status=status, at=moment, by="system")
        for moment, status in STATUS_LINES[:lines]
    ]
    return policy(history[-1].status, *(installments or (1,)), history=history, **recorded)


def test_an_incident_while_suspended_is_not_covered_but_one_in_grace_before_it_is() -> None:
    periods = suspensions(after(5, suspended_at=SUSPENDED_AT))

    assert grace_ends_at(DUE_2, CLOCKS, demand_at=STATUS_LINES[2][0]) == SUSPENDED_AT
    assert periods == [Suspension(since=SUSPENDED_AT)]
    assert not suspended_on(periods, date(2028, 1, 10))  # the last day of grace
    assert suspended_on(periods, date(2028, 1, 11))  # the day of suspension
    assert suspended_on(periods, date(2029, 6, 1))


def test_after_a_reinstatement_the_suspension_stays_uncovered_and_cover_resumes_that_day() -> None:
    # A reinstatement clears suspended_at; the history still dates the suspension.
    arrears_paid = PremiumPayment(n=2, paid_at=REINSTATED_AT, amount=PREMIUM)
    reinstated = after(6, payments=[*paid(1), arrears_paid])

    periods = suspensions(reinstated)

    assert periods == [Suspension(since=SUSPENDED_AT, until=at(2028, 6, 15))]
    assert not suspended_on(periods, date(2028, 1, 10))
    assert suspended_on(periods, date(2028, 1, 11))
    assert suspended_on(periods, date(2028, 6, 14))  # the day before the arrears were paid
    assert not suspended_on(periods, date(2028, 6, 15))  # in force from the payment day


def test_a_policy_never_suspended_has_no_suspension() -> None:
    assert suspensions(after(3)) == []
    assert not suspended_on([], date(2028, 1, 11))


def test_a_suspension_that_ended_in_termination_has_no_end() -> None:
    ended = after(5).model_copy(deep=True)
    ended.history.append(
        PolicyHistoryEntry(
            stage=PolicyStage.ENDED,
            status=PolicyStatus.TERMINATED,
            at=at(2030, 1, 12),
            by="system",
        )
    )
    ended.status = PolicyStatus.TERMINATED

    assert suspensions(ended) == [Suspension(since=SUSPENDED_AT)]


def test_a_claim_is_paid_less_the_premium_owed_at_its_incident_from_the_policys_state() -> None:
    in_grace = policy(PolicyStatus.GRACE, 1)
    reduction = claim_arrears(in_grace, incident_date=date(2027, 12, 20))

    assert reduction is not None
    assert (reduction.reason, reduction.amount) == ("arrears", PREMIUM)
    assert reduction.detail == "unpaid premium due by 2027-12-20"
    assert claim_arrears(in_grace, incident_date=date(2027, 12, 3)) is None  # before it was due
    # Installment 2 paid before the claim: nothing is taken twice.
    paid_since = policy(PolicyStatus.EFFECTIVE, 1, 2)
    assert claim_arrears(paid_since, incident_date=date(2027, 12, 20)) is None


def test_a_later_ending_does_not_waive_the_arrears_a_claim_is_paid_less() -> None:
    ended = policy(PolicyStatus.EXPIRED, 1, ended_at=at(2028, 1, 2))

    reduction = claim_arrears(ended, incident_date=date(2027, 12, 20))

    assert reduction is not None and reduction.amount == PREMIUM
