"""The app factory: lifespan and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.main import create_app
from core.config import Settings


async def test_the_lifespan_puts_settings_sessions_and_temporal_on_the_state(
    app_settings: Settings,
) -> None:
    app = create_app(app_settings)

    async with app.router.lifespan_context(app):
        assert app.state.settings is app_settings
        assert app.state.session_factory is not None
        assert app.state.temporal is None  # unreachable: started anyway

    assert app.state.session_factory is None  # the engine it made is disposed


async def test_the_lifespan_keeps_a_session_factory_it_was_given(
    app_settings: Settings, api_app: FastAPI
) -> None:
    app = create_app(app_settings)
    app.state.session_factory = given = api_app.state.session_factory

    async with app.router.lifespan_context(app):
        assert app.state.session_factory is given

    assert app.state.session_factory is given


async def test_start_up_fails_in_production_without_a_jwt_secret(
    app_settings: Settings,
) -> None:
    settings = app_settings.model_copy(update={"environment": "production", "jwt_secret": None})
    app = create_app(settings)

    with pytest.raises(RuntimeError, match="JWT_SECRET"):
        async with app.router.lifespan_context(app):
            pass


@pytest.fixture
async def openapi(api_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await api_client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_the_openapi_document_names_the_service(openapi: dict[str, Any]) -> None:
    assert openapi["info"]["title"] == "InsureFlow"
    assert openapi["info"]["version"] == "0.1.0"
    assert {"/v1/auth/token", "/v1/auth/me", "/healthz", "/readyz", "/v1/products"} <= set(
        openapi["paths"]
    )


async def test_the_openapi_document_lists_errors_as_problem_json(
    openapi: dict[str, Any],
) -> None:
    token = openapi["paths"]["/v1/auth/token"]["post"]
    assert token["responses"]["401"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert token["responses"]["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
    }
    assert "Sign in" in token["description"]
    schemas = openapi["components"]["schemas"]
    assert {"Problem", "ValidationProblem", "ValidationIssue"} <= set(schemas)
    assert "HTTPValidationError" not in schemas


async def test_the_openapi_document_shows_money_as_strings(openapi: dict[str, Any]) -> None:
    product = openapi["components"]["schemas"]["ProductRead"]["properties"]
    assert product["min_sum_insured"]["type"] == "string"


async def test_the_bearer_scheme_is_documented(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/v1/auth/token"
