"""Key material for the payload codec and for personal data at rest.

Keys come from ``INSUREFLOW_CODEC_KEYS`` ("id:base64,id:base64", the first one encrypts,
all decrypt) or, in development, from ``<data_dir>/codec-keys.json`` generated on first
run. Rotation = put a new key first and keep the old ones for decoding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings


class KeyConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Keyring:
    active_id: str
    keys: dict[str, bytes]

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise KeyConfigError(f"unknown encryption key id {key_id!r}") from None

    @property
    def index_key(self) -> bytes:
        """Key of the keyed hash used to look personal data up. Stable across rotations:
        it derives from the oldest key, the last one listed (rotation puts new keys first
        and keeps the old ones after them)."""
        oldest = self.keys[list(self.keys)[-1]]
        return hashlib.sha256(b"insureflow-index:" + oldest).digest()


def parse_keys(spec: str) -> Keyring:
    keys: dict[str, bytes] = {}
    active: str | None = None
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        key_id, sep, b64 = part.partition(":")
        if not sep or not key_id:
            raise KeyConfigError("codec keys must look like 'id:base64key,...'")
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise KeyConfigError(f"codec key {key_id!r} is not valid base64") from None
        if len(raw) not in (16, 24, 32):
            raise KeyConfigError(f"codec key {key_id!r} must be 16, 24 or 32 bytes")
        keys[key_id] = raw
        active = active or key_id
    if active is None:
        raise KeyConfigError("no codec key configured")
    return Keyring(active_id=active, keys=keys)


def load_keyring(settings: Settings) -> Keyring:
    if settings.codec_keys:
        return parse_keys(settings.codec_keys)
    if settings.environment == "production":
        raise KeyConfigError("INSUREFLOW_CODEC_KEYS must be set in production")
    path = settings.data_dir / "codec-keys.json"
    return parse_keys(_dev_key_spec(path))


def _dev_key_spec(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        spec = {"dev-1": base64.b64encode(os.urandom(32)).decode()}
        # Written atomically: two processes starting together must agree on one key.
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(spec))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    data: dict[str, str] = json.loads(path.read_text())
    return ",".join(f"{k}:{v}" for k, v in data.items())
