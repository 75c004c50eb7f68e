"""Problem details (RFC 9457): every 4xx/5xx body is ``application/problem+json``.

Raise ``ProblemError`` anywhere in a request (route, dependency, service called by a
route); the handlers installed by ``install_error_handlers`` turn it, FastAPI's
validation errors, Starlette's HTTP errors and unexpected exceptions into the same shape:
``{"type", "title", "status", "detail", "code"}``, with ``code`` stable for clients.
"""

from __future__ import annotations

import http
import json
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.masking import scrub

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://insureflow.dev/problems/"

log = structlog.get_logger("api.errors")

# Codes for Starlette/FastAPI HTTP errors whose reason phrase would make a poor code;
# the others are the phrase in snake_case (404 "not_found", 405 "method_not_allowed").
_STATUS_CODES = {
    413: "payload_too_large",
    422: "validation_error",
    500: "internal_error",
}


class ProblemError(StarletteHTTPException):
    """An error answered as a problem document.

    A subclass of Starlette's ``HTTPException`` so FastAPI passes it through untouched
    wherever it passes those (body parsing, dependencies with ``yield``).
    ``extra`` adds members to the body (e.g. ``{"checks": {...}}``); never personal data.
    """

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=dict(headers or {}) or None)
        self.code = code
        self.title = title
        self.extra: dict[str, Any] = dict(extra or {})

    def __repr__(self) -> str:
        return f"ProblemError(status={self.status_code}, code={self.code!r})"


class Problem(BaseModel):
    """An error (RFC 9457 problem details) with a stable machine-readable ``code``."""

    type: str
    title: str
    status: int
    detail: str
    code: str


class ValidationIssue(BaseModel):
    """One offending field: where (``loc``), what is wrong, and pydantic's error type."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(Problem):
    """A request that failed validation (422, ``code: validation_error``)."""

    errors: list[ValidationIssue]


def status_code_name(status: int) -> str:
    """The default problem ``code`` for an HTTP status (404 → ``not_found``)."""
    if status in _STATUS_CODES:
        return _STATUS_CODES[status]
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        return "error"
    return phrase.lower().replace("-", "_").replace("'", "").replace(" ", "_")


def status_title(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str = "",
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


def internal_error_response() -> JSONResponse:
    """The 500 answer: says nothing about what went wrong inside (the log does)."""
    return problem_response(
        500,
        "internal_error",
        "Internal Server Error",
        "An unexpected error occurred. Quote the X-Request-ID header when reporting it.",
    )


async def _problem_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status_code,
        exc.code,
        exc.title,
        str(exc.detail),
        headers=exc.headers,
        extra=exc.extra,
    )


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code < 400:  # a redirect or "not modified" raised as an exception
        return Response(status_code=exc.status_code, headers=exc.headers)
    title = status_title(exc.status_code)
    # A non-string detail (FastAPI allows any) could hold anything: keep it out.
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(
        exc.status_code,
        status_code_name(exc.status_code),
        title,
        detail,
        headers=exc.headers,
    )


def validation_issues(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors without the input values (they may be an ID number or a phone)."""
    issues = []
    for error in errors:
        loc = [part if isinstance(part, int) else scrub(str(part)) for part in error["loc"]]
        issues.append({"loc": loc, "msg": scrub(str(error["msg"])), "type": str(error["type"])})
    return issues


async def _validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = validation_issues(exc.errors())
    fields = sorted({".".join(str(p) for p in issue["loc"]) for issue in issues})
    return problem_response(
        422,
        "validation_error",
        "Validation error",
        "Invalid request: " + ", ".join(fields) if fields else "Invalid request",
        extra={"errors": issues},
    )


async def _unhandled_error_handler(request: Request, exc: Exception) -> Response:
    # Normally RequestContextMiddleware answers first; this covers anything outside it.
    log.error("unhandled_error", exc_info=exc)
    return internal_error_response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(Exception, _unhandled_error_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem answers for these statuses.

    ``@router.post(..., responses=problem_responses(401, 403, 409))``. The document lists
    them under ``application/problem+json`` (see ``install_problem_openapi``).
    """
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "description": status_title(status),
        }
        for status in statuses
    }


def install_problem_openapi(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers do: error responses are
    ``application/problem+json`` and 422 bodies are ``ValidationProblem``s."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()  # FastAPI's document, cached on the app: rewritten in place
        _rewrite_error_responses(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _rewrite_error_responses(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, definitions = models_json_schema(
        [(Problem, "serialization"), (ValidationProblem, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    for name, definition in definitions.get("$defs", {}).items():
        components.setdefault(name, definition)
    validation_ref = {"$ref": "#/components/schemas/ValidationProblem"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if not status.isdigit() or int(status) < 400:
                    continue
                content = response.setdefault("content", {})
                body = content.pop("application/json", None) or {}
                if body.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    body = {"schema": validation_ref}
                content.setdefault(PROBLEM_MEDIA_TYPE, body)
    # FastAPI's own validation error shape is never sent; drop it once nothing refers to it.
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{unused}"' not in json.dumps(schema):
            components.pop(unused, None)
