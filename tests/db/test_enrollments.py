"""The enrollment read model: upserts from the process state, listing, duplicate checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Customer, Enrollment
from db.repositories.enrollments import (
    get_enrollment,
    has_open_duplicate,
    list_enrollments,
    upsert_enrollment,
)
from domain.enrollment import (
    EnrollmentState,
    MaskedCustomer,
    Payment,
    PaymentMethod,
    Quote,
    Stage,
    Status,
)

MakeCustomer = Callable[[int], Awaitable[Customer]]
NOW = datetime(2026, 11, 22, 8, tzinfo=UTC)


def state(
    application_no: str,
    *,
    agent: str = "alice",
    customer_id: str | None = None,
    stage: Stage = Stage.CONSULTATION,
    status: Status = Status.IN_PROGRESS,
    product_code: str | None = None,
) -> EnrollmentState:
    quote = None
    if product_code is not None:
        quote = Quote(
            quote_id=f"Q-{application_no}",
            product_code=product_code,
            sum_insured=Decimal("300000.00"),
            premium=Decimal("1234.50"),
            valid_until=NOW + timedelta(days=30),
        )
    return EnrollmentState(
        enrollment_id=application_no,
        workflow_id=f"enrollment-{application_no}",
        agent=agent,
        customer_id=customer_id,
        customer=MaskedCustomer(name="张*", id_number="1101**********123X", phone="138****0000"),
        birth_date=date(1990, 5, 17),
        stage=stage,
        status=status,
        quote=quote,
    )


async def test_upsert_derives_columns_and_updates_in_place(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    customer = await make_customer(1)
    first = await upsert_enrollment(session, state=state("A1"))
    created_at = first.created_at
    later = state("A1", customer_id=customer.id, stage=Stage.ISSUED, product_code="TERM_LIFE_20")
    later.payment = Payment(method=PaymentMethod.ONLINE, status="paid")
    later.policy_number = "P-1"
    later.effective_at = NOW + timedelta(days=1)

    row = await upsert_enrollment(session, state=later)

    assert await session.scalar(select(func.count()).select_from(Enrollment)) == 1
    assert (row.stage, row.status, row.customer_id) == ("issued", "in_progress", customer.id)
    assert (row.product_code, row.sum_insured, row.premium) == (
        "TERM_LIFE_20",
        Decimal("300000.00"),
        Decimal("1234.50"),
    )
    assert (row.payment_method, row.policy_number) == ("online", "P-1")
    assert row.effective_at == NOW + timedelta(days=1)
    assert row.created_at == created_at
    assert row.updated_at >= created_at
    assert EnrollmentState.model_validate(row.state) == later
    assert await get_enrollment(session, application_no="A1") is row


async def _age(session: AsyncSession, application_no: str, created_at: datetime) -> None:
    await session.execute(
        update(Enrollment)
        .where(Enrollment.application_no == application_no)
        .values(created_at=created_at)
    )


async def test_list_enrollments_is_newest_first_and_pages_through_ties(
    session: AsyncSession,
) -> None:
    # A1..A3 share one creation time; A4 is newer, A0 older; B1 is another agent's.
    for no in ["A0", "A1", "A2", "A3", "A4"]:
        await upsert_enrollment(session, state=state(no))
    await upsert_enrollment(session, state=state("B1", agent="bob"))
    for no in ["A1", "A2", "A3", "B1"]:
        await _age(session, no, NOW)
    await _age(session, "A0", NOW - timedelta(hours=1))
    await _age(session, "A4", NOW + timedelta(hours=1))

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = await list_enrollments(
            session, agent="alice", stage=None, status=None, cursor=cursor, limit=2
        )
        assert len(page) <= 2
        seen += [row.application_no for row in page]
        if cursor is None:
            break
    assert seen == ["A4", "A3", "A2", "A1", "A0"]


async def test_list_enrollments_filters_by_stage_and_status(session: AsyncSession) -> None:
    await upsert_enrollment(session, state=state("A1"))
    await upsert_enrollment(session, state=state("A2", stage=Stage.QUOTED, product_code="X"))
    await upsert_enrollment(
        session, state=state("A3", stage=Stage.QUOTED, status=Status.WITHDRAWN, product_code="X")
    )
    quoted, _ = await list_enrollments(
        session, agent=None, stage="quoted", status="in_progress", cursor=None, limit=10
    )
    everyone, next_cursor = await list_enrollments(
        session, agent=None, stage=None, status=None, cursor=None, limit=10
    )
    assert [row.application_no for row in quoted] == ["A2"]
    assert len(everyone) == 3
    assert next_cursor is None


async def test_list_enrollments_rejects_a_cursor_from_another_listing(
    session: AsyncSession,
) -> None:
    from db.pagination import encode_cursor

    task_cursor = encode_cursor("task", NOW, "T1")
    with pytest.raises(ValueError, match="malformed cursor"):
        await list_enrollments(
            session, agent=None, stage=None, status=None, cursor=task_cursor, limit=10
        )
    with pytest.raises(ValueError):
        await list_enrollments(session, agent=None, stage=None, status=None, cursor=None, limit=0)


async def test_has_open_duplicate_counts_only_signed_running_applications(
    session: AsyncSession, make_customer: MakeCustomer
) -> None:
    customer = (await make_customer(1)).id
    other = (await make_customer(2)).id

    async def duplicate() -> bool:
        return await has_open_duplicate(
            session, customer_id=customer, product_code="TERM_LIFE_20", exclude_application_no="A1"
        )

    await upsert_enrollment(
        session,
        state=state(
            "A1", customer_id=customer, stage=Stage.UNDERWRITING, product_code="TERM_LIFE_20"
        ),
    )
    assert not await duplicate()  # the application itself does not count

    await upsert_enrollment(
        session,
        state=state("A2", customer_id=customer, stage=Stage.QUOTED, product_code="TERM_LIFE_20"),
    )
    await upsert_enrollment(
        session,
        state=state(
            "A3",
            customer_id=customer,
            stage=Stage.UNDERWRITING,
            status=Status.REJECTED,
            product_code="TERM_LIFE_20",
        ),
    )
    await upsert_enrollment(
        session,
        state=state(
            "A4", customer_id=customer, stage=Stage.VERIFICATION, product_code="MEDICAL_1Y"
        ),
    )
    await upsert_enrollment(
        session,
        state=state("A5", customer_id=other, stage=Stage.VERIFICATION, product_code="TERM_LIFE_20"),
    )
    assert not await duplicate()  # only quoted, ended, another product, another customer

    await upsert_enrollment(
        session,
        state=state(
            "A6", customer_id=customer, stage=Stage.AWAITING_PAYMENT, product_code="TERM_LIFE_20"
        ),
    )
    assert await duplicate()
