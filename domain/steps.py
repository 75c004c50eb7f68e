"""The steps a process calls, declared once: each one's name, argument, result and how it
runs. Workflows call a step through its declaration (``workflows.process.Process.call``),
so its result is typed; the worker registers each implementation under its declared name,
and a test checks that every declaration has exactly one implementation of its signature.
Nothing here touches the database: the workflows import it.

How a step runs:
- ``activity``: a regular activity. Steps that call an outside service (the payment
  gateway): ops see their attempts and failures while they retry, and a charge in flight
  is awaited on cancellation.
- ``local``: a local activity, executed by the worker inside the workflow task that asks
  for it (no trip through the server): the short reads against our own database whose
  result the process needs.
- ``batched``: a write the process needs nothing back from. It is queued, and applied
  with the process's state by one ``record_changes`` local activity just before the
  process next waits or calls another step (activities/changes.py); ``change`` names the
  field of :class:`~domain.activities.Change` it travels in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from domain.activities import (
    ChangeBatch,
    ChangesRecorded,
    Charge,
    CustomerPhoneChange,
    CustomerRef,
    CustomerRegistration,
    InstallmentCharge,
    LedgerEntry,
    Notification,
    PaymentAccountChange,
    PaymentOrder,
    PayoutRequest,
    PolicyIssue,
    PolicyPayout,
    PolicyPosition,
    PolicyRef,
    PolicyStatusChange,
    QuoteRecord,
    Refund,
    Settlement,
    TaskChange,
    TaskOpen,
    VerifyApplicant,
    WorkingDay,
    WorkingDaysAsk,
)
from domain.enrollment import Verification
from domain.reports import ReportDay, ReportDayAggregated

A = TypeVar("A")
R = TypeVar("R")


@dataclass(frozen=True)
class Step(Generic[A, R]):
    name: str
    arg: type[A]
    result: type[R] | None
    runs: Literal["activity", "local", "batched"]
    change: str | None = None  # batched: the field of Change the write goes in


REGISTER_CUSTOMER: Step[CustomerRegistration, CustomerRef] = Step(
    "register_customer", CustomerRegistration, CustomerRef, "local"
)
VERIFY_APPLICANT: Step[VerifyApplicant, Verification] = Step(
    "verify_applicant", VerifyApplicant, Verification, "local"
)
LOAD_POLICY_POSITION: Step[PolicyRef, PolicyPosition] = Step(
    "load_policy_position", PolicyRef, PolicyPosition, "local"
)
RECORD_CHANGES: Step[ChangeBatch, ChangesRecorded] = Step(
    "record_changes", ChangeBatch, ChangesRecorded, "local"
)

RECORD_QUOTE: Step[QuoteRecord, None] = Step(
    "record_quote", QuoteRecord, None, "batched", change="quote"
)
OPEN_TASK: Step[TaskOpen, None] = Step("open_task", TaskOpen, None, "batched", change="task_open")
CHANGE_TASK: Step[TaskChange, None] = Step(
    "change_task", TaskChange, None, "batched", change="task_change"
)
ISSUE_POLICY: Step[PolicyIssue, None] = Step(
    "issue_policy", PolicyIssue, None, "batched", change="policy_issue"
)
SET_POLICY_STATUS: Step[PolicyStatusChange, None] = Step(
    "set_policy_status", PolicyStatusChange, None, "batched", change="policy_status"
)
# Servicing changes (保全): sealed values, written as they came (never decrypted on the way).
CHANGE_CUSTOMER_PHONE: Step[CustomerPhoneChange, None] = Step(
    "change_customer_phone", CustomerPhoneChange, None, "batched", change="customer_phone"
)
CHANGE_PAYMENT_ACCOUNT: Step[PaymentAccountChange, None] = Step(
    "change_payment_account", PaymentAccountChange, None, "batched", change="payment_account"
)
SEND_NOTIFICATION: Step[Notification, None] = Step(
    "send_notification", Notification, None, "batched", change="notification"
)

CHARGE_PREMIUM: Step[Charge, LedgerEntry] = Step("charge_premium", Charge, LedgerEntry, "activity")
CHARGE_INSTALLMENT: Step[InstallmentCharge, LedgerEntry] = Step(
    "charge_installment", InstallmentCharge, LedgerEntry, "activity"
)
PAY_POLICY_VALUE: Step[PolicyPayout, LedgerEntry] = Step(
    "pay_policy_value", PolicyPayout, LedgerEntry, "activity"
)
CREATE_PAYMENT_ORDER: Step[PaymentOrder, LedgerEntry] = Step(
    "create_payment_order", PaymentOrder, LedgerEntry, "activity"
)
SETTLE_ONLINE_PAYMENT: Step[Settlement, LedgerEntry] = Step(
    "settle_online_payment", Settlement, LedgerEntry, "activity"
)
REFUND_PREMIUM: Step[Refund, LedgerEntry] = Step("refund_premium", Refund, LedgerEntry, "activity")
# Pure, but an activity on purpose: the holiday data changes with package upgrades, which
# must not change what a running process replays; beyond the data it fails and retries,
# visibly to ops, until the calendar is upgraded (domain.working_days).
ADD_WORKING_DAYS: Step[WorkingDaysAsk, WorkingDay] = Step(
    "add_working_days", WorkingDaysAsk, WorkingDay, "activity"
)
PAY_CLAIM: Step[PayoutRequest, LedgerEntry] = Step(
    "pay_claim", PayoutRequest, LedgerEntry, "activity"
)
# The reports' daily aggregation: a regular activity, so ops see a failing day retry.
AGGREGATE_REPORT_DAY: Step[ReportDay, ReportDayAggregated] = Step(
    "aggregate_report_day", ReportDay, ReportDayAggregated, "activity"
)

STEPS: tuple[Step[object, object], ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, Step)
)
# The step each Change field stands for (the ops timeline reads batched writes by it).
STEP_OF_CHANGE: dict[str, str] = {s.change: s.name for s in STEPS if s.change is not None}
