"""Inserts keyed by a business key run twice (an activity retried) and leave one row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Base,
    Customer,
    GatewayTransaction,
    Notification,
    PaymentLedger,
    Policy,
    QueryCredential,
    Quote,
    User,
)
from db.repositories.credentials import get_query_credential, store_query_credential
from db.repositories.customers import get_customer, upsert_customer
from db.repositories.gateway import get_transaction, insert_transaction
from db.repositories.ledger import count_entries, record_entry
from db.repositories.notifications import enqueue, list_for_case
from db.repositories.policies import get_policy, insert_policy, set_policy_status
from db.repositories.quotes import get_quote, save_quote
from db.repositories.users import get_user, upsert_user
from db.upsert import insert_or_ignore, insert_or_update
from domain.activities import Notification as NotificationMessage
from domain.activities import PolicyIssue

MakeCustomer = Callable[[int], Awaitable[Customer]]
NOW = datetime(2026, 11, 22, 8, tzinfo=UTC)


async def rows(session: AsyncSession, model: type[Base]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_save_quote_twice_keeps_the_first(session: AsyncSession) -> None:
    async def save(premium: str) -> Quote:
        return await save_quote(
            session,
            quote_id="Q1",
            application_no="A1",
            product_code="TERM_LIFE_20",
            sum_insured=Decimal("300000.00"),
            premium=Decimal(premium),
            valid_until=NOW + timedelta(days=30),
        )

    first = await save("1234.50")
    again = await save("9999.00")
    assert await rows(session, Quote) == 1
    assert first.premium == again.premium == Decimal("1234.50")
    assert (await get_quote(session, quote_id="Q1")) is first


async def test_insert_policy_twice_keeps_one_and_status_changes(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    customer = await make_customer(1)
    issue = PolicyIssue(
        policy_number="P1",
        application_no="A1",
        customer_id=customer.id,
        agent="alice",
        product_code="TERM_LIFE_20",
        sum_insured=Decimal("300000.00"),
        premium=Decimal("1234.50"),
        effective_at=NOW,
        expires_at=NOW + timedelta(days=365 * 20),
    )
    first = await insert_policy(session, issue=issue)
    await insert_policy(session, issue=issue)
    assert await rows(session, Policy) == 1
    assert (first.status, first.paid_to_date) == ("issued", Decimal("0.00"))
    await set_policy_status(session, policy_number="P1", status="effective")
    policy = await get_policy(session, policy_number="P1")
    assert policy is not None and policy.status == "effective"


async def test_record_entry_twice_keeps_the_first(session: AsyncSession) -> None:
    first = await record_entry(
        session,
        idempotency_key="premium:A1",
        kind="premium",
        case_id="A1",
        amount=Decimal("1234.50"),
        status="succeeded",
        gateway_ref="G1",
    )
    again = await record_entry(
        session,
        idempotency_key="premium:A1",
        kind="premium",
        case_id="A1",
        amount=Decimal("1234.50"),
        status="declined",
        gateway_ref="G2",
    )
    assert await rows(session, PaymentLedger) == 1
    assert await count_entries(session, idempotency_key="premium:A1") == 1
    assert again.id == first.id
    assert (again.status, again.gateway_ref) == ("succeeded", "G1")


async def test_insert_gateway_transaction_twice_keeps_the_first(session: AsyncSession) -> None:
    for ref in ["GW-1", "GW-2"]:
        await insert_transaction(
            session,
            idempotency_key="premium:A1",
            kind="charge",
            amount=Decimal("1234.50"),
            status="succeeded",
            gateway_ref=ref,
            account_last4="0042",
        )
    assert await rows(session, GatewayTransaction) == 1
    transaction = await get_transaction(session, idempotency_key="premium:A1")
    assert transaction is not None and transaction.gateway_ref == "GW-1"
    assert await get_transaction(session, idempotency_key="premium:A2") is None


async def test_enqueue_notification_twice_keeps_one(session: AsyncSession) -> None:
    message = NotificationMessage(
        key="A1:issued:agent",
        case_id="A1",
        recipient="agent:alice",
        channel="inbox",
        template="policy_issued",
        params={"policy_number": "P1"},
    )
    first = await enqueue(session, notification=message)
    again = await enqueue(session, notification=message)
    assert await rows(session, Notification) == 1
    assert again.id == first.id
    assert [n.key for n in await list_for_case(session, case_id="A1")] == ["A1:issued:agent"]


async def test_upsert_user_twice_updates_in_place(session: AsyncSession) -> None:
    first = await upsert_user(
        session, username="sue", password_hash="h1", roles=["supervisor"], approval_limit=Decimal(1)
    )
    again = await upsert_user(
        session,
        username="sue",
        password_hash="h2",
        roles=["supervisor", "agent"],
        approval_limit=Decimal("5000000.00"),
        branch="北京分公司",
    )
    assert await rows(session, User) == 1
    assert again.id == first.id
    user = await get_user(session, username="sue")
    assert user is not None
    assert (user.password_hash, user.roles, user.approval_limit, user.branch, user.active) == (
        "h2",
        ["supervisor", "agent"],
        Decimal("5000000.00"),
        "北京分公司",
        True,
    )
    assert await get_user(session, username="nobody") is None


async def test_upsert_customer_by_id_hash_refreshes_contact_details(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    first = await make_customer(1)

    again = await upsert_customer(
        session,
        id_hash="hash-1",
        id_number_enc="enc-id-1",
        id_masked=first.id_masked,
        name=first.name,
        phone_enc="enc-new-phone",
        phone_masked="139****1111",
        email="c1@example.com",
        birth_date=first.birth_date,
    )
    assert await rows(session, Customer) == 1
    assert again.id == first.id
    customer = await get_customer(session, customer_id=first.id)
    assert customer is not None
    assert (customer.phone_masked, customer.email) == ("139****1111", "c1@example.com")


async def test_store_query_credential_replaces_the_hash(session: AsyncSession) -> None:
    await store_query_credential(session, application_no="A1", password_hash="h1")
    await store_query_credential(session, application_no="A1", password_hash="h2")
    assert await rows(session, QueryCredential) == 1
    credential = await get_query_credential(session, application_no="A1")
    assert credential is not None and credential.password_hash == "h2"


async def test_a_value_that_is_not_a_column_is_refused_and_nothing_written(
    session: AsyncSession,
) -> None:
    # A message field dumped into `values` that the table lacks must not vanish silently.
    with pytest.raises(ValueError, match="not columns of notification: urgency"):
        await insert_or_ignore(
            session,
            Notification,
            key="key",
            values={
                "key": "E1:policy_issued",
                "case_id": "E1",
                "recipient": "agent:alice",
                "channel": "inbox",
                "template": "policy_issued",
                "params": {},
                "urgency": "high",
            },
        )
    with pytest.raises(ValueError, match="not columns of user: nickname"):
        await insert_or_update(
            session, User, key="username", values={"username": "zoe", "nickname": "z"}, update=[]
        )
    assert await rows(session, Notification) == 0
    assert await rows(session, User) == 0
