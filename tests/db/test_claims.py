"""The claim read model and claim payouts: upserts from the process state, listing, the
duplicate-incident lookup, and payouts that count against the policy exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.errors import NotFound
from db.models import Claim, Customer, PaymentLedger, Policy, new_id
from db.pagination import encode_cursor
from db.repositories.claims import (
    claims_for_incident,
    get_claim,
    list_claims,
    list_for_policy,
    record_termination,
    upsert_claim,
)
from db.repositories.customers import upsert_customer
from db.repositories.ledger import (
    count_entries,
    payouts_for_case,
    record_entry,
    record_payout,
)
from db.repositories.policies import get_policy, insert_policy
from db.session import make_session_factory
from domain.activities import PolicyIssue
from domain.claims import (
    Approval,
    ClaimDocument,
    ClaimStage,
    ClaimState,
    ClaimStatus,
    Payout,
)
from domain.products import IncidentType

MakeCustomer = Callable[[int], Awaitable[Customer]]
NOW = datetime(2026, 11, 22, 8, tzinfo=UTC)
INCIDENT = date(2026, 11, 20)


def policy_issue(policy_number: str, customer_id: str) -> PolicyIssue:
    return PolicyIssue(
        policy_number=policy_number,
        application_no=f"A-{policy_number}",
        customer_id=customer_id,
        agent="alice",
        product_code="TERM_LIFE_20",
        sum_insured=Decimal("300000.00"),
        premium=Decimal("1234.50"),
        effective_at=NOW - timedelta(days=365),
        expires_at=NOW + timedelta(days=365 * 19),
    )


@pytest.fixture
async def policies(session: AsyncSession, make_customer: MakeCustomer) -> list[str]:
    """Two issued policies, P1 and P2, of one customer."""
    customer = await make_customer(1)
    for number in ["P1", "P2"]:
        await insert_policy(session, issue=policy_issue(number, customer.id))
    return ["P1", "P2"]


def claim_state(
    claim_no: str,
    *,
    agent: str = "alice",
    policy_number: str = "P1",
    incident_date: date = INCIDENT,
    incident_type: IncidentType = IncidentType.DEATH,
    stage: ClaimStage = ClaimStage.REPORTED,
    status: ClaimStatus = ClaimStatus.IN_PROGRESS,
) -> ClaimState:
    return ClaimState(
        claim_id=claim_no,
        workflow_id=f"claim-{claim_no}",
        agent=agent,
        policy_number=policy_number,
        product_code="TERM_LIFE_20",
        incident_date=incident_date,
        incident_type=incident_type,
        description="Passed away in hospital",
        amount_claimed=Decimal("300000.00"),
        payee_account_masked="6222 **** **** 1234",
        stage=stage,
        status=status,
    )


async def claim_rows(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Claim)) or 0)


async def _age(session: AsyncSession, claim_no: str, created_at: datetime) -> None:
    await session.execute(
        update(Claim).where(Claim.claim_no == claim_no).values(created_at=created_at)
    )


async def test_upsert_claim_twice_with_one_state_keeps_one_unchanged_row(
    session: AsyncSession, policies: list[str]
) -> None:
    first = await upsert_claim(session, state=claim_state("C1"))
    first_values = (first.stage, first.status, first.amount_claimed, first.state)
    created_at = first.created_at

    again = await upsert_claim(session, state=claim_state("C1"))

    assert await claim_rows(session) == 1
    assert (again.stage, again.status, again.amount_claimed, again.state) == first_values
    assert again.created_at == created_at


async def test_upsert_claim_derives_columns_and_updates_in_place(
    session: AsyncSession, policies: list[str]
) -> None:
    first = await upsert_claim(session, state=claim_state("C1"))
    created_at = first.created_at
    assert (first.amount_approved, first.stage) == (None, "reported")
    later = claim_state("C1", stage=ClaimStage.PAID, status=ClaimStatus.PAID)
    later.documents = [ClaimDocument(kind="death_certificate", name="cert.pdf")]
    later.amount_approved = Decimal("290000.00")
    later.approvals = [
        Approval(by="sue", decision="approve", at=NOW, reason="ok", amount=Decimal("290000.00"))
    ]
    later.payout = Payout(idempotency_key="payout:C1", status="paid", amount=Decimal("290000.00"))

    row = await upsert_claim(session, state=later)

    assert await claim_rows(session) == 1
    assert (row.claim_no, row.workflow_id, row.agent, row.policy_number) == (
        "C1",
        "claim-C1",
        "alice",
        "P1",
    )
    assert (row.incident_date, row.incident_type) == (INCIDENT, "death")
    assert (row.stage, row.status) == ("paid", "paid")
    assert (row.amount_claimed, row.amount_approved) == (
        Decimal("300000.00"),
        Decimal("290000.00"),
    )
    assert row.created_at == created_at
    assert row.updated_at >= created_at
    assert ClaimState.model_validate(row.state) == later
    assert await get_claim(session, claim_no="C1") is row


async def test_get_claim_returns_none_for_an_unknown_number(session: AsyncSession) -> None:
    assert await get_claim(session, claim_no="nope") is None


async def test_a_claim_on_an_unknown_policy_is_refused(session: AsyncSession) -> None:
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await upsert_claim(session, state=claim_state("C1", policy_number="nope"))


async def test_list_claims_is_newest_first_and_pages_through_ties(
    session: AsyncSession, policies: list[str]
) -> None:
    # C1..C3 share one creation time; C4 is newer, C0 older; B1 is another agent's.
    for no in ["C0", "C1", "C2", "C3", "C4"]:
        await upsert_claim(session, state=claim_state(no))
    await upsert_claim(session, state=claim_state("B1", agent="bob"))
    for no in ["C1", "C2", "C3", "B1"]:
        await _age(session, no, NOW)
    await _age(session, "C0", NOW - timedelta(hours=1))
    await _age(session, "C4", NOW + timedelta(hours=1))

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = await list_claims(
            session,
            agent="alice",
            stage=None,
            status=None,
            policy_number=None,
            cursor=cursor,
            limit=2,
        )
        assert len(page) <= 2
        seen += [row.claim_no for row in page]
        if cursor is None:
            break
    assert seen == ["C4", "C3", "C2", "C1", "C0"]


async def test_list_claims_filters_by_stage_status_and_policy(
    session: AsyncSession, policies: list[str]
) -> None:
    await upsert_claim(session, state=claim_state("C1"))
    await upsert_claim(session, state=claim_state("C2", stage=ClaimStage.UNDER_REVIEW))
    await upsert_claim(
        session,
        state=claim_state("C3", stage=ClaimStage.REJECTED, status=ClaimStatus.REJECTED),
    )
    await upsert_claim(
        session, state=claim_state("C4", policy_number="P2", stage=ClaimStage.UNDER_REVIEW)
    )

    async def listed(
        *, stage: str | None = None, status: str | None = None, policy_number: str | None = None
    ) -> set[str]:
        rows, next_cursor = await list_claims(
            session,
            agent=None,
            stage=stage,
            status=status,
            policy_number=policy_number,
            cursor=None,
            limit=10,
        )
        assert next_cursor is None
        return {row.claim_no for row in rows}

    assert await listed() == {"C1", "C2", "C3", "C4"}
    assert await listed(stage="under_review") == {"C2", "C4"}
    assert await listed(status="rejected") == {"C3"}
    assert await listed(policy_number="P2") == {"C4"}
    assert await listed(stage="under_review", status="in_progress", policy_number="P1") == {"C2"}


async def test_list_claims_rejects_another_listings_cursor_and_a_zero_limit(
    session: AsyncSession,
) -> None:
    enrollment_cursor = encode_cursor("enrollment", NOW, "A1")
    with pytest.raises(ValueError, match="malformed cursor"):
        await list_claims(
            session,
            agent=None,
            stage=None,
            status=None,
            policy_number=None,
            cursor=enrollment_cursor,
            limit=10,
        )
    with pytest.raises(ValueError):
        await list_claims(
            session, agent=None, stage=None, status=None, policy_number=None, cursor=None, limit=0
        )


async def test_claims_for_incident_returns_every_status_oldest_first(
    session: AsyncSession, policies: list[str]
) -> None:
    await upsert_claim(
        session, state=claim_state("C1", stage=ClaimStage.CLOSED, status=ClaimStatus.WITHDRAWN)
    )
    await upsert_claim(
        session, state=claim_state("C2", stage=ClaimStage.REJECTED, status=ClaimStatus.REJECTED)
    )
    await upsert_claim(session, state=claim_state("C3"))
    # The same incident on another policy, another day, another type: not this incident.
    await upsert_claim(session, state=claim_state("X1", policy_number="P2"))
    await upsert_claim(session, state=claim_state("X2", incident_date=INCIDENT - timedelta(1)))
    await upsert_claim(
        session, state=claim_state("X3", incident_type=IncidentType.TOTAL_DISABILITY)
    )
    await _age(session, "C1", NOW - timedelta(days=2))
    await _age(session, "C2", NOW - timedelta(days=1))
    await _age(session, "C3", NOW)

    found = await claims_for_incident(
        session, policy_number="P1", incident_date=INCIDENT, incident_type=IncidentType.DEATH
    )

    assert [(c.claim_no, c.status) for c in found] == [
        ("C1", "withdrawn"),
        ("C2", "rejected"),
        ("C3", "in_progress"),
    ]
    assert (
        await claims_for_incident(
            session, policy_number="P1", incident_date=INCIDENT, incident_type="hospitalisation"
        )
        == []
    )


async def test_list_for_policy_returns_only_that_policys_claims_oldest_first(
    session: AsyncSession, policies: list[str]
) -> None:
    for no in ["C1", "C2"]:
        await upsert_claim(session, state=claim_state(no))
    await upsert_claim(session, state=claim_state("X1", policy_number="P2"))
    await _age(session, "C1", NOW)
    await _age(session, "C2", NOW - timedelta(hours=1))

    assert [c.claim_no for c in await list_for_policy(session, policy_number="P1")] == [
        "C2",
        "C1",
    ]
    assert await list_for_policy(session, policy_number="nope") == []


async def paid_to_date(session: AsyncSession, policy_number: str) -> Decimal:
    session.expunge_all()  # read the database, not the objects in memory
    policy = await get_policy(session, policy_number=policy_number)
    assert policy is not None
    return policy.paid_to_date


async def test_record_payout_twice_keeps_one_entry_and_pays_once(
    session: AsyncSession, policies: list[str]
) -> None:
    async def pay(gateway_ref: str) -> PaymentLedger:
        return await record_payout(
            session,
            idempotency_key="payout:C1",
            case_id="C1",
            policy_number="P1",
            amount=Decimal("1000.50"),
            status="succeeded",
            gateway_ref=gateway_ref,
        )

    first = await pay("G1")
    again = await pay("G2")

    assert await count_entries(session, idempotency_key="payout:C1") == 1
    assert again.id == first.id
    assert (again.kind, again.status, again.gateway_ref) == ("payout", "succeeded", "G1")
    assert await paid_to_date(session, "P1") == Decimal("1000.50")
    assert await paid_to_date(session, "P2") == Decimal("0.00")


async def test_a_declined_payout_pays_nothing_and_a_later_success_pays_once(
    session: AsyncSession, policies: list[str]
) -> None:
    declined = await record_payout(
        session,
        idempotency_key="payout:C1",
        case_id="C1",
        policy_number="P1",
        amount=Decimal("1000.00"),
        status="declined",
        gateway_ref=None,
    )
    assert declined.status == "declined"
    assert await paid_to_date(session, "P1") == Decimal("0.00")

    # The same key again, now succeeded: the declined entry stands and nothing is paid.
    repeat = await record_payout(
        session,
        idempotency_key="payout:C1",
        case_id="C1",
        policy_number="P1",
        amount=Decimal("1000.00"),
        status="succeeded",
        gateway_ref="G1",
    )
    assert (repeat.id, repeat.status) == (declined.id, "declined")
    assert await paid_to_date(session, "P1") == Decimal("0.00")

    # The retry after the account was fixed carries its own key.
    await record_payout(
        session,
        idempotency_key="payout:C1:2",
        case_id="C1",
        policy_number="P1",
        amount=Decimal("1000.00"),
        status="succeeded",
        gateway_ref="G2",
    )
    assert await paid_to_date(session, "P1") == Decimal("1000.00")


async def test_payouts_add_up_on_the_policy(session: AsyncSession, policies: list[str]) -> None:
    for claim_no, amount in [("C1", "1000.10"), ("C2", "2000.20")]:
        await record_payout(
            session,
            idempotency_key=f"payout:{claim_no}",
            case_id=claim_no,
            policy_number="P1",
            amount=Decimal(amount),
            status="succeeded",
            gateway_ref=f"G-{claim_no}",
        )
    assert await paid_to_date(session, "P1") == Decimal("3000.30")


async def test_a_payout_on_an_unknown_policy_leaves_no_entry(session: AsyncSession) -> None:
    with pytest.raises(NotFound):
        await record_payout(
            session,
            idempotency_key="payout:C1",
            case_id="C1",
            policy_number="nope",
            amount=Decimal("1000.00"),
            status="succeeded",
            gateway_ref="G1",
        )
    # The entry and the payment stand or fall together.
    assert await count_entries(session, idempotency_key="payout:C1") == 0


@pytest.mark.parametrize(
    ("status", "amount"),
    [("pending", "1000.00"), ("succeeded", "0.00"), ("succeeded", "-5.00")],
)
async def test_record_payout_refuses_a_pending_status_or_a_non_positive_amount(
    session: AsyncSession, policies: list[str], status: str, amount: str
) -> None:
    with pytest.raises(ValueError):
        await record_payout(
            session,
            idempotency_key="payout:C1",
            case_id="C1",
            policy_number="P1",
            amount=Decimal(amount),
            status=status,
            gateway_ref=None,
        )
    assert await count_entries(session, idempotency_key="payout:C1") == 0
    assert await paid_to_date(session, "P1") == Decimal("0.00")


async def test_payouts_for_case_lists_only_that_cases_payouts(
    session: AsyncSession, policies: list[str]
) -> None:
    for key, case_id, status in [
        ("payout:C1", "C1", "declined"),
        ("payout:C1:2", "C1", "succeeded"),
        ("payout:C2", "C2", "succeeded"),
    ]:
        await record_payout(
            session,
            idempotency_key=key,
            case_id=case_id,
            policy_number="P1",
            amount=Decimal("10.00"),
            status=status,
            gateway_ref=None,
        )
    # A premium under the same case id is not a payout.
    await record_entry(
        session,
        idempotency_key="premium:C1",
        kind="premium",
        case_id="C1",
        amount=Decimal("10.00"),
        status="succeeded",
    )
    # The retry's entry is the newer one, whatever order the clock gave them.
    for key, created_at in [("payout:C1", NOW - timedelta(hours=1)), ("payout:C1:2", NOW)]:
        await session.execute(
            update(PaymentLedger)
            .where(PaymentLedger.idempotency_key == key)
            .values(created_at=created_at)
        )

    payouts = await payouts_for_case(session, case_id="C1")

    assert [(p.idempotency_key, p.status) for p in payouts] == [
        ("payout:C1", "declined"),
        ("payout:C1:2", "succeeded"),
    ]
    assert await payouts_for_case(session, case_id="nope") == []


async def test_two_workers_recording_one_payout_at_once_pay_once(engine: AsyncEngine) -> None:
    # Real, committed transactions on separate connections; the rows are removed afterwards.
    factory = make_session_factory(engine)
    suffix = new_id()
    policy_number, key = f"race-{suffix}", f"payout:race-{suffix}"
    async with factory() as session, session.begin():
        customer = await upsert_customer(
            session,
            id_hash=f"race-{suffix}",
            id_number_enc="enc-id",
            id_masked="1101**********123X",
            name="Customer",
            phone_enc="enc-phone",
            phone_masked="138****0000",
            email=None,
            birth_date=date(1990, 5, 17),
        )
        customer_id = customer.id
        await insert_policy(session, issue=policy_issue(policy_number, customer_id))

    async def pay(gateway_ref: str) -> PaymentLedger:
        async with factory() as session, session.begin():
            return await record_payout(
                session,
                idempotency_key=key,
                case_id=f"race-{suffix}",
                policy_number=policy_number,
                amount=Decimal("500.00"),
                status="succeeded",
                gateway_ref=gateway_ref,
            )

    try:
        first, second = await asyncio.gather(pay("G1"), pay("G2"))
        assert first.id == second.id
        async with factory() as session:
            assert await count_entries(session, idempotency_key=key) == 1
            policy = await get_policy(session, policy_number=policy_number)
            assert policy is not None and policy.paid_to_date == Decimal("500.00")
    finally:
        async with factory() as session, session.begin():
            await session.execute(delete(PaymentLedger).where(PaymentLedger.idempotency_key == key))
            await session.execute(delete(Policy).where(Policy.policy_number == policy_number))
            await session.execute(delete(Customer).where(Customer.id_hash == f"race-{suffix}"))


async def test_a_termination_is_recorded_on_a_running_claim_only(
    session: AsyncSession, policies: list[str]
) -> None:
    await upsert_claim(session, state=claim_state("C1"))
    await upsert_claim(session, state=claim_state("C2", status=ClaimStatus.PAID))

    assert await record_termination(session, workflow_id="claim-C1", by="olga", note="stuck")
    assert not await record_termination(session, workflow_id="claim-C2", by="olga", note="x")
    assert not await record_termination(session, workflow_id="claim-NONE", by="olga", note="x")

    row = await get_claim(session, claim_no="C1")
    assert row is not None
    await session.refresh(row)
    state = ClaimState.model_validate(row.state)
    assert (row.status, state.status) == ("terminated", ClaimStatus.TERMINATED)
    assert (state.history[-1].by, state.history[-1].note) == ("olga", "stuck")
    paid = await get_claim(session, claim_no="C2")
    assert paid is not None and paid.status == "paid"
