"""The customer's policy-query password, stored hashed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import QueryCredential, utcnow
from db.upsert import insert_or_update


async def store_query_credential(
    session: AsyncSession, *, application_no: str, password_hash: str
) -> None:
    """Set the query password hash of an application, replacing any earlier one."""
    await insert_or_update(
        session,
        QueryCredential,
        key="application_no",
        values={
            "application_no": application_no,
            "password_hash": password_hash,
            "created_at": utcnow(),
        },
        update=("password_hash", "created_at"),
    )


async def get_query_credential(
    session: AsyncSession, *, application_no: str
) -> QueryCredential | None:
    """The query credential of an application, or None."""
    return await session.get(QueryCredential, application_no, populate_existing=True)


async def rehash_query_credential(
    session: AsyncSession, credential: QueryCredential, password_hash: str
) -> None:
    """Store a new hash of the same query password (parameters brought up to date); the
    credential keeps its `created_at`."""
    credential.password_hash = password_hash
