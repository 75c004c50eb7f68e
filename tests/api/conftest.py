"""API fixtures, reusable by every API test module.

- ``api_temporal_client``: the Temporal client given to the app; None here (the app then
  tries ``app_settings.temporal_address``, a closed port, and runs without Temporal).
  Override it in a module or a conftest to hand the app a real client.
- ``api_database_url``: a SQLite file migrated to head with the dev users seeded, fresh
  for each test (a copy of one template made per session).
- ``app_settings``: Settings for that database, a fixed JWT secret and the test keyring.
- ``api_app``: ``create_app(app_settings, temporal_client=api_temporal_client)`` with its
  lifespan running; ``api_session_factory``: its session factory, for direct DB checks.
- ``api_client``: an ``httpx.AsyncClient`` on the app (base URL http://testserver).
- ``token_for(username)`` / ``auth_headers(username)``: a valid token (or the header
  dict) for a seeded user, minted directly, without the (slow) password check.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.main import create_app
from api.security import create_access_token
from core.config import Settings
from db.migrate import upgrade_async
from db.seed import DEV_USERS, seed_dev_users
from db.session import make_engine, make_session_factory
from domain.underwriting import Actor
from tests.support import keyring_spec

# Nothing listens on port 1: connecting fails at once with "connection refused".
UNREACHABLE_TEMPORAL = "127.0.0.1:1"
TEST_JWT_SECRET = "insureflow-test-jwt-secret-" + "0123456789abcdef" * 3
DB_FILE = "insureflow.db"


@pytest.fixture(scope="session")
async def api_database_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the dev users, made once per test session."""
    directory = tmp_path_factory.mktemp("api-template")
    url = f"sqlite+aiosqlite:///{directory / DB_FILE}"
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        await seed_dev_users(make_session_factory(engine), environment="test")
    finally:
        await engine.dispose()  # closing the last connection checkpoints the WAL
    return directory


@pytest.fixture
def api_database_url(api_database_template: Path, tmp_path: Path) -> str:
    """A private copy of the template database for one test."""
    target = tmp_path / "db"
    target.mkdir()
    for source in api_database_template.glob(f"{DB_FILE}*"):  # the -wal file, if any
        shutil.copyfile(source, target / source.name)
    return f"sqlite+aiosqlite:///{target / DB_FILE}"


@pytest.fixture
def api_temporal_client() -> Client | None:
    """No Temporal client by default; override to give the app a real one."""
    return None


@pytest.fixture
def app_settings(tmp_path: Path, api_database_url: str) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=api_database_url,
        jwt_secret=TEST_JWT_SECRET,
        codec_keys=keyring_spec(),
        temporal_address=UNREACHABLE_TEMPORAL,
        log_format="json",
    )


@pytest.fixture
async def api_app(
    app_settings: Settings, api_temporal_client: Client | None
) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running (engine made, Temporal connected or not)."""
    app = create_app(app_settings, temporal_client=api_temporal_client)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def api_session_factory(api_app: FastAPI) -> async_sessionmaker[AsyncSession]:
    """The app's own session factory: the same database the routes use."""
    factory: async_sessionmaker[AsyncSession] = api_app.state.session_factory
    return factory


@pytest.fixture
async def api_client(api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def token_for(app_settings: Settings) -> Callable[[str], str]:
    """``token_for("sue")`` → a bearer token for that user, as ``/v1/auth/token`` would
    issue it. Any username works; the API checks it against the user table anyway."""
    seeded = {user.username: user for user in DEV_USERS}

    def make(username: str) -> str:
        user = seeded.get(username)
        actor = Actor(
            username=username,
            roles=user.roles if user else (),
            approval_limit=user.approval_limit if user else 0,
        )
        token, _ = create_access_token(app_settings, actor)
        return token

    return make


@pytest.fixture
def auth_headers(token_for: Callable[[str], str]) -> Callable[[str], dict[str, str]]:
    """``auth_headers("alice")`` → ``{"Authorization": "Bearer <token>"}``."""
    return lambda username: {"Authorization": f"Bearer {token_for(username)}"}
