"""Sanctions screening against a list kept in a CSV data file (``name,id_number,program``).

An exact ID number match is a hit (the application is rejected); a name match alone is a
risk flag for a person to weigh. The list is held as keyed hashes in memory, so the
numbers are not kept around in plaintext after loading.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LIST = Path(__file__).parent / "data" / "sanctions.csv"


@dataclass(frozen=True)
class Screening:
    hit: bool
    name_match: bool


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().upper().encode()).hexdigest()


def _normalise_name(name: str) -> str:
    return "".join(name.split()).casefold()


class SanctionsList:
    def __init__(self, entries: list[tuple[str, str]]) -> None:
        self._ids = {_digest(id_number) for _, id_number in entries if id_number}
        self._names = {_normalise_name(name) for name, _ in entries if name}

    @classmethod
    def load(cls, path: Path | None = None) -> SanctionsList:
        with (path or DEFAULT_LIST).open(newline="", encoding="utf-8") as f:
            rows = [
                (row["name"], row.get("id_number", ""))
                for row in csv.DictReader(line for line in f if not line.startswith("#"))
            ]
        return cls(rows)

    def __len__(self) -> int:
        return len(self._ids | self._names)

    def screen(self, *, name: str, id_number: str) -> Screening:
        return Screening(
            hit=_digest(id_number) in self._ids,
            name_match=_normalise_name(name) in self._names,
        )
