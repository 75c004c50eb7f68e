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
    TaskKind.REINSTATEMENT: "Reinstatement",
    TaskKind.RENEWAL: "Renewal",
    TaskKind.VALUE_PAYOUT_FAILED: "Payout fix",
}
_ACTIVITY_LABELS = {
    steps.REGISTER_CUSTOMER.name: "Customer registration",
    steps.VERIFY_APPLICANT.name: "Verification",
    steps.OPEN_TASK.name: "Opening a task",
    steps.CHANGE_TASK.name: "Updating a task",
    steps.CHARGE_PREMIUM.name: "Premium charge",
    steps.CHARGE_INSTALLMENT.name: "Renewal premium debit",
    steps.PAY_POLICY_VALUE.name: "Cash value payout",
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
_SIGNAL_FAILED_CAUSE = "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


class TimelineEntry(BaseModel):
    """One step a person reads: when, what happened, and where it comes from. ``event`` is
    the English sentence (what the API and the golden files hold); ``msgid`` and
    ``params`` let a reader's page say it in their language. ``kinds`` names the params
    that are not data to put in as they are: ``code`` (a code of the console's terms: a
    stage, status, kind, document), ``codes`` (several, comma-separated), ``moment`` (an
    ISO time, written as the reader writes times), ``failure`` (a process's failure
    message, its type in ``<name>_code``), ``said`` (a text the process wrote, perhaps a
    msgid). ``event`` is ``msgid`` with each param put in as English words."""

    at: datetime
    event: str
    detail: str
    event_id: int
    msgid: str = ""
    params: dict[str, str] = {}
    kinds: dict[str, str] = {}


@dataclass(frozen=True)
class Put:
    """A param that is not plain data: its value for a reader's page, how the page says it
    (``kind``), its English words in ``event``, and params it brings along."""

    value: str
    kind: str
    english: str
    extra: tuple[tuple[str, str], ...] = ()


def code(value: Any, english: str | None = None) -> Put:
    """A code the console says by its term (``api.web.terms``)."""
    return Put(str(value or ""), "code", words(value or "") if english is None else english)


def codes(values: Any) -> Put:
    listed = [str(v) for v in values or []]
    return Put(",".join(listed), "codes", ", ".join(map(words, listed)))


def at(value: Any) -> Put:
    """A moment: ISO for the page, ``2025-03-01 09:30 UTC+8`` in English."""
    parsed = value if isinstance(value, datetime) else parse_time(value)
    return Put(parsed.isoformat() if parsed else str(value), "moment", moment(value))


def failure(value: Any) -> Put:
    """A failure as the process reported it, with its type (a code when the failure is
    one of ours: ``payment_declined``)."""
    info = _as_dict(_as_dict(value).get("application_failure_info"))
    text = _failure_text(value)
    return Put(text, "failure", text, (("code", str(info.get("type") or "")),))


def written(value: Any) -> Put:
    """A text the process wrote (a reason of its own is a msgid: ``SYSTEM_REASONS``)."""
    return Put(str(value), "said", str(value))


# The reasons the processes give when they close a task themselves (workflows/): shown
# in the reader's language; a person's reason is shown as they wrote it.
SYSTEM_REASONS = (
    N_("process cancelled"),
    N_("policy cancelled"),
    N_("the policy expired"),
    N_("within the auto-underwriting limit, no risk flag"),
)


@dataclass(frozen=True)
class Said:
    """A step's words as a catalogue msgid (marked ``N_``) and its values."""

    msgid: str
    params: dict[str, str]
    kinds: dict[str, str]
    shown: dict[str, str]

    @property
    def english(self) -> str:
        return self.msgid % self.shown if self.shown else self.msgid


def said(msgid: str, **params: Any) -> Said:
    values: dict[str, str] = {}
    kinds: dict[str, str] = {}
    shown: dict[str, str] = {}
    for name, value in params.items():
        if isinstance(value, Put):
            values[name], kinds[name], shown[name] = value.value, value.kind, value.english
            values.update((f"{name}_{k}", v) for k, v in value.extra)
        else:
            values[name] = shown[name] = str(value)
    return Said(msgid, values, kinds, shown)


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
        self.signals_sent: dict[str, str] = {}  # by the initiating event's id: the signal
        self.workflow_type = ""

    def add(self, event: dict[str, Any], text: Said, detail: str = "") -> None:
        at = parse_time(event["at"])
        assert at is not None
        words: dict[str, Any] = (
            {
                "event": text.english,
                "msgid": text.msgid,
                "params": text.params,
                "kinds": text.kinds,
            }
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
                said(N_("Enrollment started by %(by)s"), by=start.get("agent", "unknown")),
                f"application {start.get('application_no', '')}",
            )
        elif self.workflow_type == "ClaimWorkflow":
            self.add(
                event,
                said(
                    N_("Claim reported by %(by)s: %(incident)s, %(amount)s claimed on %(policy)s"),
                    by=start.get("agent", "unknown"),
                    incident=code(start.get("incident_type", "")),
                    amount=money(start.get("amount_claimed")),
                    policy=start.get("policy_number", ""),
                ),
                f"claim {start.get('claim_no', '')}",
            )
        elif self.workflow_type == "PolicyWorkflow":
            carried = _as_dict(start.get("carried"))
            if start.get("policy_number"):  # its own status changes are told with this
                self.effective_at[start["policy_number"]] = start.get("effective_at")
            self.add(
                event,
                said(
                    N_("Policy year %(year)s of %(product)s begins"),
                    year=carried["policy_year"],
                    product=start.get("product_code", ""),
                )
                if carried
                else said(
                    N_("Policy issued: %(product)s, sum insured %(amount)s, agent %(agent)s"),
                    product=start.get("product_code", ""),
                    amount=money(start.get("sum_insured")),
                    agent=start.get("agent", ""),
                ),
                f"policy {start.get('policy_number', '')}",
            )
        else:
            self.add(
                event,
                said(
                    N_("%(process)s started"),
                    process=code(self.workflow_type, self.workflow_type or "Process"),
                ),
            )

    def workflow_completed(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        result = _as_dict(_first(a.get("result")))
        status = result.get("status")
        ended = {
            "EnrollmentWorkflow": N_("Enrollment ended: %(status)s"),
            "PolicyWorkflow": N_("Policy ended: %(status)s"),
            "ClaimWorkflow": N_("Claim closed: %(status)s"),
        }.get(self.workflow_type)
        if ended and status:
            self.add(
                event, said(ended, status=code(status)), f"stage {words(result.get('stage', ''))}"
            )
        else:
            self.add(event, said(N_("Process completed")))

    def workflow_failed(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, said(N_("Process failed: %(failure)s"), failure=failure(a.get("failure"))))

    def cancel_requested(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(
            event,
            _asked(
                a.get("cause"),
                N_("Cancellation requested: %(by)s: %(reason)s"),
                N_("Cancellation requested: %(reason)s"),
                N_("Cancellation requested: no reason given"),
            ),
            a.get("identity", ""),
        )

    def canceled(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, said(N_("Process cancelled")))

    def terminated(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(
            event,
            _asked(
                a.get("reason"),
                N_("Process terminated: %(by)s: %(reason)s"),
                N_("Process terminated: %(reason)s"),
                N_("Process terminated: no reason given"),
            ),
            a.get("identity", ""),
        )

    def timed_out(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, said(N_("Process timed out")))

    def continued_as_new(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, said(N_("Continued in a new run")), a.get("new_execution_run_id", ""))

    def signaled(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(
            event,
            said(N_("Signal %(signal)s received"), signal=a.get("signal_name", "")),
            a.get("identity", ""),
        )

    def signal_sent(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        """This process signals another (a paid claim tells its policy)."""
        signal = str(a.get("signal_name", ""))
        self.signals_sent[str(event["event_id"])] = signal
        self.add(
            event,
            said(
                N_("Signal %(signal)s sent to %(process)s"),
                signal=signal,
                process=_as_dict(a.get("workflow_execution")).get("workflow_id", ""),
            ),
        )

    def signal_delivered(self, event: dict[str, Any], a: dict[str, Any], delivered: bool) -> None:
        """The other process got the signal, or it was not found: ended, or never ran."""
        signal = self.signals_sent.get(str(a.get("initiated_event_id")), "")
        target = _as_dict(a.get("workflow_execution")).get("workflow_id", "")
        text = (
            said(N_("Signal %(signal)s delivered to %(process)s"), signal=signal, process=target)
            if delivered
            else said(
                N_("Signal %(signal)s not delivered: no running %(process)s"),
                signal=signal,
                process=target,
            )
        )
        cause = str(a.get("cause", "")).removeprefix(_SIGNAL_FAILED_CAUSE).lower()
        self.add(event, text, "" if delivered else words(cause))

    def search_attributes(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        fields = _as_dict(_as_dict(a.get("search_attributes")).get("indexed_fields"))
        stage = fields.get(sa.STAGE.name)
        if isinstance(stage, str) and stage:
            self.add(event, said(N_("Stage: %(stage)s"), stage=code(stage)))

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
            text = said(
                N_("%(step)s failed: %(failure)s"),
                step=_step(name),
                failure=failure(a.get("failure")),
            )
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
        self.add(event, self._activity_text(name, result, result), f"activity {name}")

    def activity_completed(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        name, argument = self.activities.get(str(a.get("scheduled_event_id")), ("", {}))
        if name in _BOOKKEEPING:
            return
        result = _first(a.get("result"))
        self.add(event, self._activity_text(name, argument, _as_dict(result)), f"activity {name}")

    def _task(self, task_id: str) -> Put:
        """A task by its kind (``The`` task when its opening is not in this run)."""
        kind = self.task_kinds.get(task_id, "")
        return code(kind, _TASK_KINDS.get(kind, "The"))

    def _activity_text(self, name: str, argument: dict[str, Any], result: dict[str, Any]) -> Said:
        match name:
            case steps.REGISTER_CUSTOMER.name:
                return said(N_("Customer registered"))
            case steps.VERIFY_APPLICANT.name:
                if result.get("passed"):
                    flags = result.get("risk_flags") or []
                    if flags:
                        return said(
                            N_("Verification passed (risk flags: %(flags)s)"), flags=codes(flags)
                        )
                    return said(N_("Verification passed"))
                return said(
                    N_("Verification failed: %(why)s"),
                    why=code(result.get("failure_code") or "unknown"),
                )
            case steps.OPEN_TASK.name:
                kind = argument.get("kind", "")
                return said(
                    N_("%(task)s task opened (due %(due)s)"),
                    task=code(kind, _TASK_KINDS.get(kind, "A")),
                    due=at(argument.get("due_at")),
                )
            case steps.CHANGE_TASK.name:
                return self._task_change_text(argument)
            case steps.CHARGE_PREMIUM.name | steps.CHARGE_INSTALLMENT.name:
                return said(
                    N_("Premium charged %(amount)s (ledger %(ledger)s)"),
                    amount=money(result.get("amount")),
                    ledger=result.get("ledger_id", ""),
                )
            case steps.CREATE_PAYMENT_ORDER.name:
                return said(
                    N_("Payment order %(order)s created: %(amount)s due %(due)s"),
                    order=argument.get("order_id", ""),
                    amount=money(argument.get("amount")),
                    due=at(argument.get("due_at")),
                )
            case steps.SETTLE_ONLINE_PAYMENT.name:
                return said(
                    N_("Premium paid online %(amount)s (ledger %(ledger)s)"),
                    amount=money(result.get("amount")),
                    ledger=result.get("ledger_id", ""),
                )
            case steps.REFUND_PREMIUM.name:
                if result.get("status") == "succeeded":
                    return said(
                        N_("Premium refunded %(amount)s (ledger %(ledger)s)"),
                        amount=money(result.get("amount")),
                        ledger=result.get("ledger_id", ""),
                    )
                return said(N_("Nothing to refund: no premium was collected"))
            case steps.ISSUE_POLICY.name:
                return said(
                    N_("Policy %(number)s issued (effective %(at)s)"),
                    number=argument.get("policy_number", ""),
                    at=at(argument.get("effective_at")),
                )
            case steps.SET_POLICY_STATUS.name:
                number = argument.get("policy_number", "")
                status = argument.get("status", "")
                if status == "effective":
                    return said(
                        N_("Policy %(number)s effective %(at)s"),
                        number=number,
                        at=at(self.effective_at.get(number)),
                    )
                return said(N_("Policy %(number)s %(status)s"), number=number, status=code(status))
            case steps.SEND_NOTIFICATION.name:
                recipient = str(argument.get("recipient", "")).partition(":")[0]
                return said(
                    N_("Notified the %(recipient)s: %(notice)s"),
                    recipient=code(recipient, recipient or "someone"),
                    notice=code(argument.get("template", "")),
                )
            case steps.LOAD_POLICY_POSITION.name:
                arrears = _as_dict(result.get("arrears"))
                if arrears:
                    return said(
                        N_(
                            "Policy position read: sum insured %(sum)s, paid to date "
                            "%(paid)s, premium arrears %(arrears)s"
                        ),
                        sum=money(result.get("sum_insured")),
                        paid=money(result.get("paid_to_date")),
                        arrears=money(arrears.get("amount")),
                    )
                return said(
                    N_("Policy position read: sum insured %(sum)s, paid to date %(paid)s"),
                    sum=money(result.get("sum_insured")),
                    paid=money(result.get("paid_to_date")),
                )
            case steps.PAY_CLAIM.name:
                return said(
                    N_("Claim paid %(amount)s (ledger %(ledger)s)"),
                    amount=money(result.get("amount")),
                    ledger=result.get("ledger_id", ""),
                )
        return said(N_("%(step)s done"), step=_step(name))

    def _task_change_text(self, change: dict[str, Any]) -> Said:
        task = self._task(str(change.get("task_id", "")))
        match change.get("action"):
            case "remind":
                return said(N_("%(task)s task past due: reminder sent"), task=task)
            case "escalate":
                level = change.get("level")
                if level:
                    return said(
                        N_("%(task)s task escalated (level %(level)s)"), task=task, level=level
                    )
                return said(N_("%(task)s task escalated"), task=task)
            case "expire":
                return said(N_("%(task)s task expired"), task=task)
            case "cancel":
                reason = change.get("reason")
                if reason:
                    return said(
                        N_("%(task)s task cancelled: %(reason)s"), task=task, reason=written(reason)
                    )
                return said(N_("%(task)s task cancelled"), task=task)
            case "complete":
                return said(
                    N_("%(task)s task closed (%(decision)s)"),
                    task=task,
                    decision=code(change.get("decision") or "done"),
                )
        return said(N_("%(task)s task changed"), task=task)

    def activity_failed(self, event: dict[str, Any], a: dict[str, Any], how: str) -> None:
        name, _ = self.activities.get(str(a.get("scheduled_event_id")), ("", {}))
        if how == "failed":
            text = said(
                N_("%(step)s failed: %(failure)s"),
                step=_step(name),
                failure=failure(a.get("failure")),
            )
        elif how == "timed out":
            text = said(N_("%(step)s timed out"), step=_step(name))
        else:
            text = said(N_("%(step)s cancelled"), step=_step(name))
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

    def _update_text(self, name: str, argument: dict[str, Any]) -> Said:
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
                missing = argument.get("missing") or []
                if missing:
                    return said(
                        N_(
                            "More information requested by %(by)s: %(reason)s "
                            "(missing: %(missing)s)"
                        ),
                        by=by,
                        reason=reason,
                        missing=codes(missing),
                    )
                return said(
                    N_("More information requested by %(by)s: %(reason)s"), by=by, reason=reason
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
                kinds = [_as_dict(d).get("kind", "") for d in argument.get("documents") or []]
                return said(
                    N_("Documents supplemented by %(by)s: %(documents)s"),
                    by=by,
                    documents=codes(kinds),
                )
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
            case "surrender":
                return said(N_("Surrender asked by %(by)s: %(reason)s"), by=by, reason=reason)
            case "decide_renewal":
                if argument.get("decision") == "accept":
                    return said(N_("Renewal accepted for the customer by %(by)s"), by=by)
                return said(N_("Renewal declined for the customer by %(by)s"), by=by)
            case "apply_for_reinstatement":
                return said(N_("Reinstatement applied for by %(by)s"), by=by)
            case "decide_reinstatement":
                if argument.get("decision") == "reject":
                    return said(
                        N_("Reinstatement refused by %(by)s: %(reason)s"), by=by, reason=reason
                    )
                return said(N_("Reinstatement approved by %(by)s"), by=by)
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
        return said(N_("%(update)s by %(by)s"), update=_update(name), by=by)

    def update_completed(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        update_id = _as_dict(a.get("meta")).get("update_id", "")
        name, _ = self.updates.get(update_id) or self.updates.get(
            str(a.get("accepted_event_id")), ("", {})
        )
        outcome = _as_dict(a.get("outcome"))
        if "failure" in outcome:
            self.add(
                event,
                said(
                    N_("%(update)s failed: %(failure)s"),
                    update=_update(name),
                    failure=failure(outcome["failure"]),
                ),
                f"update {name}",
            )
            return
        result = _as_dict(_first(outcome.get("success")))
        if name == "quote" and result:
            self.add(
                event,
                said(
                    N_("Quoted %(product)s: premium %(premium)s for sum insured %(amount)s"),
                    product=result.get("product_code", ""),
                    premium=money(result.get("premium")),
                    amount=money(result.get("sum_insured")),
                ),
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
            said(N_("Timer set for %(at)s"), at=at(fires))
            if fires
            else said(N_("Timer set for later")),
            f"timer {a.get('timer_id')}, {_human(wait)}",
        )

    def timer_fired(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        self.add(event, said(N_("Timer fired")), f"timer {a.get('timer_id')}")

    def timer_canceled(self, event: dict[str, Any], a: dict[str, Any]) -> None:
        # A wait that ended early (the awaited step came first) cancels its timer.
        self.add(
            event,
            said(N_("Timer cancelled: what it waited for came first")),
            f"timer {a.get('timer_id')}",
        )


_ASKER = re.compile(r"^([A-Za-z0-9_.@-]{1,64}): (.*)$", re.DOTALL)


def _asked(text: Any, with_by: str, plain: str, none: str) -> Said:
    """A cancellation's or termination's reason: ``olga: customer asked`` names who."""
    text = str(text or "")
    if not text:
        return said(none)
    found = _ASKER.match(text)
    if found:
        return said(with_by, by=found.group(1), reason=found.group(2))
    return said(plain, reason=text)


def _step(name: str) -> Put:
    """An activity by its label (a term of the console: ``charge_premium``)."""
    return code(name, _ACTIVITY_LABELS.get(name, name or "An activity"))


def _update(name: str) -> Put:
    """An Update by its name, as a sentence starts (``Fix payout``)."""
    return code(name, words(name).capitalize())


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
    "SignalExternalWorkflowExecutionInitiated": _Timeline.signal_sent,
    "ExternalWorkflowExecutionSignaled": lambda t, e, a: t.signal_delivered(e, a, True),
    "SignalExternalWorkflowExecutionFailed": lambda t, e, a: t.signal_delivered(e, a, False),
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
