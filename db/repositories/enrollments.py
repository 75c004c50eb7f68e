"""The enrollment read model: one row per enrollment process, kept current by its workflow."""

from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Enrollment, utcnow
from db.pagination import newest_first
from db.upsert import insert_or_update
from domain.enrollment import EnrollmentState, HistoryEntry, Stage, Status

_CURSOR_SCOPE = "enrollment"

# A signed application (any stage after `quoted`) still running blocks a second one for the
# same customer and product. Derived from the stage order so a new stage is covered.
_STAGES = list(Stage)
_COMMITTED_STAGES = [s.value for s in _STAGES[_STAGES.index(Stage.QUOTED) + 1 :]]
_COMMITTED_STAGES.remove(Stage.CLOSED.value)


async def upsert_enrollment(session: AsyncSession, *, state: EnrollmentState) -> Enrollment:
    """Write the read model of one enrollment from the process's state; repeats are harmless."""
    quote = state.quote
    method = state.payment.method
    now = utcnow()
    columns = {
        "workflow_id": state.workflow_id,
        "agent": state.agent,
        "customer_id": state.customer_id,
        "stage": state.stage.value,
        "status": state.status.value,
        "product_code": quote.product_code if quote else None,
        "sum_insured": quote.sum_insured if quote else None,
        "premium": quote.premium if quote else None,
        "payment_method": method.value if method else None,
        "policy_number": state.policy_number,
        "effective_at": state.effective_at,
        "state": state.model_dump(mode="json"),
        "updated_at": now,
    }
    await insert_or_update(
        session,
        Enrollment,
        key="application_no",
        values={"application_no": state.enrollment_id, "created_at": now, **columns},
        update=columns.keys(),
    )
    written = await session.scalars(
        select(Enrollment)
        .where(Enrollment.application_no == state.enrollment_id)
        .execution_options(populate_existing=True)
    )
    return written.one()


async def get_enrollment(session: AsyncSession, *, application_no: str) -> Enrollment | None:
    """The enrollment with this application number, or None."""
    return await session.get(Enrollment, application_no)


async def list_enrollments(
    session: AsyncSession,
    *,
    agent: str | None,
    stage: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Enrollment], str | None]:
    """Enrollments newest first, filtered by whichever of agent, stage, status are given.

    Returns one page and the cursor of the next page (None on the last page). Raises
    ValueError for a malformed cursor or a limit below 1.
    """
    query = select(Enrollment)
    if agent is not None:
        query = query.where(Enrollment.agent == agent)
    if stage is not None:
        query = query.where(Enrollment.stage == stage)
    if status is not None:
        query = query.where(Enrollment.status == status)
    return await newest_first(
        session,
        query,
        at=Enrollment.created_at,
        key=Enrollment.application_no,
        scope=_CURSOR_SCOPE,
        cursor=cursor,
        limit=limit,
    )


async def has_open_duplicate(
    session: AsyncSession, *, customer_id: str, product_code: str, exclude_application_no: str
) -> bool:
    """Whether another running, signed enrollment exists for this customer and product."""
    query = select(
        exists().where(
            Enrollment.customer_id == customer_id,
            Enrollment.product_code == product_code,
            Enrollment.application_no != exclude_application_no,
            Enrollment.status == Status.IN_PROGRESS.value,
            Enrollment.stage.in_(_COMMITTED_STAGES),
        )
    )
    return bool(await session.scalar(query))


async def record_termination(
    session: AsyncSession, *, workflow_id: str, by: str, note: str
) -> bool:
    """Record that ops terminated this enrollment's process: a terminated workflow runs
    nothing more, so it never writes its own ending. Only a row still ``in_progress``
    changes (an ending already recorded stays); whether one did."""
    row = await session.scalar(select(Enrollment).where(Enrollment.workflow_id == workflow_id))
    if row is None or row.status != Status.IN_PROGRESS.value:
        return False
    now = utcnow()
    state = EnrollmentState.model_validate(row.state)
    state.status = Status.TERMINATED
    state.history.append(
        HistoryEntry(stage=state.stage, status=Status.TERMINATED, at=now, by=by, note=note)
    )
    result = await session.execute(
        update(Enrollment)
        .where(
            Enrollment.workflow_id == workflow_id,
            Enrollment.status == Status.IN_PROGRESS.value,
        )
        .values(status=Status.TERMINATED.value, state=state.model_dump(mode="json"), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
