"""A finished claim reads from the read model, as a finished enrollment does
(test_reads_without_temporal): the app here has no Temporal (its address is a closed
port), so only a claim whose process has ended can answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.claims import upsert_claim
from db.repositories.customers import upsert_customer
from db.repositories.policies import insert_policy
from domain.claims import ClaimStage, ClaimState, ClaimStatus
from tests.db.test_claims import claim_state, policy_issue

Headers = Callable[[str], dict[str, str]]


async def _store(factory: async_sessionmaker[AsyncSession], *states: ClaimState) -> None:
    async with factory() as session, session.begin():
        customer = await upsert_customer(
            session,
            id_hash="hash-1",
            id_number_enc="enc-id-1",
            id_masked="1101**********123X",
            name="Customer 1",
            phone_enc="enc-phone-1",
            phone_masked="138****0000",
            email=None,
            birth_date=date(1990, 5, 17),
        )
        await insert_policy(session, issue=policy_issue("P1", customer.id))
        for state in states:
            await upsert_claim(session, state=state)


@pytest.mark.parametrize(
    ("stage", "status"),
    [
        (ClaimStage.CLOSED, ClaimStatus.PAID),
        (ClaimStage.CLOSED, ClaimStatus.REJECTED),  # the appeal window closed
        (ClaimStage.CLOSED, ClaimStatus.WITHDRAWN),
        (ClaimStage.UNDER_REVIEW, ClaimStatus.CANCELLED),
        (ClaimStage.ASSESSMENT, ClaimStatus.TERMINATED),
    ],
)
async def test_a_finished_claim_reads_from_the_read_model_while_temporal_is_down(
    api_app: FastAPI,
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    auth_headers: Headers,
    stage: ClaimStage,
    status: ClaimStatus,
) -> None:
    assert api_app.state.temporal is None
    await _store(api_session_factory, claim_state("CDONE1", stage=stage, status=status))

    r = await api_client.get("/v1/claims/CDONE1", headers=auth_headers("alice"))

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["claim_id"], body["stage"], body["status"]) == ("CDONE1", stage, status)
    assert body["payee_account"] == "6222 **** **** 1234"
    # A supervisor sees every claim; another agent learns nothing, not even that it exists.
    r = await api_client.get("/v1/claims/CDONE1", headers=auth_headers("sue"))
    assert r.status_code == 200, r.text
    r = await api_client.get("/v1/claims/CDONE1", headers=auth_headers("bob"))
    assert (r.status_code, r.json()["code"]) == (404, "claim_not_found")


@pytest.mark.parametrize(
    ("stage", "status"),
    [
        (ClaimStage.UNDER_REVIEW, ClaimStatus.IN_PROGRESS),
        # Rejected, but the appeal window is open: the process still runs and may change.
        (ClaimStage.REJECTED, ClaimStatus.REJECTED),
    ],
)
async def test_a_running_claim_still_needs_temporal(
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    auth_headers: Headers,
    stage: ClaimStage,
    status: ClaimStatus,
) -> None:
    await _store(api_session_factory, claim_state("CLIVE1", stage=stage, status=status))

    r = await api_client.get("/v1/claims/CLIVE1", headers=auth_headers("alice"))

    assert (r.status_code, r.json()["code"]) == (503, "temporal_unavailable")
    assert r.headers["retry-after"] == "5"


async def test_an_unknown_claim_still_needs_temporal(
    api_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    r = await api_client.get("/v1/claims/CNONE1", headers=auth_headers("alice"))

    assert (r.status_code, r.json()["code"]) == (503, "temporal_unavailable")


async def test_the_claim_read_still_documents_503(api_app: FastAPI) -> None:
    response = api_app.openapi()["paths"]["/v1/claims/{claim_id}"]["get"]["responses"]
    assert "temporal_unavailable" in response["503"]["x-problem-codes"]
