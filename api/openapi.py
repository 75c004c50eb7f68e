"""The OpenAPI document says what the error handlers do.

Routes declare the problems they refuse with themselves (``problem_responses``); what an
operation answers because of what it is (a token, a role, a body, Temporal or the
database) is added to every operation by ``install_problem_openapi``, and every error
response is documented as ``application/problem+json`` (api.errors).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from api.deps import get_current_user, get_lazy_temporal, get_session, get_temporal, require_roles
from api.errors import PROBLEM_MEDIA_TYPE, Problem, ValidationProblem, status_title
from domain.refusals import REFUSALS, refusal_for

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

# A status (its codes unnamed), a mapping of statuses to the codes answered with them, or
# a refusal code registered in domain.refusals (its status is the registry's).
ProblemSpec = int | str | Mapping[int, str | Sequence[str]]


def problem_responses(*specs: ProblemSpec) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting a route's own problem answers.

    Each spec is a status, a mapping of statuses to every problem ``code`` the route
    answers with: ``problem_responses({404: "claim_not_found", 409: ["a", "b"]})``, or a
    refusal code of ``domain.refusals``, documented under the registry's status. A
    registered code listed under any other status is a ValueError, so the document says
    what the registry answers; but for 404: a route whose path names the thing (GET
    /v1/products/{code}) answers that it is not there with the code a body naming it gets. The
    codes are listed in the response's description and, machine-readable, in its
    ``x-problem-codes`` (a bare status says nothing of its codes, and gets no such list,
    so name them). What every route of a kind answers (401 with a token, 403 with a
    role guard, 400/413/422 with a body, 503 with Temporal or a database session, 500)
    is added to the document by ``install_problem_openapi``: list here only what the
    route itself refuses with.
    """
    codes: dict[int, list[str]] = {}
    for spec in specs:
        entries: Mapping[int, str | Sequence[str]]
        if isinstance(spec, int):
            entries = {spec: ()}
        elif isinstance(spec, str):
            entries = {refusal_for(spec).status: spec}
        else:
            entries = spec
        for status, names in entries.items():
            merged = codes.setdefault(status, [])
            for name in (names,) if isinstance(names, str) else names:
                registered = REFUSALS.get(name)
                if registered is not None and status not in (registered.status, 404):
                    raise ValueError(
                        f"{name} answers {registered.status} (domain.refusals), not {status}"
                    )
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
