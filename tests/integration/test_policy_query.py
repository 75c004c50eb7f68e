"""The customer's policy query, the audit trail, and personal data at rest."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from db.models import QueryCredential
from domain.identity import make_id_number
from tests.integration.conftest import Login
from tests.integration.test_claims_api import (
    _task_for,
    claim_until,
    decide,
    report,
)
from tests.integration.test_enrollment_api import enroll, wait_for

pytestmark = pytest.mark.devserver

PASSWORD = "s3cret-pass"  # what `enroll` submits as the query password


def fresh_id() -> str:
    birth = date(1975, 1, 1) + timedelta(days=random.randrange(365 * 20))
    return make_id_number("310104", birth, random.randrange(1000))


async def effective_with_claim(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession], id_number: str
) -> tuple[str, str, str]:
    alice = await login("alice")
    eid = await enroll(
        api, alice, product="MEDICAL_1Y", sum_insured="50000.00", id_number=id_number
    )
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    assert body["status"] == "effective", body
    policy = body["policy_number"]
    claim_id = (await report(api, alice, policy, amount_claimed="3000.00")).json()["claim_id"]
    r = await decide(api, login, await _task_for(sessions, claim_id), "sue")
    assert r.status_code == 200, r.text
    await claim_until(api, alice, claim_id, lambda b: b["status"] == "paid")
    return eid, policy, claim_id


async def query(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await api.post("/v1/policy-query", json=body)


async def test_customer_sees_their_policy_masked_and_any_mismatch_gets_one_answer(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    id_number = fresh_id()
    _, policy, claim_id = await effective_with_claim(api, login, sessions, id_number)

    r = await query(api, policy_number=policy, id_number=id_number, query_password=PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "effective" and body["product"] == "MEDICAL_1Y"
    assert body["holder"]["id_number"].count("*") == 8 and id_number not in r.text
    assert body["holder"]["name"].endswith("*")
    assert [p["kind"] for p in body["payments"]] == ["premium"]
    assert [(c["claim_id"], c["status"]) for c in body["claims"]] == [(claim_id, "paid")]
    assert "customer_id" not in r.text and "application_no" not in r.text

    wrong = [
        {"policy_number": policy, "id_number": fresh_id(), "query_password": PASSWORD},
        {"policy_number": policy, "id_number": id_number, "query_password": "wrong-one"},
        {"policy_number": "PNOSUCH", "id_number": id_number, "query_password": PASSWORD},
    ]
    answers = [await query(api, **w) for w in wrong]
    assert {a.status_code for a in answers} == {401}
    assert len({a.content for a in answers}) == 1  # the same body whichever field was wrong
    assert answers[0].json()["code"] == "verification_failed"

    # Every attempt is in the audit log, with no ID number or password in it.
    olga = await login("olga")
    trail = (await api.get(f"/v1/ops/audit?case={policy}", headers=olga)).json()["items"]
    actions = [e["action"] for e in trail]
    assert "policy_query.succeeded" in actions and actions.count("policy_query.failed") == 2
    assert id_number not in str(trail) and PASSWORD not in str(trail)


async def test_five_failures_lock_the_policy_number_across_a_restart(
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    integration_settings: Settings,
    dev_env: WorkflowEnvironment,
) -> None:
    alice = await login("alice")
    id_number = fresh_id()
    eid = await enroll(
        api, alice, product="ACCIDENT_1Y", sum_insured="100000.00", id_number=id_number
    )
    policy = (await wait_for(api, alice, eid, lambda b: b["status"] == "effective"))[
        "policy_number"
    ]
    for _ in range(5):
        r = await query(api, policy_number=policy, id_number=id_number, query_password="nope-nope")
        assert r.status_code == 401
    right = {"policy_number": policy, "id_number": id_number, "query_password": PASSWORD}
    locked = await query(api, **right)
    assert (locked.status_code, locked.json()["code"]) == (423, "locked")

    # A new API process on the same database still refuses: the count is persisted.
    app = create_app(integration_settings, temporal_client=dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://restarted") as fresh:
            again = await fresh.post("/v1/policy-query", json=right)
    assert (again.status_code, again.json()["code"]) == (423, "locked")


async def test_a_client_is_rate_limited(
    integration_settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    settings = integration_settings.model_copy(update={"policy_query_rate_per_minute": 3})
    app = create_app(settings, temporal_client=dev_env.client)
    body = {"policy_number": "PNOSUCH", "id_number": fresh_id(), "query_password": "whatever"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://limited") as client:
            codes = [
                (await client.post("/v1/policy-query", json=body)).status_code for _ in range(4)
            ]
    assert codes == [401, 401, 401, 429]


async def test_case_actions_are_audited_with_actor_and_client_and_the_log_is_append_only(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    alice, olga = await login("alice"), await login("olga")
    eid = await enroll(api, alice)
    bad = await api.post(
        f"/v1/enrollments/{eid}/quote",
        json={"product_code": "TERM_LIFE_20", "sum_insured": "50000"},
        headers=alice,
    )
    assert bad.status_code in (409, 422)
    r = await api.get(f"/v1/ops/audit?case={eid}", headers=olga)
    assert r.status_code == 200
    events = r.json()["items"]
    by_action = {e["action"]: e for e in events}
    for action in (
        "enrollments.create_enrollment",
        "enrollments.quote",
        "enrollments.submit_application",
    ):
        assert by_action[action]["actor"] == "alice"
        assert by_action[action]["client"] == "127.0.0.1"
        assert by_action[action]["request_id"]
    refused = [e for e in events if e["detail"].get("outcome") == "refused"]
    # Refused by the workflow (past quoting) or, if it has already ended, by the API.
    assert refused and refused[0]["detail"]["code"] in (
        "invalid_stage",
        "sum_insured_out_of_range",
        "process_closed",
    )
    assert (await api.get(f"/v1/ops/audit?case={eid}", headers=alice)).status_code == 403

    async with sessions() as s:
        with pytest.raises(DBAPIError):
            async with s.begin():
                await s.execute(text("UPDATE audit_event SET actor = 'mallory'"))
        with pytest.raises(DBAPIError):
            async with s.begin():
                await s.execute(text("DELETE FROM audit_event"))


async def test_no_id_number_anywhere_in_the_data_dir_or_temporal_store_after_a_full_run(
    api: httpx.AsyncClient,
    login: Login,
    sessions: async_sessionmaker[AsyncSession],
    integration_settings: Settings,
    temporal_db_file: Path,
) -> None:
    id_number = fresh_id()
    _, policy, _ = await effective_with_claim(api, login, sessions, id_number)
    r = await query(api, policy_number=policy, id_number=id_number, query_password=PASSWORD)
    assert r.status_code == 200
    needles = [id_number.encode(), id_number.encode("utf-16-le")]
    scanned = 0
    stores = [*integration_settings.data_dir.rglob("*"), *temporal_db_file.parent.glob("*")]
    for path in stores:
        if path.is_file():
            data = path.read_bytes()
            scanned += 1
            assert not any(n in data for n in needles), f"ID number found in {path.name}"
    assert scanned >= 4  # read model (+WAL), logs, outbox messages, Temporal's own store


async def test_a_query_password_hashed_with_old_parameters_is_rehashed_on_success(
    api: httpx.AsyncClient, login: Login, sessions: async_sessionmaker[AsyncSession]
) -> None:
    id_number = fresh_id()
    alice = await login("alice")
    eid = await enroll(
        api, alice, product="MEDICAL_1Y", sum_insured="50000.00", id_number=id_number
    )
    body = await wait_for(api, alice, eid, lambda b: b["status"] != "in_progress")
    old = PasswordHash((Argon2Hasher(),)).hash(PASSWORD)  # argon2-cffi's t=3, m=64 MiB, p=4
    async with sessions() as session:
        await session.execute(
            update(QueryCredential)
            .where(QueryCredential.application_no == eid)
            .values(password_hash=old)
        )
        await session.commit()

    async def stored() -> str:
        async with sessions() as session:
            credential = await session.get(QueryCredential, eid, populate_existing=True)
            assert credential is not None
            return credential.password_hash

    policy = body["policy_number"]
    wrong = await query(api, policy_number=policy, id_number=id_number, query_password="nope-nope")
    assert wrong.status_code == 401 and await stored() == old
    r = await query(api, policy_number=policy, id_number=id_number, query_password=PASSWORD)
    assert r.status_code == 200, r.text
    assert "$m=19456,t=2,p=1$" in await stored()
