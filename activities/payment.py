"""Payment activities: premium collection through the gateway, recorded once in our ledger.

The idempotency key comes from the workflow (``premium:<application_no>``) and is sent to
the gateway and used as the ledger's UNIQUE key, so a retry after a crash — even one that
happens after the bank moved the money — neither charges nor records twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.crypto import FieldCipher
from db.models import PaymentLedger
from db.repositories import ledger, policies
from domain import steps
from domain.activities import (
    Charge,
    InstallmentCharge,
    LedgerEntry,
    PaymentOrder,
    PolicyPayout,
    Refund,
    Settlement,
)
from domain.policies import Sealed
from gateways.payment import PaymentGateway

# An account in clear, fetched only when the gateway is to be asked.
Account = Callable[[], Awaitable[str]]


def ledger_entry(row: PaymentLedger) -> LedgerEntry:
    return LedgerEntry(
        ledger_id=row.id,
        idempotency_key=row.idempotency_key,
        amount=row.amount,
        status=row.status,
        gateway_ref=row.gateway_ref,
        order_id=row.order_id,
    )


async def pay_out(
    sessions: async_sessionmaker[AsyncSession],
    gateway: PaymentGateway,
    *,
    key: str,
    case_id: str,
    policy_number: str,
    amount: Decimal,
    account: Account,
    against_cover: bool,
) -> LedgerEntry:
    """Pay out once under the business ``key`` (a claim, a surrender, a termination): a
    repeat returns the booking made; declined by the receiving bank is final
    (``payout_declined``). ``against_cover``: counted against the policy's sum insured."""
    async with sessions() as session:
        done = await ledger.get_entry_by_key(session, idempotency_key=key)
    if done is None:
        # Gateway errors and timeouts propagate and are retried with the same key.
        result = await gateway.payout(idempotency_key=key, amount=amount, account=await account())
        async with sessions() as session, session.begin():
            done = await ledger.record_payout(
                session,
                idempotency_key=key,
                case_id=case_id,
                policy_number=policy_number,
                amount=amount,
                status=result.status,
                gateway_ref=result.gateway_ref,
                against_cover=against_cover,
            )
    if done.status == "declined":
        raise ApplicationError(
            f"payout declined by the receiving bank (ledger {done.id})",
            type="payout_declined",
            non_retryable=True,
        )
    return ledger_entry(done)


class PaymentActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        gateway: PaymentGateway,
        cipher: FieldCipher,
    ) -> None:
        self._sessions = session_factory
        self._gateway = gateway
        self._cipher = cipher

    @activity.defn(name=steps.CHARGE_PREMIUM.name)
    async def charge_premium(self, charge: Charge) -> LedgerEntry:
        async def account() -> str:
            return charge.account

        return await self._charge(charge.idempotency_key, charge.case_id, charge.amount, account)

    @activity.defn(name=steps.CHARGE_INSTALLMENT.name)
    async def charge_installment(self, charge: InstallmentCharge) -> LedgerEntry:
        """A renewal premium from the policy's auto-debit account, decrypted here from the
        policy row (the process holds only its mask). No account: ``no_payment_account``,
        which the process treats as an unpaid installment."""

        async def account() -> str:
            return await self._policy_account(charge.policy_number, None)

        return await self._charge(
            charge.idempotency_key, charge.policy_number, charge.amount, account
        )

    @activity.defn(name=steps.PAY_POLICY_VALUE.name)
    async def pay_policy_value(self, payout: PolicyPayout) -> LedgerEntry:
        """A surrender's or a termination's cash value, paid once under its business key to
        the account given (sealed) or the policy's own (decrypted here from its row); not
        counted against the cover."""

        async def account() -> str:
            return await self._policy_account(payout.policy_number, payout.account)

        return await pay_out(
            self._sessions,
            self._gateway,
            key=payout.idempotency_key,
            case_id=payout.policy_number,
            policy_number=payout.policy_number,
            amount=payout.amount,
            account=account,
            against_cover=False,
        )

    async def _policy_account(self, policy_number: str, given: Sealed | None) -> str:
        """The account to use, in clear: the one given (sealed), else the policy row's
        auto-debit account. Neither: ``no_payment_account``, final."""
        sealed = given.enc if given else None
        if sealed is None:
            async with self._sessions() as session:
                policy = await policies.get_policy(session, policy_number=policy_number)
            sealed = policy.payment_account_enc if policy else None
        if not sealed:
            raise ApplicationError(
                f"policy {policy_number} has no account to use",
                type="no_payment_account",
                non_retryable=True,
            )
        return self._cipher.decrypt(sealed)

    async def _charge(
        self, key: str, case_id: str, amount: Decimal, account: Account
    ) -> LedgerEntry:
        """Charge once under the business ``key``: a repeat (a retry after a crash, even one
        after the bank moved the money) returns the booking made; declined is final. The
        account is read only when the gateway is asked."""
        async with self._sessions() as session:
            done = await ledger.get_entry_by_key(session, idempotency_key=key)
        if done is None:
            # Gateway errors and timeouts propagate and are retried with the same key.
            result = await self._gateway.charge(
                idempotency_key=key, amount=amount, account=await account()
            )
            async with self._sessions() as session, session.begin():
                done = await ledger.record_entry(
                    session,
                    idempotency_key=key,
                    kind="premium",
                    case_id=case_id,
                    amount=amount,
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
