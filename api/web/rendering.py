"""Pages from templates, and the route class that turns a refusal into a page.

Every page gets the signed-in user (for the navigation), a CSRF token for its forms and the
display filters of ``api.web.formatting``; every answer is ``Cache-Control: no-store``
(pages show case data). ``WebRoute`` answers what a JSON route would answer with a problem
document — no session, wrong role, bad form token, unknown case, Temporal down — with a
redirect to sign-in or an error page in words.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.web import STATIC_PATH, TEMPLATES_DIR, formatting
from api.web.session import (
    INBOX_ROLES,
    OPS_ROLES,
    SESSION_COOKIE,
    PageError,
    SignInRequired,
    clear_session_cookie,
    csrf_cookie_value,
    csrf_token,
    has_any,
    set_csrf_cookie,
    signin_url,
)
from domain.business import money
from domain.masking import scrub
from domain.underwriting import Actor, Role
from services.problems import ProblemError

log = structlog.get_logger("api.web")

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters.update(
    shanghai=formatting.shanghai,
    money=money,
    words=formatting.words,
    scrub=lambda value: scrub(str(value)) if value is not None else "",
)


def task_subject(task: Any, user: Actor | None) -> str:
    """A task's subject for `user`: as the workflow wrote it (the customer's name masked)
    for a supervisor; for ops and admins, who need no personal data, its kind and case."""
    if user is not None and user.has(Role.SUPERVISOR):
        return scrub(str(task.subject))
    return f"{formatting.words(task.kind).capitalize()} {task.case_id}"


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """The page `template` with `context`, the navigation and a form token."""
    user: Actor | None = getattr(request.state, "web_user", None)
    cookie, new_cookie = csrf_cookie_value(request)
    settings = request.app.state.settings
    page = {
        "user": user,
        "can_inbox": user is not None and has_any(user, INBOX_ROLES),
        "can_ops": user is not None and has_any(user, OPS_ROLES),
        "csrf_token": csrf_token(settings, cookie),
        "static": STATIC_PATH,
        "path": request.url.path,
        "subject": lambda task: task_subject(task, user),
        "now": datetime.now(UTC),
        **(context or {}),
    }
    response = templates.TemplateResponse(
        request, template, page, status_code=status_code, headers=NO_STORE
    )
    if new_cookie:
        set_csrf_cookie(response, request, cookie)
    return response


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(
        request,
        "error.html",
        {"title": title, "message": message, "status": status},
        status_code=status,
    )


def redirect(url: str) -> Response:
    """303 See Other: after a form, the browser GETs the page it names."""
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


class WebRoute(APIRoute):
    """A console route: refusals become pages, a missing session a redirect to sign-in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                response = redirect(signin_url(exc.next_path))
                if request.cookies.get(SESSION_COOKIE):  # expired or revoked: drop it
                    clear_session_cookie(response, request)
                return response
            except PageError as exc:
                return error_page(request, exc.status, exc.title, exc.message)
            except ProblemError as exc:
                return error_page(
                    request,
                    exc.status_code,
                    exc.title,
                    formatting.refusal_text(exc.code, detail=str(exc.detail)),
                )
            except RequestValidationError:
                return error_page(
                    request,
                    422,
                    "Not understood",
                    "The address or the form is not valid. Go back and try again.",
                )
            except StarletteHTTPException as exc:
                if exc.status_code < 400:
                    raise
                title = "Not found" if exc.status_code == 404 else "Refused"
                return error_page(request, exc.status_code, title, str(exc.detail))
            except Exception:
                # As RequestContextMiddleware does for the API: logged in full, said briefly.
                log.exception("unhandled_error", method=request.method, path=request.url.path)
                request_id = getattr(request.state, "request_id", "")
                return error_page(
                    request,
                    500,
                    "Something went wrong",
                    "The page could not be shown. Try again; if it persists, quote "
                    f"request {request_id} when reporting it.",
                )

        return page_handler
