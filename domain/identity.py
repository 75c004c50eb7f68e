"""PRC resident identity numbers (GB 11643-1999): check digit, birth date, age."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")


class InvalidIdNumber(ValueError):
    """The number is not a valid 18-character resident ID. The message never echoes it."""


@dataclass(frozen=True)
class Identity:
    birth_date: date
    sex: str  # "M" or "F", from the parity of the sequence code


def check_digit(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def parse_id_number(id_number: str, *, today: date | None = None) -> Identity:
    """Validate shape, birth date and check digit; return what the number encodes."""
    value = id_number.strip().upper()
    if not _SHAPE.match(value):
        raise InvalidIdNumber("ID number must be 18 characters: 17 digits and a check digit")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber("ID number encodes an impossible birth date") from None
    if birth.year < 1900 or (today is not None and birth > today):
        raise InvalidIdNumber("ID number encodes an impossible birth date")
    if check_digit(value[:17]) != value[17]:
        raise InvalidIdNumber("ID number check digit does not match")
    return Identity(birth_date=birth, sex="M" if int(value[16]) % 2 else "F")


def is_valid_id_number(id_number: str) -> bool:
    try:
        parse_id_number(id_number)
    except InvalidIdNumber:
        return False
    return True


def age_on(birth_date: date, on: date) -> int:
    """Completed years of age on a day (a 29 Feb birthday counts from 1 Mar in common years)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """Build a valid number (for seeds and tests): 6-digit region, birth date, 3-digit sequence."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)
