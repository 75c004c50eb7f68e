"""How a workflow runs one step: a regular activity, or — for the short steps against our
own database on runs started since ``LOCAL_STEPS_PATCH`` — a local activity, and for the
writes among them a change queued until the run next waits or calls another step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from domain.activities import Change, ChangeBatch, ChangesRecorded
    from workflows import activity_names as act


def local_steps() -> bool:
    """Whether this run executes the steps of ``act.LOCAL`` as local activities. Decided
    once per run (the SDK memoises a patch): a run whose history predates the change
    replays with regular activities throughout."""
    return workflow.patched(act.LOCAL_STEPS_PATCH)


async def run_step(
    name: str,
    arg: BaseModel,
    result_type: type[Any] | None,
    *,
    local: bool,
    start_to_close: timedelta,
    retry_policy: RetryPolicy,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
) -> Any:
    """Run one step: a local activity if ``local`` (this run is past the patch) and the
    step is one of ``act.LOCAL``, a regular activity otherwise."""
    if local and name in act.LOCAL:
        return await workflow.execute_local_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=start_to_close,
            retry_policy=retry_policy,
            cancellation_type=cancellation_type,
        )
    return await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        start_to_close_timeout=start_to_close,
        retry_policy=retry_policy,
        cancellation_type=cancellation_type,
    )


async def run_to_its_end(
    name: str,
    arg: BaseModel,
    result_type: type[Any] | None,
    *,
    start_to_close: timedelta,
    retry_policy: RetryPolicy,
) -> Any:
    """Run a step that moves money as a regular activity that a cancellation of the process
    neither interrupts nor gets lost in: the step runs to its end (it is short; a charge
    half-made must be seen by the refund), then the cancellation goes on to the run's
    compensation.

    Awaiting the activity directly is not enough: the SDK turns the cancellation into a
    cancel request for the activity and waits, and an activity that completes anyway (a
    gateway that took the money) resolves the await with its result, so the run went on as
    if no cancel had come. Shielded, the run's wait is cancelled and the step is not."""
    handle = workflow.start_activity(
        name,
        arg,
        result_type=result_type,
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
    """The writes a run has queued since it last applied them (runs since the patch only):
    whether anything is to be written (its state at least), and the changes of
    ``act.BATCHED`` in order."""

    def __init__(self) -> None:
        self.dirty = False
        self.changes: list[Change] = []
        self.in_flight = False  # a flush has taken changes and not yet applied them

    def queue(self, name: str, arg: BaseModel) -> None:
        self.changes.append(Change(**{act.BATCHED[name]: arg}))
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
        ``record_changes`` local activity. ``lock`` is the run's record lock: flushes (and
        the old path's records) go one at a time and the snapshot is taken in turn, so the
        read model never goes back. Nothing queued and nothing in flight: returns at once,
        without taking the lock (so runs from before the patch never yield here)."""
        if not self.dirty and not self.in_flight:
            return
        async with lock:  # waits for a flush in flight: its writes too
            changes = self.take()
            if changes is None:
                return
            self.in_flight = True
            try:
                await run_step(
                    act.RECORD_CHANGES,
                    batch(changes),
                    ChangesRecorded,
                    local=True,
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
