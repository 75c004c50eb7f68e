"""The durations a process runs on, passed into each workflow at start.

Workflows never read the environment; the starter hands them these values, so a
running process keeps the clocks it started with.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict


class ProcessClocks(BaseModel):
    model_config = ConfigDict(frozen=True)

    consultation_window: timedelta = timedelta(days=30)
    quote_validity: timedelta = timedelta(days=30)
    underwriting_due: timedelta = timedelta(hours=24)
    underwriting_escalate: timedelta = timedelta(hours=48)
    underwriting_expire: timedelta = timedelta(days=7)
    payment_deadline: timedelta = timedelta(days=7)
    documents_deadline: timedelta = timedelta(days=30)
    documents_reminder_every: timedelta = timedelta(days=7)
    claim_decision_deadline: timedelta = timedelta(days=30)
    payout_deadline: timedelta = timedelta(days=10)
    appeal_window: timedelta = timedelta(days=60)
    # How far ahead an application's start_date may lie (a policy begins soon after sale).
    start_date_window: timedelta = timedelta(days=90)
