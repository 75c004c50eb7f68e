"""Ops' actions on a process: cancel it (it compensates and ends as cancelled) or
terminate it (it stops at once). Each needs a reason and is written to the audit log with
the actor, refused attempts included; ops make no business decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from db.models import AuditEvent
from db.repositories import audit, claims, enrollments, tasks
from domain.masking import scrub
from domain.texts import N_
from domain.underwriting import Actor
from services.ops.runs import execution
from services.ops.visibility import status_name
from services.problems import ProblemError
from services.processes import is_not_found

log = structlog.get_logger("api.ops")

Action = Literal["cancel", "terminate"]


@dataclass(frozen=True)
class Requested:
    """What Temporal took: the run the action applies to, and when it was recorded."""

    run_id: str
    at: datetime


async def act(
    client: Client,
    session: AsyncSession,
    action: Action,
    workflow_id: str,
    *,
    reason: str,
    actor: Actor,
    client_address: str | None,
    request_id: str | None,
) -> Requested:
    """Cancel or terminate the running process `workflow_id` for `actor`. 404 for an
    unknown process, 409 ``workflow_not_running`` for one that has ended; either way the
    attempt is on record. The audit row is written first and committed only once Temporal
    took the request."""
    # The reason lands in the history in plaintext: scrubbed like any free text.
    reason = scrub(reason)

    async def record(outcome: dict[str, Any]) -> AuditEvent:
        return await audit.append(
            session,
            actor=actor.username,
            action=f"ops.{action}",
            case_id=workflow_id[:64],
            client=client_address,
            request_id=request_id,
            detail={"reason": reason, "workflow_id": workflow_id, **outcome},
        )

    async def refused(problem: ProblemError) -> ProblemError:
        # A refused action changes nothing, but the attempt is on record.
        await session.rollback()
        await record({"outcome": "refused", "code": problem.code})
        await session.commit()
        return problem

    try:
        description = await execution(client, workflow_id)
    except ProblemError as problem:
        raise await refused(problem) from None
    status = status_name(description.status)
    if status != "running":
        raise await refused(
            ProblemError(
                409,
                "workflow_not_running",
                N_("Process is not running"),
                N_("the process is %(status)s"),
                params={"status": status},
            )
        )
    # Written first, committed only once Temporal took the request.
    event = await record({"outcome": "ok", "run_id": description.run_id})
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    try:
        if action == "cancel":
            await handle.cancel(reason=f"{actor.username}: {reason}")
        else:
            await handle.terminate(reason=f"{actor.username}: {reason}")
    except RPCError as err:
        if is_not_found(err):  # it closed meanwhile
            raise await refused(
                ProblemError(409, "workflow_not_running", N_("Process is not running"), "")
            ) from None
        await session.rollback()
        raise
    if action == "terminate":
        await _record_termination(session, workflow_id, actor, reason)
    await session.commit()
    log.info("ops_action", action=action, workflow_id=workflow_id)
    return Requested(run_id=description.run_id, at=event.at)


async def _record_termination(
    session: AsyncSession, workflow_id: str, user: Actor, reason: str
) -> None:
    """A terminated process runs nothing more (no compensation, no read-model write), so
    its ending is recorded here, with the audit row: the case reads ``terminated`` and
    its open tasks leave the inbox."""
    note = f"terminated: {reason}"
    for record in (enrollments.record_termination, claims.record_termination):
        await record(session, workflow_id=workflow_id, by=user.username, note=note)
    cancelled = await tasks.cancel_open_tasks(
        session, workflow_id=workflow_id, reason=f"process terminated by {user.username}"
    )
    log.info("ops_terminated_recorded", workflow_id=workflow_id, tasks_cancelled=cancelled)
