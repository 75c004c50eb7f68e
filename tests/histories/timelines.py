"""The ops timeline of a golden history, in words: what ops read of a run, kept beside
each history as ``<name>.timeline.txt`` so that a change to a workflow or to the timeline
that alters what ops read shows as a diff (tests/api/test_timeline_golden.py)."""

from __future__ import annotations

import re
from pathlib import Path

from temporalio.client import WorkflowHistory

from core.temporal import data_converter
from services.ops.history import decode_events
from services.ops.timeline import build_timeline
from tests.support import TEST_KEYRING

# Dates, durations, amounts' digits and case numbers differ between two recordings.
_VARYING = re.compile(r"\b[CEP]?[0-9A-F]{10,}\b|\d")


def timeline_path(history: Path) -> Path:
    return history.with_suffix(".timeline.txt")


async def timeline_words(history: Path) -> str:
    """One line per timeline entry, with what varies between recordings masked. Timers are
    left out: how many waits a run starts and cancels depends on when the scenario's
    decisions arrive."""
    recorded = WorkflowHistory.from_json(history.stem, history.read_text(encoding="utf-8"))
    events = await decode_events(data_converter(TEST_KEYRING), recorded.events)
    return "".join(
        _VARYING.sub("#", entry.event) + "\n"
        for entry in build_timeline(events)
        if not entry.event.startswith("Timer")
    )
