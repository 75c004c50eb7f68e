"""ASGI middleware: security headers, request context and access log, body size limit.

Pure ASGI (not ``BaseHTTPMiddleware``): no extra task per request, streaming untouched,
and context variables bound here are the ones the route sees. Outermost first:

    SecurityHeadersMiddleware   headers on every response, error answers included
    RequestContextMiddleware    X-Request-ID, structlog context, access log, 500 problem
    BodySizeLimitMiddleware     413 problem for a body over settings.max_body_bytes
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Collection
from ipaddress import ip_address

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import internal_error_response, problem_locale, problem_response
from domain.texts import N_
from services.audit import Caller
from services.problems import ProblemError

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only if it is short and plain (it lands in logs and the audit log).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# HTML pages (the /ui pages) load nothing from elsewhere and run no inline script.
STRICT_CSP = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their bundles from a CDN and bootstrap with an inline script.
DOCS_CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; "
    "frame-ancestors 'none'"
)

PROBE_PATHS = frozenset({"/healthz", "/readyz"})

access_log = structlog.get_logger("api.access")


def client_address(connection: HTTPConnection) -> str | None:
    """The client's address, as the rate limit and the audit log must see it: the direct
    peer's, unless that peer is one of ``settings.trusted_proxies``; then the
    ``X-Forwarded-For`` entry nearest to us that is not a trusted proxy (entries further
    left were written by whoever sent the request, and prove nothing). None if unknown.

    The one place forwarded headers are believed (uvicorn's own handling is off)."""
    peer = connection.client.host if connection.client else None
    trusted = connection.app.state.settings.trusted_proxy_networks
    if peer is None or not trusted or not _within(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for header in connection.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop if _is_address(hop) else peer
    return hops[0] if hops else peer


def _is_address(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True


def _within(value: str, networks: Collection[object]) -> bool:
    try:
        address = ip_address(value)
    except ValueError:
        return False
    return any(address in network for network in networks)  # type: ignore[operator]


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every response, a CSP to HTML ones, and
    ``Cache-Control: no-store`` to API answers (they may carry personal data)."""

    def __init__(self, app: ASGIApp, *, docs_paths: Collection[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    csp = DOCS_CSP if path in self.docs_paths else STRICT_CSP
                    headers.setdefault("Content-Security-Policy", csp)
                if path.startswith("/v1/"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestContextMiddleware:
    """Gives each request an id (the client's ``X-Request-ID`` if plain, else a new one),
    echoes it, binds it (and, once authenticated, the user) to structlog's context, writes
    one access log line, and answers an unhandled exception with a bare 500 problem."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id

        previous = structlog.contextvars.get_contextvars()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            access_log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if response_started:
                raise
            locale = problem_locale(HTTPConnection(scope))
            await internal_error_response(locale)(scope, receive, send_with_id)
        finally:
            # Probes are routine: logged only when they fail. The query string is left
            # out: it may hold search terms about customers.
            quiet = scope["path"] in PROBE_PATHS and status < 400
            (access_log.debug if quiet else access_log.info)(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                **({"user": state["user"]} if "user" in state else {}),
            )
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**previous)


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413 ``payload_too_large``: at once when
    ``Content-Length`` says so, otherwise as soon as the bytes read pass the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ProblemError:
        return ProblemError(
            413,
            "payload_too_large",
            N_("Payload too large"),
            N_("The request body is larger than %(max_bytes)s bytes."),
            params={"max_bytes": self.max_bytes},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = self._too_large()
            response = problem_response(
                error.status_code,
                error.code,
                error.title,
                error.detail_msgid,
                headers={"Connection": "close"},
                locale=problem_locale(HTTPConnection(scope)),
                params=error.params,
            )
            await response(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI's body reading lets it through to the
                    # problem handler instead of turning it into a 400.
                    raise self._too_large()
            return message

        await self.app(scope, limited_receive, send)


def caller_of(connection: HTTPConnection) -> Caller:
    """Who is calling from where, as the audit trail records it."""
    return Caller(client_address(connection), getattr(connection.state, "request_id", None))
