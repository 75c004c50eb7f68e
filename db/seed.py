"""Development users (docs/api.md "Auth"): for the embedded default only, never production.

Each user's password is ``<username>-dev``. The agents and supervisors work in one of two
branches (分公司), the reports' ``group=branch``; ops and customer service in none (the
head office).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.passwords import hash_password, verify_password
from db.repositories.users import get_user, upsert_user
from domain.underwriting import Role


@dataclass(frozen=True)
class DevUser:
    username: str
    roles: tuple[Role, ...]
    approval_limit: Decimal
    branch: str | None = None

    @property
    def password(self) -> str:
        return f"{self.username}-dev"


SHANGHAI_BRANCH = "上海分公司"
BEIJING_BRANCH = "北京分公司"

DEV_USERS: tuple[DevUser, ...] = (
    DevUser("alice", (Role.AGENT,), Decimal("0"), SHANGHAI_BRANCH),
    DevUser("bob", (Role.AGENT,), Decimal("0"), BEIJING_BRANCH),
    DevUser("sam", (Role.AGENT, Role.SUPERVISOR), Decimal("500000.00"), SHANGHAI_BRANCH),
    DevUser("sue", (Role.SUPERVISOR,), Decimal("5000000.00"), SHANGHAI_BRANCH),
    DevUser("sid", (Role.SUPERVISOR,), Decimal("2000000.00"), BEIJING_BRANCH),
    DevUser("olga", (Role.OPS,), Decimal("0")),
    DevUser("cora", (Role.SERVICE,), Decimal("0")),
)


class SeedRefused(RuntimeError):
    """Development users were asked for in production."""


async def seed_dev_users(
    session_factory: async_sessionmaker[AsyncSession], *, environment: str
) -> list[str]:
    """Create the development users, or put back their roles, limits, branches and passwords.

    Idempotent: a user already as listed is left untouched. Raises ``SeedRefused`` in
    production, where well-known passwords must never exist.
    """
    if environment == "production":
        raise SeedRefused("development users are never seeded in production")
    async with session_factory() as session:
        for dev in DEV_USERS:
            existing = await get_user(session, username=dev.username)
            if (
                existing is not None
                and tuple(existing.roles) == dev.roles
                and existing.approval_limit == dev.approval_limit
                and existing.branch == dev.branch
                and await asyncio.to_thread(verify_password, dev.password, existing.password_hash)
            ):
                continue
            await upsert_user(
                session,
                username=dev.username,
                password_hash=await asyncio.to_thread(hash_password, dev.password),
                roles=[str(role) for role in dev.roles],
                approval_limit=dev.approval_limit,
                branch=dev.branch,
            )
        await session.commit()
    return [dev.username for dev in DEV_USERS]
