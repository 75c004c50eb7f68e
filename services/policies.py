"""The customer's own policy look-up: no account, no token — policy number, ID number and
the query password chosen at application time.

One answer for any mismatch (401 ``verification_failed``), with the same work done whether
the policy exists or not (a keyed hash and an argon2id check, against a dummy when there is
nothing to check against). Five failures for one policy number within 15 minutes lock it
(423 ``locked``) until the window passes; the failures are counted from the audit log, so a
restart does not reset them. Each client address is also rate-limited. Every attempt is
audited, without the ID number or the password.
"""

from __future__ import annotations

import hmac
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import FieldCipher
from core.passwords import verify_and_rehash_async
from db.models import Claim, Customer, PaymentLedger, Policy, utcnow
from db.repositories import audit, claims, credentials, customers, ledger, policies
from domain.policy_query import FAILED, LOCK_AFTER, LOCK_WINDOW, LOCKED, SUCCEEDED
from domain.products import Product, get_product
from domain.texts import N_
from services.audit import Caller
from services.problems import ProblemError


class ClientRateLimiter:
    """At most ``limit`` attempts per client address in a sliding minute (in memory: a
    second line of defence behind the persisted per-policy lockout)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        window = self._seen[client]
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self.limit:
            return False
        window.append(now)
        return True


@dataclass(frozen=True)
class Credentials:
    """What the customer proves who they are with."""

    policy_number: str
    id_number: str
    query_password: str


@dataclass(frozen=True)
class PolicyRecord:
    """The customer's policy as they may see it: its product, payments and claims."""

    policy: Policy
    product: Product
    customer: Customer
    movements: list[PaymentLedger]
    claims: list[Claim]


async def query_policy(
    session: AsyncSession,
    cipher: FieldCipher,
    limiter: ClientRateLimiter,
    caller: Caller,
    given: Credentials,
) -> PolicyRecord:
    """The policy these credentials open: 429 ``rate_limited`` past the caller's rate, 423
    ``locked`` after too many failures for the policy number, 401 ``verification_failed``
    for any mismatch. Every attempt past the rate limit is audited."""
    client = caller.client or "unknown"
    started = time.monotonic()
    if not limiter.allow(client):
        raise ProblemError(
            429,
            "rate_limited",
            N_("Too many attempts"),
            N_("Try again in a minute."),
            headers={"Retry-After": "60"},
        )

    async def record(action: str, outcome: str) -> None:
        async with session.begin():
            await audit.append(
                session,
                actor="customer",
                action=action,
                case_id=given.policy_number,
                client=client,
                request_id=caller.request_id,
                # How long the answer took (the reports' p95 answer time), in ms.
                detail={"outcome": outcome, "ms": round((time.monotonic() - started) * 1000)},
            )

    since = utcnow() - LOCK_WINDOW
    failures = await audit.count_for_case(
        session, case_id=given.policy_number, action=FAILED, since=since
    )
    await session.commit()
    if failures >= LOCK_AFTER:
        await record(LOCKED, "locked")
        raise ProblemError(
            423, "locked", N_("Locked"), N_("Too many failed attempts; try again later.")
        )

    policy = await policies.get_policy(session, policy_number=given.policy_number)
    customer = (
        await customers.get_customer(session, customer_id=policy.customer_id) if policy else None
    )
    credential = (
        await credentials.get_query_credential(session, application_no=policy.application_no)
        if policy
        else None
    )
    await session.commit()
    # The same work on every path: a keyed hash and one argon2id verification (off the
    # event loop; with no hash it checks against a dummy and answers False).
    id_matches = hmac.compare_digest(
        cipher.blind_index(given.id_number), customer.id_hash if customer else "-" * 64
    )
    password_ok, rehashed = await verify_and_rehash_async(
        given.query_password, credential.password_hash if credential else None
    )
    if policy is None or customer is None or credential is None or not (id_matches and password_ok):
        await record(FAILED, "verification_failed")
        raise _verification_failed()

    if rehashed is not None:
        await credentials.rehash_query_credential(session, credential, rehashed)
    movements = await ledger.entries_for_case(session, case_id=policy.application_no)
    claim_rows = await claims.list_for_policy(session, policy_number=policy.policy_number)
    await session.commit()
    await record(SUCCEEDED, "ok")
    return PolicyRecord(
        policy=policy,
        product=get_product(policy.product_code),
        customer=customer,
        movements=movements,
        claims=claim_rows,
    )


def _verification_failed() -> ProblemError:
    return ProblemError(
        401,
        "verification_failed",
        N_("Verification failed"),
        N_("The policy number, ID number or query password does not match."),
    )
