"""Sign-in and sign-out, and the landing page of agents (whose work is not in the console).

Signing in is ``POST /v1/auth/token`` itself (``api.routes.auth.issue_token``): the same
password check, the same answer for a wrong user or password, the same audit rows; the
token it issues becomes the session cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import SessionDep, SettingsDep
from api.errors import ProblemError
from api.routes import auth as auth_routes
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
from domain.underwriting import Actor, Role

router: APIRouter = APIRouter(route_class=WebRoute)

# The sign-in refusals of POST /v1/auth/token, in words (the same for any username).
_SIGNIN_REFUSALS = {
    401: "The username or password is incorrect.",
    423: "Too many failed sign-ins for this username. Wait 15 minutes and try again.",
    429: "Too many failed sign-ins from this computer. Wait 15 minutes and try again.",
}


@router.get("/")
async def console_home(request: Request) -> Response:
    """The console's root: the inbox (which redirects to sign-in when needed)."""
    return redirect("/ui/inbox")


@router.get("/signin")
async def signin_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return render(request, "signin.html", {"title": "Sign in", "next": safe_next(next) or ""})


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
    form = OAuth2PasswordRequestForm(username=username.strip(), password=password)
    try:
        issued = await auth_routes.issue_token(
            request=request, response=Response(), form=form, session=session, settings=settings
        )
    except ProblemError as err:
        if err.status_code not in _SIGNIN_REFUSALS:
            raise
        page = render(
            request,
            "signin.html",
            {
                "title": "Sign in",
                "next": safe_next(next) or "",
                "username": username.strip()[:64],
                "error": _SIGNIN_REFUSALS[err.status_code],
            },
            status_code=err.status_code,
        )
        if err.headers and "Retry-After" in err.headers:
            page.headers["Retry-After"] = err.headers["Retry-After"]
        return page
    user = Actor(
        username=issued.user.username,
        roles=tuple(issued.user.roles),
        approval_limit=issued.user.approval_limit,
    )
    home = home_for(user)
    target = safe_next(next) if home == "/ui/inbox" else None
    response = redirect(target or home)
    set_session_cookie(response, request, issued.access_token, issued.expires_in)
    return response


@router.post("/signout", dependencies=[Depends(require_csrf)])
async def signout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """End the session: its token is revoked (as ``POST /v1/auth/logout`` does: a copy of
    the cookie, or the token used as a bearer, is refused from now on) and the cookie
    cleared."""
    response = redirect("/ui/signin")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await auth_routes.end_session_of_token(request, session, settings, token)
        clear_session_cookie(response, request)
    return response


@router.get("/agent")
async def agent_home(request: Request, user: WebUser) -> Response:
    """Agents sign in here: their cases are run from the agency's systems over the API, and
    the console has no inbox for them."""
    if has_any(user, (Role.SUPERVISOR, Role.OPS, Role.ADMIN)):
        return redirect(home_for(user))
    return render(request, "agent.html", {"title": "No inbox for agents"})
