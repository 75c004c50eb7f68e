"""A process's history told in business words: "Application submitted by alice",
"Verification passed", "Premium charged ¥1,234.00 (ledger …)".

Built from the decoded, masked events of ``services.ops.history``: activities by their name
with their input and result, Updates by their name with the person in their arguments,
timers, and how the process started and ended. Bookkeeping (read-model records) is left
out; anything unknown is still shown, plainly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel

from domain import steps
from domain.business import SHANGHAI
from domain.tasks import TaskKind
from domain.texts import N_
from services.ops.history import parse_time
from workflows import search_attributes as sa

# Read-model writes: how the API's lists stay current, not something the process did.
_BOOKKEEPING = {steps.RECORD_QUOTE.name}
_TASK_KINDS: dict[str, str] = {
    TaskKind.UNDERWRITING: "Underwriting",
    TaskKind.CLAIM_REVIEW: "Claim review",
    TaskKind.CLAIM_APPROVAL: "Claim approval",
    TaskKind.PAYOUT_FAILED: "Payout fix",
    TaskKind.LATE_PAYMENT: "Late payment refund",
    TaskKind.RETURN_VISIT: "Return visit",
    TaskKind.MISSELLING_REMEDIATION: "Mis-selling remediation",
}
_ACTIVITY_LABELS = {
    steps.REGISTER_CUSTOMER.name: "Customer registration",
    steps.VERIFY_APPLICANT.name: "Verification",
    steps.OPEN_TASK.name: "Opening a task",
    steps.CHANGE_TASK.name: "Updating a task",
    steps.CHARGE_PREMIUM.name: "Premium charge",
    steps.CREATE_PAYMENT_ORDER.name: "Payment order",
    steps.SETTLE_ONLINE_PAYMENT.name: "Online payment settlement",
    steps.REFUND_PREMIUM.name: "Premium refund",
    steps.ISSUE_POLICY.name: "Policy issue",
    steps.SET_POLICY_STATUS.name: "Policy status change",
    steps.SEND_NOTIFICATION.name: "Notification",
    steps.CHANGE_CUSTOMER_PHONE.name: "Customer phone change",
    steps.CHANGE_PAYMENT_ACCOUNT.name: "Payment account change",
    steps.LOAD_POLICY_POSITION.name: "Reading the policy position",
    steps.PAY_CLAIM.name: "Claim payout",
    steps.ADD_WORKING_DAYS.name: "Counting working days",
}
_LOCAL_ACTIVITY_MARKER = "core_local_activity"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


class TimelineEntry(BaseModel):
    """One step a person reads: when, what happened, and where it comes from. ``event`` is
    the English sentence (what the API and the golden files hold); where the step is told
    by a catalogue text, ``msgid`` and ``params`` let a reader's page say it in their
    language (``event == msgid % params``)."""

    at: datetime
    event: str
    detail: str
    event_id: int
    msgid: str = ""
    params: dict[str, str] = {}


@dataclass(frozen=True)
class Said:
    """A step's words as a catalogue msgid (marked ``N_``) and its values."""

    msgid: str
    params: dict[str, str]

    @property
    def english(self) -> str:
        return self.msgid % self.params if self.params else self.msgid


def said(msgid: str, **params: Any) -> Said:
    return Said(msgid, {k: str(v) for k, v in params.items()})


def money(value: Any) -> str:
    """``¥1,234.00``."""
    try:
        return f"¥{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return f"¥{value}"


def moment(value: Any) -> str:
    """A time as people here read it: ``2025-03-01 09:30 UTC+8``."""
    parsed = value if isinstance(value, datetime) else parse_time(value)
    if parsed is None:
        return str(value)
    return parsed.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M UTC+8")


def duration(value: Any) -> timedelta | None:
    """A protobuf JSON duration (``"86400s"``)."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    return timedelta(seconds=float(match.group(1))) if match else None


def words(code: Any) -> str:
    return str(code).replace("_", " ")


def _first(values: Any) -> Any:
    """The first decoded payload of a ``Payloads`` list (args, input, result)."""
    if isinstance(values, list) and values:
        return values[0]
    return None


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _failure_text(failure: Any) -> str:
    failure = _as_dict(failure)
    message = str(failure.get("message") or "no message")
    cause = _as_dict(failure.get("cause"))
    if cause.get("message") and cause.get("message") != message:
        message = f"{message}: {cause['message']}"
    return message


class _Timeline:
    def __init__(self) -> None:
        self.entries: list[TimelineEntry] = []
        self.activities: dict[str, tuple[str, dict[str, Any]]] = {}
        self.updates: dict[str, tuple[str, dict[str, Any]]] = {}
        self.task_kinds: dict[str, str] = {}
        self.effective_at: dict[str, Any] = {}
        self.timers: dict[str, datetime | None] = {}
        self.workflow_type = ""

    def add(self, event: dict[str, Any], text: str | Said, detail: str = "") -> None:
        at = parse_time(event["at"])
        assert at is not None
        words = (
            {"event": text.english, "msgid": text.msgid, "params": text.params}
            if isinstance(text, Said)
            else {"event": text}
        )
        self.entries.append(
            TimelineEntry(at=at, detail=detail, event_id=int(event["event_id"]), **words)
        )

    # --- the process itself ------------------------------------------------------------

    def workflow_started(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.workflow_type = _as_dict(a.get("workflow_type")).get("name", "")
        start = _as_dict(_first(a.get("input")))
        if self.workflow_type == "EnrollmentWorkflow":
            self.add(
                event,
                f"Enrollment started by {start.get('agent', 'unknown')}",
                f"application {start.get('application_no', '')}",
            )
        elif self.workflow_type == "ClaimWorkflow":
            self.add(
                event,
                f"Claim reported by {start.get('agent', 'unknown')}: "
                f"{words(start.get('incident_type', ''))}, {money(start.get('amount_claimed'))} "
                f"claimed on {start.get('policy_number', '')}",
                f"claim {start.get('claim_no', '')}",
            )
        elif self.workflow_type == "PolicyWorkflow":
            carried = _as_dict(start.get("carried"))
            if start.get("policy_number"):  # its own status changes are told with this
                self.effective_at[start["policy_number"]] = start.get("effective_at")
            self.add(
                event,
                f"Policy year {carried['policy_year']} of {start.get('product_code', '')} begins"
                if carried
                else f"Policy issued: {start.get('product_code', '')}, "
                f"sum insured {money(start.get('sum_insured'))}, agent {start.get('agent', '')}",
                f"policy {start.get('policy_number', '')}",
            )
        else:
            self.add(event, f"{self.workflow_type or 'Process'} started")

    def workflow_completed(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        result = _as_dict(_first(a.get("result")))
        status = result.get("status")
        if self.workflow_type == "EnrollmentWorkflow" and status:
            self.add(
                event,
                f"Enrollment ended: {words(status)}",
                f"stage {words(result.get('stage', ''))}",
            )
        elif self.workflow_type == "PolicyWorkflow" and status:
            self.add(
                event, f"Policy ended: {words(status)}", f"stage {words(result.get('stage', ''))}"
            )
        elif self.workflow_type == "ClaimWorkflow" and status:
            self.add(
                event, f"Claim closed: {words(status)}", f"stage {words(result.get('stage', ''))}"
            )
        else:
            self.add(event, "Process completed")

    def workflow_failed(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, f"Process failed: {_failure_text(a.get('failure'))}")

    def cancel_requested(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        cause = a.get("cause") or "no reason given"
        self.add(event, f"Cancellation requested: {cause}", a.get("identity", ""))

    def canceled(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, "Process cancelled")

    def terminated(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(
            event,
            f"Process terminated: {a.get('reason') or 'no reason given'}",
            a.get("identity", ""),
        )

    def timed_out(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, "Process timed out")

    def continued_as_new(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, "Continued in a new run", a.get("new_execution_run_id", ""))

    def signaled(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, f"Signal {a.get('signal_name', '')} received", a.get("identity", ""))

    def search_attributes(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        fields = _as_dict(_as_dict(a.get("search_attributes")).get("indexed_fields"))
        stage = fields.get(sa.STAGE.name)
        if isinstance(stage, str) and stage:
            self.add(event, f"Stage: {words(stage)}")

    # --- activities ----------------------------------------------------------------------

    def activity_scheduled(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        name = _as_dict(a.get("activity_type")).get("name", "")
        argument = _as_dict(_first(a.get("input")))
        self.activities[str(event["event_id"])] = (name, argument)
        self._remember(name, argument)

    def _remember(self, name: str, argument: dict[str, Any]) -> None:
        """What later steps' words need: a task's kind, a policy's effective moment."""
        if name == steps.OPEN_TASK.name and argument.get("task_id"):
            self.task_kinds[argument["task_id"]] = argument.get("kind", "")
        if name == steps.ISSUE_POLICY.name and argument.get("policy_number"):
            self.effective_at[argument["policy_number"]] = argument.get("effective_at")

    def marker_recorded(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        """A local activity (a ``local`` step of domain.steps) is one marker with its result
        and no input: the words of registration, verification and the policy position
        come from their results, and ``record_changes`` returns the writes it applied, told
        one by one. Other markers (a ``workflow.patched`` note) are not business."""
        if a.get("marker_name") != _LOCAL_ACTIVITY_MARKER:
            return
        details = _as_dict(a.get("details"))
        name = str(_as_dict(_first(details.get("data"))).get("activity_type", ""))
        if a.get("failure"):
            label = _ACTIVITY_LABELS.get(name, name or "An activity")
            text = f"{label} failed: {_failure_text(a.get('failure'))}"
            self.add(event, text, f"activity {name}")
            return
        result = _as_dict(_first(details.get("result")))
        if name == steps.RECORD_CHANGES.name:
            # The batched writes (activities/changes.py): one step each, in order.
            for change in result.get("changes") or []:
                for field, value in _as_dict(change).items():
                    if value is not None and field in steps.STEP_OF_CHANGE:
                        self._local_step(event, steps.STEP_OF_CHANGE[field], _as_dict(value))
            return
        self._local_step(event, name, result)

    def _local_step(self, event: dict[str, Any], name: str, result: dict[str, Any]) -> None:
        if name in _BOOKKEEPING:
            return
        self._remember(name, result)
        text = self._activity_text(name, result, result)
        if text:
            self.add(event, text, f"activity {name}")

    def activity_completed(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        name, argument = self.activities.get(str(a.get("scheduled_event_id")), ("", {}))
        if name in _BOOKKEEPING:
            return
        result = _first(a.get("result"))
        text = self._activity_text(name, argument, _as_dict(result))
        if text:
            self.add(event, text, f"activity {name}")

    def _task_name(self, task_id: str) -> str:
        kind = self.task_kinds.get(task_id, "")
        return f"{_TASK_KINDS.get(kind, 'The')} task"

    def _activity_text(self, name: str, argument: dict[str, Any], result: dict[str, Any]) -> str:
        match name:
            case steps.REGISTER_CUSTOMER.name:
                return "Customer registered"
            case steps.VERIFY_APPLICANT.name:
                if result.get("passed"):
                    flags = result.get("risk_flags") or []
                    return "Verification passed" + (
                        f" (risk flags: {', '.join(map(words, flags))})" if flags else ""
                    )
                return f"Verification failed: {words(result.get('failure_code') or 'unknown')}"
            case steps.OPEN_TASK.name:
                kind = _TASK_KINDS.get(argument.get("kind", ""), "A")
                return f"{kind} task opened (due {moment(argument.get('due_at'))})"
            case steps.CHANGE_TASK.name:
                return self._task_change_text(argument)
            case steps.CHARGE_PREMIUM.name:
                return (
                    f"Premium charged {money(result.get('amount'))} "
                    f"(ledger {result.get('ledger_id', '')})"
                )
            case steps.CREATE_PAYMENT_ORDER.name:
                return (
                    f"Payment order {argument.get('order_id', '')} created: "
                    f"{money(argument.get('amount'))} due {moment(argument.get('due_at'))}"
                )
            case steps.SETTLE_ONLINE_PAYMENT.name:
                return (
                    f"Premium paid online {money(result.get('amount'))} "
                    f"(ledger {result.get('ledger_id', '')})"
                )
            case steps.REFUND_PREMIUM.name:
                if result.get("status") == "succeeded":
                    return (
                        f"Premium refunded {money(result.get('amount'))} "
                        f"(ledger {result.get('ledger_id', '')})"
                    )
                return "Nothing to refund: no premium was collected"
            case steps.ISSUE_POLICY.name:
                return (
                    f"Policy {argument.get('policy_number', '')} issued "
                    f"(effective {moment(argument.get('effective_at'))})"
                )
            case steps.SET_POLICY_STATUS.name:
                number = argument.get("policy_number", "")
                status = argument.get("status", "")
                if status == "effective":
                    return f"Policy {number} effective {moment(self.effective_at.get(number))}"
                return f"Policy {number} {words(status)}"
            case steps.SEND_NOTIFICATION.name:
                recipient = str(argument.get("recipient", "")).partition(":")[0] or "someone"
                return f"Notified the {recipient}: {words(argument.get('template', ''))}"
            case steps.LOAD_POLICY_POSITION.name:
                return (
                    f"Policy position read: sum insured {money(result.get('sum_insured'))}, "
                    f"paid to date {money(result.get('paid_to_date'))}"
                )
            case steps.PAY_CLAIM.name:
                return (
                    f"Claim paid {money(result.get('amount'))} "
                    f"(ledger {result.get('ledger_id', '')})"
                )
        return f"{_ACTIVITY_LABELS.get(name, name or 'An activity')} done"

    def _task_change_text(self, change: dict[str, Any]) -> str:
        task = self._task_name(str(change.get("task_id", "")))
        match change.get("action"):
            case "remind":
                return f"{task} past due: reminder sent"
            case "escalate":
                level = change.get("level")
                return f"{task} escalated" + (f" (level {level})" if level else "")
            case "expire":
                return f"{task} expired"
            case "cancel":
                reason = change.get("reason")
                return f"{task} cancelled" + (f": {reason}" if reason else "")
            case "complete":
                return f"{task} closed ({words(change.get('decision') or 'done')})"
        return f"{task} changed"

    def activity_failed(self, event: dict[str, Any], a: dict[str, Any], how: str) -> None:
        name, _ = self.activities.get(str(a.get("scheduled_event_id")), ("", {}))
        label = _ACTIVITY_LABELS.get(name, name or "An activity")
        text = f"{label} {how}"
        if how == "failed":
            text += f": {_failure_text(a.get('failure'))}"
        self.add(event, text, f"activity {name}")

    # --- people (Updates) ----------------------------------------------------------------

    def update_accepted(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        request = _as_dict(a.get("accepted_request"))
        name = _as_dict(request.get("input")).get("name", "")
        argument = _as_dict(_first(_as_dict(request.get("input")).get("args")))
        update_id = _as_dict(request.get("meta")).get("update_id", "")
        self.updates[update_id] = (name, argument)
        self.updates[str(event["event_id"])] = (name, argument)
        self.add(event, self._update_text(name, argument), f"update {name}")

    def _update_text(self, name: str, argument: dict[str, Any]) -> str | Said:
        """What a person did, as catalogue texts with the person in ``by`` (the console
        reads who from it)."""
        by = argument.get("by") or _as_dict(argument.get("actor")).get("username") or "someone"
        reason = argument.get("reason") or ""
        match name:
            case "quote":
                return said(
                    N_("Quote requested by %(by)s: %(product)s, sum insured %(amount)s"),
                    by=by,
                    product=argument.get("product_code", ""),
                    amount=money(argument.get("sum_insured")),
                )
            case "submit_application":
                return said(N_("Application submitted by %(by)s"), by=by)
            case "decide":
                decision = argument.get("decision")
                amount = argument.get("amount")
                if decision == "approve" and amount:
                    return said(
                        N_("Approved by %(by)s: %(reason)s (%(amount)s)"),
                        by=by,
                        reason=reason,
                        amount=money(amount),
                    )
                if decision == "approve":
                    return said(N_("Approved by %(by)s: %(reason)s"), by=by, reason=reason)
                if decision == "reject":
                    return said(N_("Rejected by %(by)s: %(reason)s"), by=by, reason=reason)
                missing = ", ".join(map(words, argument.get("missing") or []))
                return f"More information requested by {by}: {reason}" + (
                    f" (missing: {missing})" if missing else ""
                )
            case "withdraw":
                if reason:
                    return said(N_("Withdrawn by %(by)s: %(reason)s"), by=by, reason=reason)
                return said(N_("Withdrawn by %(by)s"), by=by)
            case "confirm_payment":
                return said(
                    N_("Payment received %(amount)s (order %(order)s)"),
                    amount=money(argument.get("amount")),
                    order=argument.get("order_id", ""),
                )
            case "supplement_documents":
                kinds = ", ".join(
                    words(_as_dict(d).get("kind", "")) for d in argument.get("documents") or []
                )
                return f"Documents supplemented by {by}: {kinds}"
            case "appeal":
                return said(N_("Appeal filed by %(by)s: %(reason)s"), by=by, reason=reason)
            case "fix_payout":
                return said(N_("Payee account corrected by %(by)s"), by=by)
            case "sign_receipt":
                return said(N_("Receipt signed by the customer"))
            case "cancel_in_cooling_off":
                return said(
                    N_("Cancellation in the cooling-off period asked by %(by)s: %(reason)s"),
                    by=by,
                    reason=reason,
                )
            case "record_return_visit":
                decision = argument.get("decision")
                if decision == "completed":
                    confirmed = sum(1 for v in _as_dict(argument.get("checklist")).values() if v)
                    return said(
                        N_("Return visit completed by %(by)s: %(n)s confirmed"), by=by, n=confirmed
                    )
                if decision == "unreachable":
                    return said(N_("Return visit by %(by)s: customer unreachable"), by=by)
                if reason:
                    return said(
                        N_("Return visit by %(by)s: mis-selling found: %(reason)s"),
                        by=by,
                        reason=reason,
                    )
                return said(N_("Return visit by %(by)s: mis-selling found"), by=by)
            case "resolve_remediation":
                return said(
                    N_("Mis-selling remediated by %(by)s: %(reason)s"), by=by, reason=reason
                )
            case "change_servicing":
                # The phone and account came sealed: the line says what changed, not to what.
                phone, account = argument.get("phone"), argument.get("payment_account")
                if phone and account:
                    return said(N_("Phone number and payment account changed by %(by)s"), by=by)
                if phone:
                    return said(N_("Phone number changed by %(by)s"), by=by)
                if account:
                    return said(N_("Payment account changed by %(by)s"), by=by)
                if argument.get("premium_reminders"):
                    return said(N_("Premium reminders turned on by %(by)s"), by=by)
                return said(N_("Premium reminders turned off by %(by)s"), by=by)
        return f"{words(name).capitalize()} by {by}"

    def update_completed(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        update_id = _as_dict(a.get("meta")).get("update_id", "")
        name, _ = self.updates.get(update_id) or self.updates.get(
            str(a.get("accepted_event_id")), ("", {})
        )
        outcome = _as_dict(a.get("outcome"))
        if "failure" in outcome:
            self.add(
                event,
                f"{words(name).capitalize()} failed: {_failure_text(outcome['failure'])}",
                f"update {name}",
            )
            return
        result = _as_dict(_first(outcome.get("success")))
        if name == "quote" and result:
            self.add(
                event,
                f"Quoted {result.get('product_code', '')}: premium {money(result.get('premium'))}"
                f" for sum insured {money(result.get('sum_insured'))}",
                f"quote {result.get('quote_id', '')}, valid until "
                f"{moment(result.get('valid_until'))}",
            )

    # --- timers --------------------------------------------------------------------------

    def timer_started(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        wait = duration(a.get("start_to_fire_timeout"))
        started = parse_time(event["at"])
        fires = started + wait if started and wait is not None else None
        self.timers[str(a.get("timer_id"))] = fires
        self.add(
            event,
            f"Timer set for {moment(fires) if fires else 'later'}",
            f"timer {a.get('timer_id')}, {_human(wait)}",
        )

    def timer_fired(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, "Timer fired", f"timer {a.get('timer_id')}")

    def timer_canceled(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        # A wait that ended early (the awaited step came first) cancels its timer.
        self.add(
            event, "Timer cancelled: what it waited for came first", f"timer {a.get('timer_id')}"
        )


def _human(wait: timedelta | None) -> str:
    if wait is None:
        return "unknown duration"
    seconds = int(wait.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n
    ]
    return " ".join(parts) or "0s"


_Handler = Callable[[_Timeline, dict[str, Any], dict[str, Any]], None]
_HANDLERS: dict[str, _Handler] = {
    "WorkflowExecutionStarted": _Timeline.workflow_started,
    "WorkflowExecutionCompleted": _Timeline.workflow_completed,
    "WorkflowExecutionFailed": _Timeline.workflow_failed,
    "WorkflowExecutionCancelRequested": _Timeline.cancel_requested,
    "WorkflowExecutionCanceled": _Timeline.canceled,
    "WorkflowExecutionTerminated": _Timeline.terminated,
    "WorkflowExecutionTimedOut": _Timeline.timed_out,
    "WorkflowExecutionContinuedAsNew": _Timeline.continued_as_new,
    "WorkflowExecutionSignaled": _Timeline.signaled,
    "UpsertWorkflowSearchAttributes": _Timeline.search_attributes,
    "ActivityTaskScheduled": _Timeline.activity_scheduled,
    "MarkerRecorded": _Timeline.marker_recorded,
    "ActivityTaskCompleted": _Timeline.activity_completed,
    "ActivityTaskFailed": lambda t, e, a: t.activity_failed(e, a, "failed"),
    "ActivityTaskTimedOut": lambda t, e, a: t.activity_failed(e, a, "timed out"),
    "ActivityTaskCanceled": lambda t, e, a: t.activity_failed(e, a, "cancelled"),
    "WorkflowExecutionUpdateAccepted": _Timeline.update_accepted,
    "WorkflowExecutionUpdateCompleted": _Timeline.update_completed,
    "TimerStarted": _Timeline.timer_started,
    "TimerFired": _Timeline.timer_fired,
    "TimerCanceled": _Timeline.timer_canceled,
}


def build_timeline(events: list[dict[str, Any]]) -> list[TimelineEntry]:
    """The timeline of decoded events (``services.ops.history.decode_events``), oldest first."""
    timeline = _Timeline()
    for event in events:
        handler = _HANDLERS.get(event["type"])
        if handler is not None:
            handler(timeline, event, _as_dict(event.get("attributes")))
    return timeline.entries
