"""How a workflow runs one declared step (domain.steps): a regular or a local activity,
and for the batched writes a change queued until the process next waits or calls another
step, then applied with its state by one ``record_changes`` local activity."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.activities import Change, ChangeBatch
    from domain.steps import Step

A = TypeVar("A")
R = TypeVar("R")


async def run_step(
    step: Step[A, R], arg: A, *, start_to_close: timedelta, retry_policy: RetryPolicy
) -> R:
    """Run one step: a local activity if it is declared ``local``, a regular one otherwise."""
    if step.runs == "local":
        result = await workflow.execute_local_activity(
            step.name,
            arg,
            result_type=step.result,
            start_to_close_timeout=start_to_close,
            retry_policy=retry_policy,
        )
    else:
        result = await workflow.execute_activity(
            step.name,
            arg,
            result_type=step.result,
            start_to_close_timeout=start_to_close,
            retry_policy=retry_policy,
        )
    return result


async def run_to_its_end(
    step: Step[A, R], arg: A, *, start_to_close: timedelta, retry_policy: RetryPolicy
) -> R:
    """Run a step that moves money as a regular activity that a cancellation of the process
    neither interrupts nor gets lost in: the step runs to its end (it is short; a charge
    half-made must be seen by the refund), then the cancellation goes on to the run's
    compensation.

    Awaiting the activity directly is not enough: the SDK turns the cancellation into a
    cancel request for the activity and waits, and an activity that completes anyway (a
    gateway that took the money) resolves the await with its result, so the run went on as
    if no cancel had come. Shielded, the run's wait is cancelled and the step is not."""
    handle = workflow.start_activity(
        step.name,
        arg,
        result_type=step.result,
        start_to_close_timeout=start_to_close,
        retry_policy=retry_policy,
    )
    try:
        return await asyncio.shield(handle)
    except asyncio.CancelledError:
        try:
            await handle
        except ActivityError:
            pass  # failed: the compensation refunds by key whatever may have been taken
        raise


class PendingChanges:
    """The writes a process has queued since it last applied them: whether anything is to
    be written (its state at least), and the batched steps' changes in order."""

    def __init__(self) -> None:
        self.dirty = False
        self.changes: list[Change] = []
        self.in_flight = False  # a flush has taken changes and not yet applied them

    def queue(self, step: Step[A, R], arg: A) -> None:
        assert step.change is not None, step.name
        self.changes.append(Change(**{step.change: arg}))
        self.dirty = True

    def take(self) -> list[Change] | None:
        """The queued changes, now cleared; None when nothing is pending."""
        if not self.dirty:
            return None
        changes, self.changes, self.dirty = self.changes, [], False
        return changes

    def put_back(self, changes: list[Change]) -> None:
        """Changes a flush took but did not apply (its activity failed or was cancelled):
        first in line again, so the next flush applies them (they are idempotent)."""
        self.changes = changes + self.changes
        self.dirty = True

    async def flush(
        self,
        lock: asyncio.Lock,
        batch: Callable[[list[Change]], ChangeBatch],
        *,
        retry_policy: RetryPolicy,
    ) -> None:
        """Apply the queued changes, with the state ``batch`` snapshots, in one
        ``record_changes`` local activity. ``lock`` is the process's record lock: flushes
        go one at a time and the snapshot is taken in turn, so the read model never goes
        back. Nothing queued and nothing in flight: returns at once."""
        if not self.dirty and not self.in_flight:
            return
        async with lock:  # waits for a flush in flight: its writes too
            changes = self.take()
            if changes is None:
                return
            self.in_flight = True
            try:
                await run_step(
                    steps.RECORD_CHANGES,
                    batch(changes),
                    start_to_close=timedelta(seconds=30),
                    retry_policy=retry_policy,
                )
            except BaseException:
                # Cancelled (ops cancelled the process) or failed: the writes stay queued
                # for the next flush, e.g. the one that ends the compensation.
                self.put_back(changes)
                raise
            finally:
                self.in_flight = False
