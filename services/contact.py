"""The customer's contact and payment details as people type them: the one check of a
phone number and a bank account, for every door that takes one (an application, a claim's
payee, a servicing change on a policy). A bad value is a 422 with a stable code; the value
itself never appears in the problem."""

from __future__ import annotations

import re
from collections.abc import Callable

from core.crypto import FieldCipher
from domain.masking import mask_account
from domain.policies import Sealed
from domain.texts import N_
from services.problems import ProblemError

# 5-20 characters with at least five digits: spaces and dashes only separate them.
_PHONE_RE = re.compile(r"^(?=(?:[^0-9]*[0-9]){5})\+?[0-9 -]{5,20}$")
_ACCOUNT_RE = re.compile(r"^[0-9]{12,19}$")


def check_phone(phone: str) -> None:
    """422 ``invalid_phone`` unless `phone` is 5-20 characters with at least five digits."""
    if not _PHONE_RE.match(phone):
        raise ProblemError(422, "invalid_phone", N_("Invalid phone number"), N_("5-20 digits"))


def check_bank_account(account: str, *, title: str = N_("Invalid bank account")) -> None:
    """422 ``invalid_bank_account`` unless `account` is 12-19 digits."""
    if not _ACCOUNT_RE.match(account):
        raise ProblemError(422, "invalid_bank_account", title, N_("12-19 digits"))


def seal(cipher: FieldCipher, value: str, mask: Callable[[str], str]) -> Sealed:
    """`value` as the read model stores it (its ciphertext and mask): the only form in
    which a phone or an account a person typed enters a process."""
    return Sealed(enc=cipher.encrypt(value), masked=mask(value))


def seal_account(cipher: FieldCipher, account: str | None) -> Sealed | None:
    """A bank account sealed, or None."""
    return seal(cipher, account, mask_account) if account else None
