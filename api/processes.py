"""The API's side of the processes: find a case's workflow, ask it, and turn a refused
Update into the problem the contract names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
    "not_your_case": 403,
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


# What Temporal answers an Update whose process ends (or has ended) before the Update
# completes: the server's messages for an Update aborted by the closing workflow, or sent
# to a closed run, and the failure type of one accepted when the workflow completed.
_CLOSED_STATUSES = (
    RPCStatusCode.NOT_FOUND,
    RPCStatusCode.FAILED_PRECONDITION,
    RPCStatusCode.ABORTED,
    RPCStatusCode.RESOURCE_EXHAUSTED,  # "... can not be applied because workflow is closing"
)
_CLOSED_MESSAGES = (
    "aborted by closing workflow",
    "already completed",
    "workflow is closing",
    "workflow completed",
)
_ACCEPTED_UPDATE_COMPLETED_WORKFLOW = "AcceptedUpdateCompletedWorkflow"


def process_closed() -> ProblemError:
    """409 ``process_closed``: the process has ended and takes no more actions."""
    return ProblemError(
        409,
        "process_closed",
        "Process has ended",
        "this process has ended and takes no more actions",
    )


def closed_by_workflow(err: RPCError) -> bool:
    """Whether Temporal refused an Update because its workflow closed (or was closed)."""
    message = err.message.lower()
    return err.status in _CLOSED_STATUSES and any(m in message for m in _CLOSED_MESSAGES)


def refusal(err: WorkflowUpdateFailedError) -> ProblemError:
    """The problem for an Update its validator refused (nothing was written to history),
    or that the workflow's completion ended before it completed (``process_closed``)."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == _ACCEPTED_UPDATE_COMPLETED_WORKFLOW:
        return process_closed()
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
    to history) becomes the problem the contract names. An Update the process ended
    before taking (another request's decision closed it, or it had already ended) is 409
    ``process_closed``: it changed nothing."""
    try:
        return await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as err:
        raise refusal(err) from None
    except RPCError as err:
        if closed_by_workflow(err):
            raise process_closed() from None
        raise


def is_not_found(err: RPCError) -> bool:
    return err.status == RPCStatusCode.NOT_FOUND


def sees_all(user: Actor) -> bool:
    """Supervisors, ops and admins see every case; an agent only their own."""
    return any(user.has(r) for r in (Role.SUPERVISOR, Role.OPS, Role.ADMIN))


def require_own_case(agent: str, user: Actor) -> None:
    """Agents act only on their own customers' cases. A user who may read another agent's
    case (a supervisor who is also an agent) may not quote, submit, file or supplement on
    it: four eyes binds the person who acted, so nobody may act for the agent and then
    decide the case."""
    if agent != user.username:
        raise ProblemError(
            403, "not_your_case", "Not your case", "only the case's own agent may act on it"
        )


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
