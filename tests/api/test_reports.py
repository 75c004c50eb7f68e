"""GET /v1/reports/{name}: the figures of the hand-counted world (tests/db/report_world.py)
from the daily aggregates, per role; CSV and XLSX downloads that parse back to the same
cells; the refusals of a bad range."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import User
from db.repositories.customers import upsert_customer
from db.repositories.reports import aggregate_day
from domain.policy_query import LOCK_AFTER, LOCK_WINDOW
from domain.reports import POLICY_PERSISTENCY_FIGURES, RETURN_VISIT_FIGURES
from services.reports import REPORT_NAMES
from tests.db.report_world import AFTER, BEFORE, DAY, insert_world

Headers = Callable[[str], dict[str, str]]


@pytest.fixture
async def world(api_session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with api_session_factory() as session, session.begin():
        customer = await upsert_customer(
            session,
            id_hash="hash-r",
            id_number_enc="enc",
            id_masked="1101**********123X",
            name="张三",
            phone_enc="enc",
            phone_masked="138****0000",
            email=None,
            birth_date=date(1990, 5, 17),
        )
        await insert_world(session, customer)
    for day in (BEFORE, DAY, AFTER):
        async with api_session_factory() as session, session.begin():
            await aggregate_day(session, day=day, lock_after=LOCK_AFTER, lock_window=LOCK_WINDOW)


async def _get(
    client: httpx.AsyncClient, headers: Headers, user: str, name: str, **params: str
) -> httpx.Response:
    return await client.get(f"/v1/reports/{name}", params=params, headers=headers(user))


def _by_agent(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["agent"]: row for row in body["rows"]}


@pytest.mark.usefixtures("world")
async def test_a_supervisor_sees_every_agents_new_business_and_the_total(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    answer = await _get(
        api_client, auth_headers, "sue", "new-business", **{"from": str(DAY), "to": str(DAY)}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rows = _by_agent(body)
    assert set(rows) == {"alice", "bob", ""}  # "": the look-ups of an unknown policy
    assert rows["alice"]["policies_issued"] == 1 and rows["alice"]["premium_issued"] == "1200.00"
    assert rows["bob"]["premium_issued"] == "800.50"
    assert body["total"] == {
        "agent": None,
        "applications_started": 2,
        "applications_submitted": 2,
        "applications_approved": 2,
        "applications_rejected": 1,
        "policies_issued": 2,
        "premium_issued": "2000.50",
    }
    [day] = body["series"]
    assert day["day"] == "2025-03-10" and day["policies_issued"] == 2


@pytest.mark.usefixtures("world")
async def test_an_agent_sees_only_their_own_figures(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    answer = await _get(
        api_client, auth_headers, "alice", "claims", **{"from": str(BEFORE), "to": str(AFTER)}
    )
    body = answer.json()
    assert body["agent"] == "alice"
    assert [row["agent"] for row in body["rows"]] == ["alice"]
    assert body["total"]["claims_reported"] == 2  # C1, C2; bob's C3 is not hers
    assert body["total"]["claims_paid_amount"] == "3000.00"
    assert body["total"]["rejection_rate"] == "0.5000"
    assert body["total"]["in_time_rate"] == "0.5000"
    other = await _get(
        api_client,
        auth_headers,
        "alice",
        "claims",
        **{"from": str(DAY), "to": str(DAY), "agent": "bob"},
    )
    assert other.status_code == 403 and other.json()["code"] == "forbidden"


@pytest.mark.usefixtures("world")
async def test_a_supervisor_may_narrow_to_one_agent(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    answer = await _get(
        api_client,
        auth_headers,
        "olga",
        "new-business",
        **{"from": str(DAY), "to": str(DAY), "agent": "bob"},
    )
    assert [row["agent"] for row in answer.json()["rows"]] == ["bob"]


@pytest.mark.usefixtures("world")
async def test_turnaround_median_and_p90_come_from_every_sample_of_the_range(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    answer = await _get(
        api_client, auth_headers, "sue", "turnaround", **{"from": str(BEFORE), "to": str(AFTER)}
    )
    total = answer.json()["total"]
    # Submission → issue: 6300 s (E1) and 7200 s (E3); nearest rank.
    assert (total["issued"], total["issue_median_s"], total["issue_p90_s"]) == (2, 6300, 7200)
    assert (total["paid"], total["payment_median_s"], total["payment_p90_s"]) == (1, 10800, 10800)


@pytest.mark.usefixtures("world")
async def test_policy_queries_count_lockouts_and_the_p95_answer_time(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    answer = await _get(
        api_client, auth_headers, "olga", "policy-queries", **{"from": str(DAY), "to": str(DAY)}
    )
    total = answer.json()["total"]
    assert total["queries_attempted"] == 7 and total["queries_succeeded"] == 1
    assert total["query_lockouts"] == 1 and total["queries_locked"] == 1
    assert total["success_rate"] == "0.1429"
    assert total["answer_p95_ms"] == 300  # of 5, 120, 200, 300, 300, 300, 300


@pytest.mark.usefixtures("world")
async def test_sla_compliance_per_task_kind(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    answer = await _get(
        api_client, auth_headers, "sue", "sla", **{"from": str(DAY), "to": str(DAY)}
    )
    rows = {row["kind"]: row for row in answer.json()["rows"]}
    assert rows["underwriting"]["compliance_rate"] == "0.5000"  # T1 on time, T2 late
    assert rows["claim_approval"]["compliance_rate"] == "0.0000"  # expired
    assert rows["claim_review"]["compliance_rate"] is None  # cancelled: nothing to judge


VISIT_KEYS = (*RETURN_VISIT_FIGURES, "in_cooling_off_rate")


def _visits(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in VISIT_KEYS)


async def _report(
    client: httpx.AsyncClient,
    headers: Headers,
    user: str,
    name: str,
    first: date,
    last: date,
    **extra: str,
) -> dict[str, Any]:
    """Report ``name`` over ``first`` to ``last`` as ``user`` sees it (answered 200)."""
    answer = await _get(
        client, headers, user, name, **{"from": str(first), "to": str(last)}, **extra
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.usefixtures("world")
async def test_return_visits_per_selling_agent_and_the_share_within_cooling_off(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    body = await _report(api_client, auth_headers, "sue", "return-visits", BEFORE, AFTER)
    rows = _by_agent(body)
    # (due, completed, within cooling-off, unreachable, escalated, mis-selling, share)
    # alice: RV1 due and done in time after a miss at 23:30; RV2 escalated at 00:00 and
    # done late; RV5 cancelled before its due day.
    assert _visits(rows["alice"]) == (1, 2, 1, 1, 1, 0, "0.5000")
    # bob: RV4 due, mis-selling; RV3 unreachable a third time, escalated, due the day
    # after; RV6 done at 00:30 that day, in time.
    assert _visits(rows["bob"]) == (2, 1, 1, 1, 1, 1, "1.0000")
    assert _visits(rows[""]) == (0, 0, 0, 0, 0, 0, None)  # the look-ups' row: no visits
    assert _visits(body["total"]) == (3, 3, 2, 2, 2, 1, "0.6667")
    series = {s["day"]: _visits(s) for s in body["series"]}
    assert series == {
        "2025-03-09": (0, 0, 0, 1, 0, 0, None),
        "2025-03-10": (2, 2, 1, 1, 2, 1, "0.5000"),
        "2025-03-11": (1, 1, 1, 0, 0, 0, "1.0000"),
    }


PERSISTENCY_KEYS = (*POLICY_PERSISTENCY_FIGURES, "persistency_13m_rate")


FIGURES = {"return-visits": VISIT_KEYS, "policy-persistency": PERSISTENCY_KEYS}


def _persistency(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in PERSISTENCY_KEYS)


@pytest.mark.usefixtures("world")
async def test_policy_persistency_and_lapses_per_selling_agent(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    body = await _report(api_client, auth_headers, "sue", "policy-persistency", BEFORE, AFTER)
    rows = _by_agent(body)
    # (suspended, reinstated, surrendered, terminated not reinstated, terminated by a
    # claim, expired, at 13 months, second premium paid, the rate)
    # alice: L1 suspended at 23:30 the evening before and reinstated at 00:30; L3
    # surrendered; L5 ended by a claim; K9 (the 9th), K1 and K2 at 13 months, K2 unpaid.
    assert _persistency(rows["alice"]) == (1, 1, 1, 0, 1, 0, 3, 2, "0.6667")
    # bob: L2 suspended; L4 terminated at 00:00 on the 11th; L6 expired; K6, K8, K10 and
    # K3 (the 11th) at 13 months: K6 paid in grace and K3 on time.
    assert _persistency(rows["bob"]) == (1, 0, 0, 1, 0, 1, 4, 2, "0.5000")
    assert _persistency(rows[""]) == (0, 0, 0, 0, 0, 0, 0, 0, None)
    # The rate of the sums, 4 of 7: not the mean of the agents' rates.
    assert _persistency(body["total"]) == (2, 1, 1, 1, 1, 1, 7, 4, "0.5714")
    series = {s["day"]: _persistency(s) for s in body["series"]}
    assert series == {
        "2025-03-09": (1, 0, 0, 0, 0, 0, 1, 1, "1.0000"),
        "2025-03-10": (1, 1, 1, 0, 1, 1, 5, 2, "0.4000"),
        "2025-03-11": (0, 0, 0, 1, 0, 0, 1, 1, "1.0000"),
    }


# (report, user, first day, last day, the figures of ``FIGURES[report]``): a range from
# midnight to midnight in Shanghai has the events of its days, none of the evening before
# or the morning after.
MIDNIGHT_CASES = [
    # RV1's miss at 23:30 on the 9th is outside; its completion at 00:30 and RV2's at 23:30
    # on the 10th inside; RV6's at 00:30 on the 11th outside.
    ("return-visits", "alice", DAY, DAY, (1, 2, 1, 0, 1, 0, "0.5000")),
    ("return-visits", "alice", BEFORE, BEFORE, (0, 0, 0, 1, 0, 0, None)),
    ("return-visits", "bob", AFTER, AFTER, (1, 1, 1, 0, 0, 0, "1.0000")),
    # L1's suspension at 23:30 and K9's 13th month at 23:30 on the 9th are outside; L1's
    # reinstatement at 00:30 and K2's 13th month at 23:30 on the 10th inside; L4's
    # termination at 00:00 and K3's 13th month at 00:30 on the 11th outside.
    ("policy-persistency", "alice", DAY, DAY, (0, 1, 1, 0, 1, 0, 2, 1, "0.5000")),
    ("policy-persistency", "alice", BEFORE, BEFORE, (1, 0, 0, 0, 0, 0, 1, 1, "1.0000")),
    ("policy-persistency", "bob", AFTER, AFTER, (0, 0, 0, 1, 0, 0, 1, 1, "1.0000")),
]


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(("name", "user", "first", "last", "expected"), MIDNIGHT_CASES)
async def test_a_range_from_midnight_leaves_the_evening_before_out(
    api_client: httpx.AsyncClient,
    auth_headers: Headers,
    name: str,
    user: str,
    first: date,
    last: date,
    expected: tuple[Any, ...],
) -> None:
    body = await _report(api_client, auth_headers, user, name, first, last)
    assert [row["agent"] for row in body["rows"]] == [user]
    assert tuple(body["total"][k] for k in FIGURES[name]) == expected


# --- per branch: the seeded users' branches (alice 上海分公司, bob 北京分公司) ---------------

SH, BJ = "上海分公司", "北京分公司"


async def _move(
    factory: async_sessionmaker[AsyncSession], username: str, branch: str | None
) -> None:
    async with factory() as session, session.begin():
        await session.execute(update(User).where(User.username == username).values(branch=branch))


def _by_branch(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["branch"]: row for row in body["rows"]}


@pytest.mark.usefixtures("world")
async def test_a_supervisor_sees_new_business_per_branch(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    body = await _report(api_client, auth_headers, "sue", "new-business", DAY, DAY, group="branch")
    assert body["group"] == "branch" and body["columns"][0]["key"] == "branch"
    rows = _by_branch(body)
    assert set(rows) == {SH, BJ, ""}  # "": the look-ups of an unknown policy, no agent's
    assert (rows[SH]["policies_issued"], rows[SH]["premium_issued"]) == (1, "1200.00")  # alice
    assert (rows[BJ]["policies_issued"], rows[BJ]["premium_issued"]) == (1, "800.50")  # bob
    assert (rows[""]["policies_issued"], rows[""]["premium_issued"]) == (0, "0.00")
    assert body["total"]["branch"] is None and body["total"]["premium_issued"] == "2000.50"


@pytest.mark.usefixtures("world")
async def test_a_branch_row_sums_its_agents_and_takes_percentiles_from_all_their_samples(
    api_client: httpx.AsyncClient,
    auth_headers: Headers,
    api_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _move(api_session_factory, "bob", SH)  # at query time: no re-aggregation
    visits = await _report(
        api_client, auth_headers, "olga", "return-visits", BEFORE, AFTER, group="branch"
    )
    rows = _by_branch(visits)
    assert set(rows) == {SH, ""}
    # alice (1, 2, 1, 1, 1, 0) + bob (2, 1, 1, 1, 1, 1); the share of the sums, 2 of 3.
    assert _visits(rows[SH]) == (3, 3, 2, 2, 2, 1, "0.6667")
    turnaround = await _report(
        api_client, auth_headers, "olga", "turnaround", BEFORE, AFTER, group="branch"
    )
    shanghai = _by_branch(turnaround)[SH]
    # Submission → issue 6300 s (alice's E1) and 7200 s (bob's E3): p90 of both, 7200.
    figures = ("issued", "issue_median_s", "issue_p90_s")
    assert tuple(shanghai[k] for k in figures) == (2, 6300, 7200)


@pytest.mark.usefixtures("world")
async def test_a_branchs_persistency_is_the_rate_of_its_agents_sums(
    api_client: httpx.AsyncClient,
    auth_headers: Headers,
    api_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    name = "policy-persistency"
    body = await _report(api_client, auth_headers, "sue", name, BEFORE, AFTER, group="branch")
    rows = _by_branch(body)
    assert _persistency(rows[SH]) == (1, 1, 1, 0, 1, 0, 3, 2, "0.6667")  # alice
    assert _persistency(rows[BJ]) == (1, 0, 0, 1, 0, 1, 4, 2, "0.5000")  # bob
    await _move(api_session_factory, "bob", SH)
    moved = await _report(api_client, auth_headers, "sue", name, BEFORE, AFTER, group="branch")
    # 4 of 7, not the mean of 0.6667 and 0.5000.
    assert _persistency(_by_branch(moved)[SH]) == (2, 1, 1, 1, 1, 1, 7, 4, "0.5714")


@pytest.mark.usefixtures("world")
async def test_an_agent_without_a_branch_is_in_the_no_branch_row(
    api_client: httpx.AsyncClient,
    auth_headers: Headers,
    api_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _move(api_session_factory, "alice", None)
    body = await _report(api_client, auth_headers, "sue", "claims", DAY, DAY, group="branch")
    rows = _by_branch(body)
    assert set(rows) == {BJ, ""}
    # alice's C1 and C2 beside the look-ups' figures, which have no claims.
    assert (rows[""]["claims_reported"], rows[""]["claims_decided"]) == (1, 2)
    assert rows[""]["claims_paid_amount"] == "3000.00"
    assert rows[BJ]["claims_reported"] == 1  # bob's C3


@pytest.mark.usefixtures("world")
async def test_sla_per_branch_has_a_row_per_branch_and_task_kind(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    body = await _report(api_client, auth_headers, "sue", "sla", DAY, DAY, group="branch")
    assert [c["key"] for c in body["columns"][:2]] == ["branch", "kind"]
    rows = {(r["branch"], r["kind"]): r["compliance_rate"] for r in body["rows"]}
    assert rows == {
        (SH, "underwriting"): "0.5000",  # alice's T1 on time, T2 late
        (BJ, "claim_approval"): "0.0000",  # bob's T3 expired
        (BJ, "claim_review"): None,  # bob's T4 cancelled
    }
    assert (body["total"]["branch"], body["total"]["kind"]) == (None, None)


@pytest.mark.usefixtures("world")
async def test_an_agent_may_not_see_their_branch(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    params = {"from": str(DAY), "to": str(DAY), "group": "branch"}
    answer = await _get(api_client, auth_headers, "alice", "new-business", **params)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "forbidden"
    own = await _report(api_client, auth_headers, "alice", "new-business", DAY, DAY, group="agent")
    assert [row["agent"] for row in own["rows"]] == ["alice"]
    # sam is an agent and a supervisor: a supervisor sees every branch.
    both = await _report(api_client, auth_headers, "sam", "new-business", DAY, DAY, group="branch")
    assert set(_by_branch(both)) == {SH, BJ, ""}


async def test_an_empty_range_has_no_rows_and_zero_totals(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    answer = await _get(
        api_client, auth_headers, "sue", "claims", **{"from": "2024-01-01", "to": "2024-01-03"}
    )
    body = answer.json()
    assert body["rows"] == []
    assert body["total"]["claims_reported"] == 0 and body["total"]["claims_paid_amount"] == "0.00"
    assert body["total"]["rejection_rate"] is None
    assert [s["day"] for s in body["series"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    visits = await _report(
        api_client, auth_headers, "sue", "return-visits", date(2024, 1, 1), date(2024, 1, 3)
    )
    assert visits["rows"] == [] and _visits(visits["total"]) == (0, 0, 0, 0, 0, 0, None)
    persistency = await _report(
        api_client, auth_headers, "sue", "policy-persistency", date(2024, 1, 1), date(2024, 1, 3)
    )
    assert persistency["rows"] == []
    assert _persistency(persistency["total"]) == (0, 0, 0, 0, 0, 0, 0, 0, None)
    assert [s["persistency_13m_rate"] for s in persistency["series"]] == [None, None, None]


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("group", ["agent", "branch"])
@pytest.mark.parametrize("name", REPORT_NAMES)
async def test_csv_and_xlsx_parse_back_to_the_json_figures(
    api_client: httpx.AsyncClient, auth_headers: Headers, name: str, group: str
) -> None:
    params = {"from": str(BEFORE), "to": str(AFTER), "group": group}
    body = (await _get(api_client, auth_headers, "sue", name, **params)).json()
    keys = [c["key"] for c in body["columns"]]
    expected = [[row[k] for k in keys] for row in [*body["rows"], body["total"]]]

    answer = await _get(api_client, auth_headers, "sue", name, **params, format="csv")
    assert answer.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(answer.text)))
    assert lines[0] == keys
    as_text = [["" if v is None else str(v) for v in row] for row in expected]
    assert lines[1:] == as_text

    answer = await _get(api_client, auth_headers, "sue", name, **params, format="xlsx")
    assert "attachment" in answer.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(answer.content)).worksheets[0]
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert list(table[0]) == keys
    kinds = {c["key"]: c["kind"] for c in body["columns"]}
    parsed = [
        [
            None
            if v is None
            else (f"{v:.2f}" if kinds[k] == "money" else f"{v:.4f}" if kinds[k] == "ratio" else v)
            for k, v in zip(keys, row, strict=True)
        ]
        for row in table[1:]
    ]
    # An empty text cell (the agent or branch "" of look-ups of unknown policies, the
    # total's kind) reads back as None.
    assert parsed == [[None if v == "" else v for v in row] for row in expected]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from": "2025-03-10", "to": "2025-03-09"}, 422, "invalid_range"),
        ({"from": "2020-01-01", "to": "2025-01-01"}, 422, "range_too_long"),
        ({"from": "2025-02-30", "to": "2025-03-09"}, 422, "validation_error"),
        ({"to": "2025-03-09"}, 422, "validation_error"),
        ({"from": "2025-03-09", "to": "2025-03-10", "group": "team"}, 422, "invalid_group"),
    ],
)
async def test_a_bad_range_is_refused_with_a_problem(
    api_client: httpx.AsyncClient,
    auth_headers: Headers,
    params: dict[str, str],
    status: int,
    code: str,
) -> None:
    answer = await _get(api_client, auth_headers, "sue", "claims", **params)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code


async def test_an_unknown_report_is_not_found(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    answer = await _get(
        api_client, auth_headers, "sue", "persistency", **{"from": "2025-03-10", "to": "2025-03-10"}
    )
    assert answer.status_code == 404 and answer.json()["code"] == "report_not_found"
