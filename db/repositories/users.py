"""Users of the API: agents, supervisors, ops, admins."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User, new_id, utcnow
from db.upsert import insert_or_update


async def get_user(session: AsyncSession, *, username: str) -> User | None:
    """The user with this username, active or not; None if there is none."""
    return await session.scalar(select(User).where(User.username == username))


async def set_password_hash(session: AsyncSession, user: User, password_hash: str) -> None:
    """Store a new hash of the user's (unchanged) password: parameters brought up to date."""
    user.password_hash = password_hash
    user.updated_at = utcnow()


async def upsert_user(
    session: AsyncSession,
    *,
    username: str,
    password_hash: str,
    roles: list[str],
    approval_limit: Decimal,
    branch: str | None = None,
) -> User:
    """Create the user, or reset the password, roles, limit and branch of the existing one."""
    now = utcnow()
    await insert_or_update(
        session,
        User,
        key="username",
        values={
            "id": new_id(),
            "username": username,
            "password_hash": password_hash,
            "roles": roles,
            "approval_limit": approval_limit,
            "branch": branch,
            "active": True,
            "created_at": now,
            "updated_at": now,
        },
        update=("password_hash", "roles", "approval_limit", "branch", "updated_at"),
    )
    written = await session.scalars(
        select(User).where(User.username == username).execution_options(populate_existing=True)
    )
    return written.one()


async def branches(session: AsyncSession) -> dict[str, str]:
    """Each user's branch by username, for the users who have one."""
    query = select(User.username, User.branch).where(User.branch.is_not(None))
    return {username: branch for username, branch in (await session.execute(query)).all() if branch}
