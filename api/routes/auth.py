"""Sign-in: OAuth2 password flow issuing bearer tokens, and who-am-I."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.errors import ProblemError, problem_responses
from api.middleware import client_address
from api.schemas import Money
from api.security import create_access_token, verify_password_async
from db.models import User
from db.repositories import audit
from db.repositories.users import get_user
from domain.masking import scrub
from domain.underwriting import Actor, Role

router = APIRouter(prefix="/v1/auth", tags=["auth"])

# Longer than any username the user table can hold: not looked up at all.
_MAX_USERNAME = 64


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


def _invalid_credentials() -> ProblemError:
    # One answer for unknown user, wrong password and inactive user alike.
    return ProblemError(
        401,
        "invalid_credentials",
        "Invalid credentials",
        "The username or password is incorrect.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _refusal_reason(user: User | None, *, password_ok: bool) -> str | None:
    """Why a sign-in is refused, for the audit log only (the caller never learns it)."""
    if user is None:
        return "unknown_user"
    if not password_ok:
        return "wrong_password"
    if not user.active:
        return "inactive_user"
    return None


@router.post("/token", responses=problem_responses({401: "invalid_credentials"}))
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
    """
    username = form.username
    user = await get_user(session, username=username) if len(username) <= _MAX_USERNAME else None
    # Always run one password check, even with no user, so timing says nothing either.
    password_ok = await verify_password_async(form.password, user.password_hash if user else None)
    # The attempted name is kept for the audit trail, masked in case someone typed an ID
    # number or phone into it; the password never is.
    audit_actor = scrub(username)[:_MAX_USERNAME]
    client = client_address(request)
    request_id = getattr(request.state, "request_id", None)

    reason = _refusal_reason(user, password_ok=password_ok)
    if user is None or reason is not None:
        await audit.append(
            session,
            actor=audit_actor,
            action="auth.login_failed",
            client=client,
            request_id=request_id,
            detail={"reason": reason},
        )
        await session.commit()
        raise _invalid_credentials()

    actor = Actor(
        username=user.username,
        roles=tuple(Role(role) for role in user.roles),
        approval_limit=user.approval_limit,
    )
    token, expires_in = create_access_token(settings, actor)
    request.state.user = actor.username  # for the access log line
    await audit.append(
        session, actor=actor.username, action="auth.login", client=client, request_id=request_id
    )
    await session.commit()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenRead(access_token=token, expires_in=expires_in, user=UserRead.from_actor(actor))


@router.get("/me")
async def read_me(actor: CurrentUser) -> UserRead:
    """The signed-in user: username, roles and approval limit, as the user table says now."""
    return UserRead.from_actor(actor)
