"""The audit trail of case actions: who did what to which case, when, from which client.

One ASGI middleware records every state-changing call under ``/v1`` — accepted or refused —
after it is answered, so no route can forget to. Routes that record richer events of their
own (sign-in, the customer policy query, ops actions, the codec) are skipped here. The
``audit_event`` table is append-only (a database trigger refuses UPDATE and DELETE).
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import client_address
from services import audit

log = structlog.get_logger("api.audit")

AUDITED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# These write their own, more specific audit events.
SELF_AUDITED = ("/v1/auth/", "/v1/policy-query", "/v1/ops/", "/codec/")
# Path parameters that name a case, in order of preference.
CASE_PARAMS = (
    "enrollment_id",
    "claim_id",
    "policy_number",
    "workflow_id",
    "task_id",
    "order_id",
)
# Fields of a creation answer that name the new case.
CASE_FIELDS = ("enrollment_id", "claim_id")
_MAX_CAPTURE = 16 * 1024


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in AUDITED_METHODS
            or not path.startswith("/v1/")
            or path.startswith(SELF_AUDITED)
        ):
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and len(body) < _MAX_CAPTURE:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            await self._record(scope, status, bytes(body))

    async def _record(self, scope: Scope, status: int, body: bytes) -> None:
        state: dict[str, Any] = scope.get("state", {})
        route = scope.get("route")
        params: dict[str, Any] = scope.get("path_params", {})
        answer = _json(body)
        case_id = next((str(params[p]) for p in CASE_PARAMS if p in params), None)
        if case_id is None and isinstance(answer, dict):
            case_id = next((str(answer[f]) for f in CASE_FIELDS if f in answer), None)
        endpoint = getattr(route, "endpoint", None)
        action = (
            f"{endpoint.__module__.rsplit('.', 1)[-1]}.{endpoint.__name__}"
            if endpoint is not None
            else f"{scope['method']} {scope.get('path', '')}"
        )
        detail: dict[str, Any] = {"status": status, "outcome": "ok" if status < 400 else "refused"}
        if status >= 400 and isinstance(answer, dict) and "code" in answer:
            detail["code"] = answer["code"]
        actor = state.get("user") or ("gateway" if action.startswith("payments.") else "anonymous")
        client = client_address(HTTPConnection(scope))
        try:
            await audit.record_alone(
                scope["app"].state.session_factory,
                actor=actor,
                action=action,
                case_id=case_id,
                client=client,
                request_id=state.get("request_id"),
                detail=detail,
            )
        except Exception:
            # The answer is already sent; losing its audit line must at least be loud.
            log.exception("audit write failed", action=action, case_id=case_id)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
