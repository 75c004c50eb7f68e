"""Payment activities: premium collection through the gateway, recorded once in our ledger.

The idempotency key comes from the workflow (``premium:<application_no>``) and is sent to
the gateway and used as the ledger's UNIQUE key, so a retry after a crash — even one that
happens after the bank moved the money — neither charges nor records twice.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.models import PaymentLedger
from db.repositories import ledger
from domain import steps
from domain.activities import Charge, LedgerEntry, PaymentOrder, Refund, Settlement
from gateways.payment import PaymentGateway


def ledger_entry(row: PaymentLedger) -> LedgerEntry:
    return LedgerEntry(
        ledger_id=row.id,
        idempotency_key=row.idempotency_key,
        amount=row.amount,
        status=row.status,
        gateway_ref=row.gateway_ref,
        order_id=row.order_id,
    )


class PaymentActivities:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], gateway: PaymentGateway
    ) -> None:
        self._sessions = session_factory
        self._gateway = gateway

    @activity.defn(name=steps.CHARGE_PREMIUM.name)
    async def charge_premium(self, charge: Charge) -> LedgerEntry:
        async with self._sessions() as session:
            done = await ledger.get_entry_by_key(session, idempotency_key=charge.idempotency_key)
        if done is None:
            # Gateway errors and timeouts propagate and are retried with the same key.
            result = await self._gateway.charge(
                idempotency_key=charge.idempotency_key, amount=charge.amount, account=charge.account
            )
            async with self._sessions() as session, session.begin():
                done = await ledger.record_entry(
                    session,
                    idempotency_key=charge.idempotency_key,
                    kind=charge.purpose,
                    case_id=charge.case_id,
                    amount=charge.amount,
                    status=result.status,
                    gateway_ref=result.gateway_ref,
                )
        if done.status == "declined":
            raise ApplicationError(
                f"premium charge declined by the bank (ledger {done.id})",
                type="payment_declined",
                non_retryable=True,
            )
        return ledger_entry(done)

    @activity.defn(name=steps.CREATE_PAYMENT_ORDER.name)
    async def create_payment_order(self, order: PaymentOrder) -> LedgerEntry:
        result = await self._gateway.create_order(
            idempotency_key=order.idempotency_key, amount=order.amount
        )
        async with self._sessions() as session, session.begin():
            row = await ledger.record_entry(
                session,
                idempotency_key=order.idempotency_key,
                kind="premium",
                case_id=order.case_id,
                amount=order.amount,
                status="pending",
                gateway_ref=result.gateway_ref,
                order_id=order.order_id,
            )
        return ledger_entry(row)

    @activity.defn(name=steps.SETTLE_ONLINE_PAYMENT.name)
    async def settle_online_payment(self, settlement: Settlement) -> LedgerEntry:
        async with self._sessions() as session, session.begin():
            row = await ledger.get_entry_by_key(session, idempotency_key=settlement.idempotency_key)
            if row is None:
                raise ApplicationError(
                    f"no payment order {settlement.order_id}", type="invalid_input"
                )
            if row.status == "pending":
                row = await ledger.settle_entry(
                    session,
                    idempotency_key=settlement.idempotency_key,
                    gateway_ref=settlement.gateway_ref,
                )
        return ledger_entry(row)

    @activity.defn(name=steps.REFUND_PREMIUM.name)
    async def refund_premium(self, refund: Refund) -> LedgerEntry:
        """Refund a collected premium once (``refund:<policy_no>``). What counts as collected:
        our ledger says so, or — for a charge cut off by the cancellation — the gateway's
        book does."""
        async with self._sessions() as session:
            done = await ledger.get_entry_by_key(session, idempotency_key=refund.idempotency_key)
            original = await ledger.get_entry_by_key(session, idempotency_key=refund.original_key)
        if done is not None:
            return ledger_entry(done)
        if original is not None and original.status != "succeeded":
            return _nothing_to_refund(refund)
        # What the process asks back (a cooling-off refund keeps its cost), never more
        # than was collected.
        amount = refund.amount if original is None else min(refund.amount, original.amount)
        result = await self._gateway.refund(
            idempotency_key=refund.idempotency_key,
            original_key=refund.original_key,
            amount=amount,
        )
        if result.status == "nothing_to_refund":
            return _nothing_to_refund(refund)
        async with self._sessions() as session, session.begin():
            row = await ledger.record_entry(
                session,
                idempotency_key=refund.idempotency_key,
                kind="refund",
                case_id=refund.case_id,
                amount=amount,
                status=result.status,
                gateway_ref=result.gateway_ref,
            )
        return ledger_entry(row)


def _nothing_to_refund(refund: Refund) -> LedgerEntry:
    """The answer for a premium that was never collected: no money moves."""
    return LedgerEntry(
        ledger_id="",
        idempotency_key=refund.idempotency_key,
        amount=refund.amount,
        status="nothing_to_refund",
    )
