"""Waiting in a workflow for a condition with a durable deadline (shared by the processes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow


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
