"""EnrollmentWorkflow (投保): consultation → quoted → application submitted → verification
→ underwriting → awaiting payment → issued → effective.

Orchestration only: every effect on the world is an activity; every rule is a pure
function in ``domain``. Human and customer input arrives as Updates whose validators
refuse bad requests before anything is written to history.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.activities import (
        Change,
        ChangeBatch,
        Charge,
        CustomerRegistration,
        PaymentOrder,
        PolicyIssue,
        PolicyStatusChange,
        QuoteRecord,
        Refund,
        Settlement,
        VerifyApplicant,
    )
    from domain.business import SHANGHAI, business_today
    from domain.enrollment import (
        WITHDRAWABLE,
        EnrollmentState,
        HistoryEntry,
        PaymentMethod,
        Quote,
        Stage,
        Status,
        Underwriting,
    )
    from domain.identity import age_on
    from domain.policies import PolicyStage, PolicyStatus, Sealed, has_cooling_off
    from domain.policies import expires_at as term_ends_at
    from domain.products import QuoteRefused, annual_premium, get_product
    from domain.tasks import TaskKind
    from domain.underwriting import SYSTEM, decision_refusal, route_underwriting
    from workflows import search_attributes as sa
    from workflows.inputs import (
        ApplicationSubmit,
        EnrollmentStart,
        PaymentNotice,
        PolicyStart,
        QuoteRequest,
        UnderwritingDecision,
        Withdrawal,
    )
    from workflows.policy import PolicyWorkflow
    from workflows.policy import workflow_id_for as policy_workflow_id
    from workflows.process import HALTED, HALTING_ERRORS, Process, refuse, until_cancelled


def workflow_id_for(application_no: str) -> str:
    return f"enrollment-{application_no}"


def _policy_number(application_no: str) -> str:
    """The policy an application becomes: a business key known before issuance."""
    return "P" + application_no.removeprefix("E")


@workflow.defn
class EnrollmentWorkflow:
    @workflow.init
    def __init__(self, start: EnrollmentStart) -> None:
        # Validators may run before run() starts (update-with-start, a fast caller), so all
        # they check — the submitting agent above all — is recorded here, not in run().
        self._start = start
        self._submitted_by = start.agent
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
        self._p = Process(self._state, HistoryEntry, _batch, start.application_no, start.agent)
        self._application: ApplicationSubmit | None = None
        self._decision: UnderwritingDecision | None = None
        self._payment_notice: PaymentNotice | None = None
        self._open_task_id: str | None = None
        self._charging = False
        self._policy_started = False

    # --- the process, in business order ---------------------------------------------

    @workflow.run
    async def run(self, start: EnrollmentStart) -> EnrollmentState:
        return await until_cancelled(self._enroll_or_halt(start), self._compensate)

    async def _enroll_or_halt(self, start: EnrollmentStart) -> EnrollmentState:
        try:
            return await self._enroll(start)
        except HALTING_ERRORS as err:
            self._state.failure_code = HALTED
            await self._p.halt(err)  # returns only by the cancellation it waits for
            raise

    async def _enroll(self, start: EnrollmentStart) -> EnrollmentState:
        p = self._p
        ref = await p.call(
            steps.REGISTER_CUSTOMER,
            CustomerRegistration(
                application_no=start.application_no,
                agent=start.agent,
                customer=start.customer,
                birth_date=start.birth_date,
            ),
        )
        self._state.customer_id = ref.customer_id
        p.record()

        # Consultation and quoting: the agent quotes (as often as needed) and submits.
        submitted = await p.wait_until(
            lambda: self._application is not None or self._p.withdrawal is not None,
            workflow.now() + start.clocks.consultation_window,
        )
        if self._p.withdrawal:
            return await self._end_withdrawn()
        if not submitted or self._application is None:
            return await p.finish(Status.EXPIRED, by=SYSTEM, note="consultation window passed")
        application = self._application
        quote = self._state.quote
        assert quote is not None  # the application validator demands a quote

        # Verification.
        p.enter(Stage.VERIFICATION, by=SYSTEM)
        verification = await p.call(
            steps.VERIFY_APPLICANT,
            VerifyApplicant(
                application_no=start.application_no,
                customer_id=ref.customer_id,
                customer=start.customer,
                product_code=quote.product_code,
                sum_insured=quote.sum_insured,
                on=business_today(workflow.now()),
                declared_conditions=start.declared_conditions,
            ),
        )
        self._state.verification = verification
        if self._p.withdrawal:
            return await self._end_withdrawn()
        if not verification.passed:
            self._state.failure_code = verification.failure_code
            self._state.underwriting = Underwriting(
                decision="reject", decided_by=SYSTEM, reason=verification.failure_code
            )
            await p.notify("application_rejected")
            return await p.finish(Status.REJECTED, by=SYSTEM, note=verification.failure_code)

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
            p.enter(Stage.UNDERWRITING, by=SYSTEM)
        else:
            ending = await self._underwrite_by_person(quote, route.reasons)
            if ending is not None:
                return ending
        if self._state.underwriting.decision == "reject":
            await p.notify("application_rejected")
            return await p.finish(
                Status.REJECTED,
                by=self._state.underwriting.decided_by or SYSTEM,
                note=self._state.underwriting.reason,
            )
        await p.notify("underwriting_approved")

        # Payment.
        p.enter(Stage.AWAITING_PAYMENT, by=SYSTEM)
        ending = await self._collect_premium(quote, application)
        if ending is not None:
            return ending

        # Issuance, then a durable timer to the effective moment.
        p.enter(Stage.ISSUED, by=SYSTEM)
        now = workflow.now()
        start_date = application.start_date or business_today(now) + timedelta(days=1)
        effective_at = max(datetime.combine(start_date, time(0), SHANGHAI), now)
        expires_at = term_ends_at(effective_at, product, self._start.clocks)
        # Set together once all are known: a policy number on the state means a policy row
        # is (being) written, which a compensation then cancels.
        policy_number = _policy_number(start.application_no)
        self._state.policy_number = policy_number
        self._state.effective_at = effective_at
        self._state.expires_at = expires_at
        # Debited for the later premiums, only when the first was.
        auto_debit = application.payment_method == PaymentMethod.AUTO_DEBIT
        account = application.payment_account if auto_debit else None
        await p.call(
            steps.ISSUE_POLICY,
            PolicyIssue(
                policy_number=policy_number,
                application_no=start.application_no,
                customer_id=ref.customer_id,
                agent=start.agent,
                product_code=quote.product_code,
                sum_insured=quote.sum_insured,
                premium=quote.premium,
                effective_at=effective_at,
                expires_at=expires_at,
                payment_account=account,
            ),
        )
        p.record()
        await p.notify("policy_issued", policy_number=policy_number)
        await self._start_policy(policy_number, quote, ref.customer_id, now, account)
        # From here the policy's own process keeps its row (effective, cancelled, expired);
        # the enrollment ends as before, when the policy takes effect.
        wait = effective_at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        self._state.stage = Stage.EFFECTIVE
        await p.notify("policy_effective", policy_number=policy_number)
        return await p.finish(Status.EFFECTIVE, by=SYSTEM)

    async def _start_policy(
        self,
        policy_number: str,
        quote: Quote,
        customer_id: str,
        issued_at: datetime,
        account: Sealed | None,
    ) -> None:
        """Start the policy's own process, as a child that outlives the enrollment
        (ParentClosePolicy.ABANDON): one command in this history, started exactly once
        under its business id, with nothing of the worker's in between. The policy row
        it writes to is applied first."""
        state = self._state
        assert state.effective_at is not None and state.expires_at is not None
        await self._p.flush()
        child = await workflow.start_child_workflow(
            PolicyWorkflow.run,
            PolicyStart(
                policy_number=policy_number,
                application_no=self._start.application_no,
                agent=self._start.agent,
                customer_id=customer_id,
                holder=state.customer,
                holder_birth_date=self._start.birth_date,
                product_code=quote.product_code,
                sum_insured=quote.sum_insured,
                premium=quote.premium,
                issued_at=issued_at,
                effective_at=state.effective_at,
                expires_at=state.expires_at,
                payment_account=account.masked if account else None,
                clocks=self._start.clocks,
            ),
            id=policy_workflow_id(policy_number),
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=sa.at_start(
                "policy",
                self._start.agent,
                PolicyStage.COOLING_OFF.value
                if has_cooling_off(get_product(quote.product_code))
                else PolicyStage.IN_FORCE.value,
                PolicyStatus.ISSUED.value,
                quote.sum_insured,
            ),
        )
        # Abandoned: its end is never awaited; read it so asyncio does not report it lost.
        child.add_done_callback(lambda ended: ended.cancelled() or ended.exception())
        self._policy_started = True

    async def _underwrite_by_person(
        self, quote: Quote, reasons: list[str]
    ) -> EnrollmentState | None:
        """Open an underwriting task and wait for a decision under the SLA: remind at due,
        escalate at escalate, expire the process at expire. None means a decision arrived."""
        p = self._p
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
        p.enter(Stage.UNDERWRITING, by=SYSTEM)
        await p.open_task(
            task_id,
            TaskKind.UNDERWRITING,
            subject=f"Underwrite {quote.product_code} for {self._state.customer.name}",
            amount=quote.sum_insured,
            submitted_by=self._submitted_by,
            due_at=due_at,
            escalate_at=escalate_at,
            expire_at=expire_at,
            details={
                "product_code": quote.product_code,
                "sum_insured": str(quote.sum_insured),
                "premium": str(quote.premium),
                "routed_because": reasons,
            },
        )
        p.record()

        def settled() -> bool:
            return self._decision is not None or self._p.withdrawal is not None

        for moment, action in ((due_at, "remind"), (escalate_at, "escalate")):
            if await p.wait_until(settled, moment):
                break
            if action == "escalate":
                await p.change_task(task_id, "escalate", level=1)
            else:
                await p.change_task(task_id, "remind")
            p.history(f"underwriting task {action}", by=SYSTEM)
            await p.notify(f"underwriting_{action}", task_id=task_id)
        else:
            if not await p.wait_until(settled, expire_at):
                await p.change_task(task_id, "expire")
                self._open_task_id = None
                await p.notify("application_expired")
                return await p.finish(
                    Status.EXPIRED, by=SYSTEM, note="underwriting not decided in time"
                )

        if self._p.withdrawal:
            return await self._end_withdrawn()
        decision = self._decision
        assert decision is not None
        await p.change_task(
            task_id,
            "complete",
            by=decision.actor.username,
            decision=decision.decision,
            reason=decision.reason,
        )
        self._open_task_id = None
        self._state.underwriting = Underwriting(
            decision="approve" if decision.decision == "approve" else "reject",
            decided_by=decision.actor.username,
            reason=decision.reason,
            task_id=task_id,
            routed_because=reasons,
        )
        p.history(f"underwriting {decision.decision}", by=decision.actor.username)
        return None

    async def _collect_premium(
        self, quote: Quote, application: ApplicationSubmit
    ) -> EnrollmentState | None:
        p = self._p
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
                entry = await p.call(
                    steps.CHARGE_PREMIUM,
                    Charge(
                        idempotency_key=key,
                        case_id=app_no,
                        amount=quote.premium,
                        account=application.bank_account,
                    ),
                    # Short, so a charge lost with a crashed worker is retried soon; the
                    # idempotency key makes the retry safe.
                    start_to_close=timedelta(seconds=15),
                    # On cancellation, let the charge finish first: the refund must see it.
                    to_its_end=True,
                )
            except ActivityError as err:
                if isinstance(err.cause, ApplicationError) and err.cause.type == "payment_declined":
                    payment.status = "declined"
                    self._state.failure_code = "payment_declined"
                    await p.notify("payment_declined")
                    return await p.finish(Status.FAILED, by=SYSTEM, note="payment declined")
                raise
        else:
            order_id = f"PO-{app_no}"
            payment.order_id = order_id
            payment.due_at = workflow.now() + self._start.clocks.payment_deadline
            payment.status = "pending"
            await p.call(
                steps.CREATE_PAYMENT_ORDER,
                PaymentOrder(
                    order_id=order_id,
                    idempotency_key=key,
                    case_id=app_no,
                    amount=quote.premium,
                    due_at=payment.due_at,
                ),
            )
            p.record()
            await p.notify("payment_requested", order_id=order_id)
            paid = await p.wait_until(
                lambda: self._payment_notice is not None or self._p.withdrawal is not None,
                payment.due_at,
            )
            if self._p.withdrawal:
                return await self._end_withdrawn()
            notice = self._payment_notice
            if not paid or notice is None:
                payment.status = "lapsed"
                await p.notify("payment_lapsed")
                return await p.finish(Status.LAPSED, by=SYSTEM, note="payment deadline passed")
            entry = await p.call(
                steps.SETTLE_ONLINE_PAYMENT,
                Settlement(
                    order_id=order_id,
                    idempotency_key=key,
                    case_id=app_no,
                    amount=notice.amount,
                    gateway_ref=notice.gateway_ref,
                    paid_at=notice.paid_at,
                ),
            )
        payment.status = "paid"
        payment.ledger_id = entry.ledger_id
        payment.gateway_ref = entry.gateway_ref
        payment.paid_at = workflow.now()
        p.history("premium collected", by=SYSTEM)
        return None

    # --- Updates: validators refuse, handlers change state ----------------------------

    @workflow.update
    async def quote(self, request: QuoteRequest) -> Quote:
        product = get_product(request.product_code)
        age = age_on(self._start.birth_date, business_today(workflow.now()))
        n = len([h for h in self._state.history if h.stage == Stage.QUOTED]) + 1
        quote = Quote(
            quote_id=f"Q-{self._start.application_no}-{n}",
            product_code=product.code,
            sum_insured=request.sum_insured,
            premium=annual_premium(product, sum_insured=request.sum_insured, age=age),
            valid_until=workflow.now() + self._start.clocks.quote_validity,
        )
        self._state.quote = quote
        self._p.took_part(request.by)
        workflow.upsert_search_attributes([sa.AMOUNT.value_set(float(quote.sum_insured))])
        self._p.enter(Stage.QUOTED, by=request.by, note=quote.quote_id)
        await self._p.call(
            steps.RECORD_QUOTE, QuoteRecord(application_no=self._start.application_no, quote=quote)
        )
        await self._p.flush()
        return quote

    @quote.validator
    def _validate_quote(self, request: QuoteRequest) -> None:
        self._p.require_agent(request.by)
        self._require_stage({Stage.CONSULTATION, Stage.QUOTED}, "quote")
        age = age_on(self._start.birth_date, business_today(workflow.now()))
        try:
            product = get_product(request.product_code)
            annual_premium(product, sum_insured=request.sum_insured, age=age)
        except QuoteRefused as refused:
            raise refuse(refused.code, str(refused)) from None

    @workflow.update
    async def submit_application(self, application: ApplicationSubmit) -> EnrollmentState:
        self._application = application
        self._submitted_by = application.by
        self._p.took_part(application.by)
        self._state.start_date = application.start_date
        self._state.payment.method = application.payment_method
        self._p.enter(Stage.APPLICATION_SUBMITTED, by=application.by)
        await self._p.notify("application_received")
        await self._p.flush()
        return self._p.copy()

    @submit_application.validator
    def _validate_application(self, application: ApplicationSubmit) -> None:
        self._p.require_agent(application.by)
        self._require_stage({Stage.QUOTED}, "submit an application")
        quote = self._state.quote
        if quote is None or application.quote_id != quote.quote_id:
            raise refuse("unknown_quote")
        if workflow.now() > quote.valid_until:
            raise refuse("quote_expired")
        if not application.consent:
            raise refuse("consent_required")
        if application.payment_method == PaymentMethod.AUTO_DEBIT and not application.bank_account:
            raise refuse("bank_account_required")
        today = business_today(workflow.now())
        if application.start_date and application.start_date < today:
            raise refuse("invalid_start_date")
        window = self._start.clocks.start_date_window
        if application.start_date and application.start_date - today > window:
            raise refuse(
                "invalid_start_date", f"start_date must be within {window.days} days from today"
            )

    @workflow.update
    async def decide(self, decision: UnderwritingDecision) -> EnrollmentState:
        self._decision = decision
        return await self._p.answer_when(lambda: not self._p.at({Stage.UNDERWRITING}))

    @decide.validator
    def _validate_decision(self, decision: UnderwritingDecision) -> None:
        if (
            not self._p.at({Stage.UNDERWRITING})
            or self._open_task_id != decision.task_id
            or self._decision is not None
        ):
            raise refuse("task_not_open")
        if decision.decision == "request_info":
            raise refuse("decision_not_allowed", "underwriting takes approve or reject")
        quote = self._state.quote
        refusal = decision_refusal(
            decision.actor,
            amount=quote.sum_insured if quote else Decimal(0),
            submitted_by=self._submitted_by,
            participants=self._p.participants,
        )
        if refusal is not None:
            raise refuse(refusal)

    @workflow.update
    async def withdraw(self, withdrawal: Withdrawal) -> EnrollmentState:
        return await self._p.withdraw(withdrawal)

    @withdraw.validator
    def _validate_withdrawal(self, withdrawal: Withdrawal) -> None:
        self._p.require_agent(withdrawal.by)
        if (
            not self._p.at(WITHDRAWABLE)
            or self._charging
            or self._payment_notice is not None
            or self._p.withdrawal is not None
        ):
            raise refuse("withdraw_not_allowed", "the enrollment can no longer be withdrawn")

    @workflow.update
    async def confirm_payment(self, notice: PaymentNotice) -> EnrollmentState:
        self._payment_notice = notice
        return await self._p.answer_when(lambda: self._state.payment.status != "pending")

    @confirm_payment.validator
    def _validate_payment(self, notice: PaymentNotice) -> None:
        payment = self._state.payment
        if notice.order_id != payment.order_id:
            raise refuse("unknown_order")
        if self._payment_notice is not None or payment.status == "paid":
            raise refuse("already_paid")
        if payment.status != "pending" or not self._p.running():
            raise refuse("payment_not_expected")
        if notice.amount != payment.amount:
            raise refuse("amount_mismatch")

    @workflow.query
    def state(self) -> EnrollmentState:
        return self._state

    # --- endings ------------------------------------------------------------------------

    def _require_stage(self, allowed: set[Stage], action: str) -> None:
        if not self._p.at(allowed):
            raise refuse("invalid_stage", f"cannot {action} at stage {self._state.stage.value}")

    async def _compensate(self) -> None:
        """After a cancellation: refund a premium that was collected (or may have been, if
        the charge was in flight), close the open task, cancel an issued policy."""
        p = self._p
        app_no = self._start.application_no
        if self._open_task_id:
            await p.change_task(self._open_task_id, "cancel", by="ops", reason="process cancelled")
            self._open_task_id = None
        payment = self._state.payment
        if payment.status == "paid" or self._charging:
            refund = await p.call(
                steps.REFUND_PREMIUM,
                Refund(
                    idempotency_key=f"refund:{_policy_number(app_no)}",
                    original_key=f"premium:{app_no}",
                    case_id=app_no,
                    amount=payment.amount or Decimal(0),
                ),
            )
            if refund.status == "succeeded":
                payment.status = "refunded"
                payment.refund_ledger_id = refund.ledger_id
                p.history("premium refunded", by=SYSTEM)
        if self._state.policy_number:
            await p.call(
                steps.SET_POLICY_STATUS,
                PolicyStatusChange(policy_number=self._state.policy_number, status="cancelled"),
            )
        if self._policy_started:
            # The policy's process ends with it (its compensation closes its tasks).
            policy = workflow.get_external_workflow_handle(
                policy_workflow_id(self._state.policy_number or "")
            )
            try:
                await policy.cancel()
            except FailureError:
                pass  # it has already ended (cancelled in its cooling-off period)
        await p.notify("enrollment_cancelled")
        await p.end_cancelled(Status.CANCELLED)

    async def _end_withdrawn(self) -> EnrollmentState:
        withdrawal = self._p.withdrawal
        assert withdrawal is not None
        if self._open_task_id:
            await self._p.change_task(
                self._open_task_id, "cancel", by=withdrawal.by, reason=withdrawal.reason
            )
            self._open_task_id = None
        await self._p.notify("application_withdrawn")
        return await self._p.finish(Status.WITHDRAWN, by=withdrawal.by, note=withdrawal.reason)


def _batch(state: EnrollmentState, changes: list[Change]) -> ChangeBatch:
    return ChangeBatch(enrollment=state, changes=changes)
