"""Engines and session factories: SQLite connection settings, commits, savepoints."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from db.migrate import upgrade_async
from db.repositories.ledger import count_entries, record_entry
from db.session import Pool, make_engine, make_session_factory


async def test_sqlite_engine_makes_its_directory_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "dir" / "insureflow.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ["journal_mode", "foreign_keys", "busy_timeout", "synchronous"]
            }
    finally:
        await engine.dispose()
    assert path.exists()
    # synchronous=NORMAL reads back as 1.
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 1,
    }


async def test_engine_without_a_pool_opens_a_connection_per_checkout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'insureflow.db'}", pool=Pool(None))
    seen: list[object] = []  # kept alive, so two live objects are compared
    try:
        for _ in range(2):
            async with engine.connect() as connection:
                raw = await connection.get_raw_connection()
                seen.append(raw.driver_connection)
                # The pragmas run on every new connection, pooled or not.
                busy = await connection.exec_driver_sql("PRAGMA busy_timeout")
                assert busy.scalar() == 30000
    finally:
        await engine.dispose()
    assert isinstance(engine.pool, NullPool)
    assert seen[0] is not seen[1]
    pooled = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'insureflow.db'}", pool=Pool(2))
    assert pooled.pool.size() == 2  # type: ignore[attr-defined]
    await pooled.dispose()


async def test_each_backend_gets_its_pool(tmp_path: Path) -> None:
    # SQLite: one connection, no overflow (its transactions take the one write lock in
    # turn anyway); a server database: ten, and ten more while all are busy. No connection
    # is opened here.
    sqlite = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'insureflow.db'}")
    server = make_engine("postgresql+asyncpg://insureflow@127.0.0.1:1/none")
    try:
        assert (sqlite.pool.size(), sqlite.pool._max_overflow) == (1, 0)  # type: ignore[attr-defined]
        assert (server.pool.size(), server.pool._max_overflow) == (10, 10)  # type: ignore[attr-defined]
    finally:
        await sqlite.dispose()
        await server.dispose()


async def test_in_memory_sqlite_engine_works() -> None:
    engine = make_engine("sqlite+aiosqlite:///:memory:", pool=Pool(3))
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_factory_sessions_commit_and_roll_back_savepoints(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'insureflow.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        async with factory() as session, session.begin():
            first = await record_entry(
                session,
                idempotency_key="premium:A1",
                kind="premium",
                case_id="A1",
                amount=Decimal("100.00"),
                status="pending",
            )
            # A failed savepoint rolls back alone (needs SQLAlchemy, not sqlite3, to BEGIN).
            with pytest.raises(IntegrityError):
                async with session.begin_nested():
                    await record_entry(
                        session,
                        idempotency_key="premium:A2",
                        kind="gift",  # refused by the CHECK constraint
                        case_id="A1",
                        amount=Decimal("100.00"),
                        status="pending",
                    )
        # expire_on_commit=False: still readable after the commit, without I/O.
        assert first.idempotency_key == "premium:A1"
        async with factory() as session:
            assert await count_entries(session, idempotency_key="premium:A1") == 1
            assert await count_entries(session, idempotency_key="premium:A2") == 0
    finally:
        await engine.dispose()
