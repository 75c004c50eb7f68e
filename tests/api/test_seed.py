"""db.seed: the development users."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.passwords import verify_password
from db.models import User
from db.seed import DEV_USERS, SeedRefused, seed_dev_users


async def users(factory: async_sessionmaker[AsyncSession]) -> dict[str, User]:
    async with factory() as session:
        return {u.username: u for u in await session.scalars(select(User))}


def test_the_dev_users_are_the_api_md_table() -> None:
    assert {(u.username, u.roles, u.approval_limit, u.branch) for u in DEV_USERS} == {
        ("alice", ("agent",), Decimal("0"), "上海分公司"),
        ("bob", ("agent",), Decimal("0"), "北京分公司"),
        ("sam", ("agent", "supervisor"), Decimal("500000.00"), "上海分公司"),
        ("sue", ("supervisor",), Decimal("5000000.00"), "上海分公司"),
        ("sid", ("supervisor",), Decimal("2000000.00"), "北京分公司"),
        ("olga", ("ops",), Decimal("0"), None),
        ("cora", ("service",), Decimal("0"), None),
    }


async def test_seeding_refuses_production_and_writes_nothing(
    api_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    before = await users(api_session_factory)

    with pytest.raises(SeedRefused):
        await seed_dev_users(api_session_factory, environment="production")

    assert {n: u.updated_at for n, u in (await users(api_session_factory)).items()} == {
        n: u.updated_at for n, u in before.items()
    }


async def test_seeded_users_have_their_dev_passwords(
    api_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await users(api_session_factory)  # the fixtures' database is seeded

    for dev in DEV_USERS:
        assert verify_password(f"{dev.username}-dev", seeded[dev.username].password_hash)
        assert seeded[dev.username].password_hash.startswith("$argon2id$")


async def test_seeding_again_changes_nothing(
    api_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    before = await users(api_session_factory)

    names = await seed_dev_users(api_session_factory, environment="development")

    after = await users(api_session_factory)
    assert names == ["alice", "bob", "sam", "sue", "sid", "olga", "cora"]
    assert set(after) == set(before)
    assert {n: (u.id, u.password_hash) for n, u in after.items()} == {
        n: (u.id, u.password_hash) for n, u in before.items()
    }


async def test_seeding_again_restores_a_changed_user(
    api_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with api_session_factory() as session:
        await session.execute(
            update(User)
            .where(User.username == "sue")
            .values(roles=["agent"], approval_limit=Decimal("1"), password_hash="x", branch=None)
        )
        await session.commit()

    await seed_dev_users(api_session_factory, environment="test")

    sue = (await users(api_session_factory))["sue"]
    assert (sue.roles, sue.approval_limit, sue.branch) == (
        ["supervisor"],
        Decimal("5000000.00"),
        "上海分公司",
    )
    assert verify_password("sue-dev", sue.password_hash)
