"""Every error answer is application/problem+json with a stable code."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from api.schemas import Money, StrictModel
from services.problems import ProblemError, refused
from tests.support import CUSTOMER_ID_NUMBER

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


class CustomerCreate(StrictModel):
    name: str
    age: int


class Nested(StrictModel):
    customer: CustomerCreate
    amount: Money


class Echo(BaseModel):
    name: str
    amount: Money


@pytest.fixture
def api_app_with_test_routes(api_app: FastAPI) -> FastAPI:
    @api_app.post("/test/customers")
    async def create_customer(body: Nested) -> Echo:
        return Echo(name=body.customer.name, amount=body.amount)

    @api_app.get("/test/conflict")
    async def conflict() -> None:
        raise ProblemError(409, "four_eyes_violation", "Four eyes", "You submitted this case.")

    @api_app.get("/test/refused")
    async def refused_by_the_registry() -> None:
        raise refused("four_eyes_violation")

    @api_app.get("/test/held")
    async def held() -> None:
        raise ProblemError(
            409,
            "claimed_by_other",
            "Claimed by someone else",
            "the task is held by %(assignee)s",
            params={"assignee": "sid"},
        )

    @api_app.get("/test/boom")
    async def boom() -> None:
        raise RuntimeError(f"database password is hunter2; customer {CUSTOMER_ID_NUMBER}")

    return api_app


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert PROBLEM_KEYS <= body.keys()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"https://insureflow.dev/problems/{code}"
    return body


async def test_an_unknown_path_is_a_not_found_problem(api_client: httpx.AsyncClient) -> None:
    body = assert_problem(await api_client.get("/v1/nothing-here"), 404, "not_found")

    assert body["title"] == "Not Found"


async def test_a_wrong_method_is_a_method_not_allowed_problem(
    api_client: httpx.AsyncClient,
) -> None:
    response = await api_client.delete("/healthz")

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


async def test_a_raised_problem_keeps_its_code_and_detail(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    body = assert_problem(await api_client.get("/test/conflict"), 409, "four_eyes_violation")

    assert body == {
        "type": "https://insureflow.dev/problems/four_eyes_violation",
        "title": "Four eyes",
        "status": 409,
        "detail": "You submitted this case.",
        "code": "four_eyes_violation",
    }


async def test_an_unknown_body_field_is_a_validation_problem_naming_it(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.post(
        "/test/customers",
        json={"customer": {"name": "Li Lei", "age": 30, "nickname": "x"}, "amount": "1.00"},
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"] == [
        {
            "loc": ["body", "customer", "nickname"],
            "msg": "Extra inputs are not permitted",
            "type": "extra_forbidden",
        }
    ]
    assert "body.customer.nickname" in str(body["detail"])


async def test_a_validation_problem_never_echoes_the_input(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.post(
        "/test/customers",
        json={"customer": {"name": "Li Lei", "age": f"id {CUSTOMER_ID_NUMBER}"}, "amount": "1.001"},
    )

    body = assert_problem(response, 422, "validation_error")
    assert CUSTOMER_ID_NUMBER not in response.text
    assert {tuple(e["loc"]) for e in body["errors"]} == {  # type: ignore[union-attr]
        ("body", "customer", "age"),
        ("body", "amount"),
    }
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])  # type: ignore[union-attr]


async def test_malformed_json_is_a_validation_problem(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.post(
        "/test/customers", content=b'{"customer": ', headers={"content-type": "application/json"}
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["type"] == "json_invalid"  # type: ignore[index]


async def test_money_is_read_and_written_as_a_two_place_decimal_string(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.post(
        "/test/customers", json={"customer": {"name": "Li Lei", "age": 30}, "amount": "250000"}
    )

    assert response.json() == {"name": "Li Lei", "amount": "250000.00"}


async def test_an_unexpected_error_is_a_bare_internal_error_problem(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.get("/test/boom", headers={"X-Request-ID": "trace-500"})

    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert CUSTOMER_ID_NUMBER not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-request-id"] == "trace-500"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert body["title"] == "Internal Server Error"


# --- the problem's language -------------------------------------------------------------


async def test_a_problem_is_said_in_chinese_when_accept_language_prefers_it(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.get(
        "/test/refused", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "four_eyes_violation"  # the code never changes
    assert body["title"] == "违反双人复核原则"
    assert body["detail"] == "处理过此案件的人不得审批"
    assert response.headers["content-language"] == "zh-CN"


async def test_a_problem_is_said_in_english_otherwise(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    for header in ({}, {"Accept-Language": "en-GB"}, {"Accept-Language": "fr, de;q=0.5"}):
        response = await api_client.get("/test/refused", headers=header)
        body = response.json()
        assert (body["code"], body["title"]) == ("four_eyes_violation", "Four eyes violation")
        assert body["detail"] == "a person who acted on a case may not decide it"
        assert response.headers["content-language"] == "en"


async def test_a_problem_detail_with_values_in_it_is_translated_around_them(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    zh = await api_client.get("/test/held", headers={"Accept-Language": "zh"})
    assert zh.json()["detail"] == "任务已由 sid 领取"
    en = await api_client.get("/test/held", headers={"Accept-Language": "en;q=0.9, zh;q=0.1"})
    assert en.json()["detail"] == "the task is held by sid"


async def test_a_validation_problem_is_said_in_chinese_naming_the_fields(
    api_app_with_test_routes: FastAPI, api_client: httpx.AsyncClient
) -> None:
    response = await api_client.post(
        "/test/customers",
        json={"customer": {"name": "x"}, "amount": "1.00"},
        headers={"Accept-Language": "zh-Hans-CN"},
    )
    body = response.json()
    assert (body["code"], body["title"]) == ("validation_error", "请求校验失败")
    assert body["detail"] == "请求无效：body.customer.age"
