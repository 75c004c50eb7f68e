"""What every process's service does with Temporal: send an Update and turn its refusal
into the problem the contract names, tell a closed process from a missing one, and the
rules of who sees and acts on a case."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.refusals import REFUSALS
from domain.texts import N_
from domain.underwriting import Actor, Role
from services.problems import ProblemError, refused
from workflows import search_attributes as sa

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
        N_("Process has ended"),
        N_("this process has ended and takes no more actions"),
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
    if isinstance(cause, ApplicationError) and cause.type in REFUSALS:
        return refused(cause.type, cause.message)
    return ProblemError(409, "process_refused", N_("The process refused the request"), "")


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


async def run_own_update(
    handle: WorkflowHandle[Any, Any],
    update: Any,
    arg: Any,
    user: Actor,
    not_found: Callable[[], ProblemError],
) -> Any:
    """``run_update`` for an action only the case's own agent takes: the process's
    validator refuses anyone else (``not_your_case``), so no query is needed first to learn
    whose case it is. An agent acting on a case not theirs learns nothing, not even that it
    exists: the refusal, an ended process that is not theirs and a missing one are all
    ``not_found()``. A user who sees every case (a supervisor) keeps ``not_your_case``."""
    try:
        return await run_update(handle, update, arg)
    except ProblemError as problem:
        if problem.code == "not_your_case":
            if sees_all(user):
                raise
            raise not_found() from None
        if problem.code == "process_closed" and await _agent_of(handle) != user.username:
            raise (refused("not_your_case") if sees_all(user) else not_found()) from None
        raise
    except RPCError as err:
        if is_not_found(err):
            raise not_found() from None
        raise


async def _agent_of(handle: WorkflowHandle[Any, Any]) -> str | None:
    """The agent an ended process names in its search attributes (no query: a closed run
    would be replayed by a worker to answer one)."""
    try:
        description = await handle.describe()
    except RPCError as err:
        if is_not_found(err):
            return None
        raise
    return description.typed_search_attributes.get(sa.AGENT)


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
        raise refused("not_your_case")
