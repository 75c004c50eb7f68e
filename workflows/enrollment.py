"""EnrollmentWorkflow (投保): consultation → quoted → application submitted → verification
→ underwriting → awaiting payment → issued → effective.

Orchestration only: every effect on the world is an activity; every rule is a pure
function in ``domain``. Human and customer input arrives as Updates whose validators
refuse bad requests before anything is written to history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from domain.activities import (
        ChangeBatch,
        Charge,
        CustomerRef,
        CustomerRegistration,
        LedgerEntry,
        Notification,
        PaymentOrder,
        PolicyIssue,
        PolicyStatusChange,
        QuoteRecord,
        Refund,
        Settlement,
        TaskChange,
        TaskOpen,
        VerifyApplicant,
    )
    from domain.enrollment import (
        EnrollmentState,
        HistoryEntry,
        PaymentMethod,
        Quote,
        Stage,
        Status,
        Underwriting,
        Verification,
    )
    from domain.identity import age_on
    from domain.products import QuoteRefused, annual_premium, get_product
    from domain.underwriting import SYSTEM, decision_refusal, route_underwriting
    from workflows import activity_names as act
    from workflows import search_attributes as sa
    from workflows.inputs import (
        ApplicationSubmit,
        EnrollmentStart,
        PaymentNotice,
        QuoteRequest,
        UnderwritingDecision,
        Withdrawal,
    )
    from workflows.steps import PendingChanges, local_steps, run_step, run_to_its_end
    from workflows.waiting import wait_until

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
PROCESS = "enrollment"

# Stages from which the agent may still withdraw (nothing has been charged yet).
WITHDRAWABLE = {
    Stage.CONSULTATION,
    Stage.QUOTED,
    Stage.APPLICATION_SUBMITTED,
    Stage.VERIFICATION,
    Stage.UNDERWRITING,
    Stage.AWAITING_PAYMENT,
}

# Errors of data a process cannot work with (not Temporal's own: a business refusal, a
# failed step or a cancellation take their usual paths). See EnrollmentWorkflow._halt.
HALTING_ERRORS = (ValueError, ArithmeticError, LookupError, TypeError)
HALTED = "halted"

DEFAULT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["invalid_input", "payment_declined"],
)


def workflow_id_for(application_no: str) -> str:
    return f"enrollment-{application_no}"


def _refuse(code: str, message: str) -> ApplicationError:
    """A refusal raised by a validator: the Update is rejected and history keeps no trace."""
    return ApplicationError(message, type=code, non_retryable=True)


def _policy_number(application_no: str) -> str:
    """The policy an application becomes: a business key known before issuance."""
    return "P" + application_no.removeprefix("E")


def shanghai_today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a common year
        return moment.replace(year=moment.year + years, day=28)


@workflow.defn
class EnrollmentWorkflow:
    @workflow.init
    def __init__(self, start: EnrollmentStart) -> None:
        # Validators may run before run() starts (update-with-start, a fast caller), so all
        # they check — the submitting agent above all — is recorded here, not in run().
        self._start = start
        self._submitted_by = start.agent
        # Everyone who took a step on this case (quoted, submitted): four eyes binds each of
        # them, not only the case's agent.
        self._participants: list[str] = [start.agent]
        self._state = EnrollmentState(
            enrollment_id=start.application_no,
            workflow_id=workflow_id_for(start.application_no),
            agent=start.agent,
            customer=start.customer.masked(),
            customer_digest=start.customer_digest,
            birth_date=start.birth_date,
            stage=Stage.CONSULTATION,
            status=Status.IN_PROGRESS,
        )
        self._application: ApplicationSubmit | None = None
        self._decision: UnderwritingDecision | None = None
        self._withdrawal: Withdrawal | None = None
        self._payment_notice: PaymentNotice | None = None
        self._open_task_id: str | None = None
        self._charging = False
        self._record_lock = asyncio.Lock()
        self._pending = PendingChanges()
        # The consultation stage starts with the process; an Update may move past it
        # before run() has done anything, so nothing in run() sets it again.
        self._history(None, by=start.agent)

    # --- the process, in business order ---------------------------------------------

    @workflow.run
    async def run(self, start: EnrollmentStart) -> EnrollmentState:
        try:
            try:
                return await self._enroll(start)
            except HALTING_ERRORS as err:
                await self._halt(err)  # returns only by the cancellation it waits for
                raise
        except asyncio.CancelledError:
            # Ops cancelled the process: undo what it did, then end as cancelled.
            await self._compensate()
            raise
        except ActivityError as err:
            # Cancelled while a step was in flight: the step fails as cancelled. Runs since
            # the patch compensate then too (older ones ended without it, as recorded).
            if not (
                is_cancelled_exception(err) and workflow.patched(act.COMPENSATE_CANCELLED_STEP)
            ):
                raise
            await self._compensate()
            raise

    async def _enroll(self, start: EnrollmentStart) -> EnrollmentState:
        ref = await self._activity(
            act.REGISTER_CUSTOMER,
            CustomerRegistration(
                application_no=start.application_no,
                agent=start.agent,
                customer=start.customer,
                birth_date=start.birth_date,
            ),
            CustomerRef,
        )
        self._state.customer_id = ref.customer_id
        await self._record()

        # Consultation and quoting: the agent quotes (as often as needed) and submits.
        submitted = await self._wait_until(
            lambda: self._application is not None or self._withdrawal is not None,
            workflow.now() + start.clocks.consultation_window,
        )
        if self._withdrawal:
            return await self._end_withdrawn()
        if not submitted or self._application is None:
            return await self._finish(Status.EXPIRED, by=SYSTEM, note="consultation window passed")
        application = self._application
        quote = self._state.quote
        assert quote is not None  # the application validator demands a quote

        # Verification.
        await self._enter(Stage.VERIFICATION, by=SYSTEM)
        verification = await self._activity(
            act.VERIFY_APPLICANT,
            VerifyApplicant(
                application_no=start.application_no,
                customer_id=ref.customer_id,
                customer=start.customer,
                product_code=quote.product_code,
                sum_insured=quote.sum_insured,
                on=shanghai_today(workflow.now()),
                declared_conditions=start.declared_conditions,
            ),
            Verification,
        )
        self._state.verification = verification
        if self._withdrawal:
            return await self._end_withdrawn()
        if not verification.passed:
            self._state.failure_code = verification.failure_code
            self._state.underwriting = Underwriting(
                decision="reject", decided_by=SYSTEM, reason=verification.failure_code
            )
            await self._notify("application_rejected")
            return await self._finish(Status.REJECTED, by=SYSTEM, note=verification.failure_code)

        # Underwriting: rules decide what they can, a supervisor the rest.
        product = get_product(quote.product_code)
        route = route_underwriting(
            product, sum_insured=quote.sum_insured, flags=verification.risk_flags
        )
        if route.auto_approve:
            self._state.underwriting = Underwriting(
                decision="approve",
                decided_by=SYSTEM,
                reason="within the auto-underwriting limit, no risk flag",
            )
            await self._enter(Stage.UNDERWRITING, by=SYSTEM)
        else:
            ending = await self._underwrite_by_person(quote, route.reasons)
            if ending is not None:
                return ending
        if self._state.underwriting.decision == "reject":
            await self._notify("application_rejected")
            return await self._finish(
                Status.REJECTED,
                by=self._state.underwriting.decided_by or SYSTEM,
                note=self._state.underwriting.reason,
            )
        await self._notify("underwriting_approved")

        # Payment.
        await self._enter(Stage.AWAITING_PAYMENT, by=SYSTEM)
        ending = await self._collect_premium(quote, application)
        if ending is not None:
            return ending

        # Issuance, then a durable timer to the effective moment.
        await self._enter(Stage.ISSUED, by=SYSTEM)
        now = workflow.now()
        start_date = application.start_date or shanghai_today(now) + timedelta(days=1)
        effective_at = max(datetime.combine(start_date, time(0), SHANGHAI), now)
        expires_at = add_years(effective_at, product.term_years)
        # Set together once all are known: a policy number on the state means a policy row
        # is (being) written, which a compensation then cancels.
        policy_number = _policy_number(start.application_no)
        self._state.policy_number = policy_number
        self._state.effective_at = effective_at
        self._state.expires_at = expires_at
        await self._activity(
            act.ISSUE_POLICY,
            PolicyIssue(
                policy_number=policy_number,
                application_no=start.application_no,
                customer_id=ref.customer_id,
                agent=start.agent,
                product_code=quote.product_code,
                sum_insured=quote.sum_insured,
                premium=quote.premium,
                effective_at=effective_at,
                expires_at=self._state.expires_at,
            ),
            None,
        )
        await self._record()
        await self._notify("policy_issued", policy_number=policy_number)
        wait = effective_at - workflow.now()
        if wait > timedelta(0):
            await self._flush()
            await workflow.sleep(wait)
        await self._activity(
            act.SET_POLICY_STATUS,
            PolicyStatusChange(policy_number=policy_number, status="effective"),
            None,
        )
        self._state.stage = Stage.EFFECTIVE
        await self._notify("policy_effective", policy_number=policy_number)
        return await self._finish(Status.EFFECTIVE, by=SYSTEM)

    async def _underwrite_by_person(
        self, quote: Quote, reasons: list[str]
    ) -> EnrollmentState | None:
        """Open an underwriting task and wait for a decision under the SLA: remind at due,
        escalate at escalate, expire the process at expire. None means a decision arrived."""
        clocks = self._start.clocks
        task_id = f"uw-{self._start.application_no}"
        opened = workflow.now()
        due_at = opened + clocks.underwriting_due
        escalate_at = opened + clocks.underwriting_escalate
        expire_at = opened + clocks.underwriting_expire
        self._state.underwriting = Underwriting(task_id=task_id, routed_because=reasons)
        # Open for decisions from the moment the stage shows: the task row may be visible
        # (and decided) before this activity's completion reaches the workflow.
        self._open_task_id = task_id
        await self._enter(Stage.UNDERWRITING, by=SYSTEM)
        await self._activity(
            act.OPEN_TASK,
            TaskOpen(
                task_id=task_id,
                kind="underwriting",
                workflow_id=self._state.workflow_id,
                case_id=self._start.application_no,
                subject=f"Underwrite {quote.product_code} for {self._state.customer.name}",
                amount=quote.sum_insured,
                submitted_by=self._submitted_by,
                agent=self._start.agent,
                due_at=due_at,
                escalate_at=escalate_at,
                expire_at=expire_at,
                details={
                    "product_code": quote.product_code,
                    "sum_insured": str(quote.sum_insured),
                    "premium": str(quote.premium),
                    "routed_because": reasons,
                },
            ),
            None,
        )
        await self._record()

        def settled() -> bool:
            return self._decision is not None or self._withdrawal is not None

        for moment, action in ((due_at, "remind"), (escalate_at, "escalate")):
            if await self._wait_until(settled, moment):
                break
            level = 1 if action == "escalate" else None
            await self._activity(
                act.CHANGE_TASK, TaskChange(task_id=task_id, action=action, level=level), None
            )
            self._history(f"underwriting task {action}", by=SYSTEM)
            await self._notify(f"underwriting_{action}", task_id=task_id)
        else:
            if not await self._wait_until(settled, expire_at):
                await self._activity(
                    act.CHANGE_TASK, TaskChange(task_id=task_id, action="expire"), None
                )
                self._open_task_id = None
                await self._notify("application_expired")
                return await self._finish(
                    Status.EXPIRED, by=SYSTEM, note="underwriting not decided in time"
                )

        if self._withdrawal:
            return await self._end_withdrawn()
        decision = self._decision
        assert decision is not None
        await self._activity(
            act.CHANGE_TASK,
            TaskChange(
                task_id=task_id,
                action="complete",
                by=decision.actor.username,
                decision=decision.decision,
                reason=decision.reason,
            ),
            None,
        )
        self._open_task_id = None
        self._state.underwriting = Underwriting(
            decision="approve" if decision.decision == "approve" else "reject",
            decided_by=decision.actor.username,
            reason=decision.reason,
            task_id=task_id,
            routed_because=reasons,
        )
        self._history(f"underwriting {decision.decision}", by=decision.actor.username)
        return None

    async def _collect_premium(
        self, quote: Quote, application: ApplicationSubmit
    ) -> EnrollmentState | None:
        app_no = self._start.application_no
        key = f"premium:{app_no}"
        payment = self._state.payment
        payment.method = application.payment_method
        payment.amount = quote.premium
        if application.payment_method == PaymentMethod.AUTO_DEBIT:
            assert application.bank_account is not None  # the validator demands it
            self._charging = True
            payment.status = "pending"
            try:
                entry = await self._activity(
                    act.CHARGE_PREMIUM,
                    Charge(
                        idempotency_key=key,
                        case_id=app_no,
                        amount=quote.premium,
                        account=application.bank_account,
                    ),
                    LedgerEntry,
                    # Short, so a charge lost with a crashed worker is retried soon; the
                    # idempotency key makes the retry safe.
                    start_to_close=timedelta(seconds=15),
                    # On cancellation, let the charge finish first: the refund must see it.
                    wait_on_cancel=True,
                )
            except ActivityError as err:
                if isinstance(err.cause, ApplicationError) and err.cause.type == "payment_declined":
                    payment.status = "declined"
                    self._state.failure_code = "payment_declined"
                    await self._notify("payment_declined")
                    return await self._finish(Status.FAILED, by=SYSTEM, note="payment declined")
                raise
        else:
            order_id = f"PO-{app_no}"
            payment.order_id = order_id
            payment.due_at = workflow.now() + self._start.clocks.payment_deadline
            payment.status = "pending"
            await self._activity(
                act.CREATE_PAYMENT_ORDER,
                PaymentOrder(
                    order_id=order_id,
                    idempotency_key=key,
                    case_id=app_no,
                    amount=quote.premium,
                    due_at=payment.due_at,
                ),
                LedgerEntry,
            )
            await self._record()
            await self._notify("payment_requested", order_id=order_id)
            paid = await self._wait_until(
                lambda: self._payment_notice is not None or self._withdrawal is not None,
                payment.due_at,
            )
            if self._withdrawal:
                return await self._end_withdrawn()
            notice = self._payment_notice
            if not paid or notice is None:
                payment.status = "lapsed"
                await self._notify("payment_lapsed")
                return await self._finish(Status.LAPSED, by=SYSTEM, note="payment deadline passed")
            entry = await self._activity(
                act.SETTLE_ONLINE_PAYMENT,
                Settlement(
                    order_id=order_id,
                    idempotency_key=key,
                    case_id=app_no,
                    amount=notice.amount,
                    gateway_ref=notice.gateway_ref,
                    paid_at=notice.paid_at,
                ),
                LedgerEntry,
            )
        payment.status = "paid"
        payment.ledger_id = entry.ledger_id
        payment.gateway_ref = entry.gateway_ref
        payment.paid_at = workflow.now()
        self._history("premium collected", by=SYSTEM)
        return None

    # --- Updates: validators refuse, handlers change state ----------------------------

    @workflow.update
    async def quote(self, request: QuoteRequest) -> Quote:
        product = get_product(request.product_code)
        age = age_on(self._start.birth_date, shanghai_today(workflow.now()))
        n = len([h for h in self._state.history if h.stage == Stage.QUOTED]) + 1
        quote = Quote(
            quote_id=f"Q-{self._start.application_no}-{n}",
            product_code=product.code,
            sum_insured=request.sum_insured,
            premium=annual_premium(product, sum_insured=request.sum_insured, age=age),
            valid_until=workflow.now() + self._start.clocks.quote_validity,
        )
        self._state.quote = quote
        self._took_part(request.by)
        workflow.upsert_search_attributes([sa.AMOUNT.value_set(float(quote.sum_insured))])
        await self._enter(Stage.QUOTED, by=request.by, note=quote.quote_id)
        await self._activity(
            act.RECORD_QUOTE,
            QuoteRecord(application_no=self._start.application_no, quote=quote),
            None,
        )
        await self._flush()
        return quote

    @quote.validator
    def _validate_quote(self, request: QuoteRequest) -> None:
        self._require_stage({Stage.CONSULTATION, Stage.QUOTED}, "quote")
        age = age_on(self._start.birth_date, shanghai_today(workflow.now()))
        try:
            product = get_product(request.product_code)
            annual_premium(product, sum_insured=request.sum_insured, age=age)
        except QuoteRefused as refused:
            raise _refuse(refused.code, str(refused)) from None

    @workflow.update
    async def submit_application(self, application: ApplicationSubmit) -> EnrollmentState:
        self._application = application
        self._submitted_by = application.by
        self._took_part(application.by)
        self._state.start_date = application.start_date
        self._state.payment.method = application.payment_method
        await self._enter(Stage.APPLICATION_SUBMITTED, by=application.by)
        await self._notify("application_received")
        await self._flush()
        return self._state.model_copy(deep=True)

    @submit_application.validator
    def _validate_application(self, application: ApplicationSubmit) -> None:
        self._require_stage({Stage.QUOTED}, "submit an application")
        quote = self._state.quote
        if quote is None or application.quote_id != quote.quote_id:
            raise _refuse("unknown_quote", "the application must name the current quote")
        if workflow.now() > quote.valid_until:
            raise _refuse("quote_expired", "the quote is no longer valid; quote again")
        if not application.consent:
            raise _refuse("consent_required", "the applicant's consent is required")
        if application.payment_method == PaymentMethod.AUTO_DEBIT and not application.bank_account:
            raise _refuse("bank_account_required", "auto_debit needs a bank account")
        today = shanghai_today(workflow.now())
        if application.start_date and application.start_date < today:
            raise _refuse("invalid_start_date", "start_date cannot be in the past")
        window = self._start.clocks.start_date_window
        if application.start_date and application.start_date - today > window:
            raise _refuse(
                "invalid_start_date", f"start_date must be within {window.days} days from today"
            )

    @workflow.update
    async def decide(self, decision: UnderwritingDecision) -> EnrollmentState:
        self._decision = decision
        await workflow.wait_condition(
            lambda: (
                self._state.stage != Stage.UNDERWRITING or self._state.status != Status.IN_PROGRESS
            )
        )
        return self._state.model_copy(deep=True)

    @decide.validator
    def _validate_decision(self, decision: UnderwritingDecision) -> None:
        if (
            self._state.stage != Stage.UNDERWRITING
            or self._state.status != Status.IN_PROGRESS
            or self._open_task_id != decision.task_id
            or self._decision is not None
        ):
            raise _refuse("task_not_open", "this task is no longer open for a decision")
        if decision.decision == "request_info":
            raise _refuse("decision_not_allowed", "underwriting takes approve or reject")
        quote = self._state.quote
        amount = quote.sum_insured if quote else Decimal(0)
        refusal = decision_refusal(
            decision.actor,
            amount=amount,
            submitted_by=self._submitted_by,
            participants=self._participants,
        )
        if refusal is not None:
            raise _refuse(refusal, _REFUSAL_TEXT[refusal])

    @workflow.update
    async def withdraw(self, withdrawal: Withdrawal) -> EnrollmentState:
        self._withdrawal = withdrawal
        await workflow.wait_condition(lambda: self._state.status != Status.IN_PROGRESS)
        return self._state.model_copy(deep=True)

    @withdraw.validator
    def _validate_withdrawal(self, withdrawal: Withdrawal) -> None:
        if (
            self._state.status != Status.IN_PROGRESS
            or self._state.stage not in WITHDRAWABLE
            or self._charging
            or self._payment_notice is not None
            or self._withdrawal is not None
        ):
            raise _refuse("withdraw_not_allowed", "the enrollment can no longer be withdrawn")

    @workflow.update
    async def confirm_payment(self, notice: PaymentNotice) -> EnrollmentState:
        self._payment_notice = notice
        await workflow.wait_condition(lambda: self._state.payment.status != "pending")
        return self._state.model_copy(deep=True)

    @confirm_payment.validator
    def _validate_payment(self, notice: PaymentNotice) -> None:
        payment = self._state.payment
        if notice.order_id != payment.order_id:
            raise _refuse("unknown_order", "no such payment order on this enrollment")
        if self._payment_notice is not None or payment.status == "paid":
            raise _refuse("already_paid", "this order is already paid")
        if payment.status != "pending" or self._state.status != Status.IN_PROGRESS:
            raise _refuse("payment_not_expected", "this enrollment no longer takes payment")
        if notice.amount != payment.amount:
            raise _refuse("amount_mismatch", "paid amount differs from the premium due")

    @workflow.query
    def state(self) -> EnrollmentState:
        return self._state

    # --- plumbing ---------------------------------------------------------------------

    def _took_part(self, username: str) -> None:
        if username not in self._participants:
            self._participants.append(username)

    def _require_stage(self, allowed: set[Stage], action: str) -> None:
        if self._state.status != Status.IN_PROGRESS or self._state.stage not in allowed:
            raise _refuse("invalid_stage", f"cannot {action} at stage {self._state.stage.value}")

    async def _activity(
        self,
        name: str,
        arg: BaseModel,
        result_type: type[Any] | None,
        *,
        start_to_close: timedelta = timedelta(seconds=30),
        wait_on_cancel: bool = False,
    ) -> Any:
        if self._local_steps():
            if name in act.BATCHED:
                self._pending.queue(name, arg)
                return None
            await self._flush()
        if wait_on_cancel:
            return await run_to_its_end(
                name,
                arg,
                result_type,
                start_to_close=start_to_close,
                retry_policy=DEFAULT_RETRY,
            )
        return await run_step(
            name,
            arg,
            result_type,
            local=self._local_steps(),
            start_to_close=start_to_close,
            retry_policy=DEFAULT_RETRY,
        )

    def _local_steps(self) -> bool:
        return local_steps()

    async def _flush(self) -> None:
        """Apply the queued writes with the current state, in one local activity (runs
        since the patch; nothing is queued on older ones). Called before the run waits or
        calls any other step, and before an Update handler answers."""
        await self._pending.flush(
            self._record_lock,
            lambda changes: ChangeBatch(
                enrollment=self._state.model_copy(deep=True), changes=changes
            ),
            retry_policy=DEFAULT_RETRY,
        )

    async def _wait_until(self, condition: Callable[[], bool], moment: datetime | None) -> bool:
        await self._flush()
        return await wait_until(condition, moment)

    def _history(self, note: str | None, *, by: str) -> None:
        self._state.history.append(
            HistoryEntry(
                stage=self._state.stage,
                status=self._state.status,
                at=workflow.now(),
                by=by,
                note=note,
            )
        )

    async def _enter(self, stage: Stage, *, by: str, note: str | None = None) -> None:
        self._state.stage = stage
        self._history(note, by=by)
        workflow.upsert_search_attributes([sa.STAGE.value_set(stage.value)])
        await self._record()

    async def _record(self) -> None:
        if self._local_steps():
            self._pending.dirty = True  # written by the next _flush, with the latest state
            return
        # Serialised, and the snapshot taken inside the lock, so the read model never goes
        # back to an older state when handlers and the main run record at the same time.
        async with self._record_lock:
            await self._activity(act.RECORD_ENROLLMENT, self._state.model_copy(deep=True), None)

    async def _notify(self, template: str, **params: str) -> None:
        app_no = self._start.application_no
        await self._activity(
            act.SEND_NOTIFICATION,
            Notification(
                key=f"{app_no}:{template}",
                case_id=app_no,
                recipient=f"agent:{self._start.agent}",
                channel="inbox",
                template=template,
                params=params,
            ),
            None,
        )

    async def _compensate(self) -> None:
        """After a cancellation: refund a premium that was collected (or may have been, if
        the charge was in flight), close the open task, cancel an issued policy."""
        app_no = self._start.application_no
        by = "ops"
        if self._open_task_id:
            await self._activity(
                act.CHANGE_TASK,
                TaskChange(task_id=self._open_task_id, action="cancel", by=by,
                           reason="process cancelled"),
                None,
            )  # fmt: skip
            self._open_task_id = None
        payment = self._state.payment
        if payment.status == "paid" or self._charging:
            refund = await self._activity(
                act.REFUND_PREMIUM,
                Refund(
                    idempotency_key=f"refund:{_policy_number(app_no)}",
                    original_key=f"premium:{app_no}",
                    case_id=app_no,
                    amount=payment.amount or Decimal(0),
                ),
                LedgerEntry,
            )
            if refund.status == "succeeded":
                payment.status = "refunded"
                payment.refund_ledger_id = refund.ledger_id
                self._history("premium refunded", by=SYSTEM)
        if self._state.policy_number:
            await self._activity(
                act.SET_POLICY_STATUS,
                PolicyStatusChange(policy_number=self._state.policy_number, status="cancelled"),
                None,
            )
        await self._notify("enrollment_cancelled")
        self._state.status = Status.CANCELLED
        self._history("cancelled by ops", by=by)
        workflow.upsert_search_attributes([sa.STATUS.value_set(Status.CANCELLED.value)])
        await self._record()
        await self._flush()

    async def _halt(self, err: Exception) -> None:
        """Data the process cannot work with (a bug, or input past every bound): rather than
        fail each workflow task for good (frozen, its premium held, a cancel never seen),
        the process stops where it is, says so to ops (status search attribute ``halted``,
        an incident in the ops scan, a timeline line) and waits for ops to cancel it, which
        refunds what was charged. Only the error's type is kept: its text may carry data."""
        self._state.failure_code = "halted"
        self._history(f"halted on {type(err).__name__}: waiting for ops", by=SYSTEM)
        workflow.upsert_search_attributes([sa.STATUS.value_set(HALTED)])
        await self._notify("process_halted")
        await self._record()
        await self._wait_until(lambda: False, None)

    async def _end_withdrawn(self) -> EnrollmentState:
        withdrawal = self._withdrawal
        assert withdrawal is not None
        if self._open_task_id:
            await self._activity(
                act.CHANGE_TASK,
                TaskChange(
                    task_id=self._open_task_id,
                    action="cancel",
                    by=withdrawal.by,
                    reason=withdrawal.reason,
                ),
                None,
            )
            self._open_task_id = None
        await self._notify("application_withdrawn")
        return await self._finish(Status.WITHDRAWN, by=withdrawal.by, note=withdrawal.reason)

    async def _finish(self, status: Status, *, by: str, note: str | None = None) -> EnrollmentState:
        self._state.status = status
        self._history(note, by=by)
        workflow.upsert_search_attributes(
            [sa.STAGE.value_set(self._state.stage.value), sa.STATUS.value_set(status.value)]
        )
        await self._record()
        await self._flush()
        # Let in-flight Update handlers (waiting on this ending) answer before completing.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state


_REFUSAL_TEXT = {
    "not_a_supervisor": "only a supervisor may decide this task",
    "four_eyes_violation": "a person who acted on a case may not decide it",
    "approval_limit_exceeded": "the amount is above the decider's approval limit",
}
