"""The console's session and form protection.

The session is the API's own access token (``api.security``) in an HttpOnly,
SameSite=Strict cookie named ``insureflow_session`` (the codec endpoint reads the same
cookie), so a page knows its user exactly as a bearer call does (``api.deps``).

Forms are protected by a signed double-submit token: a random value in the
``insureflow_csrf`` cookie, and in each form HMAC(secret, that value). A POST whose form
token does not match its cookie is refused (403) before anything else happens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep, get_current_user
from core.config import Settings
from domain.texts import N_
from domain.underwriting import Actor, Role
from services.problems import ProblemError

SESSION_COOKIE = "insureflow_session"
CSRF_COOKIE = "insureflow_csrf"
CSRF_FIELD = "csrf"
SIGNIN_PATH = "/ui/signin"
_CSRF_CONTEXT = b"insureflow-console-csrf:"
# Where "next" may lead after sign-in: a page of the console, never the sign-in itself.
_NO_RETURN = ("/ui/signin", "/ui/signout", "/ui/static")


class SignInRequired(Exception):
    """No valid session: the page answers 303 to the sign-in page, coming back to `next`."""

    def __init__(self, next_path: str | None) -> None:
        super().__init__("sign-in required")
        self.next_path = next_path


class PageError(Exception):
    """A page refused in words (403 wrong role or form token, 404 unknown case, ...); the
    title and message are msgids, translated when the error page is rendered."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


# --- cookies -------------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )


def csrf_cookie_value(request: Request) -> tuple[str, bool]:
    """The request's CSRF cookie value, or a new one; and whether it is new (to be set)."""
    value = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(value) <= 100:
        return value, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        CSRF_COOKIE, value, path="/ui", httponly=True, samesite="strict", secure=_secure(request)
    )


def csrf_token(settings: Settings, cookie_value: str) -> str:
    """The form token that goes with `cookie_value`: only this server can make it."""
    key = settings.resolved_jwt_secret().encode()
    return hmac.new(key, _CSRF_CONTEXT + cookie_value.encode(), hashlib.sha256).hexdigest()


def csrf_ok(settings: Settings, request: Request, submitted: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(csrf_token(settings, cookie), submitted)


async def require_csrf(
    request: Request, settings: SettingsDep, csrf: Annotated[str, Form()] = ""
) -> None:
    """Every POST form of the console depends on this: 403 unless its token matches."""
    if not csrf_ok(settings, request, csrf):
        raise PageError(
            403,
            N_("Form expired"),
            N_(
                "This form has expired or did not come from this site. "
                "Go back, reload the page and try again; nothing was changed."
            ),
        )


# --- where to go ---------------------------------------------------------------------------


def safe_next(value: str | None) -> str | None:
    """`value` if it is a page of this console (a local path under /ui), else None."""
    if not value or len(value) > 1000:
        return None
    if any(ch in value for ch in "\\\r\n\t") or value.startswith("//"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    if not (parts.path == "/ui" or parts.path.startswith("/ui/")):
        return None
    if parts.path.startswith(_NO_RETURN) or ".." in parts.path:
        return None
    return value


def signin_url(next_path: str | None) -> str:
    target = safe_next(next_path)
    return SIGNIN_PATH + (f"?next={quote(target, safe='/')}" if target else "")


def _return_to(request: Request) -> str | None:
    """The page to come back to after signing in: this one, or for a form the page it was on."""
    path = request.url.path
    if request.method != "GET":
        path = path.rsplit("/", 1)[0]  # /ui/tasks/X/decision → /ui/tasks/X
        return safe_next(path)
    query = request.url.query
    return safe_next(path + (f"?{query}" if query else ""))


# --- who is signed in ----------------------------------------------------------------------


async def web_user(request: Request, settings: SettingsDep, session: SessionDep) -> Actor:
    """The signed-in user, checked exactly as a bearer token is (``api.deps``); without a
    valid session the page redirects to sign-in."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired(_return_to(request))
    try:
        user = await get_current_user(request, settings, session, token)
    except ProblemError as err:
        if err.status_code == 401:
            raise SignInRequired(_return_to(request)) from None
        raise
    request.state.web_user = user
    return user


WebUser = Annotated[Actor, Depends(web_user)]

# As GET /v1/tasks, and customer service for its own kinds (api.web.inbox.SERVICE_KINDS).
INBOX_ROLES = (Role.SUPERVISOR, Role.OPS, Role.ADMIN, Role.SERVICE)
OPS_ROLES = (Role.OPS,)  # as /v1/ops
REPORT_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.OPS)  # as GET /v1/reports


def has_any(user: Actor, roles: tuple[Role, ...]) -> bool:
    return any(user.has(role) for role in roles)


def page_roles(*roles: Role) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency: the signed-in user if they hold one of `roles`, else a 403 page."""

    async def guard(user: WebUser) -> Actor:
        if not has_any(user, roles):
            raise PageError(
                403,
                N_("Not for your role"),
                N_("This page is not available to your role. Use the navigation above."),
            )
        return user

    return guard


InboxUser = Annotated[Actor, Depends(page_roles(*INBOX_ROLES))]
OpsUser = Annotated[Actor, Depends(page_roles(*OPS_ROLES))]


def home_for(user: Actor) -> str:
    """Where a user lands after signing in: the inbox, or for agents the page saying that
    their work happens elsewhere."""
    return "/ui/inbox" if has_any(user, INBOX_ROLES) else "/ui/agent"
