"""Opaque keyset-pagination cursors: url-safe base64 of a small JSON document."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime


def encode_cursor(scope: str, at: datetime, key: str) -> str:
    """A cursor pointing after the row sorted at (`at`, `key`) in the listing `scope`."""
    document = {"s": scope, "t": at.isoformat(), "k": key}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(scope: str, cursor: str) -> tuple[datetime, str]:
    """The (`at`, `key`) a cursor points after. ValueError if it is not one of `scope`'s."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("s") != scope:
            raise ValueError("wrong shape")
        at = datetime.fromisoformat(document["t"])
        key = document["k"]
    except (binascii.Error, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError("malformed cursor") from exc
    if at.tzinfo is None or not isinstance(key, str):
        raise ValueError("malformed cursor")
    return at, key
