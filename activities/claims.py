"""Claim activities: the claim read model, the policy position for assessment (with the
premium arrears at the incident), and payouts.

A payout is recorded in the ledger and counted against the policy's sum insured in one
transaction, once per idempotency key (``payout:<claim_no>``), so the policy's paid-to-date
rises exactly once however often the activity runs.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.payment import pay_out
from db.repositories import policies
from domain import steps
from domain.activities import LedgerEntry, PayoutRequest, PolicyPosition, PolicyRef
from domain.policies import PolicyState
from domain.premiums import claim_arrears
from gateways.payment import PaymentGateway


class ClaimActivities:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], gateway: PaymentGateway
    ) -> None:
        self._sessions = session_factory
        self._gateway = gateway

    @activity.defn(name=steps.LOAD_POLICY_POSITION.name)
    async def load_policy_position(self, ref: PolicyRef) -> PolicyPosition:
        async with self._sessions() as session:
            policy = await policies.get_policy(session, policy_number=ref.policy_number)
        if policy is None:
            raise ApplicationError(f"no policy {ref.policy_number}", type="invalid_input")
        # The premiums as the policy's process last recorded them (none before its first
        # record: nothing is owed yet).
        arrears = None
        if policy.state is not None:
            state = PolicyState.model_validate(policy.state)
            arrears = claim_arrears(state, incident_date=ref.incident_date)
        return PolicyPosition(
            policy_number=policy.policy_number,
            status=policy.status,
            sum_insured=policy.sum_insured,
            paid_to_date=policy.paid_to_date,
            effective_at=policy.effective_at,
            expires_at=policy.expires_at,
            arrears=arrears,
        )

    @activity.defn(name=steps.PAY_CLAIM.name)
    async def pay_claim(self, request: PayoutRequest) -> LedgerEntry:
        async def account() -> str:
            return request.account

        return await pay_out(
            self._sessions,
            self._gateway,
            key=request.idempotency_key,
            case_id=request.claim_no,
            policy_number=request.policy_number,
            amount=request.amount,
            account=account,
            against_cover=True,
        )
