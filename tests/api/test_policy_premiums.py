"""Where a policy's premiums stand, through the API: the schedule with each installment's
state, what is due and by when, arrears, grace, suspension and the reinstatement deadline,
the cash value (domain.premiums.premium_standing), in the policy, its list and the
customer's query.

The policies are hand-built states dated from today, as their processes would record
them: the read model holds each one's row, and a stand-in for Temporal answers the running
ones' state query with the same state, so a policy in grace or suspended reads as it would
from its process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.passwords import hash_password
from db.repositories.credentials import store_query_credential
from domain.business import SHANGHAI, business_today
from domain.policies import PolicyStage, PolicyState, PolicyStatus, add_years
from tests.api.test_policies import policy_state, store
from tests.support import CUSTOMER_ID_NUMBER

Headers = Callable[[str], dict[str, str]]
Factory = async_sessionmaker[AsyncSession]

TODAY = business_today(datetime.now(SHANGHAI))
PREMIUM = "1234.50"
# Year 1's cash value, where an unpaid second installment leaves it: 30 per 1,000.
YEAR_ONE_VALUE = "37.04"


def midnight(days_ago: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(0), SHANGHAI)


def running(number: str, status: PolicyStatus, *, days_ago: int, **recorded: Any) -> PolicyState:
    """A policy in force from midnight ``days_ago`` days ago, its first premium paid."""
    issued = midnight(days_ago)
    return policy_state(
        number, status=status, stage=PolicyStage.IN_FORCE, issued=issued, **recorded
    )


# The second installment due 20 days ago: demanded on day 7, in grace until day 37.
GRACE_DUE = add_years(midnight(385), 1)
IN_GRACE = running(
    "PGRACE",
    PolicyStatus.GRACE,
    days_ago=385,
    demand_at=GRACE_DUE + timedelta(days=7),
    grace_ends_at=GRACE_DUE + timedelta(days=38),
)
# The second installment due some 135 days ago, unpaid when grace ended on day 37.
SUSPENDED_DUE = add_years(midnight(500), 1)
SUSPENDED_AT = SUSPENDED_DUE + timedelta(days=38)
SUSPENDED = running(
    "PSUSP", PolicyStatus.SUSPENDED, days_ago=500, demand_at=SUSPENDED_DUE + timedelta(days=7)
).model_copy(update={"suspended_at": SUSPENDED_AT})
# In force, the second installment due in 65 days.
IN_FORCE = running("PFORCE", PolicyStatus.EFFECTIVE, days_ago=300)
CANCELLED = policy_state("PDONE", status=PolicyStatus.CANCELLED, stage=PolicyStage.ENDED)


class PolicyProcesses:
    """Temporal as the policy routes use it: each process answers its state query with
    its state; one not here is not found."""

    def __init__(self, *states: PolicyState) -> None:
        self._states = {s.workflow_id: s for s in states}

    def get_workflow_handle_for(self, run: object, workflow_id: str) -> _Process:
        return _Process(self._states.get(workflow_id))


class _Process:
    def __init__(self, state: PolicyState | None) -> None:
        self._state = state

    async def query(self, query: object) -> PolicyState:
        if self._state is None:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return self._state


@pytest.fixture
def api_temporal_client() -> Client:
    return cast(Client, PolicyProcesses(IN_GRACE, SUSPENDED, IN_FORCE))


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


Read = Callable[[PolicyState], Awaitable[dict[str, Any]]]


@pytest.fixture
def read(
    api_client: httpx.AsyncClient, api_session_factory: Factory, auth_headers: Headers
) -> Read:
    """``GET /v1/policies/{number}`` of ``state`` as its agent, its row stored first."""

    async def read_policy(state: PolicyState) -> dict[str, Any]:
        await store(api_session_factory, state)
        r = await api_client.get(
            f"/v1/policies/{state.policy_number}", headers=auth_headers("alice")
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    return read_policy


async def test_a_policy_in_grace_shows_its_overdue_installment_and_when_grace_ends(
    read: Read,
) -> None:
    body = await read(IN_GRACE)

    assert body["status"] == "grace"
    schedule = body["schedule"]
    assert [i["n"] for i in schedule] == list(range(1, 21))
    assert [i["status"] for i in schedule[:3]] == ["paid", "overdue", "due"]
    assert moment(schedule[0]["paid_at"]) == IN_GRACE.effective_at
    assert schedule[1]["paid_at"] is None and schedule[1]["amount"] == PREMIUM
    assert moment(schedule[1]["due_at"]) == GRACE_DUE
    assert moment(body["next_due_at"]) == GRACE_DUE
    assert body["amount_due"] == body["arrears"] == PREMIUM
    assert moment(body["paid_to"]) == GRACE_DUE
    assert moment(body["grace_ends_at"]) == IN_GRACE.grace_ends_at
    assert body["suspended_at"] is None and body["reinstatement_deadline"] is None
    assert body["cash_value"] == YEAR_ONE_VALUE


async def test_a_suspended_policy_shows_when_it_was_suspended_and_its_reinstatement_deadline(
    read: Read,
) -> None:
    body = await read(SUSPENDED)

    assert body["status"] == "suspended"
    assert [i["status"] for i in body["schedule"][:3]] == ["paid", "overdue", "due"]
    assert body["arrears"] == body["amount_due"] == PREMIUM
    assert moment(body["suspended_at"]) == SUSPENDED_AT
    # Two years counted from the day of suspension: it ends as the day after begins.
    suspended_on = business_today(SUSPENDED_AT)
    deadline = datetime.combine(add_years(suspended_on, 2) + timedelta(days=1), time(0), SHANGHAI)
    assert moment(body["reinstatement_deadline"]) == deadline
    assert body["grace_ends_at"] is None
    assert body["cash_value"] == YEAR_ONE_VALUE  # unpaid cover builds no value


async def test_a_policy_in_force_owes_its_next_installment_and_an_ended_one_nothing(
    read: Read,
) -> None:
    in_force = await read(IN_FORCE)
    ended = await read(CANCELLED)

    assert [i["status"] for i in in_force["schedule"][:2]] == ["paid", "due"]
    assert moment(in_force["next_due_at"]) == add_years(IN_FORCE.effective_at, 1)
    assert (in_force["amount_due"], in_force["arrears"]) == (PREMIUM, "0.00")
    assert in_force["grace_ends_at"] is None and in_force["suspended_at"] is None
    assert Decimal("0") < Decimal(in_force["cash_value"]) < Decimal(YEAR_ONE_VALUE)
    # Cancelled in cooling-off: what was never paid is waived, nothing is owed or left.
    assert [i["status"] for i in ended["schedule"]] == ["paid"] + ["waived"] * 19
    assert (ended["next_due_at"], ended["amount_due"], ended["arrears"]) == (None, None, "0.00")
    assert ended["cash_value"] == "0.00"


async def test_the_list_says_what_each_policy_owes_from_its_last_record(
    api_client: httpx.AsyncClient, api_session_factory: Factory, auth_headers: Headers
) -> None:
    await store(api_session_factory, IN_GRACE, SUSPENDED, CANCELLED, bare=("PNEW",))

    r = await api_client.get("/v1/policies", headers=auth_headers("sue"))

    assert r.status_code == 200, r.text
    items = {i["policy_number"]: i for i in r.json()["items"]}
    assert moment(items["PGRACE"]["next_due_at"]) == GRACE_DUE
    assert items["PGRACE"]["amount_due"] == PREMIUM
    assert moment(items["PSUSP"]["next_due_at"]) == SUSPENDED_DUE
    for nothing_known_or_owed in ("PDONE", "PNEW"):
        item = items[nothing_known_or_owed]
        assert (item["next_due_at"], item["amount_due"]) == (None, None)
    r = await api_client.get("/v1/policies?status=suspended", headers=auth_headers("sue"))
    assert [i["policy_number"] for i in r.json()["items"]] == ["PSUSP"]
    # A status no policy has is refused, as a problem.
    r = await api_client.get("/v1/policies?status=lapsed", headers=auth_headers("sue"))
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    assert r.headers["content-type"] == "application/problem+json"


async def test_the_customer_sees_what_is_due_by_when_and_the_end_of_grace(
    api_app: Any, api_client: httpx.AsyncClient, api_session_factory: Factory
) -> None:
    password = "s3cret-pass"
    id_hash = api_app.state.field_cipher.blind_index(CUSTOMER_ID_NUMBER)
    await store(api_session_factory, IN_GRACE, id_hash=id_hash)
    async with api_session_factory() as session, session.begin():
        await store_query_credential(
            session, application_no=IN_GRACE.application_no, password_hash=hash_password(password)
        )
    asked = {"policy_number": "PGRACE", "id_number": CUSTOMER_ID_NUMBER}

    r = await api_client.post("/v1/policy-query", json=asked | {"query_password": password})

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "grace"
    assert moment(body["next_due_at"]) == GRACE_DUE
    assert body["amount_due"] == PREMIUM
    assert moment(body["grace_ends_at"]) == IN_GRACE.grace_ends_at
    assert moment(body["cooling_off_ends_at"]) == IN_GRACE.cooling_off_ends_at
    # Bad input is still a problem, the same one whichever field was wrong.
    r = await api_client.post("/v1/policy-query", json=asked | {"query_password": "wrong"})
    assert (r.status_code, r.json()["code"]) == (401, "verification_failed")
    r = await api_client.post("/v1/policy-query", json=asked | {"query_password": ""})
    assert (r.status_code, r.headers["content-type"]) == (422, "application/problem+json")
