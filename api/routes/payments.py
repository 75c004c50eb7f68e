"""The payment gateway's callback for online premium payments."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ValidationError

from api.deps import GatewayDep, SessionDep, SettingsDep, TemporalDep
from api.openapi import problem_responses
from api.schemas import Money, StrictModel
from domain.texts import N_
from services import payments
from services.problems import ProblemError

router = APIRouter(prefix="/v1/payments", tags=["payments"])


class PaymentCallback(StrictModel):
    order_id: str
    amount: Money
    paid_at: datetime
    gateway_ref: str


class CallbackResult(BaseModel):
    order_id: str
    # "accepted" | "already_processed", or for a payment the process no longer takes:
    # "refunded" (booked and given back) | "refund_to_ops" (booked, refund left to ops)
    result: str
    stage: str | None = None


@router.post(
    "/{order_id}/callback",
    response_model=CallbackResult,
    # The body is read raw (its signature covers the bytes), so the document has no
    # requestBody and the app-wide 413 is not implied: listed here.
    responses=problem_responses(
        {401: "invalid_signature"},
        {404: "unknown_order"},
        {409: "process_refused"},
        {413: "payload_too_large"},
        {422: ["validation_error", "order_mismatch", "amount_mismatch"]},
    ),
)
async def payment_callback(
    order_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    client: TemporalDep,
    gateway: GatewayDep,
    x_signature: Annotated[str | None, Header(alias="X-Signature")] = None,
) -> CallbackResult:
    """The gateway's notice that an order was paid, signed with HMAC-SHA256 over the raw
    body (`X-Signature`, hex). A forged notice is refused; a repeated one is harmless.

    A payment the process no longer takes (the order lapsed, the application was
    withdrawn or ended) is still money received: it is booked and refunded once
    (`refunded`), or left to ops as a `late_payment` task (`refund_to_ops`)."""
    raw = await request.body()
    payments.verify_callback(settings.payment_gateway_secret, raw, x_signature)
    try:
        body = PaymentCallback.model_validate(json.loads(raw))
    except (ValueError, ValidationError, RecursionError):
        # RecursionError: a validly signed body nested thousands of levels deep (the body
        # size limit of BodySizeLimitMiddleware bounds its length, not its depth).
        raise ProblemError(422, "validation_error", N_("Invalid callback body"), "") from None
    if body.order_id != order_id:
        raise ProblemError(
            422, "order_mismatch", N_("Order id mismatch"), N_("the body names another order")
        )
    received = await payments.receive_payment(
        session,
        client,
        gateway,
        order_id=order_id,
        amount=body.amount,
        paid_at=body.paid_at,
        gateway_ref=body.gateway_ref,
    )
    return CallbackResult(order_id=order_id, result=received.result, stage=received.stage)
