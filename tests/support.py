"""Constants and small tools shared by the tests (import as ``tests.support``)."""

from __future__ import annotations

import base64
import sys
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from temporalio import activity

from core.keys import Keyring
from domain import steps
from domain.activities import ChangeBatch, ChangesRecorded, WorkingDay, WorkingDaysAsk
from domain.identity import make_id_number
from domain.products import get_product

BIN = Path(sys.executable).parent

# The steps' names as the mocked worlds of the workflow tests log their calls, and the
# state records a ``record_changes`` batch carries (``record_changes_mock``).
act = SimpleNamespace(
    **{name.upper(): name for name in (s.name for s in steps.STEPS)},
    RECORD_ENROLLMENT="record_enrollment",
    RECORD_CLAIM="record_claim",
    RECORD_POLICY="record_policy",
    STEP_OF_CHANGE=steps.STEP_OF_CHANGE,
)
# The catalogue's products, as the domain tests name them.
TERM = get_product("TERM_LIFE_20")
ACCIDENT = get_product("ACCIDENT_1Y")
MEDICAL = get_product("MEDICAL_1Y")

TEST_KEYRING = Keyring(active_id="test-1", keys={"test-1": b"k" * 32})

# A customer born 17 May 1990; the number is valid but belongs to nobody.
CUSTOMER_ID_NUMBER = make_id_number("110101", date(1990, 5, 17), 123)


def keyring_spec(keyring: Keyring = TEST_KEYRING) -> str:
    """The ``INSUREFLOW_CODEC_KEYS`` value for a keyring."""
    return ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in keyring.keys.items())


def record_changes_mock(
    calls: list[tuple[str, Any]],
    before: Callable[[ChangeBatch], Awaitable[None]] | None = None,
    *,
    policy_calls: list[tuple[str, Any]] | None = None,
) -> Any:
    """A mocked ``record_changes`` (the batched write of domain.steps) that
    logs the batch in ``calls`` as the single steps it stands for — the state's record,
    then each change under its step's name — so tests read the same calls either way.
    With ``policy_calls``, the policy process's batches go there instead (an enrollment
    test's world sees only the enrollment's own writes)."""

    @activity.defn(name=act.RECORD_CHANGES)
    async def record_changes(batch: ChangeBatch) -> ChangesRecorded:
        if before is not None:
            await before(batch)  # a test's hook: hold the write, or fail it
        log = calls if policy_calls is None or batch.policy is None else policy_calls
        _log(log, batch)
        return ChangesRecorded(changes=batch.changes)

    return record_changes


def _log(calls: list[tuple[str, Any]], batch: ChangeBatch) -> None:
    if batch.enrollment is not None:
        calls.append((act.RECORD_ENROLLMENT, batch.enrollment))
    if batch.claim is not None:
        calls.append((act.RECORD_CLAIM, batch.claim))
    if batch.policy is not None:
        calls.append((act.RECORD_POLICY, batch.policy))
    for change in batch.changes:
        [(field, value)] = [(f, v) for f, v in change if v is not None]
        calls.append((act.STEP_OF_CHANGE[field], value))


def working_days_mock(calls: list[tuple[str, Any]] | None = None) -> Any:
    """A stand-in ``add_working_days``: Monday to Friday, no holidays. The workflow tests
    test the process, not the calendar (tests/domain/test_working_days.py does), and must
    not fail in a year whose holiday data is not published yet."""

    @activity.defn(name=act.ADD_WORKING_DAYS)
    async def add_working_days(ask: WorkingDaysAsk) -> WorkingDay:
        if calls is not None:
            calls.append((act.ADD_WORKING_DAYS, ask))
        day, left = ask.after, ask.days
        while left:
            day += timedelta(days=1)
            if day.weekday() < 5:
                left -= 1
        return WorkingDay(day=day)

    return add_working_days
