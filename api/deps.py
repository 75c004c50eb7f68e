"""Request dependencies, as ``Annotated`` aliases that routes declare as parameters.

For example ``async def decide(actor: SupervisorUser, temporal: TemporalDep, session:
SessionDep)``, or a guard alone with ``dependencies=[Depends(require_roles(Role.OPS))]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.security import decode_access_token
from api.temporal_client import ensure_temporal
from core.config import Settings
from domain.texts import N_
from domain.underwriting import Actor, Role
from gateways.payment import PaymentGateway, gateway_for
from services.auth import actor_for_token, not_authenticated
from services.problems import ProblemError

TOKEN_URL = "/v1/auth/token"

# auto_error=False: a missing token is answered by our own 401 problem, not FastAPI's.
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
BearerToken = Annotated[str | None, Depends(_bearer)]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, closed (and any open transaction rolled back) after it.
    Routes commit what they change with ``await session.commit()``."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    async with factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_temporal(request: Request) -> Client:
    """The shared Temporal client; 503 ``temporal_unavailable`` while it cannot be reached."""
    client = await ensure_temporal(request.app)
    if client is None:
        raise ProblemError(
            503,
            "temporal_unavailable",
            N_("Workflow service unavailable"),
            N_("The workflow service cannot be reached right now; try again shortly."),
            headers={"Retry-After": "5"},
        )
    return client


TemporalDep = Annotated[Client, Depends(get_temporal)]


def get_gateway(request: Request, settings: SettingsDep) -> PaymentGateway:
    """The payment gateway, as the worker's activities see it (for late-payment refunds)."""
    return gateway_for(settings, request.app.state.session_factory)


GatewayDep = Annotated[PaymentGateway, Depends(get_gateway)]


class LazyTemporal:
    """The Temporal client on demand, for a route that needs it on one path only (a read
    the read model answers for a finished case): ``client = await temporal()`` connects,
    or raises 503 ``temporal_unavailable``, only when that path is taken."""

    def __init__(self, request: Request) -> None:
        self._request = request

    async def __call__(self) -> Client:
        return await get_temporal(self._request)


def get_lazy_temporal(request: Request) -> LazyTemporal:
    return LazyTemporal(request)


LazyTemporalDep = Annotated[LazyTemporal, Depends(get_lazy_temporal)]


async def get_current_user(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    token: BearerToken,
) -> Actor:
    """The caller, from their bearer token, as the user table describes them now.

    The token proves who they are; roles and approval limit come from the user row, so
    deactivating or demoting someone takes effect at once. A token revoked by sign-out is
    refused (the revocation is a database row: it holds across restarts). Missing token:
    401 ``not_authenticated``; bad, expired, revoked, or for an unknown or inactive user:
    401 ``invalid_token``. The verified claims are left in ``request.state.token_claims``.
    """
    if not token:
        raise not_authenticated()
    claims = decode_access_token(settings, token)
    actor = await actor_for_token(session, username=claims.username, token_id=claims.token_id)
    request.state.token_claims = claims
    request.state.user = actor.username  # for the access log line (api.middleware)
    structlog.contextvars.bind_contextvars(user=actor.username)
    return actor


CurrentUser = Annotated[Actor, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency that answers 403 ``forbidden`` unless the caller holds one of `roles`.

    Roles are never implied: ``admin`` passes only where it is listed.
    """
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = ", ".join(str(role) for role in roles)

    async def guard(actor: CurrentUser) -> Actor:
        if not any(actor.has(role) for role in roles):
            raise ProblemError(
                403,
                "forbidden",
                N_("Forbidden"),
                N_("This action needs one of the roles: %(roles)s."),
                params={"roles": allowed},
            )
        return actor

    guard.__name__ = f"require_{'_or_'.join(str(role) for role in roles)}"
    return guard


AgentUser = Annotated[Actor, Depends(require_roles(Role.AGENT))]
SupervisorUser = Annotated[Actor, Depends(require_roles(Role.SUPERVISOR))]
OpsUser = Annotated[Actor, Depends(require_roles(Role.OPS))]
# Who corrects the account of a payout the bank declined (a claim's, a cash value's).
PayoutFixer = Annotated[Actor, Depends(require_roles(Role.OPS, Role.SUPERVISOR))]
