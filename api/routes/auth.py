"""Sign-in: OAuth2 password flow issuing bearer tokens, sign-out, and who-am-I.

Failed sign-ins are throttled per attempted username and per client address (settings
``login_*``; counts and lockouts in the ``login_throttle`` table, so a restart resets
nothing). A locked username is 423 ``login_locked``, a locked client address 429
``login_throttled``, both with ``Retry-After``, the right password included; an unknown
username is counted and locked exactly like a known one, so neither answer says whether it
exists. Sign-out revokes the token's ``jti`` in the ``revoked_token`` table.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.middleware import caller_of
from api.openapi import problem_responses
from api.schemas import Money
from api.security import TokenClaims, create_access_token, sign_out
from domain.underwriting import Actor, Role
from services import auth

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class UserRead(BaseModel):
    username: str
    roles: list[Role]
    approval_limit: Money

    @classmethod
    def from_actor(cls, actor: Actor) -> UserRead:
        return cls(
            username=actor.username, roles=list(actor.roles), approval_limit=actor.approval_limit
        )


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserRead


@router.post(
    "/token",
    responses=problem_responses(
        {401: "invalid_credentials", 423: "login_locked", 429: "login_throttled"}
    ),
)
async def issue_token(
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenRead:
    """Sign in with a username and password (OAuth2 password form) and get a bearer token.

    Send the token as `Authorization: Bearer <access_token>` until it expires
    (`expires_in` seconds). Wrong credentials give 401 `invalid_credentials`, the same
    answer whether or not the user exists. Every attempt is written to the audit log.

    After `login_user_max_failures` failures for one username within
    `login_failure_window`, that username is locked for `login_lockout`: 423
    `login_locked`, even with the right password. After `login_client_max_failures`
    failures from one client address, the address is: 429 `login_throttled`. Both carry
    `Retry-After` (seconds), and an unknown username is locked just like a known one.
    """
    caller = caller_of(request)
    actor = await auth.sign_in(session, settings, form.username, form.password, caller)
    token, expires_in = create_access_token(settings, actor)
    request.state.user = actor.username  # for the access log line
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenRead(access_token=token, expires_in=expires_in, user=UserRead.from_actor(actor))


@router.post("/logout", status_code=204)
async def logout(request: Request, actor: CurrentUser, session: SessionDep) -> Response:
    """Sign out: the bearer token of this request is revoked at once, on every API process
    and across restarts; using it again is 401 `invalid_token`. Other tokens of the same
    user are untouched."""
    claims: TokenClaims = request.state.token_claims
    await sign_out(session, request.app.state.settings, claims, caller_of(request))
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.get("/me")
async def read_me(actor: CurrentUser) -> UserRead:
    """The signed-in user: username, roles and approval limit, as the user table says now."""
    return UserRead.from_actor(actor)
