"""The customer's own policy look-up (services.policies): policy number, ID number and the
query password, with no account or token."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep
from api.middleware import caller_of
from api.openapi import problem_responses
from api.routes.policies import AmountDue, GraceEndsAt, NextDueAt
from api.schemas import Money, StrictModel
from domain.masking import mask_name
from services import policies
from services.policies import ClientRateLimiter, Credentials

router = APIRouter(prefix="/v1", tags=["policy query"])


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
    status: str = Field(description="The policy's status, as its process last recorded it")
    effective_at: datetime
    expires_at: datetime
    receipt_signed_at: datetime | None = None
    cooling_off_ends_at: datetime | None = Field(
        default=None, description="Until then the policy may be cancelled with a refund"
    )
    next_due_at: NextDueAt = None
    amount_due: AmountDue = None
    grace_ends_at: GraceEndsAt = None
    sum_insured: Money
    premium: Money
    paid_to_date: Money
    payments: list[PaymentLine]
    claims: list[ClaimLine]
    holder: Holder


@router.post(
    "/policy-query",
    response_model=PolicyQueryRead,
    responses=problem_responses({401: "verification_failed", 423: "locked", 429: "rate_limited"}),
)
async def policy_query(
    body: PolicyQuery, request: Request, session: SessionDep, settings: SettingsDep
) -> PolicyQueryRead:
    """Look up one's own policy: status, cover dates, the cooling-off period's end, what
    premium is due and by when (and the end of grace for one overdue), sum insured,
    premium, payments and each claim's progress; name and ID number masked."""
    limiter: ClientRateLimiter = request.app.state.__dict__.setdefault(
        "policy_query_limiter", ClientRateLimiter(settings.policy_query_rate_per_minute)
    )
    found = await policies.query_policy(
        session,
        request.app.state.field_cipher,
        limiter,
        caller_of(request),
        Credentials(
            policy_number=body.policy_number,
            id_number=body.id_number,
            query_password=body.query_password,
        ),
        settings.clocks,
    )
    policy, customer, premiums = found.policy, found.customer, found.premiums
    return PolicyQueryRead(
        policy_number=policy.policy_number,
        product=policy.product_code,
        product_name=found.product.name,
        status=policy.status,
        effective_at=policy.effective_at,
        expires_at=policy.expires_at,
        receipt_signed_at=policy.receipt_signed_at,
        cooling_off_ends_at=policy.cooling_off_ends_at,
        next_due_at=premiums.next_due_at if premiums else None,
        amount_due=premiums.amount_due if premiums else None,
        grace_ends_at=premiums.grace_ends_at if premiums else None,
        sum_insured=policy.sum_insured,
        premium=policy.premium,
        paid_to_date=policy.paid_to_date or Decimal(0),
        payments=[
            PaymentLine(kind=m.kind, amount=m.amount, status=m.status, at=m.created_at)
            for m in found.movements
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
            for c in found.claims
        ],
        holder=Holder(name=mask_name(customer.name), id_number=customer.id_masked),
    )
