"""Claims (理赔): find a claim's process, read its state, and act on it."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from domain.claims import ClaimState
from domain.underwriting import Actor
from services.problems import ProblemError
from services.processes import is_not_found, sees_all
from workflows.claim import ClaimWorkflow, workflow_id_for


async def claim_state(
    client: Client, claim_id: str, user: Actor
) -> tuple[WorkflowHandle[Any, ClaimState], ClaimState]:
    """The live state of a claim the caller may see; 404 otherwise."""
    handle = client.get_workflow_handle_for(ClaimWorkflow.run, workflow_id_for(claim_id))
    try:
        state = await handle.query(ClaimWorkflow.state)
    except RPCError as err:
        if is_not_found(err):
            raise ProblemError(404, "claim_not_found", "No such claim", "") from None
        raise
    if not sees_all(user) and state.agent != user.username:
        raise ProblemError(404, "claim_not_found", "No such claim", "")
    return handle, state
