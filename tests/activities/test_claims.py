"""The claim's policy position read from the read model: the premium arrears at the incident
counted from the state the policy's process last recorded."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.claims import ClaimActivities
from domain.activities import PolicyRef
from domain.business import SHANGHAI
from domain.policies import PolicyStage, PolicyStatus, PremiumPayment
from gateways.payment import PaymentGateway
from tests.api.test_policies import policy_state, store

# In force from 2 November 2025, its second premium (1,234.50) due on 2 November 2026 unpaid.
EFFECTIVE = datetime(2025, 11, 2, tzinfo=SHANGHAI)
IN_GRACE = policy_state("PGRACE", status=PolicyStatus.GRACE, stage=PolicyStage.IN_FORCE).model_copy(
    update={
        "effective_at": EFFECTIVE,
        "payments": [PremiumPayment(n=1, paid_at=EFFECTIVE, amount=Decimal("1234.50"))],
    }
)


def position_reader(sessions: async_sessionmaker[AsyncSession]) -> ClaimActivities:
    return ClaimActivities(sessions, cast(PaymentGateway, None))  # no payout here


async def test_the_position_carries_the_arrears_owed_on_the_incident_day(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await store(sessions, IN_GRACE, bare=("PNEW",))
    read = position_reader(sessions).load_policy_position

    in_grace = await read(PolicyRef(policy_number="PGRACE", incident_date=date(2026, 11, 20)))
    before = await read(PolicyRef(policy_number="PGRACE", incident_date=date(2026, 11, 1)))
    unrecorded = await read(PolicyRef(policy_number="PNEW", incident_date=date(2026, 11, 20)))

    assert in_grace.arrears is not None
    assert (in_grace.arrears.reason, in_grace.arrears.amount) == ("arrears", Decimal("1234.50"))
    assert before.arrears is None  # nothing was due yet
    assert unrecorded.arrears is None  # its process has recorded no premium owed
