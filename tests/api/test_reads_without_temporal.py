"""Reads the read model answers do not need Temporal: the app here has none (its address
is a closed port), as in test_health."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.enrollments import upsert_enrollment
from domain.enrollment import EnrollmentState, MaskedCustomer, Stage, Status

Headers = Callable[[str], dict[str, str]]


def _state(application_no: str, stage: Stage, status: Status) -> EnrollmentState:
    return EnrollmentState(
        enrollment_id=application_no,
        workflow_id=f"enrollment-{application_no}",
        agent="alice",
        customer=MaskedCustomer(name="张*", id_number="1101**********123X", phone="138****0000"),
        birth_date=date(1990, 5, 17),
        stage=stage,
        status=status,
        policy_number="P-1" if status == Status.EFFECTIVE else None,
    )


async def _store(factory: async_sessionmaker[AsyncSession], state: EnrollmentState) -> None:
    async with factory() as session, session.begin():
        await upsert_enrollment(session, state=state)


async def test_a_finished_enrollment_reads_from_the_read_model_while_temporal_is_down(
    api_app: FastAPI,
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    auth_headers: Headers,
) -> None:
    assert api_app.state.temporal is None
    await _store(api_session_factory, _state("EDONE1", Stage.ISSUED, Status.EFFECTIVE))

    r = await api_client.get("/v1/enrollments/EDONE1", headers=auth_headers("alice"))

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["policy_number"]) == ("effective", "P-1")
    # Still the agent's own case only: another agent learns nothing.
    r = await api_client.get("/v1/enrollments/EDONE1", headers=auth_headers("bob"))
    assert (r.status_code, r.json()["code"]) == (404, "enrollment_not_found")


async def test_a_running_enrollment_still_needs_temporal(
    api_client: httpx.AsyncClient,
    api_session_factory: async_sessionmaker[AsyncSession],
    auth_headers: Headers,
) -> None:
    await _store(api_session_factory, _state("ELIVE1", Stage.QUOTED, Status.IN_PROGRESS))

    r = await api_client.get("/v1/enrollments/ELIVE1", headers=auth_headers("alice"))

    assert (r.status_code, r.json()["code"]) == (503, "temporal_unavailable")
    assert r.headers["retry-after"] == "5"


async def test_the_enrollment_read_still_documents_503(api_app: FastAPI) -> None:
    response = api_app.openapi()["paths"]["/v1/enrollments/{enrollment_id}"]["get"]["responses"]
    assert "temporal_unavailable" in response["503"]["x-problem-codes"]
