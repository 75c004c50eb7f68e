"""Problem details (RFC 9457): every 4xx/5xx body is ``application/problem+json``.

Raise ``ProblemError`` (services.problems) anywhere in a request (route, dependency,
service); the handlers installed by ``install_error_handlers`` turn it, FastAPI's
validation errors, Starlette's HTTP errors and unexpected exceptions into the same shape:
``{"type", "title", "status", "detail", "code"}``, with ``code`` stable for clients.

``title`` and ``detail`` are said in the request's language: Chinese when its
``Accept-Language`` prefers ``zh``, English otherwise (``Content-Language`` says which).
They are translated here, at the edge, by looking the English texts up as msgids of the
message catalogues (``core.i18n``); services and domain stay language-free.
"""

from __future__ import annotations

import http
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from temporalio.service import RPCError, RPCStatusCode

from core.i18n import EN, gettext, negotiate
from domain.masking import scrub
from domain.texts import N_
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
    locale: str = EN,
    params: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response; `title` and `detail` are msgids, said in
    `locale` (`detail` with `params` put in). A text the catalogue lacks is sent as given."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": gettext(locale, title) if title else title,
        "status": status,
        "detail": gettext(locale, detail, params) if detail else detail,
        "code": code,
    }
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return JSONResponse(
        body,
        status_code=status,
        headers={**(headers or {}), "Content-Language": locale.replace("_", "-")},
        media_type=PROBLEM_MEDIA_TYPE,
    )


def problem_locale(request: HTTPConnection | None) -> str:
    """The language of a problem body: ``zh_CN`` if Accept-Language prefers Chinese, else
    English (clients written against the English texts keep them)."""
    header = request.headers.get("accept-language") if request is not None else None
    return negotiate(header, default=EN)


def internal_error_response(locale: str = EN) -> JSONResponse:
    """The 500 answer: says nothing about what went wrong inside (the log does)."""
    return problem_response(
        500,
        "internal_error",
        N_("Internal Server Error"),
        N_("An unexpected error occurred. Quote the X-Request-ID header when reporting it."),
        locale=locale,
    )


async def _problem_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status_code,
        exc.code,
        exc.title,
        exc.detail_msgid,
        headers=exc.headers,
        extra=exc.extra,
        locale=problem_locale(request),
        params=exc.params,
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
        locale=problem_locale(request),
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
        N_("Validation error"),
        N_("Invalid request: %(fields)s") if fields else N_("Invalid request"),
        extra={"errors": issues},
        locale=problem_locale(request),
        params={"fields": ", ".join(fields)} if fields else None,
    )


async def _unhandled_error_handler(request: Request, exc: Exception) -> Response:
    # Normally RequestContextMiddleware answers first; this covers anything outside it.
    log.error("unhandled_error", exc_info=exc)
    return internal_error_response(problem_locale(request))


async def _temporal_error_handler(request: Request, exc: Exception) -> Response:
    """Temporal's answers that are the caller's business, not a server fault: acting on a
    process that has already ended (409 ``process_closed``), or Temporal being down (503)."""
    assert isinstance(exc, RPCError)
    if exc.status == RPCStatusCode.NOT_FOUND and "already completed" in exc.message:
        return await _problem_error_handler(
            request,
            ProblemError(
                409,
                "process_closed",
                N_("Process has ended"),
                N_("this process has ended and takes no more actions"),
            ),
        )
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return await _problem_error_handler(
            request,
            ProblemError(
                503,
                "temporal_unavailable",
                N_("Workflow service unavailable"),
                N_("try again shortly"),
                headers={"Retry-After": "5"},
            ),
        )
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
        N_("Database unavailable"),
        N_("The database is busy or cannot be reached right now; try again shortly."),
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
