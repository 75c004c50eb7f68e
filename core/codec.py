"""AES-GCM payload codec: every payload Temporal stores is ciphertext with a key id."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.keys import Keyring

ENCODING = b"binary/encrypted"
_NONCE = 12


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers = {kid: AESGCM(key) for kid, key in keyring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encode_one(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decode_one(p) for p in payloads]

    def encode_one(self, payload: Payload) -> Payload:
        kid = self._keyring.active_id
        nonce = os.urandom(_NONCE)
        data = nonce + self._ciphers[kid].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, "encryption-key-id": kid.encode()}, data=data
        )

    def decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding", b"") != ENCODING:
            return payload
        kid = payload.metadata.get("encryption-key-id", b"").decode()
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise ValueError(f"payload encrypted with unknown key id {kid!r}")
        raw = cipher.decrypt(payload.data[:_NONCE], payload.data[_NONCE:], None)
        return Payload.FromString(raw)

    def decode_all(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.decode_one(p) for p in payloads]
