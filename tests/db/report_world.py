"""A small world of raw rows whose report figures are counted by hand (docs/reports.md),
shared by the aggregation tests (tests/db) and the report API tests (tests/api).

Business day ``DAY`` is 10 March 2025 in Shanghai: from 2025-03-09 16:00 UTC to
2025-03-10 16:00 UTC. Several events sit at 23:30 and 00:30 local, either side of midnight.
The policies' return visits are counted for their selling agent (``RETURN_VISITS``), and
so are their lapses (``LAPSES``) and 13-month persistency (``PERSISTENCY``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent, Customer, Task
from db.repositories.claims import upsert_claim
from db.repositories.enrollments import upsert_enrollment
from db.repositories.policies import insert_policy, record_policy_state
from db.repositories.tasks import insert_task
from domain.activities import PolicyIssue, TaskOpen
from domain.business import SHANGHAI
from domain.claims import (
    ClaimHistoryEntry,
    ClaimStage,
    ClaimState,
    ClaimStatus,
    Deadlines,
    Payout,
)
from domain.enrollment import (
    EnrollmentState,
    HistoryEntry,
    MaskedCustomer,
    Quote,
    Stage,
    Status,
)
from domain.policies import (
    ENDED_STATUSES,
    PolicyHistoryEntry,
    PolicyStage,
    PolicyState,
    PolicyStatus,
    PremiumPayment,
    ReturnVisit,
    ReturnVisitDecision,
    ReturnVisitStatus,
    TerminationReason,
    VisitAttempt,
    add_years,
)
from domain.policy_query import FAILED, LOCKED, SUCCEEDED
from domain.products import get_product
from domain.tasks import TaskKind
from tests.db.test_claims import claim_state, policy_issue

DAY = date(2025, 3, 10)
BEFORE = DAY - timedelta(days=1)
AFTER = DAY + timedelta(days=1)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """A moment on a business day, local Shanghai time."""
    return datetime.combine(day, time(hh, mm), SHANGHAI)


def enrollment(
    no: str, agent: str, steps: list[tuple[Stage, Status, datetime]], premium: str = "0"
) -> EnrollmentState:
    return EnrollmentState(
        enrollment_id=no,
        workflow_id=f"enrollment-{no}",
        agent=agent,
        customer=MaskedCustomer(name="张*", id_number="1101**********123X", phone="138****0000"),
        birth_date=date(1990, 5, 17),
        stage=steps[-1][0],
        status=steps[-1][1],
        quote=Quote(
            quote_id=f"Q-{no}",
            product_code="TERM_LIFE_20",
            sum_insured=Decimal("100000.00"),
            premium=Decimal(premium),
            valid_until=at(AFTER, 12),
        ),
        history=[HistoryEntry(stage=s, status=st, at=t, by=agent) for s, st, t in steps],
    )


IP = Status.IN_PROGRESS
ENROLLMENTS = [
    # E1: started and submitted the evening before; approved and issued after midnight.
    enrollment(
        "E1",
        "alice",
        [
            (Stage.CONSULTATION, IP, at(BEFORE, 23, 30)),
            (Stage.QUOTED, IP, at(BEFORE, 23, 40)),
            (Stage.APPLICATION_SUBMITTED, IP, at(BEFORE, 23, 45)),
            (Stage.AWAITING_PAYMENT, IP, at(DAY, 0, 30)),
            (Stage.ISSUED, IP, at(DAY, 1, 30)),
        ],
        premium="1200.00",
    ),
    # E2: started, submitted and rejected on the day.
    enrollment(
        "E2",
        "alice",
        [
            (Stage.CONSULTATION, IP, at(DAY, 9)),
            (Stage.APPLICATION_SUBMITTED, IP, at(DAY, 9, 10)),
            (Stage.UNDERWRITING, IP, at(DAY, 9, 20)),
            (Stage.UNDERWRITING, Status.REJECTED, at(DAY, 10)),
        ],
        premium="500.00",
    ),
    # E3: the whole way on the day, then effective the next.
    enrollment(
        "E3",
        "bob",
        [
            (Stage.CONSULTATION, IP, at(DAY, 10)),
            (Stage.APPLICATION_SUBMITTED, IP, at(DAY, 10, 30)),
            (Stage.AWAITING_PAYMENT, IP, at(DAY, 11)),
            (Stage.ISSUED, IP, at(DAY, 12, 30)),
            (Stage.EFFECTIVE, Status.EFFECTIVE, at(AFTER, 0, 0)),
        ],
        premium="800.50",
    ),
    # E4: the day after, 00:30.
    enrollment("E4", "bob", [(Stage.CONSULTATION, IP, at(AFTER, 0, 30))]),
]


def claim(
    no: str, agent: str, steps: list[tuple[ClaimStage, datetime]], **extra: object
) -> ClaimState:
    state = claim_state(no, agent=agent, stage=steps[-1][0])
    state.history = [
        ClaimHistoryEntry(stage=s, status=ClaimStatus.IN_PROGRESS, at=t, by=agent) for s, t in steps
    ]
    for name, value in extra.items():
        setattr(state, name, value)
    return state


CLAIMS = [
    # C1: reported 23:30 the evening before, approved 00:30, paid 02:30 (3 h).
    claim(
        "C1",
        "alice",
        [
            (ClaimStage.REPORTED, at(BEFORE, 23, 30)),
            (ClaimStage.UNDER_REVIEW, at(BEFORE, 23, 30)),
            (ClaimStage.APPROVED, at(DAY, 0, 30)),
            (ClaimStage.PAID, at(DAY, 2, 30)),
        ],
        deadlines=Deadlines(decision_due_at=at(BEFORE, 23, 30) + timedelta(days=30)),
        payout=Payout(status="paid", amount=Decimal("3000.00"), paid_at=at(DAY, 2, 30)),
    ),
    # C2: reported 08:00, its decision due 09:00, rejected late at 10:00.
    claim(
        "C2",
        "alice",
        [
            (ClaimStage.REPORTED, at(DAY, 8)),
            (ClaimStage.AWAITING_APPROVAL, at(DAY, 8, 5)),
            (ClaimStage.REJECTED, at(DAY, 10)),
            (ClaimStage.APPROVED, at(AFTER, 10)),  # on appeal: not a first decision
        ],
        deadlines=Deadlines(decision_due_at=at(DAY, 9)),
    ),
    # C3: reported 09:00, nothing more yet.
    claim("C3", "bob", [(ClaimStage.REPORTED, at(DAY, 9))]),
]


# (task, kind, agent, status, opened, due, closed, escalation level)
TASKS = [
    ("T1", TaskKind.UNDERWRITING, "alice", "done", at(DAY, 1), at(DAY, 5), at(DAY, 4), 0),
    ("T2", TaskKind.UNDERWRITING, "alice", "done", at(BEFORE, 20), at(DAY, 2), at(DAY, 3), 1),
    ("T3", TaskKind.CLAIM_APPROVAL, "bob", "expired", at(DAY, 2), at(DAY, 3), at(DAY, 3), 0),
    ("T4", TaskKind.CLAIM_REVIEW, "bob", "cancelled", at(DAY, 5), at(DAY, 9), at(DAY, 6), 0),
    ("T5", TaskKind.UNDERWRITING, "alice", "done", at(DAY, 23, 30), at(AFTER, 5), at(AFTER, 0, 30), 0),  # noqa: E501
]  # fmt: skip

# (at, policy number, action, ms): "P1" is alice's policy; "P-NOPE" is no policy of ours.
QUERIES = [
    (at(BEFORE, 23, 50), "P-NOPE", FAILED, 300),
    (at(DAY, 0, 1), "P-NOPE", FAILED, 300),
    (at(DAY, 0, 2), "P-NOPE", FAILED, 300),
    (at(DAY, 0, 3), "P-NOPE", FAILED, 300),
    (at(DAY, 0, 4), "P-NOPE", FAILED, 300),  # the fifth within 15 minutes: a lockout
    (at(DAY, 0, 5), "P-NOPE", LOCKED, 5),
    (at(DAY, 10), "P1", SUCCEEDED, 120),
    (at(DAY, 11), "P1", FAILED, 200),
    (at(AFTER, 0, 30), "P1", SUCCEEDED, 130),
]


def policy_state(
    number: str,
    agent: str,
    *,
    issued_at: datetime,
    effective_at: datetime,
    history: list[PolicyHistoryEntry],
    product_code: str = "TERM_LIFE_20",
    **fields: Any,
) -> PolicyState:
    """A policy's state as its process records it: its product's term, the status and
    stage of its last timeline line unless ``fields`` say otherwise."""
    product = get_product(product_code)
    values: dict[str, Any] = {
        "policy_number": number,
        "workflow_id": f"policy-{number}",
        "application_no": f"A-{number}",
        "agent": agent,
        "customer_id": "cust",
        "holder": MaskedCustomer(name="张*", id_number="1101**********123X", phone="138****0000"),
        "product_code": product_code,
        "term_years": product.term_years,
        "sum_insured": Decimal("200000.00"),
        "premium": Decimal("1800.00"),
        "installments": product.term_years > 1,
        "stage": history[-1].stage,
        "status": history[-1].status,
        "issued_at": issued_at,
        "effective_at": effective_at,
        "expires_at": add_years(effective_at, product.term_years),
        "history": history,
    }
    return PolicyState.model_validate(values | fields)


def visit_policy(
    number: str,
    agent: str,
    issued_at: datetime,
    *,
    due_at: datetime,
    cooling_off_ends_at: datetime,
    attempts: list[tuple[ReturnVisitDecision, datetime]],
    status: ReturnVisitStatus = "pending",
    notes: list[tuple[datetime, str]] | None = None,
    ended_at: datetime | None = None,
) -> PolicyState:
    """A twenty-year policy's state with its return visit: the attempts made and the
    timeline lines the policy process writes (``notes``)."""
    ended = ended_at is not None
    history = [
        PolicyHistoryEntry(
            stage=PolicyStage.COOLING_OFF,
            status=PolicyStatus.ISSUED,
            at=issued_at,
            by=agent,
            note="policy issued",
        ),
        *(
            PolicyHistoryEntry(
                stage=PolicyStage.IN_FORCE, status=PolicyStatus.EFFECTIVE, at=t, by="system", note=n
            )
            for t, n in notes or []
        ),
    ]
    return policy_state(
        number,
        agent,
        issued_at=issued_at,
        effective_at=issued_at + timedelta(days=1),
        history=history,
        stage=PolicyStage.ENDED if ended else PolicyStage.COOLING_OFF,
        status=PolicyStatus.CANCELLED if ended else PolicyStatus.EFFECTIVE,
        cooling_off_ends_at=cooling_off_ends_at,
        return_visit=ReturnVisit(
            status=status,
            task_id=f"rv-{number}",
            due_at=due_at,
            items=["policyholder_reached"],
            attempts=[VisitAttempt(at=t, by="cora", decision=d) for d, t in attempts],
        ),
        ended_at=ended_at,
    )


OVERDUE = "return visit not completed within the cooling-off period"
RETURN_VISITS = [
    # RV1: not reached at 23:30 the evening before, reached 00:30, due 10:00: in time.
    visit_policy(
        "RV1",
        "alice",
        at(date(2025, 2, 28), 10),
        due_at=at(DAY, 10),
        cooling_off_ends_at=at(date(2025, 3, 16), 0),
        attempts=[("unreachable", at(BEFORE, 23, 30)), ("completed", at(DAY, 0, 30))],
        status="completed",
    ),
    # RV2: due 4 March; still open when its cooling-off period ended at 00:00 (escalated
    # then), completed late at 23:30.
    visit_policy(
        "RV2",
        "alice",
        at(date(2025, 2, 22), 9),
        due_at=at(date(2025, 3, 4), 9),
        cooling_off_ends_at=at(DAY, 0),
        attempts=[("completed", at(DAY, 23, 30))],
        status="completed",
        notes=[(at(DAY, 0), "cooling-off period over"), (at(DAY, 0), OVERDUE)],
    ),
    # RV3: not reached a third time at 10:00: escalated; due the day after.
    visit_policy(
        "RV3",
        "bob",
        at(date(2025, 3, 1), 12),
        due_at=at(AFTER, 12),
        cooling_off_ends_at=at(date(2025, 3, 17), 0),
        attempts=[
            ("unreachable", at(date(2025, 3, 6), 10)),
            ("unreachable", at(date(2025, 3, 7), 10)),
            ("unreachable", at(DAY, 10)),
        ],
        status="escalated",
        notes=[(at(DAY, 10), "return visit escalated: unreachable 3 times")],
    ),
    # RV4: mis-selling found at 11:00; due 15:00.
    visit_policy(
        "RV4",
        "bob",
        at(date(2025, 2, 28), 15),
        due_at=at(DAY, 15),
        cooling_off_ends_at=at(date(2025, 3, 16), 0),
        attempts=[("misselling", at(DAY, 11))],
        status="misselling",
    ),
    # RV5: cancelled in the cooling-off period at noon: its visit, due the day after, never is.
    visit_policy(
        "RV5",
        "alice",
        at(date(2025, 3, 1), 8),
        due_at=at(AFTER, 8),
        cooling_off_ends_at=at(date(2025, 3, 17), 0),
        attempts=[],
        ended_at=at(DAY, 12),
    ),
    # RV6: due 7 March, completed at 00:30 the day after, within its cooling-off period.
    visit_policy(
        "RV6",
        "bob",
        at(date(2025, 2, 25), 10),
        due_at=at(date(2025, 3, 7), 10),
        cooling_off_ends_at=at(date(2025, 3, 13), 0),
        attempts=[("completed", at(AFTER, 0, 30))],
        status="completed",
    ),
]


def lapsing_policy(
    number: str,
    agent: str,
    effective_at: datetime,
    *,
    changes: list[tuple[PolicyStatus, datetime]] | None = None,
    paid: list[tuple[int, datetime]] | None = None,
    product_code: str = "TERM_LIFE_20",
    **fields: Any,
) -> PolicyState:
    """A policy issued the day before ``effective_at`` and in force from then: a timeline
    line for each status it changed to after (``changes``), the installments collected
    after the first (``paid``: number and moment); ended at its last change if that is an
    ending."""
    issued_at = effective_at - timedelta(days=1)
    history = [
        PolicyHistoryEntry(
            stage=PolicyStage.COOLING_OFF, status=PolicyStatus.ISSUED, at=issued_at, by=agent
        ),
        PolicyHistoryEntry(
            stage=PolicyStage.IN_FORCE, status=PolicyStatus.EFFECTIVE, at=effective_at, by="system"
        ),
    ]
    for status, moment in changes or []:
        stage = PolicyStage.ENDED if status in ENDED_STATUSES else PolicyStage.IN_FORCE
        history.append(PolicyHistoryEntry(stage=stage, status=status, at=moment, by="system"))
    last = history[-1]
    payments = [(1, issued_at), *(paid or [])]
    return policy_state(
        number,
        agent,
        issued_at=issued_at,
        effective_at=effective_at,
        history=history,
        product_code=product_code,
        payments=[PremiumPayment(n=n, paid_at=t, amount=Decimal("1800.00")) for n, t in payments],
        ended_at=last.at if last.status in ENDED_STATUSES else None,
        **fields,
    )


S = PolicyStatus
NOT_REINSTATED, CLAIM_PAID = TerminationReason.NOT_REINSTATED, TerminationReason.CLAIM_PAID
LAPSES = [
    # L1: grace ended unpaid at 23:30 the evening before; reinstated at 00:30 on the day.
    lapsing_policy(
        "L1",
        "alice",
        at(date(2024, 1, 20), 0),
        changes=[
            (S.GRACE, at(date(2025, 1, 21), 0)),
            (S.SUSPENDED, at(BEFORE, 23, 30)),
            (S.EFFECTIVE, at(DAY, 0, 30)),
        ],
        paid=[(2, at(DAY, 0, 30))],
    ),
    # L2: suspended at 10:00, still suspended.
    lapsing_policy(
        "L2",
        "bob",
        at(date(2024, 1, 31), 10),
        changes=[(S.GRACE, at(date(2025, 2, 1), 10)), (S.SUSPENDED, at(DAY, 10))],
        suspended_at=at(DAY, 10),
    ),
    # L3: surrendered at 23:30.
    lapsing_policy(
        "L3",
        "alice",
        at(date(2023, 6, 1), 0),
        changes=[(S.SURRENDERED, at(DAY, 23, 30))],
        paid=[(2, at(date(2024, 6, 1), 0))],
    ),
    # L4: suspended two years ago; terminated at 00:00 the day after, not reinstated.
    lapsing_policy(
        "L4",
        "bob",
        at(date(2022, 1, 15), 0),
        changes=[
            (S.GRACE, at(date(2023, 1, 16), 0)),
            (S.SUSPENDED, at(date(2023, 3, 10), 0, 30)),
            (S.TERMINATED, at(AFTER, 0)),
        ],
        termination_reason=NOT_REINSTATED,
    ),
    # L5: ended by a death claim paid at 15:00.
    lapsing_policy(
        "L5",
        "alice",
        at(date(2023, 7, 1), 0),
        changes=[(S.TERMINATED, at(DAY, 15))],
        paid=[(2, at(date(2024, 7, 1), 0))],
        termination_reason=CLAIM_PAID,
    ),
    # L6: a one-year policy that took effect at 00:00 a year ago: expired at 00:00.
    lapsing_policy(
        "L6",
        "bob",
        at(date(2024, 3, 10), 0),
        changes=[(S.EXPIRED, at(DAY, 0))],
        product_code="ACCIDENT_1Y",
    ),
]

# The 13-month persistency: a policy that took effect on 10 February 2024 ends its 13th
# policy month on 10 March 2025 (DAY), at the hour it took effect; the second installment
# fell due on 10 February 2025.
PERSISTENCY = [
    # K1: paid on its due date.
    lapsing_policy("K1", "alice", at(date(2024, 2, 10), 9), paid=[(2, at(date(2025, 2, 10), 9))]),
    # K2: took effect at 23:30; its 13th month ends at 23:30 on the day, unpaid, in grace.
    lapsing_policy(
        "K2",
        "alice",
        at(date(2024, 2, 10), 23, 30),
        changes=[(S.GRACE, at(date(2025, 2, 11), 23, 30))],
    ),
    # K3: took effect at 00:30 the next day: counted the day after, paid.
    lapsing_policy(
        "K3", "bob", at(date(2024, 2, 11), 0, 30), paid=[(2, at(date(2025, 2, 11), 0, 30))]
    ),
    # K4: cancelled in the cooling-off period: void, not counted.
    lapsing_policy(
        "K4",
        "bob",
        at(date(2024, 2, 10), 12),
        changes=[(S.CANCELLED, at(date(2024, 2, 15), 12))],
    ),
    # K5: ended by a claim paid before the second installment fell due: not counted.
    lapsing_policy(
        "K5",
        "alice",
        at(date(2024, 2, 10), 8),
        changes=[(S.TERMINATED, at(date(2024, 8, 1), 8))],
        termination_reason=CLAIM_PAID,
    ),
    # K6: paid in grace on 1 March, before its 13th month ended.
    lapsing_policy(
        "K6",
        "bob",
        at(date(2024, 2, 10), 8),
        changes=[(S.GRACE, at(date(2025, 2, 11), 8)), (S.EFFECTIVE, at(date(2025, 3, 1), 10))],
        paid=[(2, at(date(2025, 3, 1), 10))],
    ),
    # K7: a one-year policy (a single premium): not counted.
    lapsing_policy(
        "K7",
        "alice",
        at(date(2024, 2, 10), 9),
        changes=[(S.EXPIRED, at(date(2025, 2, 10), 9))],
        product_code="MEDICAL_1Y",
    ),
    # K8: surrendered in its tenth month: due, not paid.
    lapsing_policy(
        "K8",
        "bob",
        at(date(2024, 2, 10), 10),
        changes=[(S.SURRENDERED, at(date(2024, 12, 1), 10))],
    ),
    # K9: paid in grace at 23:00 the evening before, half an hour before its month ended.
    lapsing_policy(
        "K9",
        "alice",
        at(date(2024, 2, 9), 23, 30),
        changes=[(S.GRACE, at(date(2025, 2, 10), 23, 30)), (S.EFFECTIVE, at(BEFORE, 23))],
        paid=[(2, at(BEFORE, 23))],
    ),
    # K10: paid at 07:00 on the day, an hour after its 13th month ended at 06:00: not paid.
    lapsing_policy(
        "K10",
        "bob",
        at(date(2024, 2, 10), 6),
        changes=[(S.GRACE, at(date(2025, 2, 11), 6)), (S.EFFECTIVE, at(DAY, 7))],
        paid=[(2, at(DAY, 7))],
    ),
]


async def insert_world(session: AsyncSession, customer: Customer) -> None:
    """Every raw row above, through the repositories where they set the times we give."""
    await insert_policy(session, issue=policy_issue("P1", customer.id))
    for state in [*RETURN_VISITS, *LAPSES, *PERSISTENCY]:
        issue = PolicyIssue(
            policy_number=state.policy_number,
            application_no=state.application_no,
            customer_id=customer.id,
            agent=state.agent,
            product_code=state.product_code,
            sum_insured=state.sum_insured,
            premium=state.premium,
            effective_at=state.effective_at,
            expires_at=state.expires_at,
        )
        await insert_policy(session, issue=issue)
        await record_policy_state(session, state=state)
    for state in ENROLLMENTS:
        await upsert_enrollment(session, state=state)
    for state in CLAIMS:
        await upsert_claim(session, state=state)
    for task_id, kind, agent, status, opened, due, closed, level in TASKS:
        task = TaskOpen(
            task_id=task_id,
            kind=kind,
            workflow_id=f"wf-{task_id}",
            case_id=f"case-{task_id}",
            subject="Decide",
            amount=Decimal("0"),
            submitted_by=agent,
            agent=agent,
            due_at=due,
        )
        await insert_task(session, task=task)
        # The repository stamps opening and closing with the database's clock: set ours.
        await session.execute(
            update(Task)
            .where(Task.task_id == task_id)
            .values(status=status, created_at=opened, closed_at=closed, escalation_level=level)
        )
    for moment, number, action, ms in QUERIES:
        # The audit log is append-only and stamps `at` itself: added as a row here.
        session.add(
            AuditEvent(
                at=moment,
                actor="customer",
                action=action,
                case_id=number,
                client="203.0.113.9",
                detail={"outcome": action.rsplit(".", 1)[1], "ms": ms},
            )
        )
    await session.flush()
