"""POST /v1/claims against a policy's real state: suspension decided by the incident date,
from the state its process last recorded (docs/claims.md, "Intake"). A stand-in client
takes the claim a report starts; nothing else of Temporal is used."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.business import SHANGHAI
from domain.policies import PolicyHistoryEntry, PolicyStage, PolicyStatus
from tests.api.test_policies import policy_state, store

Headers = Callable[[str], dict[str, str]]


class _StartsClaims:
    """Takes ``start_workflow`` and keeps what it was asked to start."""

    def __init__(self) -> None:
        self.started: list[str] = []

    async def start_workflow(self, *_: Any, id: str, **__: Any) -> None:
        self.started.append(id)


@pytest.fixture
def api_temporal_client() -> Any:
    return _StartsClaims()


# The row's policy took effect on 22 November 2025 (tests.db.test_claims.policy_issue). Its
# premium went unpaid: suspended at midnight starting 12 November 2026, and (in the
# reinstated case) in force again from 20 November 2026, the day the arrears were paid.
SUSPENDED_AT = datetime(2026, 11, 12, tzinfo=SHANGHAI)
REINSTATED_AT = datetime(2026, 11, 20, 15, 30, tzinfo=SHANGHAI)


def line(at: datetime, status: PolicyStatus) -> PolicyHistoryEntry:
    return PolicyHistoryEntry(stage=PolicyStage.IN_FORCE, status=status, at=at, by="system")


SUSPENDED = policy_state(
    "PSUSP", status=PolicyStatus.SUSPENDED, stage=PolicyStage.IN_FORCE
).model_copy(
    update={"suspended_at": SUSPENDED_AT, "history": [line(SUSPENDED_AT, PolicyStatus.SUSPENDED)]}
)
REINSTATED = policy_state(
    "PBACK", status=PolicyStatus.EFFECTIVE, stage=PolicyStage.IN_FORCE
).model_copy(
    update={
        "history": [
            line(SUSPENDED_AT, PolicyStatus.SUSPENDED),
            line(REINSTATED_AT, PolicyStatus.EFFECTIVE),
        ]
    }
)


def claim(policy_number: str, incident_date: str) -> dict[str, Any]:
    return {
        "policy_number": policy_number,
        "incident_date": incident_date,
        "incident_type": "death",
        "description": "died at home",
        "amount_claimed": "300000.00",
        "documents": [],
        "payee_account": "6222020200556677889",
    }


@pytest.mark.parametrize(
    ("policy", "incident", "status"),
    [
        ("PSUSP", "2026-11-11", 202),  # the last day of grace: in force that day
        ("PSUSP", "2026-11-12", 422),  # the day of suspension
        ("PBACK", "2026-11-19", 422),  # while suspended, though reinstated since
        ("PBACK", "2026-11-20", 202),  # in force from the day the arrears were paid
    ],
)
async def test_a_suspension_refuses_the_incidents_of_its_days_only(
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    api_temporal_client: _StartsClaims,
    auth_headers: Headers,
    policy: str,
    incident: str,
    status: int,
) -> None:
    await store(api_session_factory, SUSPENDED, REINSTATED)

    r = await api_client.post(
        "/v1/claims", json=claim(policy, incident), headers=auth_headers("alice")
    )

    assert r.status_code == status, r.text
    if status == 422:
        assert r.json()["code"] == "policy_not_effective"
        assert "suspended on the incident date" in r.json()["detail"]
        assert api_temporal_client.started == []
    else:
        assert api_temporal_client.started == [r.json()["workflow_id"]]
