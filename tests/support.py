"""Constants and small tools shared by the tests (import as ``tests.support``)."""

from __future__ import annotations

import base64
import sys
from datetime import date
from pathlib import Path

from core.keys import Keyring
from domain.identity import make_id_number

BIN = Path(sys.executable).parent
TEST_KEYRING = Keyring(active_id="test-1", keys={"test-1": b"k" * 32})

# A customer born 17 May 1990; the number is valid but belongs to nobody.
CUSTOMER_ID_NUMBER = make_id_number("110101", date(1990, 5, 17), 123)


def keyring_spec(keyring: Keyring = TEST_KEYRING) -> str:
    """The ``INSUREFLOW_CODEC_KEYS`` value for a keyring."""
    return ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in keyring.keys.items())
