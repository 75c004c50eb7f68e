"""No untranslated text ships: the texts in the templates and the code, extracted as
``make messages`` does, must each be in the checked-in Chinese catalogue with a
translation, and the compiled catalogues must say what the .po files say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core.i18n import LOCALE_DIR, gettext
from domain.refusals import REFUSALS

ROOT = Path(__file__).resolve().parents[2]
ZH_PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po"
EN_PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The msgids `pybabel extract` finds now, with the Makefile's options."""
    pot = tmp_path_factory.mktemp("catalogue") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-k",
            "refuse:2",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        return {_key(m.id) for m in read_po(f) if m.id}


def _key(msgid: str | tuple[str, ...]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def test_the_makefile_extracts_with_the_same_keywords_as_this_test() -> None:
    assert "-k N_ -k refuse:2" in (ROOT / "Makefile").read_text()


def test_every_text_in_the_templates_and_the_code_has_its_chinese(extracted: set[str]) -> None:
    with ZH_PO.open("rb") as f:
        catalogue = read_po(f)
    translated = {
        _key(m.id)
        for m in catalogue
        if m.id
        and all(s.strip() for s in (m.string if isinstance(m.string, tuple) else [m.string]))
        and not m.fuzzy
    }
    assert {"Sign in", "Inbox", "Four eyes violation"} <= extracted  # extraction ran
    missing = sorted(extracted - translated)
    assert not missing, (
        f"{len(missing)} text(s) have no Chinese in {ZH_PO.relative_to(ROOT)}; run "
        f"`make messages` and translate them: {missing[:10]}"
    )


def test_the_english_catalogue_lists_the_same_texts(extracted: set[str]) -> None:
    with EN_PO.open("rb") as f:
        listed = {_key(m.id) for m in read_po(f) if m.id}
    assert extracted <= listed, sorted(extracted - listed)[:10]


def test_the_compiled_catalogue_is_the_checked_in_one() -> None:
    """A stale .mo (a .po changed, `make install` not run) would show old texts."""
    with ZH_PO.open("rb") as f:
        catalogue = read_po(f)
    for message in catalogue:
        if message.id and isinstance(message.id, str):
            assert gettext("zh_CN", message.id) == message.string, message.id


def test_every_refusal_title_and_text_is_translated() -> None:
    for refusal in REFUSALS.values():
        for text in (refusal.title, refusal.text):
            assert gettext("zh_CN", text) != text, f"{refusal.code}: {text!r} has no Chinese"
