"""GET /v1/products and /v1/products/{code}."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from domain.claim_rules import REQUIRED_DOCUMENTS
from domain.products import CATALOGUE


async def test_the_list_is_the_domain_catalogue(
    api_client: httpx.AsyncClient, auth_headers: Callable[[str], dict[str, str]]
) -> None:
    response = await api_client.get("/v1/products", headers=auth_headers("alice"))

    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    assert [p["code"] for p in body["items"]] == list(CATALOGUE)
    for item in body["items"]:
        product = CATALOGUE[item["code"]]
        assert item == {
            "code": product.code,
            "name": product.name,
            "kind": product.kind,
            "term_years": product.term_years,
            "min_sum_insured": f"{product.min_sum_insured:.2f}",
            "max_sum_insured": f"{product.max_sum_insured:.2f}",
            "min_age": product.min_age,
            "max_age": product.max_age,
            "auto_underwriting_limit": f"{product.auto_underwriting_limit:.2f}",
            "covered_incidents": [str(i) for i in product.covered_incidents],
            "required_documents": {
                str(i): list(REQUIRED_DOCUMENTS[i]) for i in product.covered_incidents
            },
            "claim_limitation_years": product.claim_limitation_years,
            "cash_values": [f"{v:.2f}" for v in product.cash_values],
            "renewal_guaranteed": product.renewal_guaranteed,
        }


async def test_term_life_matches_the_contract(
    api_client: httpx.AsyncClient, auth_headers: Callable[[str], dict[str, str]]
) -> None:
    response = await api_client.get("/v1/products/TERM_LIFE_20", headers=auth_headers("olga"))

    assert response.status_code == 200
    body = response.json()
    assert body["auto_underwriting_limit"] == "300000.00"
    assert (body["min_sum_insured"], body["max_sum_insured"]) == ("100000.00", "5000000.00")
    assert (body["min_age"], body["max_age"], body["term_years"]) == (18, 60, 20)
    assert body["covered_incidents"] == ["death", "total_disability"]


async def test_each_product_publishes_the_claim_checklist_per_incident_type(
    api_client: httpx.AsyncClient, auth_headers: Callable[[str], dict[str, str]]
) -> None:
    response = await api_client.get("/v1/products/MEDICAL_1Y", headers=auth_headers("alice"))

    assert response.status_code == 200
    body = response.json()
    assert body["required_documents"] == {
        "hospitalisation": ["claim_form", "id_proof", "discharge_summary", "medical_invoice"],
        "outpatient_surgery": ["claim_form", "id_proof", "surgery_record", "medical_invoice"],
    }
    assert body["claim_limitation_years"] == 2


async def test_each_product_publishes_its_cash_value_table_and_whether_renewal_is_guaranteed(
    api_client: httpx.AsyncClient, auth_headers: Callable[[str], dict[str, str]]
) -> None:
    term = (await api_client.get("/v1/products/TERM_LIFE_20", headers=auth_headers("alice"))).json()
    medical = (
        await api_client.get("/v1/products/MEDICAL_1Y", headers=auth_headers("alice"))
    ).json()

    # Per 1,000 of annual premium: at the start, then at the end of each of the 20 years.
    assert len(term["cash_values"]) == 21
    assert (term["cash_values"][0], term["cash_values"][11], term["cash_values"][20]) == (
        "0.00",
        "550.00",
        "0.00",
    )
    assert medical["cash_values"] == ["750.00", "0.00"]
    assert medical["renewal_guaranteed"] is False
    schema = (await api_client.get("/openapi.json")).json()["components"]["schemas"]["ProductRead"]
    assert "现金价值表" in schema["properties"]["cash_values"]["description"]
    assert "保证续保" in schema["properties"]["renewal_guaranteed"]["description"]


@pytest.mark.parametrize("username", ["alice", "sam", "sue", "olga"])
async def test_every_role_may_read_the_catalogue(
    api_client: httpx.AsyncClient, auth_headers: Callable[[str], dict[str, str]], username: str
) -> None:
    response = await api_client.get("/v1/products", headers=auth_headers(username))

    assert response.status_code == 200


async def test_an_unknown_code_is_unknown_product(
    api_client: httpx.AsyncClient, auth_headers: Callable[[str], dict[str, str]]
) -> None:
    response = await api_client.get("/v1/products/NOPE", headers=auth_headers("alice"))

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unknown_product"


async def test_the_catalogue_needs_a_token(api_client: httpx.AsyncClient) -> None:
    for path in ("/v1/products", "/v1/products/TERM_LIFE_20"):
        response = await api_client.get(path)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
