"""PolicyWorkflow (the policy's life): issued → cooling-off (犹豫期, the return visit 回访)
→ in force, one policy year per run → expired; or cancelled within the cooling-off period
with the premium refunded less its cost.

Started by the enrollment when it issues the policy (workflow id ``policy-<number>``); it
lives until the policy ends and continues-as-new at each policy year, so a twenty-year
policy never carries more than a year of history. Orchestration only: the rules are pure
functions in ``domain.policies``; working days come from a step (domain.working_days).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.activities import (
        Change,
        ChangeBatch,
        CustomerPhoneChange,
        InstallmentCharge,
        LedgerEntry,
        PaymentAccountChange,
        PaymentOrder,
        PolicyPayout,
        PolicyStatusChange,
        Refund,
        Settlement,
        WorkingDaysAsk,
    )
    from domain.business import SHANGHAI, business_today
    from domain.policies import (
        LIVE_STATUSES,
        Cancellation,
        PolicyHistoryEntry,
        PolicyStage,
        PolicyState,
        PolicyStatus,
        PremiumPayment,
        Reinstatement,
        Renewal,
        ReturnVisit,
        Sealed,
        Surrender,
        TerminationReason,
        ValuePayout,
        VisitAttempt,
        claim_ends_policy,
        cooling_off_ends_at,
        cooling_off_refund,
        has_cooling_off,
        needs_dual_recording,
        policy_year_ends_at,
        return_visit_items,
        unconfirmed,
    )
    from domain.premiums import (
        Installment,
        PremiumSchedule,
        cash_value,
        debit_retries_at,
        grace_ends_at,
        is_renewable,
        payment_demand_at,
        premium_reminders_at,
        premium_schedule,
        reinstatement_charge,
        reinstatement_deadline,
        reinstatement_deemed_consent_at,
        reinstatement_refusal,
        renewal_offer,
        renewal_refusal,
        renewal_window_opens_at,
        status_from_premiums,
        surrender_payment_due_at,
        surrender_refusal,
    )
    from domain.products import QuoteRefused, get_product
    from domain.tasks import TaskKind
    from domain.underwriting import SYSTEM, Role
    from workflows.inputs import (
        ClaimPaid,
        PaymentNotice,
        PolicyCancellation,
        PolicyStart,
        ReceiptSigned,
        ReinstatementApplication,
        ReinstatementDecision,
        RemediationResolution,
        RenewalDecision,
        ReturnVisitOutcome,
        ServicingChange,
        SurrenderRequest,
        ValuePayoutFix,
    )
    from workflows.process import HALTING_ERRORS, Process, refuse, until_cancelled

# The working-day step fails beyond the installed calendar's data until it is upgraded:
# keep trying, without flooding the worker (ops see the attempts as an incident).
CALENDAR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=4.0,
    maximum_interval=timedelta(hours=1),
)


# The statuses in which the renewal premiums run: in force, in grace, suspended.
PREMIUM_STATUSES = frozenset({PolicyStatus.EFFECTIVE, PolicyStatus.GRACE, PolicyStatus.SUSPENDED})
DAY = timedelta(days=1)


def workflow_id_for(policy_number: str) -> str:
    return f"policy-{policy_number}"


@workflow.defn
class PolicyWorkflow:
    @workflow.init
    def __init__(self, start: PolicyStart) -> None:
        # All the validators check is set here: an Update may come before run() starts.
        self._start = start
        if start.carried is not None:
            self._state = start.carried.model_copy(deep=True)
            note = f"policy year {self._state.policy_year}"
        else:
            self._state = _opening_state(start)
            note = "policy issued"
        self._p = Process(
            self._state,
            PolicyHistoryEntry,
            _batch,
            start.policy_number,
            start.agent,
            notice_params={"policy_number": start.policy_number},
            live_statuses=LIVE_STATUSES,
            opening_note=note,
        )
        self._cancellation: PolicyCancellation | None = None
        self._outcomes: list[ReturnVisitOutcome] = []
        self._resolution: RemediationResolution | None = None
        self._surrender: SurrenderRequest | None = None
        self._application: ReinstatementApplication | None = None
        self._verdict: ReinstatementDecision | None = None
        self._claim_paid: ClaimPaid | None = None
        self._payout_fix: ValuePayoutFix | None = None

    # --- the policy's life, in business order ----------------------------------------------

    @workflow.run
    async def run(self, start: PolicyStart) -> PolicyState:
        return await until_cancelled(self._live_or_halt(), self._compensate)

    async def _live_or_halt(self) -> PolicyState:
        try:
            return await self._live()
        except HALTING_ERRORS as err:
            await self._p.halt(err)  # returns only by the cancellation it waits for
            raise

    async def _live(self) -> PolicyState:
        p, s = self._p, self._state
        p.record()
        if self._start.carried is None and s.stage == PolicyStage.COOLING_OFF:
            await self._open_cooling_off()
        while True:
            await p.wait_until(self._asked, self._next_moment())
            if self._cancellation is not None:
                return await self._cancel_in_cooling_off(self._cancellation)
            while self._outcomes:
                await self._record_visit(self._outcomes[0])
                self._outcomes.pop(0)
            if self._resolution is not None:
                await self._resolve_remediation(self._resolution)
                self._resolution = None
            if self._claim_paid is not None:
                return await self._end_by_claim(self._claim_paid)
            if self._surrender is not None:
                return await self._surrender_policy(self._surrender)
            if self._application is not None:
                await self._apply_for_reinstatement(self._application)
                self._application = None
            if self._verdict is not None:
                await self._decide_reinstatement(self._verdict)
                self._verdict = None
            now = workflow.now()
            if s.status == PolicyStatus.ISSUED and now >= s.effective_at:
                await self._take_effect()
            cooling_off_end = s.cooling_off_ends_at
            if s.stage == PolicyStage.COOLING_OFF and cooling_off_end and now >= cooling_off_end:
                await self._end_cooling_off()
            if s.installments and s.status in PREMIUM_STATUSES:
                await self._premiums()
            if s.status == PolicyStatus.SUSPENDED:
                ended = await self._while_suspended()
                if ended is not None:
                    return ended
            if self._renewal_due(now):
                await self._offer_renewal()
            if now >= s.expires_at:
                if s.renewal is not None and s.renewal.status == "accepted":
                    await self._renew(s.renewal)  # continues as new into the next period
                return await self._expire()
            if now >= self._policy_year_ends_at():
                await self._next_policy_year()  # continues as new unless a request came

    def _asked(self) -> bool:
        return (
            self._cancellation is not None
            or bool(self._outcomes)
            or self._resolution is not None
            or self._surrender is not None
            or self._application is not None
            or self._verdict is not None
            or self._claim_paid is not None
        )

    def _next_moment(self) -> datetime:
        s = self._state
        moments = [s.expires_at, self._policy_year_ends_at()]
        if s.status == PolicyStatus.ISSUED:
            moments.append(s.effective_at)
        if s.stage == PolicyStage.COOLING_OFF and s.cooling_off_ends_at is not None:
            moments.append(s.cooling_off_ends_at)
        if s.installments and s.status in PREMIUM_STATUSES:
            moments += self._premium_moments()
        if s.status == PolicyStatus.SUSPENDED:
            moments.append(self._suspension_moment())
        if self._renewable() and s.renewal is None and s.renewal_note is None:
            moments.append(renewal_window_opens_at(s.expires_at, self._start.clocks))
        return min(moments)

    def _policy_year_ends_at(self) -> datetime:
        """The end of the current policy year, on the clocks the process started with."""
        s = self._state
        return policy_year_ends_at(s.effective_at, s.policy_year, self._start.clocks)

    async def _open_cooling_off(self) -> None:
        """Tell the customer their cooling-off right, and open the return visit for
        customer service."""
        p, s = self._p, self._state
        visit = s.return_visit
        assert visit is not None and s.cooling_off_ends_at is not None
        await p.notify(
            "cooling_off_started", to_customer=True, ends_at=s.cooling_off_ends_at.isoformat()
        )
        await p.open_task(
            visit.task_id,
            TaskKind.RETURN_VISIT,
            subject=f"Return visit for policy {s.policy_number} ({s.product_code})",
            amount=s.premium,
            submitted_by=s.agent,
            due_at=visit.due_at,
            details={
                "policy_number": s.policy_number,
                "product_code": s.product_code,
                "agent": s.agent,
                "checklist": visit.items,
                "dual_recording_required": visit.dual_recording_required,
                "cooling_off_ends_at": s.cooling_off_ends_at.isoformat(),
            },
        )

    async def _take_effect(self) -> None:
        p, s = self._p, self._state
        await p.call(
            steps.SET_POLICY_STATUS,
            PolicyStatusChange(policy_number=s.policy_number, status="effective"),
        )
        p.set_status(PolicyStatus.EFFECTIVE, by=SYSTEM, note="the policy takes effect")

    async def _end_cooling_off(self) -> None:
        """The cooling-off period is over: the policy is simply in force. A return visit
        not done by then is overdue: its task is escalated and stays open."""
        p, s = self._p, self._state
        p.enter(PolicyStage.IN_FORCE, by=SYSTEM, note="cooling-off period over")
        visit = s.return_visit
        if visit is not None and visit.open:
            if visit.status != "escalated":
                visit.status = "escalated"
                await p.change_task(visit.task_id, "escalate", level=1)
            p.history("return visit not completed within the cooling-off period", by=SYSTEM)
            await p.notify("return_visit_overdue")
        p.record()

    async def _next_policy_year(self) -> None:
        """Continue as new at the anniversary, once every Update has been answered; a
        request that comes meanwhile is served first (the loop comes back here)."""
        p, s = self._p, self._state
        await p.flush()
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self._asked())
        if self._asked():
            return
        carried = s.model_copy(deep=True)
        carried.policy_year += 1
        workflow.continue_as_new(self._start.model_copy(update={"carried": carried}))

    async def _expire(self) -> PolicyState:
        p, s = self._p, self._state
        await self._close_open_tasks(by=SYSTEM, reason="the policy expired")
        s.ended_at = workflow.now()
        await p.call(
            steps.SET_POLICY_STATUS,
            PolicyStatusChange(policy_number=s.policy_number, status="expired"),
        )
        await p.notify("policy_expired")
        await p.notify("policy_expired", to_customer=True)
        return await p.finish(
            PolicyStatus.EXPIRED, stage=PolicyStage.ENDED, by=SYSTEM, note="the term has ended"
        )

    # --- renewal premiums (domain.premiums) -------------------------------------------------

    def _schedule(self) -> PremiumSchedule:
        s = self._state
        return premium_schedule(
            get_product(s.product_code),
            effective_at=s.effective_at,
            premium=s.premium,
            payments=s.payments,
            on=workflow.now(),
            clocks=self._start.clocks,
        )

    def _debits_at(self, due: Installment) -> list[datetime]:
        """When the installment is debited: on its due moment, then on each retry; none
        without an auto-debit account, nor once the policy is suspended."""
        s = self._state
        if s.payment_account is None or s.status == PolicyStatus.SUSPENDED:
            return []
        return [due.due_at, *debit_retries_at(due.due_at, self._start.clocks)]

    def _reminders(self, due: Installment) -> list[tuple[str, datetime]]:
        """The installment's reminders not sent yet, by key and moment: before its due
        moment, for a customer who wants them."""
        s = self._state
        if not s.premium_reminders or due.n == 1:
            return []
        at = premium_reminders_at(due.due_at, self._start.clocks)
        keyed = [(f"{due.n}:{(due.due_at - m).days}", m) for m in at]
        return [(key, m) for key, m in keyed if key not in s.reminders_sent]

    def _premium_moments(self) -> list[datetime]:
        """The next moments the premiums need the process: a reminder, a debit, the day the
        installment is overdue (grace), the payment demand, the end of grace."""
        s, clocks = self._state, self._start.clocks
        due = self._schedule().first_unpaid
        if due is None:
            return []
        moments = [m for _, m in self._reminders(due)]
        moments += self._debits_at(due)[s.debits_tried :]
        moments.append(due.due_at)
        moments.append(datetime.combine(business_today(due.due_at), time(0), SHANGHAI) + DAY)
        if s.demand_at is None:
            moments.append(payment_demand_at(due.due_at, clocks))
        if s.suspended_at is None:
            moments.append(grace_ends_at(due.due_at, clocks, demand_at=s.demand_at))
        now = workflow.now()
        return [m for m in moments if m > now]

    async def _premiums(self) -> None:
        """Where the first unpaid installment stands now: remind before it is due, debit it
        on the day and on each retry, demand it (催告), then grace and suspension
        (Insurance Law art. 36)."""
        p, s, clocks = self._p, self._state, self._start.clocks
        now = workflow.now()
        due = self._schedule().first_unpaid
        if due is None:
            return
        if now < due.due_at:
            passed = [key for key, m in self._reminders(due) if m <= now]
            if passed:
                s.reminders_sent = [*s.reminders_sent, *passed]
                await p.notify(
                    "premium_reminder",
                    key_suffix=passed[-1],
                    to_customer=True,
                    amount=str(due.amount),
                    due_on=business_today(due.due_at).isoformat(),
                )
                p.record()
            return
        debits = self._debits_at(due)
        if s.debits_tried < len(debits) and now >= debits[s.debits_tried]:
            # One try for every debit moment passed (a worker down for days tries once).
            s.debits_tried = len([m for m in debits if m <= now])
            if await self._debit(due):
                return
        online = s.payment_account is None and s.status != PolicyStatus.SUSPENDED
        if online and s.payment_order is None:
            await self._order(due)
        if s.demand_at is None and now >= payment_demand_at(due.due_at, clocks):
            s.demand_at = now
            grace_end = grace_ends_at(due.due_at, clocks, demand_at=now)
            p.history(f"payment demand sent for installment {due.n}", by=SYSTEM)
            for to_customer in (True, False):
                await p.notify(
                    "payment_demand",
                    key_suffix=str(due.n),
                    to_customer=to_customer,
                    amount=str(due.amount),
                    due_on=business_today(due.due_at).isoformat(),
                    grace_ends_on=business_today(grace_end - DAY).isoformat(),
                )
        status = status_from_premiums(self._schedule(), clocks, demand_at=s.demand_at)
        if status == PolicyStatus.GRACE and s.status == PolicyStatus.EFFECTIVE:
            s.grace_ends_at = grace_ends_at(due.due_at, clocks, demand_at=s.demand_at)
            await self._set_premium_status(
                PolicyStatus.GRACE, note=f"installment {due.n} overdue: in grace"
            )
        elif status == PolicyStatus.SUSPENDED and s.status != PolicyStatus.SUSPENDED:
            await self._suspend(due)
        elif s.demand_at is not None and s.status == PolicyStatus.GRACE:
            s.grace_ends_at = grace_ends_at(due.due_at, clocks, demand_at=s.demand_at)
        p.record()

    async def _debit(self, due: Installment) -> bool:
        """Debit the installment from the policy's account, exactly once under its business
        key ``premium:<policy_number>:<n>``. True if it was collected."""
        p, s = self._p, self._state
        entry = await self._from_account(f"premium:{s.policy_number}:{due.n}", due.amount)
        if entry is None:
            p.history(f"installment {due.n}: the debit failed (try {s.debits_tried})", by=SYSTEM)
            if s.debits_tried == 1:
                await p.notify(
                    "premium_debit_failed",
                    key_suffix=str(due.n),
                    to_customer=True,
                    amount=str(due.amount),
                )
            p.record()
            return False
        await self._paid(due, entry.amount)
        return True

    async def _from_account(self, key: str, amount: Decimal) -> LedgerEntry | None:
        """Debit ``amount`` from the policy's account, exactly once under the business
        ``key`` (the step reads and decrypts the account from the policy row). None when
        the bank declines it or the policy has no account."""
        s = self._state
        try:
            return await self._p.call(
                steps.CHARGE_INSTALLMENT,
                InstallmentCharge(
                    idempotency_key=key, policy_number=s.policy_number, amount=amount
                ),
                start_to_close=timedelta(seconds=15),
                to_its_end=True,  # money: a cancellation neither cuts it nor loses it
            )
        except ActivityError as err:
            if _bank_refusal(err, "payment_declined") is None:
                raise
            return None

    async def _order(self, due: Installment) -> None:
        """An online payer: a payment order for the installment (``PO-<number>-<n>``,
        under its business key), payable until grace ends; the gateway's signed callback
        confirms it (``confirm_payment``)."""
        p, s, clocks = self._p, self._state, self._start.clocks
        order_id = f"PO-{s.policy_number}-{due.n}"
        pay_by = grace_ends_at(due.due_at, clocks)
        await p.call(
            steps.CREATE_PAYMENT_ORDER,
            PaymentOrder(
                order_id=order_id,
                idempotency_key=f"premium:{s.policy_number}:{due.n}",
                case_id=s.policy_number,
                amount=due.amount,
                due_at=pay_by,
            ),
        )
        s.payment_order = order_id
        p.history(f"payment order {order_id} for installment {due.n}", by=SYSTEM)
        await p.notify(
            "premium_payment_requested",
            key_suffix=str(due.n),
            to_customer=True,
            amount=str(due.amount),
            order_id=order_id,
        )
        p.record()

    async def _settle(self, notice: PaymentNotice) -> None:
        """The order's payment, booked under the installment's key, then the installment
        is paid."""
        s = self._state
        due = self._schedule().first_unpaid
        assert due is not None  # the validator demands an open order
        entry = await self._p.call(
            steps.SETTLE_ONLINE_PAYMENT,
            Settlement(
                order_id=notice.order_id,
                idempotency_key=f"premium:{s.policy_number}:{due.n}",
                case_id=s.policy_number,
                amount=notice.amount,
                gateway_ref=notice.gateway_ref,
                paid_at=notice.paid_at,
            ),
        )
        s.payment_order = None
        await self._paid(due, entry.amount)

    async def _paid(self, due: Installment, amount: Decimal) -> None:
        """The installment is paid: back in force if it was in grace."""
        p, s = self._p, self._state
        s.payments = [*s.payments, PremiumPayment(n=due.n, paid_at=workflow.now(), amount=amount)]
        s.debits_tried, s.demand_at, s.grace_ends_at = 0, None, None
        s.payment_order = None
        p.history(f"installment {due.n} collected: {amount}", by=SYSTEM)
        await p.notify(
            "premium_collected",
            key_suffix=str(due.n),
            to_customer=True,
            amount=str(amount),
            n=str(due.n),
        )
        if s.status == PolicyStatus.GRACE:
            await self._set_premium_status(PolicyStatus.EFFECTIVE, note="premium paid in grace")
        p.record()

    async def _suspend(self, due: Installment) -> None:
        """Grace ended unpaid: suspended (效力中止), the customer told at once of the
        consequences and of reinstatement within two years (人身保险业务基本服务规定
        art. 21 gives ten working days)."""
        p, s = self._p, self._state
        now = workflow.now()
        # An open order lapses: a payment that comes later is booked and refunded.
        s.suspended_at, s.grace_ends_at, s.payment_order = now, None, None
        deadline = reinstatement_deadline(now, self._start.clocks)
        await self._set_premium_status(
            PolicyStatus.SUSPENDED, note=f"installment {due.n} unpaid at the end of grace"
        )
        for to_customer in (True, False):
            await p.notify(
                "policy_suspended",
                to_customer=to_customer,
                on=business_today(now).isoformat(),
                deadline=business_today(deadline - DAY).isoformat(),
            )

    async def _set_premium_status(self, status: PolicyStatus, *, note: str) -> None:
        p, s = self._p, self._state
        await p.call(
            steps.SET_POLICY_STATUS,
            PolicyStatusChange(policy_number=s.policy_number, status=status.value),
        )
        p.set_status(status, by=SYSTEM, note=note)

    # --- suspended: reinstatement (复效) or termination -------------------------------------

    def _pending_reinstatement(self) -> Reinstatement | None:
        last = self._state.reinstatements[-1] if self._state.reinstatements else None
        return last if last is not None and last.status == "applied" else None

    def _suspension_moment(self) -> datetime:
        """Consent deemed given to a pending application, else the window's end."""
        pending = self._pending_reinstatement()
        if pending is not None:
            return pending.deemed_consent_at
        assert self._state.suspended_at is not None
        return reinstatement_deadline(self._state.suspended_at, self._start.clocks)

    async def _while_suspended(self) -> PolicyState | None:
        """No decision within 30 days counts as consent (保险法解释三 art. 8); two years
        suspended without reinstatement, the policy is terminated with its cash value
        refunded (Insurance Law art. 37). An application made in time is decided first."""
        now = workflow.now()
        pending = self._pending_reinstatement()
        if pending is not None:
            if now >= pending.deemed_consent_at:
                pending.status, pending.decided_by = "approved", SYSTEM
                pending.reason = "no decision within the period: consent deemed given"
                await self._p.change_task(
                    pending.task_id, "complete", decision="approve", reason=pending.reason
                )
                self._p.history("reinstatement: consent deemed given", by=SYSTEM)
                await self._reinstate(pending)
            return None
        if now >= self._suspension_moment():
            return await self._terminate_not_reinstated()
        return None

    async def _apply_for_reinstatement(self, application: ReinstatementApplication) -> None:
        """A supervisor decides within 30 days (the task is due then); the arrears with
        interest to date are shown with it."""
        p, s, clocks = self._p, self._state, self._start.clocks
        now = workflow.now()
        owed = reinstatement_charge(self._schedule(), paid_at=now, clocks=clocks)
        task_id = f"ri-{s.policy_number}-{len(s.reinstatements) + 1}"
        pending = Reinstatement(
            task_id=task_id,
            by=application.by,
            applied_at=now,
            deemed_consent_at=reinstatement_deemed_consent_at(now, clocks),
        )
        s.reinstatements = [*s.reinstatements, pending]
        await p.open_task(
            task_id,
            TaskKind.REINSTATEMENT,
            subject=f"Reinstatement of policy {s.policy_number} ({s.product_code})",
            amount=owed.total,
            submitted_by=application.by,
            due_at=pending.deemed_consent_at,
            details={
                "policy_number": s.policy_number,
                "agent": s.agent,
                "suspended_at": s.suspended_at.isoformat() if s.suspended_at else None,
                "arrears": str(owed.arrears),
                "interest": str(owed.interest),
                "deemed_consent_at": pending.deemed_consent_at.isoformat(),
            },
        )
        p.history(f"reinstatement applied for by {application.by}", by=application.by)
        p.record()

    async def _decide_reinstatement(self, verdict: ReinstatementDecision) -> None:
        p = self._p
        pending = self._pending_reinstatement()
        assert pending is not None  # the validator demands it
        by = verdict.actor.username
        pending.decided_by, pending.reason = by, verdict.reason
        await p.change_task(
            pending.task_id, "complete", by=by, decision=verdict.decision, reason=verdict.reason
        )
        if verdict.decision == "reject":
            pending.status = "refused"
            p.history(f"reinstatement refused by {by}: {verdict.reason}", by=by)
            await p.notify("reinstatement_refused")
            p.record()
            return
        pending.status = "approved"
        p.history(f"reinstatement approved by {by}", by=by)
        await self._reinstate(pending)

    async def _reinstate(self, pending: Reinstatement) -> None:
        """Debit the arrears and interest once (``reinstatement:<number>:<k>``); paid, the
        policy is in force again from that day. Not paid: it stays suspended, and the
        agent may apply again."""
        p, s = self._p, self._state
        now = workflow.now()
        owed = reinstatement_charge(self._schedule(), paid_at=now, clocks=self._start.clocks)
        key = f"reinstatement:{s.policy_number}:{len(s.reinstatements)}"
        entry = await self._from_account(key, owed.total)
        if entry is None:
            pending.status = "charge_failed"
            p.history("reinstatement: the debit of the arrears failed", by=SYSTEM)
            await p.notify("reinstatement_charge_failed", amount=str(owed.total))
            p.record()
            return
        pending.status, pending.charged = "reinstated", entry.amount
        s.payments = [
            *s.payments,
            *(PremiumPayment(n=line.n, paid_at=now, amount=line.amount) for line in owed.lines),
        ]
        s.suspended_at = s.demand_at = s.grace_ends_at = None
        s.debits_tried = 0
        await self._set_premium_status(
            PolicyStatus.EFFECTIVE, note=f"reinstated: arrears and interest {entry.amount} paid"
        )
        await p.notify("policy_reinstated", to_customer=True, amount=str(entry.amount))
        await p.notify("policy_reinstated", amount=str(entry.amount))
        p.record()

    async def _terminate_not_reinstated(self) -> PolicyState:
        s = self._state
        s.termination_reason = TerminationReason.NOT_REINSTATED
        value = self._cash_value()
        await self._close_open_tasks(by=SYSTEM, reason="the policy was terminated")
        await self._pay_value(
            f"termination:{s.policy_number}", value, None, ending=PolicyStatus.TERMINATED
        )
        return await self._end(
            PolicyStatus.TERMINATED,
            by=SYSTEM,
            note=f"not reinstated within two years: cash value {value} refunded",
            template="policy_terminated",
            value=value,
        )

    async def _end_by_claim(self, paid: ClaimPaid) -> PolicyState:
        """A paid death or total-disability claim: the sum insured is paid, the policy ends
        ``terminated`` (reason ``claim_paid``) and no premium falls due after."""
        s = self._state
        s.termination_reason = TerminationReason.CLAIM_PAID
        await self._close_open_tasks(by=SYSTEM, reason="a claim ended the policy")
        return await self._end(
            PolicyStatus.TERMINATED,
            by=SYSTEM,
            note=f"ended by the claim {paid.claim_no} paid ({paid.incident_type})",
            template="policy_ended_by_claim",
            value=paid.amount,
        )

    # --- one-year renewal ---------------------------------------------------------------------

    def _renewable(self) -> bool:
        s = self._state
        return is_renewable(get_product(s.product_code)) and s.status in PREMIUM_STATUSES

    def _renewal_due(self, now: datetime) -> bool:
        s = self._state
        opens = renewal_window_opens_at(s.expires_at, self._start.clocks)
        return (
            self._renewable()
            and s.renewal is None
            and s.renewal_note is None
            and opens <= now < s.expires_at
        )

    async def _offer_renewal(self) -> None:
        """The window opens: the renewal at the customer's age that day, not guaranteed
        where the product says so (MEDICAL_1Y), and a follow-up task for the agent."""
        p, s = self._p, self._state
        product = get_product(s.product_code)
        try:
            offer = renewal_offer(
                product,
                sum_insured=s.sum_insured,
                birth_date=self._start.holder_birth_date,
                offered_at=workflow.now(),
                expires_at=s.expires_at,
                continuous_since=s.effective_at,
                clocks=self._start.clocks,
            )
        except QuoteRefused as refused:
            s.renewal_note = f"not offered: {refused.code}"
            p.history(f"renewal not offered: {refused.code}", by=SYSTEM)
            p.record()
            return
        task_id = f"rn-{s.policy_number}-{s.period + 1}"
        s.renewal = Renewal(
            task_id=task_id,
            offered_at=offer.offered_at,
            premium=offer.premium,
            guaranteed=offer.guaranteed,
            starts_at=offer.starts_at,
            ends_at=offer.ends_at,
        )
        await p.open_task(
            task_id,
            TaskKind.RENEWAL,
            subject=f"Renewal of policy {s.policy_number} ({s.product_code})",
            amount=offer.premium,
            submitted_by=SYSTEM,
            due_at=s.expires_at,
            details={
                "policy_number": s.policy_number,
                "premium": str(offer.premium),
                "guaranteed": offer.guaranteed,
                "starts_at": offer.starts_at.isoformat(),
                "ends_at": offer.ends_at.isoformat(),
            },
        )
        p.history(f"renewal offered: premium {offer.premium}", by=SYSTEM)
        await p.notify(
            "renewal_offered" if offer.guaranteed else "renewal_offered_not_guaranteed",
            to_customer=True,
            premium=str(offer.premium),
            expires_on=business_today(s.expires_at - DAY).isoformat(),
        )
        p.record()

    async def _renew(self, renewal: Renewal) -> None:
        """Accepted: the next period's premium debited once (``premium:<number>:<period>``)
        at expiry, then the next period runs as a new run. Not paid: the policy expires."""
        p, s = self._p, self._state
        period = s.period + 1
        entry = await self._from_account(f"premium:{s.policy_number}:{period}", renewal.premium)
        if entry is None:
            renewal.status = "charge_failed"
            p.history("renewal premium not collected: the policy expires", by=SYSTEM)
            return
        renewal.status = "renewed"
        p.history(f"renewed for period {period}: premium {entry.amount} collected", by=SYSTEM)
        await p.notify("policy_renewed", to_customer=True, amount=str(entry.amount))
        await p.flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        carried = s.model_copy(deep=True)
        carried.period, carried.period_started_at = period, renewal.starts_at
        carried.expires_at, carried.premium = renewal.ends_at, entry.amount
        carried.payments = [PremiumPayment(n=1, paid_at=workflow.now(), amount=entry.amount)]
        carried.renewal, carried.renewal_note = None, None
        carried.policy_year += 1
        workflow.continue_as_new(self._start.model_copy(update={"carried": carried}))

    # --- surrender (退保) --------------------------------------------------------------------

    async def _surrender_policy(self, asked: SurrenderRequest) -> PolicyState:
        """The cash value on the day of the request, paid once (``surrender:<number>``)
        within 30 days: at once here, to the account the customer named or the policy's."""
        s = self._state
        now = workflow.now()
        value = self._cash_value()
        s.surrender = Surrender(
            by=asked.by,
            reason=asked.reason,
            at=now,
            cash_value=value,
            pay_by=surrender_payment_due_at(now, self._start.clocks),
        )
        self._p.history(f"surrender asked: {asked.reason}", by=asked.by)
        await self._close_open_tasks(by=asked.by, reason="policy surrendered")
        await self._pay_value(
            f"surrender:{s.policy_number}",
            value,
            asked.payee_account,
            ending=PolicyStatus.SURRENDERED,
        )
        s.surrender.payout_status = "succeeded"
        return await self._end(
            PolicyStatus.SURRENDERED,
            by=asked.by,
            note=f"surrendered, cash value {value} paid",
            template="policy_surrendered",
            value=value,
        )

    def _cash_value(self) -> Decimal:
        s = self._state
        return cash_value(
            get_product(s.product_code),
            premium=s.premium,
            effective_at=s.period_started_at or s.effective_at,
            installments_paid=self._schedule().installments_paid,
            on=workflow.now(),
            clocks=self._start.clocks,
        )

    async def _pay_value(
        self, key: str, value: Decimal, account: Sealed | None, *, ending: PolicyStatus
    ) -> None:
        """Pay a cash value out once under ``key``, to ``account`` or the policy's own, and
        return once it is paid (nothing to pay: at once). Declined, or with no account to
        pay to, the cover has ended all the same: the policy is ``ending`` from then on (its
        row too, so no claim or change is taken), and the value stays owed until ops or a
        supervisor give a corrected account (``fix_payout``); then it is paid again under
        ``<key>:<attempt>``, the gateway's declined booking staying under its own key."""
        p, s = self._p, self._state
        if value <= 0:
            return
        payout = s.value_payout = ValuePayout(key=key, amount=value)
        while True:
            payout.attempts += 1
            payout.key = key if payout.attempts == 1 else f"{key}:{payout.attempts}"
            payout.status = "pending"
            p.record()
            try:
                await p.call(
                    steps.PAY_POLICY_VALUE,
                    PolicyPayout(
                        idempotency_key=payout.key,
                        policy_number=s.policy_number,
                        amount=value,
                        account=account,
                    ),
                    to_its_end=True,
                )
            except ActivityError as err:
                code = _bank_refusal(err, "payout_declined")
                if code is None:
                    raise
                payout.status, payout.refusal = "declined", code
                if s.surrender is not None:
                    s.surrender.payout_status = "declined"
                p.history(f"cash value {value} not paid: {code}", by=SYSTEM)
                if s.status != ending:
                    await p.call(
                        steps.SET_POLICY_STATUS,
                        PolicyStatusChange(policy_number=s.policy_number, status=ending.value),
                    )
                    s.ended_at = workflow.now()
                    p.set_status(ending, by=SYSTEM, note="the cover has ended: cash value owed")
                account = await self._corrected_account(payout)
                continue
            payout.status, payout.refusal = "paid", None
            return

    async def _corrected_account(self, payout: ValuePayout) -> Sealed:
        """A ``value_payout_failed`` task for ops or a supervisor, and the account they give
        (``fix_payout``)."""
        p, s = self._p, self._state
        task_id = f"vp-{s.policy_number}-{payout.attempts}"
        payout.task_id = task_id
        await p.open_task(
            task_id,
            TaskKind.VALUE_PAYOUT_FAILED,
            subject=f"Cash value of policy {s.policy_number} not paid: fix the account",
            amount=payout.amount,
            submitted_by=s.agent,
            due_at=workflow.now() + timedelta(days=1),
            details={"policy_number": s.policy_number, "refusal": payout.refusal},
        )
        await p.notify(
            "value_payout_failed", key_suffix=task_id, amount=str(payout.amount), task_id=task_id
        )
        p.record()
        await p.wait_until(lambda: self._payout_fix is not None, None)
        fix = self._payout_fix
        assert fix is not None
        self._payout_fix = None
        payout.task_id = None
        await p.change_task(task_id, "complete", by=fix.by, decision="retry", reason=fix.reason)
        p.history(f"payee account corrected by {fix.by}", by=fix.by)
        return fix.payee_account

    async def _end(
        self, status: PolicyStatus, *, by: str, note: str, template: str, value: Decimal
    ) -> PolicyState:
        p, s = self._p, self._state
        s.ended_at = s.ended_at or workflow.now()  # the cover's end, if a payout waited
        await p.call(
            steps.SET_POLICY_STATUS,
            PolicyStatusChange(policy_number=s.policy_number, status=status.value),
        )
        await p.notify(template, to_customer=True, value=str(value))
        await p.notify(template, value=str(value))
        return await p.finish(status, stage=PolicyStage.ENDED, by=by, note=note)

    # --- the cooling-off cancellation ------------------------------------------------------

    async def _cancel_in_cooling_off(self, asked: PolicyCancellation) -> PolicyState:
        """Void from the start: the open tasks closed, the premium refunded less the cost,
        exactly once (``refund:<policy_number>``: the ledger's UNIQUE key, and the same key
        the enrollment's compensation would use)."""
        p, s = self._p, self._state
        amount = cooling_off_refund(s.premium, self._start.clocks.cooling_off_cost)
        s.cancellation = Cancellation(
            by=asked.by, reason=asked.reason, at=workflow.now(), refund_amount=amount
        )
        p.history(f"cancellation in the cooling-off period asked: {asked.reason}", by=asked.by)
        await self._close_open_tasks(by=asked.by, reason="policy cancelled")
        entry = await p.call(
            steps.REFUND_PREMIUM,
            Refund(
                idempotency_key=f"refund:{s.policy_number}",
                original_key=f"premium:{s.application_no}",
                case_id=s.policy_number,
                amount=amount,
            ),
            to_its_end=True,  # money: a cancellation by ops neither cuts it nor loses it
        )
        s.cancellation.refund_status = entry.status
        s.cancellation.refund_ledger_id = entry.ledger_id or None
        s.ended_at = workflow.now()
        await p.call(
            steps.SET_POLICY_STATUS,
            PolicyStatusChange(policy_number=s.policy_number, status="cancelled"),
        )
        await p.notify("policy_cancelled", refund=str(amount))
        await p.notify("policy_cancelled", to_customer=True, refund=str(amount))
        return await p.finish(
            PolicyStatus.CANCELLED,
            stage=PolicyStage.ENDED,
            by=asked.by,
            note=f"cancelled in the cooling-off period, {amount} refunded",
        )

    # --- the return visit -------------------------------------------------------------------

    async def _record_visit(self, outcome: ReturnVisitOutcome) -> None:
        p, s = self._p, self._state
        visit = s.return_visit
        assert visit is not None
        by = outcome.actor.username
        today = business_today(workflow.now())
        confirmed = [i for i in visit.items if outcome.checklist.get(i, False)]
        visit.attempts.append(
            VisitAttempt(
                at=workflow.now(),
                by=by,
                decision=outcome.decision,
                confirmed=confirmed,
                reason=outcome.reason,
                dual_recording_checked=outcome.dual_recording_checked,
            )
        )
        if outcome.decision == "completed":
            visit.status = "completed"
            visit.outcome = f"{len(confirmed)} of {len(visit.items)} confirmed"
            await p.change_task(
                visit.task_id, "complete", by=by, decision="completed", reason=outcome.reason
            )
            p.history(f"return visit completed by {by}: {visit.outcome}", by=by)
            await p.notify("return_visit_completed")
        elif outcome.decision == "unreachable":
            tries = visit.unreachable_tries
            next_try = await p.call(
                steps.ADD_WORKING_DAYS, WorkingDaysAsk(after=today), retry_policy=CALENDAR_RETRY
            )
            visit.next_try_on = next_try.day
            limit = self._start.clocks.return_visit_tries
            p.history(
                f"return visit: customer unreachable (try {tries} of {limit}), "
                f"next try on or after {next_try.day.isoformat()}",
                by=by,
            )
            if tries >= limit and visit.status != "escalated":
                visit.status = "escalated"
                visit.outcome = f"unreachable {tries} times"
                await p.change_task(visit.task_id, "escalate", level=1, by=SYSTEM)
                p.history(f"return visit escalated: unreachable {tries} times", by=SYSTEM)
                await p.notify("return_visit_escalated")
            elif visit.status != "escalated":
                visit.status = "unreachable"
        else:
            await self._misselling_found(visit, outcome)
        p.record()

    async def _misselling_found(self, visit: ReturnVisit, outcome: ReturnVisitOutcome) -> None:
        """Mis-selling found: a remediation task for someone other than the selling agent,
        due in 15 working days, and the customer told of the right to cancel."""
        p, s = self._p, self._state
        by = outcome.actor.username
        visit.status = "misselling"
        visit.outcome = "mis-selling found"
        await p.change_task(
            visit.task_id, "complete", by=by, decision="misselling", reason=outcome.reason
        )
        due = await p.call(
            steps.ADD_WORKING_DAYS,
            WorkingDaysAsk(
                after=business_today(workflow.now()),
                days=self._start.clocks.remediation_working_days,
            ),
            retry_policy=CALENDAR_RETRY,
        )
        task_id = f"rm-{s.policy_number}"
        visit.remediation_task_id = task_id
        visit.remediation_due_on = due.day
        await p.open_task(
            task_id,
            TaskKind.MISSELLING_REMEDIATION,
            subject=f"Mis-selling on policy {s.policy_number}: remediate",
            amount=s.premium,
            submitted_by=s.agent,  # the selling agent may not resolve it (four eyes)
            due_at=datetime.combine(due.day + timedelta(days=1), time(0), SHANGHAI),
            details={
                "policy_number": s.policy_number,
                "agent": s.agent,
                "found_by": by,
                "reason": outcome.reason,
                "due_on": due.day.isoformat(),
            },
        )
        p.history(f"mis-selling found by {by}: remediation due {due.day.isoformat()}", by=by)
        await p.notify("misselling_found", task_id=task_id)
        ends = s.cooling_off_ends_at.isoformat() if s.cooling_off_ends_at else ""
        await p.notify("right_to_cancel", to_customer=True, ends_at=ends)

    async def _resolve_remediation(self, resolution: RemediationResolution) -> None:
        p, s = self._p, self._state
        visit = s.return_visit
        assert visit is not None
        by = resolution.actor.username
        visit.remediation_resolved_by = by
        await p.change_task(
            resolution.task_id, "complete", by=by, decision="resolved", reason=resolution.reason
        )
        p.history(f"mis-selling remediated by {by}: {resolution.reason}", by=by)
        await p.notify("misselling_remediated")
        p.record()

    async def _close_open_tasks(self, *, by: str, reason: str) -> None:
        """Cancel the return visit's task, the remediation's and a reinstatement's, where
        still open."""
        pending = self._pending_reinstatement()
        if pending is not None:
            pending.status = "refused"
            await self._p.change_task(pending.task_id, "cancel", by=by, reason=reason)
        renewal = self._state.renewal
        if renewal is not None and renewal.status == "offered":
            await self._p.change_task(renewal.task_id, "cancel", by=by, reason=reason)
        visit = self._state.return_visit
        if visit is None:
            return
        if visit.open:
            await self._p.change_task(visit.task_id, "cancel", by=by, reason=reason)
        if visit.remediation_task_id and visit.remediation_resolved_by is None:
            await self._p.change_task(visit.remediation_task_id, "cancel", by=by, reason=reason)

    # --- Updates: validators refuse, handlers change state ---------------------------------

    @workflow.update
    async def sign_receipt(self, receipt: ReceiptSigned) -> PolicyState:
        """The customer signed the receipt: the cooling-off period counts from that day."""
        p, s = self._p, self._state
        s.receipt_signed_at = receipt.signed_at
        if s.stage == PolicyStage.COOLING_OFF:
            s.cooling_off_ends_at = cooling_off_ends_at(
                business_today(receipt.signed_at), self._start.clocks.cooling_off
            )
        p.history("receipt signed by the customer", by=receipt.by)
        await p.notify("receipt_signed")
        p.record()
        await p.flush()
        return p.copy()

    @sign_receipt.validator
    def _validate_receipt(self, receipt: ReceiptSigned) -> None:
        s = self._state
        if not self._p.running():
            raise refuse("policy_closed")
        if s.receipt_signed_at is not None:
            raise refuse("receipt_already_signed")
        if receipt.by != s.agent:
            raise refuse("not_your_case")
        if receipt.signed_at.tzinfo is None or not (
            business_today(s.issued_at)
            <= business_today(receipt.signed_at)
            <= business_today(workflow.now())
        ):
            raise refuse("invalid_receipt_date")

    @workflow.update
    async def cancel_in_cooling_off(self, cancellation: PolicyCancellation) -> PolicyState:
        self._cancellation = cancellation
        self._p.took_part(cancellation.by)
        return await self._p.answer_when(lambda: not self._p.running())

    @cancel_in_cooling_off.validator
    def _validate_cancellation(self, cancellation: PolicyCancellation) -> None:
        s = self._state
        if not self._p.running():
            raise refuse("policy_closed")
        if self._cancellation is not None:
            raise refuse("invalid_stage", "a cancellation is already under way")
        if cancellation.by != s.agent:
            raise refuse("not_your_case")
        ends = s.cooling_off_ends_at
        if s.stage != PolicyStage.COOLING_OFF or ends is None or workflow.now() >= ends:
            raise refuse("cooling_off_over")

    @workflow.update
    async def record_return_visit(self, outcome: ReturnVisitOutcome) -> PolicyState:
        self._outcomes.append(outcome)
        # Answered once the run has dealt with it (it leaves the queue after its steps).
        return await self._p.answer_when(
            lambda: all(o is not outcome for o in self._outcomes) or not self._p.running()
        )

    @record_return_visit.validator
    def _validate_visit(self, outcome: ReturnVisitOutcome) -> None:
        s = self._state
        visit = s.return_visit
        if not self._p.running() or self._cancellation is not None:
            raise refuse("policy_closed")
        if visit is None or not visit.open or outcome.task_id != visit.task_id or self._outcomes:
            raise refuse("task_not_open")
        # The selling agent never records their own sale's visit, whatever roles they hold.
        if outcome.actor.username == s.agent:
            raise refuse("four_eyes_violation", "the selling agent may not do the return visit")
        if not outcome.actor.has(Role.SERVICE):
            raise refuse("not_customer_service")
        if outcome.decision == "completed":
            missing = unconfirmed(visit.items, outcome.checklist)
            if missing:
                raise refuse("checklist_incomplete", f"not confirmed: {', '.join(missing)}")
            if visit.dual_recording_required and not outcome.dual_recording_checked:
                raise refuse("dual_recording_required")
        today = business_today(workflow.now())
        if outcome.decision == "unreachable" and visit.next_try_on and today < visit.next_try_on:
            raise refuse(
                "return_visit_retry_too_soon",
                f"try again on or after {visit.next_try_on.isoformat()}",
            )

    @workflow.update
    async def resolve_remediation(self, resolution: RemediationResolution) -> PolicyState:
        self._resolution = resolution
        return await self._p.answer_when(lambda: self._resolution is None or not self._p.running())

    @resolve_remediation.validator
    def _validate_resolution(self, resolution: RemediationResolution) -> None:
        s = self._state
        visit = s.return_visit
        if not self._p.running():
            raise refuse("policy_closed")
        if (
            visit is None
            or visit.remediation_task_id != resolution.task_id
            or visit.remediation_resolved_by is not None
            or self._resolution is not None
        ):
            raise refuse("task_not_open")
        if resolution.actor.username == s.agent:
            raise refuse("four_eyes_violation", "the selling agent may not remediate their sale")
        if not (resolution.actor.has(Role.SERVICE) or resolution.actor.has(Role.SUPERVISOR)):
            raise refuse("not_customer_service")

    @workflow.update
    async def change_servicing(self, change: ServicingChange) -> PolicyState:
        """A servicing change (保全), applied at once: the customer's phone, the auto-debit
        account, premium reminders. The phone and the account arrive sealed (ciphertext and
        mask, made by the service): the read model takes the ciphertext in the same write as
        the state, the state keeps only the masks."""
        p, s = self._p, self._state
        by = change.actor.username
        if change.phone is not None:
            s.holder = s.holder.model_copy(update={"phone": change.phone.masked})
            await p.call(
                steps.CHANGE_CUSTOMER_PHONE,
                CustomerPhoneChange(customer_id=s.customer_id, phone=change.phone),
            )
            p.history("phone number changed", by=by)
        if change.payment_account is not None:
            s.payment_account = change.payment_account.masked
            await p.call(
                steps.CHANGE_PAYMENT_ACCOUNT,
                PaymentAccountChange(policy_number=s.policy_number, account=change.payment_account),
            )
            p.history("payment account changed", by=by)
        if change.premium_reminders is not None:
            s.premium_reminders = change.premium_reminders
            p.history(f"premium reminders {'on' if change.premium_reminders else 'off'}", by=by)
        # The customer hears of every change (one notice per Update: its id is the key).
        update = workflow.current_update_info()
        assert update is not None  # this runs in the Update's handler
        await p.notify(
            "servicing_changed",
            key_suffix=update.id,
            to_customer=True,
            on=business_today(workflow.now()).isoformat(),
        )
        p.record()
        await p.flush()
        return p.copy()

    @change_servicing.validator
    def _validate_servicing(self, change: ServicingChange) -> None:
        if not self._p.running() or self._cancellation is not None:
            raise refuse("policy_closed")
        if not change.names():
            raise refuse("nothing_to_change")
        actor = change.actor
        if actor.username != self._state.agent and not actor.has(Role.SERVICE):
            raise refuse("not_your_case")

    @workflow.update
    async def confirm_payment(self, notice: PaymentNotice) -> PolicyState:
        """The gateway's verified notice that an installment's order was paid."""
        await self._settle(notice)
        await self._p.flush()
        return self._p.copy()

    @confirm_payment.validator
    def _validate_payment(self, notice: PaymentNotice) -> None:
        s = self._state
        if s.payment_order is None or notice.order_id != s.payment_order:
            raise refuse("payment_not_expected")
        if not self._p.running() or s.status == PolicyStatus.SUSPENDED:
            raise refuse("payment_not_expected")  # booked and refunded by the service
        due = self._schedule().first_unpaid
        if due is None or notice.amount != due.amount:
            raise refuse("amount_mismatch")

    @workflow.signal
    def claim_paid(self, paid: ClaimPaid) -> None:
        """The claim's process tells of a claim paid; only one that ends the policy counts
        (a signal: the claim does not wait on the policy)."""
        product = get_product(self._state.product_code)
        if self._p.running() and claim_ends_policy(product, paid.incident_type):
            self._claim_paid = paid

    @workflow.update
    async def decide_renewal(self, decision: RenewalDecision) -> PolicyState:
        """The customer's answer to the renewal offer, recorded by the agent at once."""
        p, s = self._p, self._state
        renewal = s.renewal
        assert renewal is not None  # the validator demands it
        renewal.status = "accepted" if decision.decision == "accept" else "declined"
        renewal.decided_by, renewal.decided_at = decision.by, workflow.now()
        await p.change_task(renewal.task_id, "complete", by=decision.by, decision=decision.decision)
        p.history(f"renewal {renewal.status} for the customer", by=decision.by)
        p.record()
        await p.flush()
        return p.copy()

    @decide_renewal.validator
    def _validate_renewal(self, decision: RenewalDecision) -> None:
        s = self._state
        if not self._p.running() or self._surrender is not None:
            raise refuse("policy_closed")
        if decision.by != s.agent:
            raise refuse("not_your_case")
        code = renewal_refusal(
            get_product(s.product_code),
            status=s.status,
            expires_at=s.expires_at,
            on=workflow.now(),
            clocks=self._start.clocks,
        )
        if code is not None:
            raise refuse(code)
        if s.renewal is None or s.renewal.status != "offered":
            raise refuse("renewal_window_closed", "no renewal offer awaits an answer")

    @workflow.update
    async def surrender(self, request: SurrenderRequest) -> PolicyState:
        self._surrender = request
        self._p.took_part(request.by)
        return await self._p.answer_when(lambda: not self._p.running())

    @surrender.validator
    def _validate_surrender(self, request: SurrenderRequest) -> None:
        s = self._state
        if self._surrender is not None:
            raise refuse("already_surrendered")
        if not self._p.running() or self._cancellation is not None:
            raise refuse("policy_closed")
        if request.by != s.agent:
            raise refuse("not_your_case")
        in_cooling_off = s.cooling_off_ends_at if s.stage == PolicyStage.COOLING_OFF else None
        code = surrender_refusal(
            status=s.status, cooling_off_ends_at=in_cooling_off, on=workflow.now()
        )
        if code is not None:
            raise refuse(code)

    @workflow.update
    async def fix_payout(self, fix: ValuePayoutFix) -> PolicyState:
        """The corrected account for a cash value the bank declined: paid again at once;
        answers with the payout paid, or declined again (a new task)."""
        payout = self._state.value_payout
        assert payout is not None  # the validator demands it
        attempt = payout.attempts
        self._payout_fix = fix
        self._p.took_part(fix.by)
        return await self._p.answer_when(
            lambda: payout.attempts > attempt and payout.status != "pending"
        )

    @fix_payout.validator
    def _validate_payout_fix(self, fix: ValuePayoutFix) -> None:
        payout = self._state.value_payout
        if payout is None or payout.status != "declined" or self._payout_fix is not None:
            raise refuse("no_failed_payout")

    @workflow.update
    async def apply_for_reinstatement(self, application: ReinstatementApplication) -> PolicyState:
        self._application = application
        self._p.took_part(application.by)
        return await self._p.answer_when(lambda: self._application is None or not self._p.running())

    @apply_for_reinstatement.validator
    def _validate_application(self, application: ReinstatementApplication) -> None:
        s = self._state
        if not self._p.running() or self._surrender is not None:
            raise refuse("policy_closed")
        if application.by != s.agent:
            raise refuse("not_your_case")
        if self._application is not None or self._pending_reinstatement() is not None:
            raise refuse("not_reinstatable", "an application is already being decided")
        code = reinstatement_refusal(
            status=s.status,
            suspended_at=s.suspended_at,
            on=workflow.now(),
            clocks=self._start.clocks,
        )
        if code is not None:
            raise refuse(code)

    @workflow.update
    async def decide_reinstatement(self, verdict: ReinstatementDecision) -> PolicyState:
        self._verdict = verdict
        return await self._p.answer_when(lambda: self._verdict is None or not self._p.running())

    @decide_reinstatement.validator
    def _validate_verdict(self, verdict: ReinstatementDecision) -> None:
        pending = self._pending_reinstatement()
        if not self._p.running():
            raise refuse("policy_closed")
        if pending is None or pending.task_id != verdict.task_id or self._verdict is not None:
            raise refuse("task_not_open")
        actor = verdict.actor
        # Four eyes: neither the agent who applied nor the policy's agent decides.
        if actor.username in (pending.by, self._state.agent):
            raise refuse("four_eyes_violation", "the agent may not decide their own application")
        if not actor.has(Role.SUPERVISOR):
            raise refuse("not_a_supervisor")
        if verdict.decision == "reject" and not verdict.reason.strip():
            raise refuse("risk_reason_required")

    @workflow.query
    def state(self) -> PolicyState:
        return self._state

    # --- endings -----------------------------------------------------------------------------

    async def _compensate(self) -> None:
        """Ops cancelled the process (the enrollment's compensation does, after refunding
        the premium it collected): close the open tasks, mark the policy cancelled."""
        p, s = self._p, self._state
        await self._close_open_tasks(by="ops", reason="process cancelled")
        await p.call(
            steps.SET_POLICY_STATUS,
            PolicyStatusChange(policy_number=s.policy_number, status="cancelled"),
        )
        await p.notify("policy_process_cancelled")
        await p.end_cancelled(PolicyStatus.CANCELLED)


def _bank_refusal(err: ActivityError, declined: str) -> str | None:
    """The code of a money step the bank refused for good (``declined``, or no account to
    use), or None for any other failure."""
    code = err.cause.type if isinstance(err.cause, ApplicationError) else None
    return code if code in (declined, "no_payment_account") else None


def _opening_state(start: PolicyStart) -> PolicyState:
    """The state of a policy just issued: its cooling-off period (from issuance until a
    receipt is recorded) and return visit when the product has them."""
    product = get_product(start.product_code)
    issued_on = business_today(start.issued_at)
    clocks = start.clocks
    cooling_off = has_cooling_off(product, personal=start.personal)
    ends = cooling_off_ends_at(issued_on, clocks.cooling_off) if cooling_off else None
    visit = None
    if ends is not None:
        visit = ReturnVisit(
            task_id=f"rv-{start.policy_number}",
            due_at=min(start.issued_at + clocks.return_visit_due, ends),
            items=return_visit_items(installments=product.term_years > 1),
            dual_recording_required=needs_dual_recording(
                product, birth_date=start.holder_birth_date, on=issued_on
            ),
        )
    return PolicyState(
        policy_number=start.policy_number,
        workflow_id=workflow_id_for(start.policy_number),
        application_no=start.application_no,
        agent=start.agent,
        customer_id=start.customer_id,
        holder=start.holder,
        product_code=product.code,
        term_years=product.term_years,
        sum_insured=start.sum_insured,
        premium=start.premium,
        # Our products are paid by annual premium: a term over one year is by installments.
        installments=product.term_years > 1,
        stage=PolicyStage.COOLING_OFF if cooling_off else PolicyStage.IN_FORCE,
        status=PolicyStatus.ISSUED,
        issued_at=start.issued_at,
        effective_at=start.effective_at,
        expires_at=start.expires_at,
        cooling_off_ends_at=ends,
        return_visit=visit,
        payment_account=start.payment_account,
        # The first premium, collected by the enrollment before issuance.
        payments=[PremiumPayment(n=1, paid_at=start.issued_at, amount=start.premium)],
    )


def _batch(state: PolicyState, changes: list[Change]) -> ChangeBatch:
    return ChangeBatch(policy=state, changes=changes)
