"""Enrollments (投保): find a case's process, read its state, and act on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from db.repositories import enrollments
from domain.enrollment import EnrollmentState, Status
from domain.underwriting import Actor
from services.problems import ProblemError
from services.processes import is_not_found, sees_all
from workflows.enrollment import EnrollmentWorkflow, workflow_id_for


def enrollment_handle(client: Client, enrollment_id: str) -> WorkflowHandle[Any, EnrollmentState]:
    return client.get_workflow_handle_for(EnrollmentWorkflow.run, workflow_id_for(enrollment_id))


async def enrollment_state(
    client: Client, enrollment_id: str, user: Actor
) -> tuple[WorkflowHandle[Any, EnrollmentState], EnrollmentState]:
    """The live state of an enrollment the caller may see; 404 otherwise (an agent asking
    for someone else's case learns nothing, not even that it exists)."""
    handle = enrollment_handle(client, enrollment_id)
    try:
        state = await handle.query(EnrollmentWorkflow.state)
    except RPCError as err:
        if is_not_found(err):
            raise _not_found() from None
        raise
    if not sees_all(user) and state.agent != user.username:
        raise _not_found()
    return handle, state


async def read_enrollment(
    temporal: Callable[[], Awaitable[Client]],
    session: AsyncSession,
    enrollment_id: str,
    user: Actor,
) -> EnrollmentState:
    """An enrollment's state for reading. A finished process's comes from the read model:
    its last record is its final state, written before it completed, and asking the
    process instead would make a worker replay its whole history (it is no longer cached)
    to answer. A running one is asked (a query), as in ``enrollment_state``: only then is
    Temporal needed (`temporal` gives the client), so a finished case reads while it is
    down."""
    row = await enrollments.get_enrollment(session, application_no=enrollment_id)
    await session.commit()
    if row is not None and row.status != Status.IN_PROGRESS.value:
        state = EnrollmentState.model_validate(row.state)
        if not sees_all(user) and state.agent != user.username:
            raise _not_found()
        return state
    _, state = await enrollment_state(await temporal(), enrollment_id, user)
    return state


def _not_found() -> ProblemError:
    return ProblemError(404, "enrollment_not_found", "No such enrollment", "")
