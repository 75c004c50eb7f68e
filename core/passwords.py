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

# OWASP's minimum for argon2id (Password Storage Cheat Sheet): m = 19 MiB, t = 2, p = 1.
# A hash made with other parameters still verifies, and is re-hashed on the next success
# (``verify_and_rehash``). docs/privacy.md says why these.
TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
_hasher = PasswordHash(
    (Argon2Hasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM),)
)


def hash_password(password: str) -> str:
    """An argon2id hash of `password`, salted, in PHC string format."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Whether `password` matches `password_hash`; False for a malformed or foreign hash."""
    try:
        return _hasher.verify(password, password_hash)
    except UnknownHashError:
        return False


def verify_and_rehash(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Whether `password` matches `password_hash` (with no hash: checked against a dummy,
    False), and, when it does and the hash was made with other parameters than today's, a
    new hash to store in its place (None when the stored one is current)."""
    if password_hash is None:
        verify_password(password, _dummy_hash())
        return False, None
    try:
        return _hasher.verify_and_update(password, password_hash)
    except UnknownHashError:
        return False, None


@cache
def _dummy_hash() -> str:
    # Made once with the real parameters, so verifying against it costs the same.
    return hash_password("insureflow-dummy-password")


async def hash_password_async(password: str) -> str:
    """``hash_password`` off the event loop."""
    return await anyio.to_thread.run_sync(hash_password, password)


async def verify_and_rehash_async(
    password: str, password_hash: str | None
) -> tuple[bool, str | None]:
    """``verify_and_rehash`` off the event loop: with no hash (unknown user) it still
    spends the time of a real check and answers False."""
    return await anyio.to_thread.run_sync(verify_and_rehash, password, password_hash)
