"""Working days on the PRC calendar (法定节假日 and the official make-up working days, 调休).

The State Council publishes each year's holidays and make-up days in the preceding winter;
the ``chinese-calendar`` package carries them. A date outside its data is an explicit
error (``CalendarOutOfRange``), never a guess by weekday: a due date computed on a
guessed calendar would be wrong in exactly the weeks that matter (Spring Festival,
National Day). Upgrade the package when the next year's schedule is published.

Pure (no I/O), but the processes do not call it in workflow code: they ask the
``add_working_days`` step (an activity), so a calendar upgrade never changes what a
running process replays, and a date beyond the data is a retried, visible step rather
than a halted process (docs/policies.md, "Working days").
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar


class CalendarOutOfRange(ValueError):
    """The date lies outside the years the installed calendar data covers."""


def is_working_day(day: date) -> bool:
    """True for a PRC working day: a weekday that is no public holiday, or a weekend day
    the State Council made a working day."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as err:  # the package's answer for a year it has no data for
        raise CalendarOutOfRange(
            f"no PRC holiday data for {day.year}: upgrade chinese-calendar"
        ) from err


def add_working_days(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (``day`` itself is not counted; n >= 1)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    current = day
    left = n
    while left:
        current += timedelta(days=1)
        if is_working_day(current):
            left -= 1
    return current


def next_working_day(day: date) -> date:
    """The first working day after ``day``."""
    return add_working_days(day, 1)
