"""The claim read model: one row per claim process, kept current by its workflow."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Claim, utcnow
from db.pagination import newest_first
from db.upsert import insert_or_update
from domain.claims import ClaimHistoryEntry, ClaimState, ClaimStatus

_CURSOR_SCOPE = "claim"


async def upsert_claim(session: AsyncSession, *, state: ClaimState) -> Claim:
    """Write the read model of one claim from the process's state; repeats are harmless."""
    now = utcnow()
    columns = {
        "workflow_id": state.workflow_id,
        "agent": state.agent,
        "policy_number": state.policy_number,
        "incident_date": state.incident_date,
        "incident_type": state.incident_type.value,
        "stage": state.stage.value,
        "status": state.status.value,
        "amount_claimed": state.amount_claimed,
        "amount_approved": state.amount_approved,
        "state": state.model_dump(mode="json"),
        "updated_at": now,
    }
    await insert_or_update(
        session,
        Claim,
        key="claim_no",
        values={"claim_no": state.claim_id, "created_at": now, **columns},
        update=columns.keys(),
    )
    written = await session.scalars(
        select(Claim)
        .where(Claim.claim_no == state.claim_id)
        .execution_options(populate_existing=True)
    )
    return written.one()


async def get_claim(session: AsyncSession, *, claim_no: str) -> Claim | None:
    """The claim with this number, or None."""
    return await session.get(Claim, claim_no)


async def list_claims(
    session: AsyncSession,
    *,
    agent: str | None,
    stage: str | None,
    status: str | None,
    policy_number: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Claim], str | None]:
    """Claims newest first, filtered by whichever of agent, stage, status, policy are given.

    Returns one page and the cursor of the next page (None on the last page). Raises
    ValueError for a malformed cursor (one of another listing included) or a limit below 1.
    """
    query = select(Claim)
    if agent is not None:
        query = query.where(Claim.agent == agent)
    if stage is not None:
        query = query.where(Claim.stage == stage)
    if status is not None:
        query = query.where(Claim.status == status)
    if policy_number is not None:
        query = query.where(Claim.policy_number == policy_number)
    return await newest_first(
        session,
        query,
        at=Claim.created_at,
        key=Claim.claim_no,
        scope=_CURSOR_SCOPE,
        cursor=cursor,
        limit=limit,
    )


async def claims_for_incident(
    session: AsyncSession, *, policy_number: str, incident_date: date, incident_type: str
) -> list[Claim]:
    """Every claim for this incident on this policy, whatever its status, oldest first.

    The duplicate check reads these; which statuses block a new claim is the caller's rule
    (`domain.claims.DUPLICATE_BLOCKING`), so none are filtered out here.
    """
    query = (
        select(Claim)
        .where(
            Claim.policy_number == policy_number,
            Claim.incident_date == incident_date,
            # str() turns an IncidentType into its value for the driver.
            Claim.incident_type == str(incident_type),
        )
        .order_by(Claim.created_at, Claim.claim_no)
    )
    return list(await session.scalars(query))


async def list_for_policy(session: AsyncSession, *, policy_number: str) -> list[Claim]:
    """Every claim on this policy, whatever its status, oldest first."""
    query = (
        select(Claim)
        .where(Claim.policy_number == policy_number)
        .order_by(Claim.created_at, Claim.claim_no)
    )
    return list(await session.scalars(query))


async def record_termination(
    session: AsyncSession, *, workflow_id: str, by: str, note: str
) -> bool:
    """Record that ops terminated this claim's process (it never writes its own ending).
    Only a row still ``in_progress`` changes; whether one did."""
    row = await session.scalar(select(Claim).where(Claim.workflow_id == workflow_id))
    if row is None or row.status != ClaimStatus.IN_PROGRESS.value:
        return False
    now = utcnow()
    state = ClaimState.model_validate(row.state)
    state.status = ClaimStatus.TERMINATED
    state.history.append(
        ClaimHistoryEntry(
            stage=state.stage, status=ClaimStatus.TERMINATED, at=now, by=by, note=note
        )
    )
    result = await session.execute(
        update(Claim)
        .where(Claim.workflow_id == workflow_id, Claim.status == ClaimStatus.IN_PROGRESS.value)
        .values(
            status=ClaimStatus.TERMINATED.value,
            state=state.model_dump(mode="json"),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
