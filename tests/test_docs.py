"""The repository's docs are its own reference: nothing cites a file outside it, and every
relative link in README.md and docs/ leads to a file that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The design notes the project started from live outside the repository; what they said
# that still holds is in docs/ now.
OUTSIDE = re.compile(r"\b(?:DESIGN|API|DOMAIN|STYLE)\.md\b|\.\./shared\b|/work/")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _tracked() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def _text_files() -> list[Path]:
    return [p for p in _tracked() if p.suffix in {".py", ".md", ".toml", ".html", ".txt", ".cfg"}]


def test_no_file_cites_a_document_outside_the_repository() -> None:
    this = Path(__file__).resolve()
    cited = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in _text_files()
        if p.resolve() != this
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert cited == []


@pytest.mark.parametrize(
    "doc",
    [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))],
    ids=lambda p: p.name,
)
def test_every_relative_link_leads_to_a_file(doc: Path) -> None:
    broken = [
        target
        for target in LINK.findall(doc.read_text(encoding="utf-8"))
        if "://" not in target
        and not target.startswith("mailto:")
        and not (doc.parent / target).exists()
    ]
    assert broken == []
