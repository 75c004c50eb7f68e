"""The process machinery (workflows/process.py) carries a new process by itself: the
skeleton of docs/architecture.md ("A process's skeleton"), with state models of its own,
runs on the time-skipping server with no plumbing copied: stages with their search
attributes, a task under a deadline, a four-eyes refusal, an ending by decision, by
deadline and by cancellation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from temporalio import workflow
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

# The sandbox re-imports this module for the workflow below: pass the rest through.
with workflow.unsafe.imports_passed_through():
    import pytest
    from pydantic import BaseModel

    from domain.activities import Change, ChangeBatch
    from domain.tasks import TaskKind
    from domain.underwriting import SYSTEM
    from tests.support import act, record_changes_mock
    from workflows import search_attributes as sa
    from workflows.process import Process, refuse, until_cancelled


class Stage(StrEnum):
    RECEIVED = "received"
    INVESTIGATING = "investigating"


class Status(StrEnum):
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    ESCALATED = "escalated"
    CANCELLED = "cancelled"


class HistoryEntry(BaseModel):
    stage: Stage
    status: Status
    at: datetime
    by: str
    note: str | None = None


class ComplaintState(BaseModel):
    workflow_id: str
    agent: str
    stage: Stage = Stage.RECEIVED
    status: Status = Status.IN_PROGRESS
    history: list[HistoryEntry] = []


class ComplaintStart(BaseModel):
    case_no: str
    handler: str
    filed_by: str
    decide_within: timedelta = timedelta(days=15)  # a real process: start.clocks


class ComplaintDecision(BaseModel):
    by: str
    reason: str


def _batch(state: ComplaintState, changes: list[Change]) -> ChangeBatch:
    return ChangeBatch(changes=changes)  # a real process adds its state's field


@workflow.defn
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, start: ComplaintStart) -> None:
        self._decision: ComplaintDecision | None = None
        self._state = ComplaintState(workflow_id=f"complaint-{start.case_no}", agent=start.handler)
        self._p = Process(
            self._state, HistoryEntry, _batch, start.case_no, start.handler, start.filed_by
        )

    @workflow.run
    async def run(self, start: ComplaintStart) -> ComplaintState:
        return await until_cancelled(self._handle(start), self._compensate)

    async def _handle(self, start: ComplaintStart) -> ComplaintState:
        p = self._p
        p.enter(Stage.INVESTIGATING, by=SYSTEM)
        due = workflow.now() + start.decide_within
        await p.open_task(
            f"cp-{start.case_no}",
            TaskKind.CLAIM_REVIEW,
            subject="Decide",
            amount=Decimal(0),
            submitted_by=start.filed_by,
            due_at=due,
        )
        if not await p.wait_until(lambda: self._decision is not None, due):
            await p.notify("complaint_overdue")
            return await p.finish(Status.ESCALATED, by=SYSTEM, note="decision overdue")
        assert self._decision is not None
        return await p.finish(Status.CLOSED, by=self._decision.by, note=self._decision.reason)

    @workflow.update
    async def decide(self, decision: ComplaintDecision) -> ComplaintState:
        self._decision = decision
        return await self._p.answer_when(lambda: not self._p.running())

    @decide.validator
    def _validate_decision(self, decision: ComplaintDecision) -> None:
        if not self._p.at({Stage.INVESTIGATING}) or decision.by in self._p.participants:
            raise refuse("four_eyes_violation")

    @workflow.query
    def state(self) -> ComplaintState:
        return self._state

    async def _compensate(self) -> None:
        await self._p.end_cancelled(Status.CANCELLED)


Handle = WorkflowHandle[Any, ComplaintState]


@pytest.fixture
async def complaint(time_env: WorkflowEnvironment) -> AsyncIterator[tuple[Any, list[Any]]]:
    calls: list[tuple[str, Any]] = []
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[ComplaintWorkflow],
        activities=[record_changes_mock(calls)],
    ):

        async def start(**overrides: Any) -> Handle:
            args: dict[str, Any] = {"case_no": uuid.uuid4().hex[:8], "handler": "alice"}
            args["filed_by"] = "sam"
            return await time_env.client.start_workflow(
                ComplaintWorkflow.run,
                ComplaintStart(**(args | overrides)),
                id=f"complaint-{uuid.uuid4()}",
                task_queue=task_queue,
            )

        yield start, calls


async def _until_investigating(handle: Handle) -> None:
    async with asyncio.timeout(10):
        while (await handle.query(ComplaintWorkflow.state)).stage != Stage.INVESTIGATING:
            await asyncio.sleep(0.05)


async def test_a_decision_ends_the_process_with_its_timeline_task_and_search_attributes(
    complaint: tuple[Any, list[Any]],
) -> None:
    start, calls = complaint
    handle = await start()
    await _until_investigating(handle)

    answer = await handle.execute_update(
        ComplaintWorkflow.decide, ComplaintDecision(by="sue", reason="upheld")
    )

    assert answer.status == Status.CLOSED
    state = await handle.result()
    assert [(h.stage, h.status, h.by, h.note) for h in state.history] == [
        (Stage.RECEIVED, Status.IN_PROGRESS, "sam", None),
        (Stage.INVESTIGATING, Status.IN_PROGRESS, SYSTEM, None),
        (Stage.INVESTIGATING, Status.CLOSED, "sue", "upheld"),
    ]
    (task,) = [arg for name, arg in calls if name == act.OPEN_TASK]
    assert (task.kind, task.case_id, task.agent, task.submitted_by) == (
        TaskKind.CLAIM_REVIEW,
        state.workflow_id.removeprefix("complaint-"),
        "alice",
        "sam",
    )
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.STAGE) == "investigating"
    assert attributes.get(sa.STATUS) == "closed"


async def test_everyone_who_took_a_step_is_refused_the_decision(
    complaint: tuple[Any, list[Any]],
) -> None:
    start, _ = complaint
    handle = await start()
    await _until_investigating(handle)

    for person in ("alice", "sam"):  # the handler, and the one who filed
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                ComplaintWorkflow.decide, ComplaintDecision(by=person, reason="x")
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "four_eyes_violation"
        assert refused.value.cause.message == "a person who acted on a case may not decide it"
    assert (await handle.query(ComplaintWorkflow.state)).status == Status.IN_PROGRESS
    await handle.cancel()


async def test_the_deadline_escalates_with_a_notice(complaint: tuple[Any, list[Any]]) -> None:
    start, calls = complaint
    handle = await start(decide_within=timedelta(days=15))

    state = await handle.result()  # the time-skipping server runs the 15 days

    assert state.status == Status.ESCALATED
    assert state.history[-1].note == "decision overdue"
    (notice,) = [arg for name, arg in calls if name == act.SEND_NOTIFICATION]
    assert (notice.template, notice.recipient) == ("complaint_overdue", "agent:alice")


async def test_a_cancellation_ends_it_cancelled_and_recorded(
    complaint: tuple[Any, list[Any]],
) -> None:
    start, _ = complaint
    handle = await start()
    await _until_investigating(handle)

    await handle.cancel()

    with pytest.raises(WorkflowFailureError):
        await handle.result()
    state = await handle.query(ComplaintWorkflow.state)
    assert (state.status, state.history[-1].note, state.history[-1].by) == (
        Status.CANCELLED,
        "cancelled by ops",
        "ops",
    )
    assert (await handle.describe()).typed_search_attributes.get(sa.STATUS) == "cancelled"
