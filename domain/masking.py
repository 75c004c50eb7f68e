"""How personal data is shown where it must be shown at all."""

from __future__ import annotations

import re


def mask_id_number(value: str) -> str:
    """110101********123X style: region and the last four kept."""
    v = value.strip()
    if len(v) < 10:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_phone(value: str) -> str:
    digits = value.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_account(value: str) -> str:
    v = value.replace(" ", "")
    if len(v) <= 4:
        return "*" * len(v)
    return "*" * (len(v) - 4) + v[-4:]


def mask_name(value: str) -> str:
    """张三丰 → 张**; Alice Smith → A**** S****."""
    v = value.strip()
    if not v:
        return v
    if all(ord(c) > 0x2E80 for c in v if not c.isspace()):
        return v[0] + "*" * (len(v) - 1)
    return " ".join(w[0] + "*" * (len(w) - 1) for w in v.split())


# Patterns for scrubbing free text (log lines, error messages). Order matters:
# the 18-character ID is tried before the shorter phone and account shapes.
_ID_RE = re.compile(r"(?<![\dA-Za-z])[1-9]\d{16}[\dXx](?![\dA-Za-z])")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
_ACCOUNT_RE = re.compile(r"(?<!\d)\d{12,19}(?!\d)")


def scrub(text: str) -> str:
    """Mask anything in free text shaped like an ID number, a mobile phone or a bank account."""
    text = _ID_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)
    return _ACCOUNT_RE.sub(lambda m: mask_account(m.group(0)), text)
