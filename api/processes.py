"""The API's side of the processes: find a case's workflow, ask it, and turn a refused
Update into the problem the contract names."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ProblemError
from db.repositories import enrollments
from domain.enrollment import EnrollmentState, Status
from domain.underwriting import Actor, Role
from workflows.enrollment import EnrollmentWorkflow, workflow_id_for

# Stable codes a workflow validator may refuse with, and their HTTP status.
REFUSAL_STATUS: dict[str, int] = {
    "not_a_supervisor": 403,
    "approval_limit_exceeded": 403,
    "four_eyes_violation": 409,
    "task_not_open": 409,
    "claimed_by_other": 409,
    "invalid_stage": 409,
    "withdraw_not_allowed": 409,
    "already_paid": 409,
    "payment_not_expected": 409,
    "unknown_order": 404,
    "sum_insured_out_of_range": 422,
    "age_not_eligible": 422,
    "unknown_product": 422,
    "unknown_quote": 422,
    "quote_expired": 422,
    "consent_required": 422,
    "bank_account_required": 422,
    "invalid_start_date": 422,
    "amount_mismatch": 422,
    "decision_not_allowed": 422,
    "amount_above_assessment": 422,
    "documents_required": 422,
    "too_many_documents": 422,
    "appeal_not_allowed": 409,
    "appeal_window_closed": 409,
}


def refusal(err: WorkflowUpdateFailedError) -> ProblemError:
    """The problem for an Update its validator refused (nothing was written to history)."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type in REFUSAL_STATUS:
        return ProblemError(
            REFUSAL_STATUS[cause.type],
            cause.type,
            cause.type.replace("_", " ").capitalize(),
            cause.message,
        )
    return ProblemError(409, "process_refused", "The process refused the request", "")


async def run_update(handle: WorkflowHandle[Any, Any], update: Any, arg: Any) -> Any:
    """Send an Update and wait for its result; a validator's refusal (which wrote nothing
    to history) becomes the problem the contract names."""
    try:
        return await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as err:
        raise refusal(err) from None


def is_not_found(err: RPCError) -> bool:
    return err.status == RPCStatusCode.NOT_FOUND


def sees_all(user: Actor) -> bool:
    """Supervisors, ops and admins see every case; an agent only their own."""
    return any(user.has(r) for r in (Role.SUPERVISOR, Role.OPS, Role.ADMIN))


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
    client: Client, session: AsyncSession, enrollment_id: str, user: Actor
) -> EnrollmentState:
    """An enrollment's state for reading. A finished process's comes from the read model:
    its last record is its final state, written before it completed, and asking the
    process instead would make a worker replay its whole history (it is no longer cached)
    to answer. A running one is asked (a query), as in ``enrollment_state``."""
    row = await enrollments.get_enrollment(session, application_no=enrollment_id)
    await session.commit()
    if row is not None and row.status != Status.IN_PROGRESS.value:
        state = EnrollmentState.model_validate(row.state)
        if not sees_all(user) and state.agent != user.username:
            raise _not_found()
        return state
    _, state = await enrollment_state(client, enrollment_id, user)
    return state


def _not_found() -> ProblemError:
    return ProblemError(404, "enrollment_not_found", "No such enrollment", "")
