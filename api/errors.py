"""Problem details (RFC 9457): every 4xx/5xx body is ``application/problem+json``.

Raise ``ProblemError`` (services.problems) anywhere in a request (route, dependency,
service); the handlers installed by ``install_error_handlers`` turn it, FastAPI's
validation errors, Starlette's HTTP errors and unexpected exceptions into the same shape:
``{"type", "title", "status", "detail", "code"}``, with ``code`` stable for clients.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from domain.masking import scrub
from services.problems import ProblemError

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
    """A request that failed validation (422): ``code: validation_error`` with the
    offending fields in ``errors``, or a route's own refusal code (without them)."""

    errors: list[ValidationIssue] = Field(
        default_factory=list, description="The offending fields (request validation only)."
    )


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


async def _temporal_error_handler(request: Request, exc: Exception) -> Response:
    """Temporal's answers that are the caller's business, not a server fault: acting on a
    process that has already ended (409 ``process_closed``), or Temporal being down (503)."""
    assert isinstance(exc, RPCError)
    if exc.status == RPCStatusCode.NOT_FOUND and "already completed" in exc.message:
        return await _problem_error_handler(
            request,
            ProblemError(409, "process_closed", "Process has ended",
                         "this process has ended and takes no more actions"),
        )  # fmt: skip
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return await _problem_error_handler(
            request,
            ProblemError(503, "temporal_unavailable", "Workflow service unavailable",
                         "try again shortly", headers={"Retry-After": "5"}),
        )  # fmt: skip
    return await _unhandled_error_handler(request, exc)


# The database errors that mean "busy, locked or unreachable right now", not a bug: no
# pooled connection within `db_pool_timeout` (TimeoutError), SQLite's write lock not got
# within `sqlite_busy_timeout` or a file that cannot be opened, a server that refused or
# dropped the connection (OperationalError, DisconnectionError).
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.TimeoutError,
    sa_exc.OperationalError,
    sa_exc.DisconnectionError,
)
DATABASE_RETRY_AFTER = "5"


def database_unavailable() -> ProblemError:
    """503 ``database_unavailable``: the database is busy, locked or unreachable."""
    return ProblemError(
        503,
        "database_unavailable",
        "Database unavailable",
        "The database is busy or cannot be reached right now; try again shortly.",
        headers={"Retry-After": DATABASE_RETRY_AFTER},
    )


async def _database_error_handler(request: Request, exc: Exception) -> Response:
    # Logged without the statement or its parameters (they may hold personal data).
    log.warning("database_unavailable", error=type(exc).__name__, path=request.url.path)
    return await _problem_error_handler(request, database_unavailable())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error_handler)
    app.add_exception_handler(RPCError, _temporal_error_handler)
    for error in DATABASE_UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, _database_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(Exception, _unhandled_error_handler)


# The problem codes an operation may answer with because of what it is, whatever its
# route does: added to every operation they apply to by ``install_problem_openapi``.
AUTH_CODES = ("not_authenticated", "invalid_token")  # 401: any route that needs a token
ROLE_CODES = ("forbidden",)  # 403: a route guarded by ``require_roles``
TEMPORAL_CODES = ("temporal_unavailable",)  # 503: a route that uses the Temporal client
DATABASE_CODES = ("database_unavailable",)  # 503: a route that uses a database session
# 400: a route that takes a body FastAPI cannot decode (JSON that is not UTF-8, a broken form)
UNREADABLE_BODY_CODES = ("bad_request",)
BODY_CODES = ("payload_too_large",)  # 413: a route that takes a body (BodySizeLimitMiddleware)
VALIDATION_CODES = ("validation_error",)  # 422: a route with a body or parameters
INTERNAL_CODES = ("internal_error",)  # 500: any route

# A response's problem codes, machine-readable. Present only when the list is complete:
# a status a route documents without naming its codes (``problem_responses(404)``, a
# hand-written entry) may carry codes no one listed, so it gets none.
PROBLEM_CODES_KEY = "x-problem-codes"
_IMPLIED_CODES_KEY = "x-implied-problem-codes"  # used while the document is rewritten

ProblemSpec = int | Mapping[int, str | Sequence[str]]


def problem_responses(*specs: ProblemSpec) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting a route's own problem answers.

    Each spec is a status, or a mapping of statuses to every problem ``code`` the route
    answers with: ``problem_responses({404: "claim_not_found", 409: ["a", "b"]})``. The
    codes are listed in the response's description and, machine-readable, in its
    ``x-problem-codes`` (a bare status says nothing of its codes, and gets no such list,
    so name them). What every route of a kind answers (401 with a token, 403 with a
    role guard, 400/413/422 with a body, 503 with Temporal or a database session, 500)
    is added to the document by ``install_problem_openapi``: list here only what the
    route itself refuses with.
    """
    codes: dict[int, list[str]] = {}
    for spec in specs:
        entries: Mapping[int, str | Sequence[str]] = {spec: ()} if isinstance(spec, int) else spec
        for status, names in entries.items():
            merged = codes.setdefault(status, [])
            for name in (names,) if isinstance(names, str) else names:
                if name not in merged:
                    merged.append(name)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, names in codes.items():
        entry: dict[str, Any] = {
            "model": ValidationProblem if status == 422 else Problem,
            "description": status_title(status),
        }
        if names:
            entry[PROBLEM_CODES_KEY] = names
        responses[status] = entry
    return responses


def install_problem_openapi(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers do: error responses are
    ``application/problem+json``, 422 bodies are ``ValidationProblem``s, and each operation
    lists the problems it may answer because of what it is (see ``implied_problems``)."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()  # FastAPI's document, cached on the app: rewritten in place
        _add_implied_problems(app, schema)
        _rewrite_error_responses(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _dependency_calls(dependant: Dependant) -> set[Callable[..., Any]]:
    """Every callable a route depends on, directly or through other dependencies."""
    calls: set[Callable[..., Any]] = set()
    for sub in dependant.dependencies:
        if sub.call is not None:
            calls.add(sub.call)
        calls |= _dependency_calls(sub)
    return calls


def implied_problems(route: Any, operation: Mapping[str, Any]) -> dict[int, tuple[str, ...]]:
    """The problems an operation may answer with because of its dependencies and shape.

    `route` is the operation's ``APIRoute`` (or route context): its dependency tree says
    whether it needs a token (401), a role (403), Temporal or the database (503); the operation says
    whether it takes a body (400, 413, 422) or parameters (422); anything may fail (500)."""
    # api.deps imports this module; by the time a document is generated both are loaded.
    from api.deps import (
        get_current_user,
        get_lazy_temporal,
        get_session,
        get_temporal,
        require_roles,
    )

    calls = _dependency_calls(route.dependant)
    guard_prefix = f"{require_roles.__qualname__}.<locals>."  # the guards it makes
    problems: dict[int, tuple[str, ...]] = {}
    if get_current_user in calls or operation.get("security"):
        problems[401] = AUTH_CODES
    if any(getattr(call, "__qualname__", "").startswith(guard_prefix) for call in calls):
        problems[403] = ROLE_CODES
    if "requestBody" in operation:
        problems[400] = UNREADABLE_BODY_CODES
        problems[413] = BODY_CODES
    if "requestBody" in operation or operation.get("parameters"):
        problems[422] = VALIDATION_CODES
    problems[500] = INTERNAL_CODES
    unavailable = (
        *(TEMPORAL_CODES if get_temporal in calls or get_lazy_temporal in calls else ()),
        *(DATABASE_CODES if get_session in calls else ()),
    )
    if unavailable:
        problems[503] = unavailable
    return problems


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """The app's API routes as the document sees them (prefix and router dependencies
    included): ``APIRoute``s, or on newer FastAPI their route contexts (same attributes)."""
    try:  # newer FastAPI keeps included routers as such in app.routes
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: the routes themselves
        yield from (route for route in app.routes if isinstance(route, APIRoute))
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def _add_implied_problems(app: FastAPI, schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            fastapi_422 = responses.get("422", {})
            if _schema_ref(fastapi_422).endswith("/HTTPValidationError"):
                # FastAPI's own 422 for a route with parameters: only validation_error
                # (implied below) unless the route lists more.
                fastapi_422.setdefault(PROBLEM_CODES_KEY, [])
            for status, codes in implied_problems(route, operation).items():
                # A status only implied has just these codes; a documented one keeps its own.
                response = responses.setdefault(str(status), {PROBLEM_CODES_KEY: []})
                response.setdefault(_IMPLIED_CODES_KEY, []).extend(codes)
            # In status order, as a reader scans them (the route's own ones came first).
            operation["responses"] = dict(
                sorted(responses.items(), key=lambda item: (not item[0].isdigit(), item[0]))
            )


def _schema_ref(response: Mapping[str, Any]) -> str:
    body = response.get("content", {}).get("application/json", {})
    return str(body.get("schema", {}).get("$ref", ""))


def _describe_problems(status: int, response: dict[str, Any]) -> None:
    """``"Conflict: `duplicate_claim`"``: the title (or the route's own description) and
    every code known, so the docs page shows them too; ``x-problem-codes`` if complete."""
    listed = response.pop(PROBLEM_CODES_KEY, None)  # None: the route named no codes
    codes = list(dict.fromkeys([*(listed or []), *response.pop(_IMPLIED_CODES_KEY, [])]))
    description = response.get("description") or ""
    # FastAPI's default for 422 and an empty one are replaced by the status title.
    if description in ("", "Validation Error"):
        description = status_title(status)
    named = " · ".join(f"`{code}`" for code in codes if f"`{code}`" not in description)
    response["description"] = f"{description}: {named}" if named else description
    if listed is not None and codes:
        response[PROBLEM_CODES_KEY] = codes


def _rewrite_error_responses(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, definitions = models_json_schema(
        [(Problem, "serialization"), (ValidationProblem, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    for name, definition in definitions.get("$defs", {}).items():
        components.setdefault(name, definition)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
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
                if not body.get("schema"):
                    body = {"schema": validation_ref if status == "422" else problem_ref}
                content.setdefault(PROBLEM_MEDIA_TYPE, body)
                _describe_problems(int(status), response)
    # FastAPI's own validation error shape is never sent; drop it once nothing refers to it.
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{unused}"' not in json.dumps(schema):
            components.pop(unused, None)
