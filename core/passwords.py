"""Password hashing (argon2id through pwdlib), shared by the API's login and the dev seed.

Hashing is deliberately slow (~0.1 s): callers on an event loop use the ``_async``
forms, which run it in a worker thread.
"""

from __future__ import annotations

from functools import cache

import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

# argon2-cffi's defaults (t=3, m=64 MiB, p=4) meet OWASP's argon2id recommendation.
_hasher = PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    """An argon2id hash of `password`, salted, in PHC string format."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Whether `password` matches `password_hash`; False for a malformed or foreign hash."""
    try:
        return _hasher.verify(password, password_hash)
    except UnknownHashError:
        return False


def verify_password_or_dummy(password: str, password_hash: str | None) -> bool:
    """`verify_password`, but with no hash (unknown user) check against a dummy hash and
    answer False, so an unknown username takes as long as a wrong password."""
    if password_hash is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, password_hash)


@cache
def _dummy_hash() -> str:
    # Made once with the real parameters, so verifying against it costs the same.
    return hash_password("insureflow-dummy-password")


async def hash_password_async(password: str) -> str:
    """``hash_password`` off the event loop."""
    return await anyio.to_thread.run_sync(hash_password, password)


async def verify_password_async(password: str, password_hash: str | None) -> bool:
    """``verify_password_or_dummy`` off the event loop: with no hash (unknown user) it
    still spends the time of a real check and answers False."""
    return await anyio.to_thread.run_sync(verify_password_or_dummy, password, password_hash)
