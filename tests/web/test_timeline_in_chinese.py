"""Every line of every golden history's timeline is a catalogue text, and in Chinese it
has no English left: once the data in it (names, policy and ledger numbers, product codes,
what a person wrote) is taken out, not one ASCII letter remains. A line told only in
English, a code without its term, a text without its Chinese or a time written the English
way fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from api.web.formatting import said_text
from api.web.terms import TERMS
from core.i18n import language
from core.temporal import data_converter
from services.ops.history import decode_events
from services.ops.timeline import SYSTEM_REASONS, TimelineEntry, build_timeline
from tests.support import TEST_KEYRING

HISTORIES = Path(__file__).parents[1] / "histories"
FILES = sorted(HISTORIES.glob("*.json"))
ZH = language("zh_CN")
EN = language("en")
LETTER = re.compile(r"[A-Za-z]")


async def _timeline(history: Path) -> list[TimelineEntry]:
    recorded = WorkflowHistory.from_json(history.stem, history.read_text(encoding="utf-8"))
    return build_timeline(await decode_events(data_converter(TEST_KEYRING), recorded.events))


def _data(entry: TimelineEntry) -> list[str]:
    """The values put in as they are: plain params, and a reason a person wrote."""
    values = []
    for name, value in entry.params.items():
        kind = entry.kinds.get(name)
        if kind is None or (kind == "said" and value not in SYSTEM_REASONS):
            values.append(value)
    return sorted(values, key=len, reverse=True)


def _english_left(entry: TimelineEntry) -> str:
    text = said_text(entry.msgid, entry.params, entry.kinds, lang=ZH)
    for value in _data(entry):
        text = text.replace(value, "")
    return text


@pytest.mark.parametrize("history", FILES, ids=[p.stem for p in FILES])
async def test_every_line_is_said_in_chinese(history: Path) -> None:
    entries = await _timeline(history)
    assert entries
    untold = [e.event for e in entries if not e.msgid]
    assert not untold, f"lines without a msgid: {untold}"
    english = {e.event: left for e in entries if LETTER.search(left := _english_left(e))}
    assert not english, f"English left in Chinese: {english}"
    for entry in entries:
        for name, kind in entry.kinds.items():
            if kind in ("code", "codes"):
                unknown = [c for c in entry.params[name].split(",") if c and c not in TERMS]
                assert not unknown, f"{entry.event}: no term for {unknown}"
        assert "%(" not in said_text(entry.msgid, entry.params, entry.kinds, lang=EN)


def test_the_check_finds_english() -> None:
    """What the check above would catch: an untranslated code, a time the English way."""
    from datetime import UTC, datetime

    from services.ops.timeline import at, code, said

    def left(words: object) -> str:
        assert hasattr(words, "msgid")
        entry = TimelineEntry(
            at=datetime(2025, 3, 1, tzinfo=UTC),
            event=words.english,  # type: ignore[attr-defined]
            detail="",
            event_id=1,
            msgid=words.msgid,  # type: ignore[attr-defined]
            params=words.params,  # type: ignore[attr-defined]
            kinds=words.kinds,  # type: ignore[attr-defined]
        )
        return _english_left(entry)

    assert LETTER.search(left(said("Stage: %(stage)s", stage=code("no_such_stage"))))
    assert LETTER.search(left(said("No such text %(n)s", n=1)))
    assert not LETTER.search(left(said("Stage: %(stage)s", stage=code("underwriting"))))
    moment = said("Timer set for %(at)s", at=at("2025-03-01T01:30:00Z"))
    assert moment.english == "Timer set for 2025-03-01 09:30 UTC+8"
    assert not LETTER.search(left(moment))


def test_people_and_the_process_own_words() -> None:
    from datetime import UTC, datetime

    from api.web.formatting import steps
    from services.ops.timeline import _asked, code, said, written

    cancel = _asked(
        "olga: customer asked",
        "Cancellation requested: %(by)s: %(reason)s",
        "Cancellation requested: %(reason)s",
        "Cancellation requested: no reason given",
    )
    closed = said(
        "%(task)s task cancelled: %(reason)s",
        task=code("underwriting", "Underwriting"),
        reason=written("process cancelled"),
    )
    assert cancel.english == "Cancellation requested: olga: customer asked"
    assert closed.english == "Underwriting task cancelled: process cancelled"
    entries = [
        TimelineEntry(
            at=datetime(2025, 3, 1, tzinfo=UTC),
            event=w.english,
            detail="",
            event_id=i,
            msgid=w.msgid,
            params=w.params,
            kinds=w.kinds,
        )
        for i, w in enumerate((cancel, closed))
    ]
    zh = steps(entries, lang=ZH)
    en = steps(entries, lang=EN)
    assert [(s.who, s.kind) for s in zh] == [("olga", "person"), ("system", "system")]
    assert "olga" in zh[0].what and "customer asked" in zh[0].what
    assert not LETTER.search(zh[1].what)
    assert en[1].what == "Underwriting task cancelled: process cancelled"
