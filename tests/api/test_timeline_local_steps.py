"""The ops timeline tells a run whose short steps are local activities (one marker each,
no input in history) in the same words as a run where every step was a regular activity.

Each golden history recorded before ``act.LOCAL_STEPS_PATCH`` (``*.v1.json``) is compared
with the same scenario recorded since: the same steps, in words, with times and the
random case numbers left out, and timers (see ``_words``).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from api.ops.history import decode_events
from api.ops.timeline import build_timeline
from core.temporal import data_converter
from tests.support import TEST_KEYRING

HISTORIES = Path(__file__).parents[1] / "histories"
OLD = sorted(HISTORIES.glob("*.v1.json"))
# Dates, durations, amounts' digits and case numbers differ between two recordings.
_VARYING = re.compile(r"\b[CEP]?[0-9A-F]{10,}\b|\d")


async def _words(path: Path) -> Counter[str]:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    events = await decode_events(data_converter(TEST_KEYRING), history.events)
    # Timers are left out too: how many waits a run starts and cancels depends on when
    # the test's decisions arrive, which moves as the workflow tasks get fewer.
    return Counter(
        _VARYING.sub("#", entry.event)
        for entry in build_timeline(events)
        if not entry.event.startswith("Timer")
    )


def test_every_old_recording_has_a_new_one() -> None:
    assert OLD, "no pre-patch recordings kept"
    for old in OLD:
        assert (HISTORIES / old.name.replace(".v1.json", ".json")).exists()


@pytest.mark.parametrize("old", OLD, ids=[p.name.removesuffix(".v1.json") for p in OLD])
async def test_local_steps_read_as_the_same_timeline(old: Path) -> None:
    new = HISTORIES / old.name.replace(".v1.json", ".json")
    new_text = new.read_text(encoding="utf-8")
    assert "core_local_activity" in new_text  # the new recording does use local steps
    assert await _words(new) == await _words(old)
