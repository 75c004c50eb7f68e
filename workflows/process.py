"""The machinery every process shares, written once: a workflow holds one ``Process`` over
its state and keeps only its business.

A ``Process`` keeps the timeline (``history``), moves the stage (``enter``) and ends the
process (``finish``, ``end_cancelled``), upserting the same search attributes each time;
it calls steps through their typed declarations (``call``, ``start``; see domain.steps),
queues the writes that need nothing back and applies them with the state before the
process waits or calls anything else (``record``, ``flush``, ``wait_until``); it sends
the agent's notices (``notify``), opens and changes inbox tasks, and keeps everyone who
took a step on the case, whom four eyes binds (``took_part``, ``participants``).

Validators refuse with ``refuse(code)``: a code of domain.refusals, whose registry gives
the API the status and the default text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, Literal, Protocol, Self, TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType, ActivityHandle

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.activities import Change, ChangeBatch, Notification, TaskChange, TaskOpen
    from domain.refusals import refusal_for
    from domain.steps import Step
    from domain.tasks import TaskKind
    from domain.underwriting import SYSTEM
    from workflows import search_attributes as sa
    from workflows.inputs import Withdrawal
    from workflows.steps import PendingChanges, run_step, run_to_its_end

A = TypeVar("A")
R = TypeVar("R")

# The retry policy of every step unless the process names another: retry what may pass
# (a database busy, a gateway error), never what cannot (bad input, a declined charge).
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["invalid_input", "payment_declined"],
)
STEP_TIMEOUT = timedelta(seconds=30)

# Errors of data a process cannot work with (not Temporal's own: a business refusal, a
# failed step or a cancellation take their usual paths). See Process.halt.
HALTING_ERRORS = (ValueError, ArithmeticError, LookupError, TypeError)
HALTED = "halted"


def refuse(code: str, detail: str | None = None) -> ApplicationError:
    """A refusal raised by a validator: the Update is rejected and history keeps no trace.
    ``detail`` replaces the registry's text where the refusal can be more precise."""
    return ApplicationError(
        refusal_for(code).text if detail is None else detail, type=code, non_retryable=True
    )


class ProcessState(Protocol):
    """What a process's state holds for the machinery (EnrollmentState, ClaimState)."""

    workflow_id: str
    stage: Any
    status: Any
    history: Any

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A pydantic model's copy."""
        ...


S = TypeVar("S", bound=ProcessState)


async def wait_until(condition: Callable[[], bool], moment: datetime | None) -> bool:
    """Wait for ``condition`` until ``moment`` (a durable timer; None waits without one).
    True if the condition held, False if the moment came first."""
    if condition():
        return True
    if moment is None:
        await workflow.wait_condition(condition)
        return True
    remaining = moment - workflow.now()
    if remaining <= timedelta(0):
        return False
    try:
        await workflow.wait_condition(condition, timeout=remaining)
    except TimeoutError:
        return False
    return True


async def until_cancelled(body: Awaitable[R], compensate: Callable[[], Awaitable[None]]) -> R:
    """Run the process's ``body``; if ops cancel it, ``compensate`` (undo what it did, end
    as cancelled) and let the cancellation end the run. A cancellation shows either as the
    run's wait cancelled or as the step in flight failing as cancelled: both compensate."""
    try:
        return await body
    except asyncio.CancelledError:
        await compensate()
        raise
    except ActivityError as err:
        if not is_cancelled_exception(err):
            raise
        await compensate()
        raise


class Process(Generic[S]):
    """One process's plumbing over its state ``state``.

    ``entry`` builds a timeline entry (stage, status, at, by, note); ``batch`` wraps the
    state and the queued changes for ``record_changes``; ``case_id`` and ``agent`` name
    the case and whom its notices go to; ``notice_params`` go with every notice. The
    state's status at the start is the status of a process under way. The first timeline
    entry is written here, by ``opened_by`` (the agent unless someone filed for them): an
    Update may move past it before ``run()`` has done anything."""

    def __init__(
        self,
        state: S,
        entry: Callable[..., Any],
        batch: Callable[[S, list[Change]], ChangeBatch],
        case_id: str,
        agent: str,
        opened_by: str | None = None,
        notice_params: Mapping[str, str] | None = None,
        *,
        live_statuses: Collection[Any] | None = None,
        opening_note: str | None = None,
    ) -> None:
        self.state = state
        self.case_id = case_id
        self.agent = agent
        # The statuses of a process under way: by default the one it starts in; a process
        # whose status moves while it runs (a policy: issued, effective, grace) names them.
        self._live = frozenset(live_statuses) if live_statuses else frozenset({state.status})
        self._entry = entry
        self._batch = batch
        self._notice_params = dict(notice_params or {})
        self._pending = PendingChanges()
        self._lock = asyncio.Lock()
        # Everyone who took a step on this case: four eyes binds each of them.
        self.participants: list[str] = []
        for username in (agent, opened_by or agent):
            self.took_part(username)
        # The agent's withdrawal, once asked for: the process ends withdrawn at its next step.
        self.withdrawal: Withdrawal | None = None
        self.history(opening_note, by=opened_by or agent)

    def took_part(self, username: str) -> None:
        if username not in self.participants:
            self.participants.append(username)

    # --- what validators and Update handlers ask ----------------------------------------

    def running(self) -> bool:
        """The process is under way (not ended, not in a rejected-but-appealable pause)."""
        return self.state.status in self._live

    def at(self, stages: Collection[Any]) -> bool:
        """Under way, at one of ``stages``."""
        return self.running() and self.state.stage in stages

    def require_agent(self, username: str) -> None:
        """Refuse ``not_your_case`` unless ``username`` is the case's own agent: the
        validators of the agent's own actions (quote, apply, supplement, appeal, withdraw)
        check it first, so the API needs no query to learn whose case it is (four eyes
        binds the person who acted: nobody acts for the agent and then decides)."""
        if username != self.agent:
            raise refuse("not_your_case")

    def copy(self) -> S:
        """The state as an Update answers it (a copy: the caller sees it as of now)."""
        return self.state.model_copy(deep=True)

    async def answer_when(self, settled: Callable[[], bool]) -> S:
        """An Update's answer: the state once ``settled`` holds."""
        await workflow.wait_condition(settled)
        return self.copy()

    async def withdraw(self, withdrawal: Withdrawal) -> S:
        """The withdraw Update's handler: note it, answer once the process has ended (its
        validator refused it where the process may no longer be withdrawn)."""
        self.withdrawal = withdrawal
        return await self.answer_when(lambda: not self.running())

    # --- steps --------------------------------------------------------------------------

    async def call(
        self,
        step: Step[A, R],
        arg: A,
        *,
        start_to_close: timedelta = STEP_TIMEOUT,
        to_its_end: bool = False,
        retry_policy: RetryPolicy = STEP_RETRY,
    ) -> R:
        """Run ``step`` and return its result. A batched write is queued (applied by the
        next ``flush``) and returns None; anything else first applies what is queued.
        ``to_its_end``: a step that moves money, which a cancellation neither interrupts
        nor gets lost in (workflows.steps.run_to_its_end)."""
        if step.runs == "batched":
            self._pending.queue(step, arg)
            return cast(R, None)
        await self.flush()
        if to_its_end:
            return await run_to_its_end(
                step, arg, start_to_close=start_to_close, retry_policy=retry_policy
            )
        return await run_step(step, arg, start_to_close=start_to_close, retry_policy=retry_policy)

    async def start(
        self,
        step: Step[A, R],
        arg: A,
        *,
        retry_policy: RetryPolicy,
        cancellation_type: ActivityCancellationType,
    ) -> ActivityHandle[R]:
        """Start a regular-activity ``step`` and return its handle, for a process that
        watches a deadline while the step runs (what is queued is applied first)."""
        assert step.runs == "activity", step.name
        await self.flush()
        return cast(
            ActivityHandle[R],
            workflow.start_activity(
                step.name,
                arg,
                result_type=step.result,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=retry_policy,
                cancellation_type=cancellation_type,
            ),
        )

    def record(self) -> None:
        """The state is to be written: by the next ``flush``, with the latest state."""
        self._pending.dirty = True

    async def flush(self) -> None:
        """Apply the queued writes with the current state, in one local activity. Called
        before the process waits or calls any other step, and before an Update answers."""
        await self._pending.flush(
            self._lock,
            lambda changes: self._batch(self.state.model_copy(deep=True), changes),
            retry_policy=STEP_RETRY,
        )

    async def wait_until(self, condition: Callable[[], bool], moment: datetime | None) -> bool:
        """``wait_until`` with what is queued applied first (a wait may last years)."""
        await self.flush()
        return await wait_until(condition, moment)

    # --- the timeline and the stage -----------------------------------------------------

    def history(self, note: str | None, *, by: str) -> None:
        self.state.history.append(
            self._entry(
                stage=self.state.stage,
                status=self.state.status,
                at=workflow.now(),
                by=by,
                note=note,
            )
        )

    def _upsert_stage_and_status(self) -> None:
        workflow.upsert_search_attributes(
            [
                sa.STAGE.value_set(self.state.stage.value),
                sa.STATUS.value_set(self.state.status.value),
            ]
        )

    def set_status(self, status: Any, *, by: str, note: str | None = None) -> None:
        """Move to ``status`` while the process runs on (a policy becoming effective): a
        timeline line, the search attributes, the state's record."""
        self.state.status = status
        self.history(note, by=by)
        self._upsert_stage_and_status()
        self.record()

    def enter(self, stage: Any, *, by: str, note: str | None = None) -> None:
        """Move to ``stage``: a timeline line, the search attributes, the state's record."""
        self.state.stage = stage
        self.history(note, by=by)
        self._upsert_stage_and_status()
        self.record()

    async def finish(
        self, status: Any, *, by: str, note: str | None = None, stage: Any = None
    ) -> S:
        """End the process with ``status`` (and ``stage``, if it moves): the last timeline
        line and record, applied; in-flight Update handlers answer before it completes."""
        self.state.status = status
        if stage is not None:
            self.state.stage = stage
        self.history(note, by=by)
        self._upsert_stage_and_status()
        self.record()
        await self.flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    async def end_cancelled(self, status: Any, *, by: str = "ops") -> None:
        """The end of a compensation: cancelled, said and written (the run then ends by
        the cancellation it compensated)."""
        self.state.status = status
        self.history("cancelled by ops", by=by)
        workflow.upsert_search_attributes([sa.STATUS.value_set(status.value)])
        self.record()
        await self.flush()

    async def halt(self, err: Exception) -> None:
        """Data the process cannot work with (a bug, or input past every bound): rather
        than fail each workflow task for good (frozen, its money held, a cancel never
        seen), the process stops where it is, says so to ops (status search attribute
        ``halted``, an incident in the ops scan, a timeline line) and waits for ops to
        cancel it, whose compensation undoes what it did. Only the error's type is kept:
        its text may carry data. (A process with a ``failure_code`` sets it first.)"""
        self.history(f"halted on {type(err).__name__}: waiting for ops", by=SYSTEM)
        workflow.upsert_search_attributes([sa.STATUS.value_set(HALTED)])
        await self.notify("process_halted")
        self.record()
        await self.wait_until(lambda: False, None)

    # --- notices and tasks --------------------------------------------------------------

    async def notify(
        self, template: str, *, key_suffix: str = "", to_customer: bool = False, **params: str
    ) -> None:
        """A notice to the case's agent (in the inbox), or ``to_customer`` to the customer
        by SMS (a reference to the case, never a phone number: the dispatcher looks it up);
        its key (case, template, suffix, recipient) sends it once."""
        key = f"{self.case_id}:{template}" + (f":{key_suffix}" if key_suffix else "")
        await self.call(
            steps.SEND_NOTIFICATION,
            Notification(
                key=key + (":customer" if to_customer else ""),
                case_id=self.case_id,
                recipient=f"customer:{self.case_id}" if to_customer else f"agent:{self.agent}",
                channel="sms" if to_customer else "inbox",
                template=template,
                params={**self._notice_params, **params},
            ),
        )

    async def open_task(
        self,
        task_id: str,
        kind: TaskKind,
        *,
        subject: str,
        amount: Decimal,
        submitted_by: str,
        due_at: datetime,
        escalate_at: datetime | None = None,
        expire_at: datetime | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Open an inbox task on this case (submitted by ``submitted_by``)."""
        await self.call(
            steps.OPEN_TASK,
            TaskOpen(
                task_id=task_id,
                kind=kind,
                workflow_id=self.state.workflow_id,
                case_id=self.case_id,
                subject=subject,
                amount=amount,
                submitted_by=submitted_by,
                agent=self.agent,
                due_at=due_at,
                escalate_at=escalate_at,
                expire_at=expire_at,
                details=details or {},
            ),
        )

    async def change_task(
        self,
        task_id: str,
        action: Literal["remind", "escalate", "expire", "complete", "cancel"],
        *,
        by: str = SYSTEM,
        level: int | None = None,
        decision: str | None = None,
        reason: str | None = None,
    ) -> None:
        await self.call(
            steps.CHANGE_TASK,
            TaskChange(
                task_id=task_id,
                action=action,
                by=by,
                level=level,
                decision=decision,
                reason=reason,
            ),
        )
