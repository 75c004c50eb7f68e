"""Payments: the gateway's callback for an online premium payment, and money that
arrives after the process stopped waiting for it.

A callback is signed by the gateway (HMAC-SHA256 over the raw body, ``verify_callback``)
and names an order of the ledger; ``receive_payment`` hands it to the order's process
(the ``confirm_payment`` Update), where a repeat is harmless.

A payment order's process stops taking payment when the deadline passes (lapsed), the
application is withdrawn, or the process ends otherwise; the gateway's customer may still
pay, and its signed callback then reaches a process that refuses it (or no longer runs).
The money has moved, so it is never answered with an error and dropped: it is booked and
given back.

Why in this service, which the callback calls, and not in a workflow: the process that
owned the order is over (or past the point of taking payment) and cannot be asked to act,
and starting a new workflow for each stray payment would be a new process kind for a rare
clean-up. The callback request already holds what is needed — the ledger
(``db.repositories``) and the gateway (``gateways.payment``) — and every step is
idempotent on a business key, so the gateway's own retries of the callback are the retry
loop:

1. One transaction books the receipt: the order's premium entry becomes ``succeeded``
   with the callback's ``gateway_ref`` (from ``pending``, or ``declined`` as lapsed), and
   a ``pending`` refund entry ``refund:late:<order_id>`` is opened beside it.
2. The gateway refunds with the same key ``refund:late:<order_id>``: a repeat (a retried
   callback, two racing ones) returns the first refund and never pays back twice. The
   refund entry is then settled ``succeeded`` with the refund's reference.
3. If the gateway cannot refund (down, or its book has nothing to refund), the case goes
   to ops as an inbox task ``late-<order_id>`` (kind ``late_payment``), and from then on
   it is theirs: no later callback refunds behind their back.

A repeated callback finds the premium entry ``succeeded``: if the refund entry is still
``pending`` with no task (a crash between steps 1 and 3), the refund is tried again;
otherwise it is ``already_processed`` and nothing changes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from db.models import PaymentLedger, utcnow
from db.repositories import enrollments, ledger, tasks
from domain.activities import TaskOpen
from domain.texts import N_
from gateways.payment import PaymentGateway, sign_callback
from services.enrollments import enrollment_handle
from services.problems import ProblemError, refused
from services.processes import is_not_found, refusal
from workflows.enrollment import EnrollmentWorkflow, workflow_id_for
from workflows.inputs import PaymentNotice
from workflows.policy import PolicyWorkflow
from workflows.policy import workflow_id_for as policy_workflow_id

log = structlog.get_logger("services.payments")

LateResult = Literal["refunded", "refund_to_ops", "already_processed"]
CallbackOutcome = Literal["accepted", "refunded", "refund_to_ops", "already_processed"]

# How soon ops should have given the money back by hand.
OPS_DUE = timedelta(days=1)


@dataclass(frozen=True)
class PaymentReceived:
    """What became of a callback: ``accepted`` (with the process's stage then) or
    ``already_processed``, or for a payment the process no longer takes ``refunded``
    (booked and given back) or ``refund_to_ops`` (booked, refund left to ops)."""

    result: CallbackOutcome
    stage: str | None = None


def verify_callback(secret: str, raw: bytes, signature: str | None) -> None:
    """401 ``invalid_signature`` unless `signature` (hex) is the gateway's HMAC-SHA256 of
    the raw body."""
    expected = sign_callback(secret, raw)
    if not signature or not hmac.compare_digest(expected, signature.strip().lower()):
        raise ProblemError(
            401,
            "invalid_signature",
            N_("Invalid signature"),
            N_("X-Signature does not match the body"),
        )


async def receive_payment(
    session: AsyncSession,
    client: Client,
    gateway: PaymentGateway,
    *,
    order_id: str,
    amount: Decimal,
    paid_at: datetime,
    gateway_ref: str,
) -> PaymentReceived:
    """The gateway's (verified) notice that an order was paid: 404 ``unknown_order`` for
    an order not in the ledger; the order's process confirms it, a repeat is harmless; a
    payment the process no longer takes is booked and refunded (see above)."""
    entry = await ledger.get_entry_by_order(session, order_id=order_id)
    if entry is None:
        raise ProblemError(404, "unknown_order", N_("No such payment order"), "")
    await session.commit()
    if entry.status == "succeeded":
        return PaymentReceived(await resume_late_refund(session, gateway, entry=entry))
    if entry.status == "declined":
        # Declined: the order lapsed unpaid and its process is over.
        return await _late(session, gateway, entry, amount=amount, gateway_ref=gateway_ref)
    notice = PaymentNotice(
        order_id=order_id, amount=amount, paid_at=paid_at, gateway_ref=gateway_ref
    )
    try:
        if is_installment(entry.idempotency_key):
            # A renewal premium (``premium:<policy_number>:<n>``): the policy's process.
            state: Any = await client.get_workflow_handle_for(
                PolicyWorkflow.run, policy_workflow_id(entry.case_id)
            ).execute_update(PolicyWorkflow.confirm_payment, notice)
        else:
            state = await enrollment_handle(client, entry.case_id).execute_update(
                EnrollmentWorkflow.confirm_payment, notice
            )
    except WorkflowUpdateFailedError as err:
        code = err.cause.type if isinstance(err.cause, ApplicationError) else None
        if code == "already_paid":
            return PaymentReceived("already_processed")
        if code == "payment_not_expected":  # lapsed or withdrawn, not yet ended
            return await _late(session, gateway, entry, amount=amount, gateway_ref=gateway_ref)
        raise refusal(err) from None
    except RPCError as err:
        if is_not_found(err):  # the process has ended (or is gone): our ledger knows the order
            return await _late(session, gateway, entry, amount=amount, gateway_ref=gateway_ref)
        raise
    return PaymentReceived("accepted", state.stage.value)


async def _late(
    session: AsyncSession,
    gateway: PaymentGateway,
    entry: PaymentLedger,
    *,
    amount: Decimal,
    gateway_ref: str,
) -> PaymentReceived:
    """A payment the process no longer takes: booked, and refunded or handed to ops."""
    if amount != entry.amount:
        # As the process itself refuses it: the gateway's order fixed the amount.
        raise refused("amount_mismatch")
    return PaymentReceived(
        await accept_late_payment(session, gateway, entry=entry, gateway_ref=gateway_ref)
    )


def is_installment(key: str) -> bool:
    """Whether a ledger key is a renewal premium's (``premium:<policy_number>:<n>``), not an
    enrollment's first premium (``premium:<application_no>``)."""
    return key.startswith("premium:") and key.count(":") == 2


def refund_key(order_id: str) -> str:
    return f"refund:late:{order_id}"


def task_id_for(order_id: str) -> str:
    return f"late-{order_id}"


async def accept_late_payment(
    session: AsyncSession,
    gateway: PaymentGateway,
    *,
    entry: PaymentLedger,
    gateway_ref: str,
) -> LateResult:
    """Book a payment the process no longer takes and refund it (or hand it to ops)."""
    assert entry.order_id is not None
    order_id = entry.order_id
    async with session.begin():
        entry = await ledger.settle_late_entry(
            session, idempotency_key=entry.idempotency_key, gateway_ref=gateway_ref
        )
        await ledger.record_entry(
            session,
            idempotency_key=refund_key(order_id),
            kind="refund",
            case_id=entry.case_id,
            amount=entry.amount,
            status="pending",
            order_id=None,
        )
    log.warning("late_payment_received", order_id=order_id, case_id=entry.case_id)
    return await _refund(session, gateway, entry=entry, gateway_ref=gateway_ref)


async def resume_late_refund(
    session: AsyncSession, gateway: PaymentGateway, *, entry: PaymentLedger
) -> LateResult:
    """For a repeated callback on a settled order: finish a late refund a crash cut off;
    anything else is already processed."""
    assert entry.order_id is not None
    refund = await ledger.get_entry_by_key(session, idempotency_key=refund_key(entry.order_id))
    task = await tasks.get_task(session, task_id=task_id_for(entry.order_id))
    await session.commit()
    if refund is None or refund.status != "pending" or task is not None:
        return "already_processed"
    return await _refund(session, gateway, entry=entry, gateway_ref=entry.gateway_ref or "")


async def _refund(
    session: AsyncSession, gateway: PaymentGateway, *, entry: PaymentLedger, gateway_ref: str
) -> LateResult:
    assert entry.order_id is not None
    order_id = entry.order_id
    if await tasks.get_task(session, task_id=task_id_for(order_id)) is not None:
        await session.commit()
        return "already_processed"  # ops own it now
    await session.commit()
    try:
        result = await gateway.refund(
            idempotency_key=refund_key(order_id),
            original_key=entry.idempotency_key,
            amount=entry.amount,
        )
    except Exception as err:  # the gateway down, or anything else: ops must know
        reason = f"gateway refused the refund: {type(err).__name__}"
        log.warning("late_payment_refund_failed", order_id=order_id, error=type(err).__name__)
    else:
        if result.status == "succeeded":
            async with session.begin():
                await ledger.settle_entry(
                    session, idempotency_key=refund_key(order_id), gateway_ref=result.gateway_ref
                )
            log.info("late_payment_refunded", order_id=order_id, case_id=entry.case_id)
            return "refunded"
        reason = f"gateway answered {result.status}"
    await _hand_to_ops(session, entry=entry, gateway_ref=gateway_ref, reason=reason)
    return "refund_to_ops"


async def _hand_to_ops(
    session: AsyncSession, *, entry: PaymentLedger, gateway_ref: str, reason: str
) -> None:
    assert entry.order_id is not None
    async with session.begin():
        row = await enrollments.get_enrollment(session, application_no=entry.case_id)
        await _open_task(
            session,
            entry=entry,
            gateway_ref=gateway_ref,
            reason=reason,
            agent=row.agent if row is not None else "system",
        )
    log.warning("late_payment_handed_to_ops", order_id=entry.order_id, case_id=entry.case_id)


async def _open_task(
    session: AsyncSession, *, entry: PaymentLedger, gateway_ref: str, reason: str, agent: str
) -> None:
    assert entry.order_id is not None
    now = utcnow()
    task = TaskOpen(
        task_id=task_id_for(entry.order_id),
        kind="late_payment",
        workflow_id=workflow_id_for(entry.case_id),
        case_id=entry.case_id,
        subject=f"Refund late payment {entry.order_id}",
        amount=entry.amount,
        submitted_by="system",
        agent=agent,
        due_at=now + OPS_DUE,
        details={
            "order_id": entry.order_id,
            "gateway_ref": gateway_ref,
            "refund_key": refund_key(entry.order_id),
            "reason": reason,
        },
    )
    await tasks.insert_task(session, task=task)
