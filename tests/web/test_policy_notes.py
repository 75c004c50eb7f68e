"""Every note the policy's process can write into its history (workflows/policy.py) is
said in business words on the policy page, in Chinese with no English left. The notes are
read from the workflow's source, so a new note without its wording fails here: each
``history(...)`` and ``note=...`` string, its placeholders filled with a sample of the kind
of value the process puts there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from api.web.policies import history_note
from core.i18n import language

WORKFLOW = Path(__file__).parents[2] / "workflows" / "policy.py"
ZH, EN = language("zh_CN"), language("en")
LETTER = re.compile(r"[A-Za-z]")
# What a placeholder's expression stands for, by the last name in it.
SAMPLES = {
    "n": "2",
    "tries": "2",
    "limit": "3",
    "period": "2",
    "debits_tried": "1",
    "policy_year": "3",
    "amount": "1234.50",
    "value": "1234.50",
    "premium": "1234.50",
    "by": "cora",
    "order_id": "PO-P2026000001-2",
    "claim_no": "CL2026000001",
    "incident_type": "death",
    "code": "payout_declined",
    "outcome": "7 of 7 confirmed",
    "status": "accepted",
    "isoformat": "2027-01-05",
    "reason": "原因",
}


def _sample(node: ast.expr) -> list[str]:
    """Every string ``node`` can evaluate to, its placeholders filled with samples."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for part in node.values:
            options = _sample(part.value) if isinstance(part, ast.FormattedValue) else None
            if options is None:
                options = _sample(part)
            texts = [t + o for t in texts for o in options]
        return texts
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _sample(node.left) for b in _sample(node.right)]
    if isinstance(node, ast.IfExp):
        return _sample(node.body) + _sample(node.orelse)
    name = node
    while isinstance(name, ast.Call):
        name = name.func
    if isinstance(name, ast.Attribute):
        key = name.attr
    elif isinstance(name, ast.Name):
        key = name.id
    else:
        raise AssertionError(f"no sample for {ast.unparse(node)}")
    if key not in SAMPLES:
        raise AssertionError(f"no sample for {ast.unparse(node)} (add one to SAMPLES)")
    return [SAMPLES[key]]


def _notes() -> list[str]:
    notes: set[str] = set()
    for node in ast.walk(ast.parse(WORKFLOW.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "history" and node.args:
            notes.update(_sample(node.args[0]))
        for keyword in node.keywords:
            if keyword.arg in ("note", "opening_note") and not isinstance(keyword.value, ast.Name):
                notes.update(_sample(keyword.value))
    # The opening note is chosen before it is passed: a run's first or a later year's.
    notes.update({"policy issued", "policy year 3"})
    return sorted(notes)


NOTES = _notes()


def test_the_source_yields_the_notes_it_writes() -> None:
    assert len(NOTES) >= 40, NOTES
    assert "surrendered, cash value 1234.50 paid" in NOTES
    assert "premium reminders on" in NOTES and "premium reminders off" in NOTES


@pytest.mark.parametrize("note", NOTES)
def test_every_note_is_said_in_chinese(note: str) -> None:
    said = history_note(note, lang=ZH)
    left = said
    for value in ("cora", "PO-P2026000001-2", "CL2026000001", "2027-01-05", "CNY"):
        left = left.replace(value, "")
    assert not LETTER.search(left), f"{note!r} → {said!r}"
    assert history_note(note, lang=EN) != note, f"{note!r} has no wording of its own"
