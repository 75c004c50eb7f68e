"""A small world of raw rows whose report figures are counted by hand (docs/reports.md),
shared by the aggregation tests (tests/db) and the report API tests (tests/api).

Business day ``DAY`` is 10 March 2025 in Shanghai: from 2025-03-09 16:00 UTC to
2025-03-10 16:00 UTC. Several events sit at 23:30 and 00:30 local, either side of midnight.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent, Customer, Task
from db.repositories.claims import upsert_claim
from db.repositories.enrollments import upsert_enrollment
from db.repositories.policies import insert_policy
from db.repositories.tasks import insert_task
from domain.activities import TaskOpen
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
from domain.policy_query import FAILED, LOCKED, SUCCEEDED
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


async def insert_world(session: AsyncSession, customer: Customer) -> None:
    """Every raw row above, through the repositories where they set the times we give."""
    await insert_policy(session, issue=policy_issue("P1", customer.id))
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
