"""Field-level encryption of personal data at rest and its blind index."""

from __future__ import annotations

import pytest

from core.crypto import FieldCipher
from core.keys import KeyConfigError, Keyring
from tests.support import CUSTOMER_ID_NUMBER

OLD = Keyring(active_id="test-1", keys={"test-1": b"o" * 32})
ROTATED = Keyring(active_id="test-2", keys={"test-2": b"n" * 32, "test-1": b"o" * 32})


def test_decrypt_restores_the_value() -> None:
    cipher = FieldCipher(OLD)

    assert cipher.decrypt(cipher.encrypt("张三丰")) == "张三丰"


def test_encrypting_the_same_value_twice_gives_different_tokens() -> None:
    cipher = FieldCipher(OLD)

    assert cipher.encrypt(CUSTOMER_ID_NUMBER) != cipher.encrypt(CUSTOMER_ID_NUMBER)


def test_token_names_the_active_key_and_hides_the_value() -> None:
    token = FieldCipher(ROTATED).encrypt(CUSTOMER_ID_NUMBER)

    assert token.startswith("test-2:")
    assert CUSTOMER_ID_NUMBER not in token


def test_value_encrypted_with_the_old_key_decrypts_after_rotation() -> None:
    token = FieldCipher(OLD).encrypt(CUSTOMER_ID_NUMBER)

    assert FieldCipher(ROTATED).decrypt(token) == CUSTOMER_ID_NUMBER


def test_token_with_an_unknown_key_id_is_refused() -> None:
    token = FieldCipher(ROTATED).encrypt(CUSTOMER_ID_NUMBER)

    with pytest.raises(KeyConfigError):
        FieldCipher(OLD).decrypt(token)


def test_blind_index_ignores_case_and_surrounding_whitespace() -> None:
    cipher = FieldCipher(OLD)

    assert cipher.blind_index(" 11010519491231002x ") == cipher.blind_index("11010519491231002X")


def test_blind_index_is_stable_across_key_rotation() -> None:
    before = FieldCipher(OLD).blind_index(CUSTOMER_ID_NUMBER)

    assert FieldCipher(ROTATED).blind_index(CUSTOMER_ID_NUMBER) == before
