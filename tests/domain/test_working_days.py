"""Working days on the PRC calendar, with its make-up working days."""

from __future__ import annotations

from datetime import date

import pytest

from domain.working_days import (
    CalendarOutOfRange,
    add_working_days,
    is_working_day,
    next_working_day,
)


def test_a_national_day_holiday_weekday_is_not_a_working_day() -> None:
    assert not is_working_day(date(2026, 10, 2))  # a Friday in the Golden Week


def test_an_official_make_up_saturday_is_a_working_day() -> None:
    assert date(2026, 10, 10).weekday() == 5
    assert is_working_day(date(2026, 10, 10))


def test_an_ordinary_sunday_is_not_a_working_day() -> None:
    assert not is_working_day(date(2026, 11, 1))


def test_the_next_working_day_after_the_golden_week_eve_skips_the_holiday() -> None:
    assert next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)


def test_counting_working_days_includes_the_make_up_saturday() -> None:
    # 8 Oct (Thu), 9 Oct (Fri), 10 Oct (the make-up Saturday), 12 Oct (Mon).
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert add_working_days(date(2026, 9, 30), 4) == date(2026, 10, 12)


def test_fifteen_working_days_from_a_monday_are_three_weeks_without_holidays() -> None:
    assert add_working_days(date(2026, 11, 2), 15) == date(2026, 11, 23)


def test_a_date_outside_the_calendar_data_is_an_error_not_a_guess() -> None:
    with pytest.raises(CalendarOutOfRange, match="no PRC holiday data for 2099"):
        is_working_day(date(2099, 3, 2))
    with pytest.raises(CalendarOutOfRange):
        add_working_days(date(2099, 3, 2), 1)


def test_zero_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(date(2026, 11, 2), 0)
