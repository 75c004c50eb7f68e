"""Sign-in and sign-out, the language switch, and the landing page of agents (whose work is
not in the console).

Signing in is what ``POST /v1/auth/token`` does (``services.auth.sign_in``): the same
password check, the same answer for a wrong user or password, the same audit rows; the
token it issues becomes the session cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep
from api.middleware import caller_of
from api.security import create_access_token, sign_out_token
from api.web.language import back_to, page_language, remember
from api.web.rendering import WebRoute, redirect, render
from api.web.session import (
    SESSION_COOKIE,
    WebUser,
    clear_session_cookie,
    has_any,
    home_for,
    require_csrf,
    safe_next,
    set_session_cookie,
)
from core.i18n import chosen
from domain.texts import N_
from domain.underwriting import Role
from services import auth
from services.problems import ProblemError

router: APIRouter = APIRouter(route_class=WebRoute)

# The sign-in refusals of POST /v1/auth/token, in words (the same for any username).
_SIGNIN_REFUSALS = {
    401: N_("The username or password is incorrect."),
    423: N_("Too many failed sign-ins for this username. Wait 15 minutes and try again."),
    429: N_("Too many failed sign-ins from this computer. Wait 15 minutes and try again."),
}


@router.get("/")
async def console_home(request: Request) -> Response:
    """The console's root: the inbox (which redirects to sign-in when needed)."""
    return redirect("/ui/inbox")


@router.get("/signin")
async def signin_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    _ = page_language(request).gettext
    return render(request, "signin.html", {"title": _("Sign in"), "next": safe_next(next) or ""})


@router.post("/signin", dependencies=[Depends(require_csrf)])
async def signin(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Check the password as ``POST /v1/auth/token`` does and start a session."""
    try:
        user = await auth.sign_in(session, settings, username.strip(), password, caller_of(request))
    except ProblemError as err:
        if err.status_code not in _SIGNIN_REFUSALS:
            raise
        _ = page_language(request).gettext
        page = render(
            request,
            "signin.html",
            {
                "title": _("Sign in"),
                "next": safe_next(next) or "",
                "username": username.strip()[:64],
                "error": _(_SIGNIN_REFUSALS[err.status_code]),
            },
            status_code=err.status_code,
        )
        if err.headers and "Retry-After" in err.headers:
            page.headers["Retry-After"] = err.headers["Retry-After"]
        return page
    token, expires_in = create_access_token(settings, user)
    request.state.user = user.username  # for the access log line
    home = home_for(user)
    target = safe_next(next) if home == "/ui/inbox" else None
    response = redirect(target or home)
    set_session_cookie(response, request, token, expires_in)
    return response


@router.post("/signout", dependencies=[Depends(require_csrf)])
async def signout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """End the session: its token is revoked (as ``POST /v1/auth/logout`` does: a copy of
    the cookie, or the token used as a bearer, is refused from now on) and the cookie
    cleared."""
    response = redirect("/ui/signin")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await sign_out_token(session, settings, token, caller_of(request))
        clear_session_cookie(response, request)
    return response


@router.get("/agent")
async def agent_home(request: Request, user: WebUser) -> Response:
    """Agents sign in here: their cases are run from the agency's systems over the API, and
    the console has no inbox for them."""
    if has_any(user, (Role.SUPERVISOR, Role.OPS, Role.ADMIN)):
        return redirect(home_for(user))
    _ = page_language(request).gettext
    return render(request, "agent.html", {"title": _("No inbox for agents")})


@router.post("/language", dependencies=[Depends(require_csrf)])
async def choose_language(
    request: Request,
    locale: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """The language switch: remember the chosen language (a cookie) and go back to the page
    it was chosen on. Signed in or not: the sign-in page has the switch too."""
    response = redirect(back_to(next))
    picked = chosen(locale)
    if picked is not None:
        remember(response, request, picked)
    return response
