"""Issued policies."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.errors import NotFound
from db.models import Policy
from db.pagination import newest_first
from db.upsert import insert_or_ignore
from domain.activities import PolicyIssue
from domain.policies import PolicyState

_CURSOR_SCOPE = "policy"


async def insert_policy(session: AsyncSession, *, issue: PolicyIssue) -> Policy:
    """Record an issued policy once, with the application's auto-debit account (sealed);
    a repeat returns the stored one unchanged."""
    account = issue.payment_account
    await insert_or_ignore(
        session,
        Policy,
        key="policy_number",
        values={
            **issue.model_dump(exclude={"payment_account"}),
            "status": "issued",
            "payment_account_enc": account.enc if account else None,
            "payment_account_masked": account.masked if account else None,
        },
    )
    query = select(Policy).where(Policy.policy_number == issue.policy_number)
    return (await session.scalars(query)).one()


async def record_policy_state(session: AsyncSession, *, state: PolicyState) -> Policy:
    """Write the policy's process state onto its row (inserted at issuance by the
    enrollment, in an earlier transaction); repeats are harmless. Raises NotFound."""
    await session.execute(
        update(Policy)
        .where(Policy.policy_number == state.policy_number)
        .values(
            workflow_id=state.workflow_id,
            stage=state.stage.value,
            status=state.status.value,
            receipt_signed_at=state.receipt_signed_at,
            cooling_off_ends_at=state.cooling_off_ends_at,
            # A renewed one-year policy runs on: its new expiry and premium.
            expires_at=state.expires_at,
            premium=state.premium,
            state=state.model_dump(mode="json"),
        )
        .execution_options(synchronize_session=False)
    )
    query = (
        select(Policy)
        .where(Policy.policy_number == state.policy_number)
        .execution_options(populate_existing=True)
    )
    policy = await session.scalar(query)
    if policy is None:
        raise NotFound(f"policy {state.policy_number} not found")
    return policy


async def get_policy(session: AsyncSession, *, policy_number: str) -> Policy | None:
    """The policy with this number, or None."""
    return await session.get(Policy, policy_number)


async def set_policy_status(session: AsyncSession, *, policy_number: str, status: str) -> Policy:
    """Set a policy's status (issued, effective, cancelled, lapsed, expired)."""
    await session.execute(
        update(Policy).where(Policy.policy_number == policy_number).values(status=status)
    )
    query = (
        select(Policy)
        .where(Policy.policy_number == policy_number)
        .execution_options(populate_existing=True)
    )
    policy = await session.scalar(query)
    if policy is None:
        raise NotFound(f"policy {policy_number} not found")
    return policy


async def set_payment_account(
    session: AsyncSession, *, policy_number: str, account_enc: str, account_masked: str
) -> None:
    """The policy's new auto-debit account (already encrypted and masked); a repeat is
    harmless."""
    await session.execute(
        update(Policy)
        .where(Policy.policy_number == policy_number)
        .values(payment_account_enc=account_enc, payment_account_masked=account_masked)
    )


async def add_to_paid(session: AsyncSession, *, policy_number: str, amount: Decimal) -> Policy:
    """Raise a policy's claims paid to date by `amount`. Raises NotFound.

    Only `db.repositories.ledger.record_payout` calls this, in the transaction that records
    the payout, so each payout counts once. The addition runs in SQL: two payouts at once
    cannot both read the old total and lose one.
    """
    await session.execute(
        update(Policy)
        .where(Policy.policy_number == policy_number)
        .values(paid_to_date=Policy.paid_to_date + amount)
        .execution_options(synchronize_session=False)
    )
    query = (
        select(Policy)
        .where(Policy.policy_number == policy_number)
        .execution_options(populate_existing=True)
    )
    policy = await session.scalar(query)
    if policy is None:
        raise NotFound(f"policy {policy_number} not found")
    return policy


async def list_policies(
    session: AsyncSession,
    *,
    agent: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Policy], str | None]:
    """Policies newest first, filtered by agent and status when given (the listing index
    leads with status). One page and the cursor of the next (None on the last page);
    ValueError for a malformed cursor (or one of another listing) or a limit below 1."""
    query = select(Policy)
    if agent is not None:
        query = query.where(Policy.agent == agent)
    if status is not None:
        query = query.where(Policy.status == status)
    return await newest_first(
        session,
        query,
        at=Policy.created_at,
        key=Policy.policy_number,
        scope=_CURSOR_SCOPE,
        cursor=cursor,
        limit=limit,
    )
