"""InsureFlow's own processes at workflow level (no HTTP), as operations for the load:
an enrollment through auto-underwriting to ``effective`` (started, quoted and submitted by
Updates as the API does, start date today), a claim through auto-approval to ``closed`` (on
policies written straight into the read model, effective a year back: no ``early_claim``);
and what one finished process costs Temporal, from its history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from bench.stack import Stack
from db.repositories import customers, policies
from domain.activities import PolicyIssue
from domain.claims import ClaimDocument, ClaimStage, ClaimState, ClaimStatus
from domain.clocks import ClaimLimits, ProcessClocks
from domain.enrollment import CustomerDetails, EnrollmentState, PaymentMethod, Stage, Status
from domain.identity import make_id_number
from domain.products import IncidentType
from workflows import search_attributes as sa
from workflows.claim import ClaimWorkflow
from workflows.claim import workflow_id_for as claim_workflow_id
from workflows.enrollment import EnrollmentWorkflow, workflow_id_for
from workflows.inputs import (
    ApplicationSubmit,
    ClaimStart,
    EnrollmentStart,
    QuoteRequest,
)

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
PRODUCT = "TERM_LIFE_20"  # auto-underwriting up to 300,000; sue may decide up to 5,000,000
AUTO_SUM = Decimal("200000.00")
PARKED_SUM = Decimal("1000000.00")
BANK_ACCOUNT = "6222020200112233445"
PAYEE_ACCOUNT = "6222020200556677889"
HOSPITAL_DOCS = ("claim_form", "id_proof", "discharge_summary", "medical_invoice")
CLAIM_AMOUNT = Decimal("3000.00")  # assessed 1,800.00: within the 5,000.00 auto limit


def shanghai_today() -> date:
    return datetime.now(SHANGHAI).date()


class People:
    """Distinct valid applicants (GB 11643 numbers), so no duplicate-application check fires."""

    def __init__(self) -> None:
        self._next = 0

    def next(self) -> tuple[CustomerDetails, date]:
        i = self._next
        self._next += 1
        birth = date(1976, 1, 1) + timedelta(days=i // 1000)
        number = make_id_number("110105", birth, i % 1000)
        return CustomerDetails(name=f"测试客户{i}", id_number=number, phone="13800138000"), birth


async def start_enrollment(
    client: Client,
    task_queue: str,
    people: People,
    application_no: str,
    *,
    clocks: ProcessClocks,
    sum_insured: Decimal,
    agent: str = "alice",
) -> WorkflowHandle[Any, EnrollmentState]:
    """Start, quote and submit one enrollment the way the API's routes do."""
    customer, birth = people.next()
    handle = await client.start_workflow(
        EnrollmentWorkflow.run,
        EnrollmentStart(
            application_no=application_no,
            agent=agent,
            customer=customer,
            birth_date=birth,
            clocks=clocks,
        ),
        id=workflow_id_for(application_no),
        task_queue=task_queue,
        search_attributes=sa.at_start(
            "enrollment", agent, Stage.CONSULTATION.value, Status.IN_PROGRESS.value
        ),
    )
    quote = await handle.execute_update(
        EnrollmentWorkflow.quote,
        QuoteRequest(product_code=PRODUCT, sum_insured=sum_insured, by=agent),
    )
    await handle.execute_update(
        EnrollmentWorkflow.submit_application,
        ApplicationSubmit(
            quote_id=quote.quote_id,
            payment_method=PaymentMethod.AUTO_DEBIT,
            bank_account=BANK_ACCOUNT,
            consent=True,
            start_date=shanghai_today(),
            by=agent,
        ),
    )
    return handle


def enrollment_operation(
    stack: Stack, people: People, *, prefix: str = "EA", task_queue: str | None = None
) -> Callable[[int], Awaitable[None]]:
    """One enrollment through auto-underwriting to ``effective``, on the real worker's
    queue unless another is named (a variant's)."""
    client = stack.client
    clocks = stack.settings.clocks

    async def one(i: int) -> None:
        handle = await start_enrollment(
            client,
            task_queue or stack.task_queue,
            people,
            f"{prefix}{i:07d}",
            clocks=clocks,
            sum_insured=AUTO_SUM,
        )
        state = await handle.result()
        if state.status != Status.EFFECTIVE:
            raise RuntimeError(f"ended {state.status.value} ({state.failure_code})")

    return one


async def insert_effective_policies(
    sessions: async_sessionmaker[AsyncSession], count: int, *, prefix: str
) -> list[str]:
    """``count`` effective MEDICAL_1Y policies that took effect a year ago, each with its own
    customer (dummy encrypted values: the claim process never reads them)."""
    now = datetime.now(UTC)
    numbers: list[str] = []
    async with sessions() as session, session.begin():
        for i in range(count):
            customer = await customers.upsert_customer(
                session,
                id_hash=f"bench-{prefix}-{i}",
                id_number_enc="bench-not-encrypted",
                id_masked="110105********000X",
                name="理赔客户",
                phone_enc="bench-not-encrypted",
                phone_masked="138****8000",
                email=None,
                birth_date=date(1980, 1, 1),
            )
            number = f"P{prefix}{i:07d}"
            await policies.insert_policy(
                session,
                issue=PolicyIssue(
                    policy_number=number,
                    application_no=f"E{prefix}{i:07d}",
                    customer_id=customer.id,
                    agent="alice",
                    product_code="MEDICAL_1Y",
                    sum_insured=Decimal("50000.00"),
                    premium=Decimal("125.00"),
                    effective_at=now - timedelta(days=365),
                    expires_at=now + timedelta(days=30),
                ),
            )
            await policies.set_policy_status(session, policy_number=number, status="effective")
            numbers.append(number)
    return numbers


async def claim_operation(
    stack: Stack, count: int, *, prefix: str = "CB", task_queue: str | None = None
) -> Callable[[int], Awaitable[None]]:
    """(d) One claim through auto-approval and payout to ``closed``; ``count`` effective
    policies are written first, one per claim."""
    client = stack.client
    clocks = stack.settings.clocks
    policy_numbers = await insert_effective_policies(stack.sessions, count, prefix=prefix)
    effective_on = (datetime.now(SHANGHAI) - timedelta(days=365)).date()
    incident = shanghai_today() - timedelta(days=10)

    async def one(i: int) -> None:
        claim_no = f"{prefix}{i:07d}"
        handle = await client.start_workflow(
            ClaimWorkflow.run,
            ClaimStart(
                claim_no=claim_no,
                agent="alice",
                policy_number=policy_numbers[i],
                product_code="MEDICAL_1Y",
                policy_effective_on=effective_on,
                incident_date=incident,
                incident_type=IncidentType.HOSPITALISATION,
                description="benchmark: two nights in hospital",
                amount_claimed=CLAIM_AMOUNT,
                documents=[ClaimDocument(kind=k, name=f"{k}.pdf") for k in HOSPITAL_DOCS],
                payee_account=PAYEE_ACCOUNT,
                clocks=clocks,
                limits=ClaimLimits(),
            ),
            id=claim_workflow_id(claim_no),
            task_queue=task_queue or stack.task_queue,
            search_attributes=sa.at_start(
                "claim",
                "alice",
                ClaimStage.REPORTED.value,
                ClaimStatus.IN_PROGRESS.value,
                CLAIM_AMOUNT,
            ),
        )
        state: ClaimState = await handle.result()
        if state.stage != ClaimStage.CLOSED or state.status != ClaimStatus.PAID:
            raise RuntimeError(f"ended {state.stage.value}/{state.status.value}")

    return one


async def history_counts(client: Client, workflow_id: str) -> dict[str, int]:
    """One workflow's history: events, steps (regular and local activities), workflow
    tasks, Updates."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    kinds = [e.event_type for e in history.events]
    local = sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )
    regular = kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    return {
        "events": len(kinds),
        "steps": regular + local,
        "activities": regular,
        "local_activities": local,
        "workflow_tasks": kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        "updates": kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
    }
