"""The worker: the one list of registered workflows and activities."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

from activities.calendar import add_working_days_step
from activities.changes import ChangeActivities
from activities.claims import ClaimActivities
from activities.payment import PaymentActivities
from activities.records import RecordActivities
from activities.reports import ReportActivities
from activities.verification import VerificationActivities
from core.config import Settings
from core.crypto import FieldCipher
from core.keys import Keyring, load_keyring
from gateways.payment import PaymentGateway, gateway_for
from gateways.sanctions import SanctionsList
from workflows.claim import ClaimWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.policy import PolicyWorkflow
from workflows.reports import ReportsWorkflow

WORKFLOWS: Sequence[type] = (EnrollmentWorkflow, ClaimWorkflow, PolicyWorkflow, ReportsWorkflow)


class _LogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        with structlog.contextvars.bound_contextvars(
            workflow_id=info.workflow_id, activity=info.activity_type, attempt=info.attempt
        ):
            return await super().execute_activity(input)


class LogContextInterceptor(Interceptor):
    """Binds the workflow id and activity to every log line an activity writes."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _LogContext(next)


def activities_for(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    keyring: Keyring | None = None,
    gateway: PaymentGateway | None = None,
) -> list[Any]:
    cipher = FieldCipher(keyring or load_keyring(settings))
    records = RecordActivities(session_factory, cipher)
    verification = VerificationActivities(
        session_factory, SanctionsList.load(settings.sanctions_file)
    )
    gateway = gateway or gateway_for(settings, session_factory)
    payment = PaymentActivities(session_factory, gateway, cipher)
    claims = ClaimActivities(session_factory, gateway)
    changes = ChangeActivities(session_factory)
    reports = ReportActivities(session_factory)
    return [
        records.register_customer,
        verification.verify_applicant,
        payment.charge_premium,
        payment.charge_installment,
        payment.pay_policy_value,
        payment.create_payment_order,
        payment.settle_online_payment,
        payment.refund_premium,
        claims.load_policy_position,
        claims.pay_claim,
        changes.record_changes,
        reports.aggregate_report_day,
        add_working_days_step,
    ]


def worker_tuning(settings: Settings) -> dict[str, Any]:
    """The Worker's cache, slots and workflow threads from the settings (the benchmark's
    bare workers take the same)."""
    return {
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "max_concurrent_workflow_tasks": settings.worker_max_concurrent_workflow_tasks,
        "max_concurrent_activities": settings.worker_max_concurrent_activities,
        "max_concurrent_local_activities": settings.worker_max_concurrent_local_activities,
        # Its threads are made as work comes and end with the process.
        "workflow_task_executor": ThreadPoolExecutor(
            max_workers=settings.worker_workflow_threads, thread_name_prefix="workflow"
        ),
    }


def build_worker(
    client: Client,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    task_queue: str | None = None,
    keyring: Keyring | None = None,
    gateway: PaymentGateway | None = None,
    workflows: Sequence[type] = WORKFLOWS,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=list(workflows),
        activities=activities_for(settings, session_factory, keyring=keyring, gateway=gateway),
        interceptors=[LogContextInterceptor()],
        **worker_tuning(settings),
        # Let in-flight activities (a premium charge) finish on Ctrl-C before cancelling.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_until(stop: asyncio.Event, worker: Worker) -> None:
    async with worker:
        await stop.wait()
