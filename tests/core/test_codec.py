"""The AES-GCM payload codec Temporal stores every payload through."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload

from core.codec import ENCODING, EncryptionCodec
from core.keys import Keyring
from tests.support import CUSTOMER_ID_NUMBER

OLD = Keyring(active_id="k-old", keys={"k-old": b"o" * 32})
ROTATED = Keyring(active_id="k-new", keys={"k-new": b"n" * 32, "k-old": b"o" * 32})
PLAIN = Payload(
    metadata={"encoding": b"json/plain"},
    data=f'{{"id_number": "{CUSTOMER_ID_NUMBER}"}}'.encode(),
)


async def test_decode_restores_the_encoded_payload() -> None:
    codec = EncryptionCodec(OLD)

    assert await codec.decode(await codec.encode([PLAIN])) == [PLAIN]


async def test_ciphertext_does_not_contain_the_plaintext() -> None:
    [encoded] = await EncryptionCodec(OLD).encode([PLAIN])

    assert CUSTOMER_ID_NUMBER.encode() not in encoded.data
    assert b"json/plain" not in encoded.data


async def test_metadata_names_the_encoding_and_the_active_key_id() -> None:
    [encoded] = await EncryptionCodec(ROTATED).encode([PLAIN])

    assert dict(encoded.metadata) == {"encoding": ENCODING, "encryption-key-id": b"k-new"}


async def test_payload_encrypted_with_the_old_key_decodes_after_rotation() -> None:
    old_payloads = await EncryptionCodec(OLD).encode([PLAIN])

    assert await EncryptionCodec(ROTATED).decode(old_payloads) == [PLAIN]


async def test_payload_with_an_unknown_key_id_fails_to_decode() -> None:
    new_payloads = await EncryptionCodec(ROTATED).encode([PLAIN])

    with pytest.raises(ValueError, match="unknown key id"):
        await EncryptionCodec(OLD).decode(new_payloads)


async def test_unencrypted_payload_passes_through_decode_unchanged() -> None:
    assert await EncryptionCodec(OLD).decode([PLAIN]) == [PLAIN]
