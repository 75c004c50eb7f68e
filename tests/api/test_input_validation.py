"""Request bodies and query parameters refused (or normalised) before anything runs: money,
names and free text, strict dates, empty cursors, a decision the task does not take. No
Temporal here: every finding is decided by validation alone, ahead of any process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.schemas import Money, StrictDate
from api.web.inbox import decision_body
from db.repositories import tasks
from domain.activities import TaskOpen
from domain.refusals import refusal_for
from domain.tasks import TaskKind
from services.problems import ProblemError

# Nothing below reaches a process: a stand-in client lets the routes get past the
# `temporal_unavailable` dependency to validation. Touching it is a test failure.


class _NoTemporal:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the route used Temporal ({name}) for a request it should refuse")


@pytest.fixture
def api_temporal_client() -> Any:
    return _NoTemporal()


Headers = Callable[[str], dict[str, str]]
FULL_WIDTH_20000 = "\uff12\uff10\uff10\uff10\uff10"  # "20000" in full-width digits

CUSTOMER = {"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"}
CLAIM = {
    "policy_number": "PNOSUCHPOLICY",
    "incident_date": "2026-11-01",
    "incident_type": "hospitalisation",
    "description": "admitted for appendicitis",
    "amount_claimed": "10000.00",
    "documents": [],
    "payee_account": "6222020200556677889",
}


class _Amount(BaseModel):
    amount: Money


class _Day(BaseModel):
    day: StrictDate


@pytest.mark.parametrize(
    ("sent", "kept", "echoed"),
    [
        ("200000.5", Decimal("200000.50"), '"200000.50"'),
        (200000.5, Decimal("200000.50"), '"200000.50"'),
        (300000, Decimal("300000.00"), '"300000.00"'),
        ("0.01", Decimal("0.01"), '"0.01"'),
    ],
)
def test_money_is_normalised_to_two_decimals(sent: Any, kept: Decimal, echoed: str) -> None:
    value = _Amount.model_validate({"amount": sent})
    assert value.amount == kept
    assert str(value.amount) == str(kept)  # the exponent too: echoed as "200000.50"
    assert value.model_dump_json() == '{"amount":' + echoed + "}"


@pytest.mark.parametrize(
    "sent",
    [
        "1E+6",
        "1e6",
        FULL_WIDTH_20000,
        "\u0662\u0660\u0660",
        "1.234",
        "NaN",
        "Infinity",
        " 100",
        True,
        1e20,
    ],
)
def test_money_outside_plain_ascii_cents_is_refused(sent: Any) -> None:
    with pytest.raises(ValidationError):
        _Amount.model_validate({"amount": sent})


@pytest.mark.parametrize("sent", ["2026-11-01T10:00:00", "2026-11-01T00:00:00", "20261101", 0])
def test_a_date_is_only_yyyy_mm_dd(sent: Any) -> None:
    with pytest.raises(ValidationError):
        _Day.model_validate({"day": sent})


async def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("code", "")


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount_claimed": "1E+6"},
        {"amount_claimed": FULL_WIDTH_20000},
        {"amount_claimed": "100.001"},
        {"incident_date": "2026-11-01T10:00:00"},
        {"incident_date": "2026-11-01T00:00:00"},
        {"description": "   "},
        {"description": "fell\x00down"},
        {"description": "fell\x1bdown"},
    ],
)
async def test_claim_intake_refuses_malformed_fields(
    api_client: httpx.AsyncClient, auth_headers: Headers, overrides: dict[str, Any]
) -> None:
    r = await api_client.post("/v1/claims", json=CLAIM | overrides, headers=auth_headers("alice"))
    assert await _code(r) == (422, "validation_error"), r.text


async def test_claim_intake_accepts_line_breaks_in_a_description(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    body = CLAIM | {"description": "fell down\n\tthen the ambulance came", "amount_claimed": 10}
    r = await api_client.post("/v1/claims", json=body, headers=auth_headers("alice"))
    assert await _code(r) == (422, "unknown_policy"), r.text  # past validation


@pytest.mark.parametrize(
    "customer",
    [
        {"name": "   "},
        {"name": "张\x07三"},
        {"name": "张三\n"},
    ],
)
async def test_enrollment_refuses_a_blank_or_control_character_name(
    api_client: httpx.AsyncClient, auth_headers: Headers, customer: dict[str, str]
) -> None:
    body = {"customer": CUSTOMER | customer}
    r = await api_client.post("/v1/enrollments", json=body, headers=auth_headers("alice"))
    assert await _code(r) == (422, "validation_error"), r.text


@pytest.mark.parametrize("phone", ["     ", "  -  - ", "+ 1 2 3 4"])
async def test_enrollment_refuses_a_phone_without_five_digits(
    api_client: httpx.AsyncClient, auth_headers: Headers, phone: str
) -> None:
    body = {"customer": CUSTOMER | {"phone": phone}}
    r = await api_client.post("/v1/enrollments", json=body, headers=auth_headers("alice"))
    assert await _code(r) == (422, "invalid_phone"), r.text


@pytest.mark.parametrize("sum_insured", ["1E+6", FULL_WIDTH_20000, "100000.005"])
async def test_a_quote_refuses_malformed_money(
    api_client: httpx.AsyncClient, auth_headers: Headers, sum_insured: str
) -> None:
    body = {"product_code": "TERM_LIFE_20", "sum_insured": sum_insured}
    r = await api_client.post(
        "/v1/enrollments/ENOSUCH/quote", json=body, headers=auth_headers("alice")
    )
    assert await _code(r) == (422, "validation_error"), r.text


async def test_an_application_start_date_has_no_time(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    body = {
        "quote_id": "Q1",
        "payment_method": "online",
        "query_password": "secret-123",
        "consent": True,
        "start_date": "2026-12-01T00:00:00",
    }
    r = await api_client.post(
        "/v1/enrollments/ENOSUCH/application", json=body, headers=auth_headers("alice")
    )
    assert await _code(r) == (422, "validation_error"), r.text


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "approve", "reason": "ok", "amount": "1E+3"},
        {"decision": "approve", "reason": "ok", "amount": "\uff15\uff10\uff10"},
        {"decision": "reject", "reason": "  "},
        {"decision": "reject", "reason": "no\x00"},
    ],
)
async def test_a_decision_refuses_malformed_money_and_reasons(
    api_client: httpx.AsyncClient, auth_headers: Headers, body: dict[str, Any]
) -> None:
    r = await api_client.post("/v1/tasks/TNOSUCH/decision", json=body, headers=auth_headers("sue"))
    assert await _code(r) == (422, "validation_error"), r.text


@pytest.mark.parametrize("path", ["/v1/enrollments", "/v1/claims", "/v1/tasks"])
async def test_an_empty_cursor_is_the_first_page(
    api_client: httpx.AsyncClient, auth_headers: Headers, path: str
) -> None:
    first = await api_client.get(path, headers=auth_headers("sue"))
    empty = await api_client.get(f"{path}?cursor=", headers=auth_headers("sue"))
    assert first.status_code == 200, first.text
    assert (empty.status_code, empty.json()) == (200, first.json())


@pytest.mark.parametrize("typed", ["1E+3", "\uff15\uff10\uff10", "1.005"])
def test_the_console_decision_form_refuses_the_amounts_the_api_refuses(typed: str) -> None:
    with pytest.raises(ProblemError) as err:
        decision_body("approve", "ok", typed, [])
    assert err.value.code == "invalid_amount"


def test_the_console_decision_form_normalises_its_amount() -> None:
    body = decision_body("approve", "ok", "8,000.5", [])
    assert str(body.amount) == "8000.50"


# A task no decision closes (a failed payout, a late payment's refund) is refused by the
# inbox itself, before any process, with the status the refusal registry gives.
@pytest.mark.parametrize(
    ("kind", "where"),
    [
        (TaskKind.PAYOUT_FAILED, "POST /v1/claims/{id}/payout/retry"),
        (TaskKind.LATE_PAYMENT, "ops at the gateway"),
    ],
)
async def test_a_task_no_decision_closes_is_refused_with_the_registry_status(
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    auth_headers: Callable[[str], dict[str, str]],
    kind: TaskKind,
    where: str,
) -> None:
    task_id = f"{kind}-T1"
    async with api_session_factory() as session, session.begin():
        await tasks.insert_task(
            session,
            task=TaskOpen(
                task_id=task_id,
                kind=kind,
                workflow_id=f"claim-{task_id}",
                case_id=task_id,
                subject="Resolve it",
                amount=Decimal("100.00"),
                submitted_by="bob",
                agent="bob",
                due_at=datetime.now(UTC) + timedelta(days=1),
            ),
        )
    r = await api_client.post(
        f"/v1/tasks/{task_id}/decision",
        json={"decision": "approve", "reason": "done"},
        headers=auth_headers("sue"),
    )
    assert r.status_code == refusal_for("decision_not_allowed").status == 422, r.text
    body = r.json()
    assert body["code"] == "decision_not_allowed"
    assert body["title"] == refusal_for("decision_not_allowed").title
    assert where in body["detail"]
    async with api_session_factory() as session:
        task = await tasks.get_task(session, task_id=task_id)
    assert task is not None and task.status == "open"  # nothing changed
