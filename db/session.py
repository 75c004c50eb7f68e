"""Engines and session factories. Made at start-up (the API lifespan, the worker), never
at import."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

# Run on every new SQLite connection. WAL lets readers work beside the one writer; the busy
# timeout makes a second writer (API and worker share the file) wait instead of failing;
# NORMAL sync is safe in WAL mode and much faster than FULL.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",  # writers queue on one lock; wait, do not fail
    "PRAGMA synchronous=NORMAL",
)
# The default waits (seconds): for SQLite's write lock (the busy_timeout above) and for a
# pooled connection (SQLAlchemy's default). The API passes shorter ones from its settings
# (`sqlite_busy_timeout`, `db_pool_timeout`), so a locked database is a quick 503.
DEFAULT_BUSY_TIMEOUT = 30.0
DEFAULT_POOL_TIMEOUT = 30.0


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of a SQLite URL, or None for other backends and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def ensure_sqlite_directory(url: str | URL) -> None:
    """Create the parent directory of a SQLite database file if it is missing."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class Pool:
    """A connection pool: `size` connections kept, up to `overflow` more opened while all
    are in use (closed again on return); `size=None` opens a new connection for each
    checkout (no pool)."""

    size: int | None
    overflow: int = 0


# The pools `make_engine` gives each backend, measured by `make bench` (docs/benchmarks.md,
# "pools"). SQLite: one connection per process. Every transaction takes the file's one write
# lock (BEGIN IMMEDIATE, below), so a second connection adds no concurrency; and a
# transaction waiting in the pool's queue is served first come, first served, where one
# waiting on the lock sleeps in SQLite's busy handler and may be overtaken again and again
# (the worker's batched write at 20 in flight: the same throughput, p99 0.15 s against 2.0 s
# with ten connections).
SQLITE_POOL = Pool(1)
SERVER_POOL = Pool(10, overflow=10)


def make_engine(
    url: str,
    *,
    pool: Pool | None = None,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
) -> AsyncEngine:
    """An async engine for `url` (`sqlite+aiosqlite:///...` or `postgresql+asyncpg://...`),
    with `pool`, or the backend's (above). `pool_timeout`: seconds a checkout waits for a
    pooled connection before ``sqlalchemy.exc.TimeoutError``; `busy_timeout` (SQLite):
    seconds a transaction waits for the write lock before "database is locked"."""
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    chosen = pool or (SQLITE_POOL if sqlite else SERVER_POOL)
    options: dict[str, Any] = {"poolclass": NullPool}
    if chosen.size is not None:
        options = {
            "pool_size": chosen.size,
            "max_overflow": chosen.overflow,
            "pool_timeout": pool_timeout,
        }
    if not sqlite:
        # The connect timeout bounds an unreachable server the way pool_timeout bounds a
        # busy pool.
        connect_args = {"timeout": pool_timeout}
        return create_async_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **options)

    ensure_sqlite_directory(parsed)
    # In-memory SQLite uses a static pool, which takes no size.
    engine = create_async_engine(parsed, **(options if sqlite_file(parsed) is not None else {}))
    _configure_sqlite(engine, busy_timeout_ms=round(busy_timeout * 1000))
    return engine


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The sqlite3 module's own transaction handling starts transactions late and
        # breaks SAVEPOINT; turn it off and let SQLAlchemy emit BEGIN itself (below).
        # Autocommit here also lets `journal_mode=WAL` run, which it refuses in a transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                if pragma.startswith("PRAGMA busy_timeout="):
                    pragma = f"PRAGMA busy_timeout={busy_timeout_ms}"
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        # IMMEDIATE: take the write lock at the start, waiting up to busy_timeout for it. A
        # deferred transaction that reads and then writes after another connection has
        # committed cannot upgrade its snapshot and fails at once with "database is locked"
        # (the busy handler is not even called), which the API and the worker — two
        # processes writing one file — hit under load. So SQLite runs our transactions
        # one at a time (each takes milliseconds); PostgreSQL is the store for real
        # concurrency.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for `engine`. Objects stay readable after commit (no lazy reload in async)."""
    return async_sessionmaker(engine, expire_on_commit=False)
