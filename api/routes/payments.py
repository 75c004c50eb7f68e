"""The payment gateway's callback for online premium payments."""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.deps import GatewayDep, SessionDep, SettingsDep, TemporalDep
from api.late_payments import accept_late_payment, resume_late_refund
from api.openapi import problem_responses
from api.schemas import Money, StrictModel
from db.models import PaymentLedger
from db.repositories import ledger
from gateways.payment import PaymentGateway, sign_callback
from services.enrollments import enrollment_handle
from services.problems import ProblemError
from services.processes import is_not_found, refusal
from workflows.enrollment import EnrollmentWorkflow
from workflows.inputs import PaymentNotice

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
        {409: ["payment_not_expected", "process_refused"]},
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
    (`refunded`), or left to ops as a `late_payment` task (`refund_to_ops`); see
    api.late_payments."""
    raw = await request.body()
    expected = sign_callback(settings.payment_gateway_secret, raw)
    if not x_signature or not hmac.compare_digest(expected, x_signature.strip().lower()):
        raise ProblemError(401, "invalid_signature", "Invalid signature",
                           "X-Signature does not match the body")  # fmt: skip
    try:
        body = PaymentCallback.model_validate(json.loads(raw))
    except (ValueError, ValidationError, RecursionError):
        # RecursionError: a validly signed body nested thousands of levels deep (the body
        # size limit of BodySizeLimitMiddleware bounds its length, not its depth).
        raise ProblemError(422, "validation_error", "Invalid callback body", "") from None
    if body.order_id != order_id:
        raise ProblemError(422, "order_mismatch", "Order id mismatch",
                           "the body names another order")  # fmt: skip
    entry = await ledger.get_entry_by_order(session, order_id=order_id)
    if entry is None:
        raise ProblemError(404, "unknown_order", "No such payment order", "")
    await session.commit()
    if entry.status == "succeeded":
        result = await resume_late_refund(session, gateway, entry=entry)
        return CallbackResult(order_id=order_id, result=result)
    if entry.status == "declined":
        # Declined: the order lapsed unpaid and its process is over.
        return await _late(session, gateway, entry, body)
    handle = enrollment_handle(client, entry.case_id)
    try:
        state = await handle.execute_update(
            EnrollmentWorkflow.confirm_payment,
            PaymentNotice(
                order_id=order_id,
                amount=body.amount,
                paid_at=body.paid_at,
                gateway_ref=body.gateway_ref,
            ),
        )
    except WorkflowUpdateFailedError as err:
        refused = err.cause.type if isinstance(err.cause, ApplicationError) else None
        if refused == "already_paid":
            return CallbackResult(order_id=order_id, result="already_processed")
        if refused == "payment_not_expected":  # lapsed or withdrawn, not yet ended
            return await _late(session, gateway, entry, body)
        raise refusal(err) from None
    except RPCError as err:
        if is_not_found(err):  # the process has ended (or is gone): our ledger knows the order
            return await _late(session, gateway, entry, body)
        raise
    return CallbackResult(order_id=order_id, result="accepted", stage=state.stage.value)


async def _late(
    session: AsyncSession, gateway: PaymentGateway, entry: PaymentLedger, body: PaymentCallback
) -> CallbackResult:
    """A payment the process no longer takes: booked, and refunded or handed to ops."""
    if body.amount != entry.amount:
        # As the process itself refuses it: the gateway's order fixed the amount.
        raise ProblemError(422, "amount_mismatch", "Amount mismatch",
                           "paid amount differs from the premium due")  # fmt: skip
    result = await accept_late_payment(session, gateway, entry=entry, gateway_ref=body.gateway_ref)
    return CallbackResult(order_id=body.order_id, result=result)
