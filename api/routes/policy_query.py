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
from datetime import datetime, timedelta
from decimal import Decimal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep
from api.errors import ProblemError
from api.middleware import client_address
from api.schemas import Money, StrictModel
from core.crypto import FieldCipher
from db.models import utcnow
from db.repositories import audit, claims, credentials, customers, ledger, policies
from domain.masking import mask_name
from domain.products import get_product
from services.auth import verify_password_async

router = APIRouter(prefix="/v1", tags=["policy query"])

LOCK_AFTER = 5
LOCK_WINDOW = timedelta(minutes=15)
FAILED = "policy_query.failed"


class PolicyQuery(StrictModel):
    policy_number: str = Field(min_length=1, max_length=40)
    id_number: str = Field(min_length=1, max_length=40)
    query_password: str = Field(min_length=1, max_length=128)


class Holder(BaseModel):
    name: str
    id_number: str


class PaymentLine(BaseModel):
    kind: str
    amount: Money
    status: str
    at: datetime


class ClaimLine(BaseModel):
    claim_id: str
    incident_type: str
    stage: str
    status: str
    amount_claimed: Money
    amount_approved: Money | None


class PolicyQueryRead(BaseModel):
    policy_number: str
    product: str
    product_name: str
    status: str
    effective_at: datetime
    expires_at: datetime
    sum_insured: Money
    premium: Money
    paid_to_date: Money
    payments: list[PaymentLine]
    claims: list[ClaimLine]
    holder: Holder


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


def _verification_failed() -> ProblemError:
    return ProblemError(
        401, "verification_failed", "Verification failed",
        "The policy number, ID number or query password does not match.",
    )  # fmt: skip


@router.post(
    "/policy-query",
    response_model=PolicyQueryRead,
    responses={
        401: {"description": "`verification_failed`, whichever field was wrong"},
        423: {"description": "`locked`: too many failures for this policy number"},
        429: {"description": "`rate_limited`: too many attempts from this client"},
    },
)
async def policy_query(
    body: PolicyQuery, request: Request, session: SessionDep, settings: SettingsDep
) -> PolicyQueryRead:
    """Look up one's own policy: status, cover dates, sum insured, premium, payments and
    each claim's progress; name and ID number masked."""
    client = client_address(request) or "unknown"
    request_id = getattr(request.state, "request_id", None)
    limiter: ClientRateLimiter = request.app.state.__dict__.setdefault(
        "policy_query_limiter", ClientRateLimiter(settings.policy_query_rate_per_minute)
    )
    if not limiter.allow(client):
        raise ProblemError(429, "rate_limited", "Too many attempts",
                           "Try again in a minute.", headers={"Retry-After": "60"})  # fmt: skip

    async def record(action: str, outcome: str) -> None:
        async with session.begin():
            await audit.append(
                session, actor="customer", action=action, case_id=body.policy_number,
                client=client, request_id=request_id, detail={"outcome": outcome},
            )  # fmt: skip

    since = utcnow() - LOCK_WINDOW
    failures = await audit.count_for_case(
        session, case_id=body.policy_number, action=FAILED, since=since
    )
    await session.commit()
    if failures >= LOCK_AFTER:
        await record("policy_query.locked", "locked")
        raise ProblemError(423, "locked", "Locked",
                           "Too many failed attempts; try again later.")  # fmt: skip

    cipher: FieldCipher = request.app.state.field_cipher
    policy = await policies.get_policy(session, policy_number=body.policy_number)
    customer = (
        await customers.get_customer(session, customer_id=policy.customer_id) if policy else None
    )
    credential = (
        await credentials.get_query_credential(session, application_no=policy.application_no)
        if policy
        else None
    )
    await session.commit()
    # The same work on every path: a keyed hash and one argon2id verification.
    id_matches = hmac.compare_digest(
        cipher.blind_index(body.id_number), customer.id_hash if customer else "-" * 64
    )
    password_ok = await verify_password_async(
        body.query_password, credential.password_hash if credential else None
    )
    if policy is None or customer is None or credential is None or not (id_matches and password_ok):
        await record(FAILED, "verification_failed")
        raise _verification_failed()

    movements = await ledger.entries_for_case(session, case_id=policy.application_no)
    claim_rows = await claims.list_for_policy(session, policy_number=policy.policy_number)
    await session.commit()
    await record("policy_query.succeeded", "ok")
    product = get_product(policy.product_code)
    return PolicyQueryRead(
        policy_number=policy.policy_number,
        product=policy.product_code,
        product_name=product.name,
        status=policy.status,
        effective_at=policy.effective_at,
        expires_at=policy.expires_at,
        sum_insured=policy.sum_insured,
        premium=policy.premium,
        paid_to_date=policy.paid_to_date or Decimal(0),
        payments=[
            PaymentLine(kind=m.kind, amount=m.amount, status=m.status, at=m.created_at)
            for m in movements
        ],
        claims=[
            ClaimLine(
                claim_id=c.claim_no,
                incident_type=c.incident_type,
                stage=c.stage,
                status=c.status,
                amount_claimed=c.amount_claimed,
                amount_approved=c.amount_approved,
            )
            for c in claim_rows
        ],
        holder=Holder(name=mask_name(customer.name), id_number=customer.id_masked),
    )
