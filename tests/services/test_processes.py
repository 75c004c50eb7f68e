"""services.processes.run_update: how Temporal's answers to an Update become problems."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.problems import ProblemError
from services.processes import run_update


class _Handle:
    """A workflow handle whose Update fails with `error`."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls = 0

    async def execute_update(self, update: Any, arg: Any) -> Any:
        self.calls += 1
        raise self.error


def _update_failed(cause: BaseException) -> WorkflowUpdateFailedError:
    error = WorkflowUpdateFailedError(cause)  # type: ignore[arg-type]
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        # Temporal's answer when the workflow closed while the Update waited to be taken
        RPCError("workflow update was aborted by closing workflow", RPCStatusCode.NOT_FOUND, b""),
        # ... and to an Update sent to a run that has closed
        RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b""),
        RPCError(
            "workflow operation can not be applied because workflow is closing",
            RPCStatusCode.RESOURCE_EXHAUSTED,
            b"",
        ),
        RPCError("workflow execution already completed", RPCStatusCode.FAILED_PRECONDITION, b""),
        # an Update accepted, but the workflow completed before it did
        _update_failed(
            ApplicationError(
                "Workflow Update failed because the Workflow completed before the Update "
                "completed.",
                type="AcceptedUpdateCompletedWorkflow",
                non_retryable=True,
            )
        ),
    ],
    ids=["aborted_by_closing", "already_completed", "closing", "precondition", "accepted"],
)
async def test_an_update_the_closing_process_did_not_take_is_409_process_closed(
    error: BaseException,
) -> None:
    handle = _Handle(error)
    with pytest.raises(ProblemError) as raised:
        await run_update(handle, "decide", {})  # type: ignore[arg-type]
    assert (raised.value.status_code, raised.value.code) == (409, "process_closed")
    assert handle.calls == 1  # not retried: the process is gone


async def test_other_temporal_errors_are_not_taken_for_a_closed_process() -> None:
    for error in (
        RPCError("workflow not found for ID: x", RPCStatusCode.NOT_FOUND, b""),
        RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""),
    ):
        with pytest.raises(RPCError):
            await run_update(_Handle(error), "decide", {})  # type: ignore[arg-type]


async def test_a_validator_refusal_keeps_its_own_code() -> None:
    error = _update_failed(ApplicationError("no", type="task_not_open", non_retryable=True))
    with pytest.raises(ProblemError) as raised:
        await run_update(_Handle(error), "decide", {})  # type: ignore[arg-type]
    assert (raised.value.status_code, raised.value.code) == (409, "task_not_open")
