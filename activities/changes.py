"""The batched read-model write: everything a process step changed, in one transaction.

The workflows queue the writes they need nothing back from (their state, quote records,
tasks, policy rows, notifications: the ``batched`` steps of domain.steps) and apply them
together before they next wait or call anything else: one local activity instead of one
activity per write. Each write is an idempotent upsert, so a retried batch changes
nothing twice; the state row and the outbox rows commit together (a notification is
never sent for a state that was not recorded).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.repositories import claims, customers, enrollments, notifications, policies, quotes, tasks
from domain import steps
from domain.activities import Change, ChangeBatch, ChangesRecorded


async def apply_change(session: AsyncSession, change: Change) -> None:
    if change.quote is not None:
        await quotes.save_quote_record(session, record=change.quote)
    elif change.task_open is not None:
        await tasks.insert_task(session, task=change.task_open)
    elif change.task_change is not None:
        await tasks.apply_task_change(session, change=change.task_change)
    elif change.policy_issue is not None:
        await policies.insert_policy(session, issue=change.policy_issue)
    elif change.policy_status is not None:
        await policies.set_policy_status(
            session,
            policy_number=change.policy_status.policy_number,
            status=change.policy_status.status,
        )
    elif change.customer_phone is not None:
        await customers.set_phone(
            session,
            customer_id=change.customer_phone.customer_id,
            phone_enc=change.customer_phone.phone.enc,
            phone_masked=change.customer_phone.phone.masked,
        )
    elif change.payment_account is not None:
        await policies.set_payment_account(
            session,
            policy_number=change.payment_account.policy_number,
            account_enc=change.payment_account.account.enc,
            account_masked=change.payment_account.account.masked,
        )
    elif change.notification is not None:
        await notifications.enqueue(session, notification=change.notification)
    else:
        raise ValueError("an empty change")


class ChangeActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn(name=steps.RECORD_CHANGES.name)
    async def record_changes(self, batch: ChangeBatch) -> ChangesRecorded:
        async with self._sessions() as session, session.begin():
            if batch.enrollment is not None:
                await enrollments.upsert_enrollment(session, state=batch.enrollment)
            if batch.claim is not None:
                await claims.upsert_claim(session, state=batch.claim)
            if batch.policy is not None:
                await policies.record_policy_state(session, state=batch.policy)
            for change in batch.changes:
                await apply_change(session, change)
        return ChangesRecorded(changes=batch.changes)
