"""The ops timeline of every golden history reads as its recorded words
(``tests/histories/<name>.timeline.txt``, written by ``make histories``): a change to a
workflow or to the timeline that alters what ops read fails here until the histories are
re-recorded, and the diff of the text shows what changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.histories.timelines import timeline_path, timeline_words

HISTORIES = Path(__file__).parents[1] / "histories"
FILES = sorted(p for p in HISTORIES.glob("*.json"))


def test_every_history_has_its_timeline() -> None:
    assert FILES
    missing = [p.name for p in FILES if not timeline_path(p).exists()]
    assert not missing, f"no timeline for {missing}: run `make histories`"


@pytest.mark.parametrize("history", FILES, ids=[p.stem for p in FILES])
async def test_the_timeline_reads_as_recorded(history: Path) -> None:
    recorded = timeline_path(history).read_text(encoding="utf-8")
    assert await timeline_words(history) == recorded
