"""The working-day step: PRC working days (domain.working_days) computed in an activity.

Why an activity for a pure rule: the holiday data comes with the ``chinese-calendar``
package and changes when it is upgraded; an activity's answer is recorded in the history,
so a running process replays the day it was given, whatever calendar the worker has now.
A date beyond the data fails the step (retried, and seen by ops as an incident) until the
package carrying that year is deployed: never a day guessed from the weekday.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import steps
from domain.activities import WorkingDay, WorkingDaysAsk
from domain.working_days import CalendarOutOfRange, add_working_days


@activity.defn(name=steps.ADD_WORKING_DAYS.name)
async def add_working_days_step(ask: WorkingDaysAsk) -> WorkingDay:
    try:
        return WorkingDay(day=add_working_days(ask.after, ask.days))
    except CalendarOutOfRange as err:
        # Retryable on purpose: it passes once the next year's calendar is installed.
        raise ApplicationError(str(err), type="calendar_out_of_range") from err
