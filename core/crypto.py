"""Field-level protection of personal data at rest: AES-GCM ciphertext plus a keyed hash
(HMAC-SHA256) so rows can be found by value without storing the value."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.keys import Keyring


class FieldCipher:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def encrypt(self, value: str) -> str:
        kid = self._keyring.active_id
        nonce = os.urandom(12)
        sealed = AESGCM(self._keyring.active_key).encrypt(nonce, value.encode(), kid.encode())
        return f"{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        kid, _, b64 = token.partition(":")
        raw = base64.urlsafe_b64decode(b64)
        key = self._keyring.key(kid)
        return AESGCM(key).decrypt(raw[:12], raw[12:], kid.encode()).decode()

    def blind_index(self, value: str) -> str:
        normalised = value.strip().upper().encode()
        return hmac.new(self._keyring.index_key, normalised, hashlib.sha256).hexdigest()
