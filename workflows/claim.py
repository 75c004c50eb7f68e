"""ClaimWorkflow (理赔): reported → documents pending / under review → assessment →
awaiting approval → approved → paid → closed, with rejection, appeal and withdrawal.

Orchestration only: the rules (documents, assessment, tiers, authority) are pure
functions in ``domain.claim_rules``; every effect is an activity. People act through
Updates whose validators refuse before anything is written to history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from domain.activities import (
        ChangeBatch,
        LedgerEntry,
        Notification,
        PayoutRequest,
        PolicyPosition,
        PolicyRef,
        TaskChange,
        TaskOpen,
    )
    from domain.claim_rules import (
        DOCUMENT_KINDS,
        MAX_CLAIM_DOCUMENTS,
        Tier,
        approval_tier,
        approvals_needed,
        assess,
        claim_decision_refusal,
        claim_flags,
        missing_documents,
        reminder_times,
    )
    from domain.claims import (
        Approval,
        ClaimHistoryEntry,
        ClaimStage,
        ClaimState,
        ClaimStatus,
    )
    from domain.masking import mask_account
    from domain.underwriting import SYSTEM
    from workflows import activity_names as act
    from workflows import search_attributes as sa
    from workflows.inputs import (
        ClaimAppeal,
        ClaimDecision,
        ClaimStart,
        ClaimWithdrawal,
        DocumentsSupplement,
        PayoutFix,
    )
    from workflows.steps import PendingChanges, local_steps, run_step
    from workflows.waiting import wait_until

PROCESS = "claim"

ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["invalid_input"],
)
# Money to a customer: keep trying through gateway errors (no attempt limit), but a
# decline is the bank's answer and goes to a person.
PAYOUT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["payout_declined", "invalid_input"],
)

WITHDRAWABLE = {
    ClaimStage.REPORTED,
    ClaimStage.DOCUMENTS_PENDING,
    ClaimStage.UNDER_REVIEW,
    ClaimStage.ASSESSMENT,
    ClaimStage.AWAITING_APPROVAL,
}


def workflow_id_for(claim_no: str) -> str:
    return f"claim-{claim_no}"


def _refuse(code: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=code, non_retryable=True)


@workflow.defn
class ClaimWorkflow:
    @workflow.init
    def __init__(self, start: ClaimStart) -> None:
        # Everything validators check is here before any handler can run.
        self._start = start
        # The person who filed (a supervisor may not file for another agent: the API
        # refuses), and everyone who took a step since; four eyes binds each of them.
        self._filed_by = start.filed_by or start.agent
        self._participants: list[str] = [start.agent, self._filed_by]
        self._state = ClaimState(
            claim_id=start.claim_no,
            workflow_id=workflow_id_for(start.claim_no),
            agent=start.agent,
            policy_number=start.policy_number,
            product_code=start.product_code,
            incident_date=start.incident_date,
            incident_type=start.incident_type,
            description=start.description,
            amount_claimed=start.amount_claimed,
            payee_account_masked=mask_account(start.payee_account),
            stage=ClaimStage.REPORTED,
            status=ClaimStatus.IN_PROGRESS,
            documents=list(start.documents),
        )
        self._account = start.payee_account
        self._requested: list[str] = []  # kinds a supervisor asked for …
        self._docs_at_request = 0  # … counted from this many documents on
        self._decisions: list[ClaimDecision] = []
        self._round_approvers: list[str] = []
        self._awaiting_second_approval = False
        self._withdrawal: ClaimWithdrawal | None = None
        self._appeal: ClaimAppeal | None = None
        self._payout_fix: PayoutFix | None = None
        self._record_lock = asyncio.Lock()
        self._pending = PendingChanges()
        self._history(None, by=self._filed_by)

    # --- the process, in business order -------------------------------------------------

    @workflow.run
    async def run(self, start: ClaimStart) -> ClaimState:
        try:
            return await self._handle_claim()
        except (asyncio.CancelledError, ActivityError) as err:
            # Cancelled while a step was in flight, the step fails as cancelled: runs since
            # the patch handle that like any cancellation (older ones ended without it).
            if isinstance(err, ActivityError) and not (
                is_cancelled_exception(err) and workflow.patched(act.COMPENSATE_CANCELLED_STEP)
            ):
                raise
            # Ops cancelled the process: close its task and end as cancelled. A payout in
            # flight finishes first (it waits on cancel), and money paid stays paid.
            if self._state.open_task_id:
                await self._close_task(self._state.open_task_id, "cancel", by="ops")
            await self._notify("claim_cancelled")
            self._state.status = ClaimStatus.CANCELLED
            self._history("cancelled by ops", by="ops")
            workflow.upsert_search_attributes([sa.STATUS.value_set(ClaimStatus.CANCELLED.value)])
            await self._record()
            await self._flush()
            raise

    async def _handle_claim(self) -> ClaimState:
        await self._record()
        await self._notify("claim_reported")
        outcome = await self._review_until_decided()
        if outcome == "ended":
            return self._state
        if outcome == "rejected":
            outcome = await self._appeal_window()
            if outcome != "approved":
                return await self._finish(
                    ClaimStatus.REJECTED, stage=ClaimStage.CLOSED, by=SYSTEM, note="rejected"
                )
        await self._pay_out()
        await self._enter(ClaimStage.CLOSED, by=SYSTEM)
        return await self._finish(ClaimStatus.PAID, stage=ClaimStage.CLOSED, by=SYSTEM)

    async def _review_until_decided(self) -> Literal["approved", "rejected", "ended"]:
        """Documents, assessment and approval, as many rounds as requests for information
        take. A missing-documents deadline withdraws the claim."""
        while True:
            if not await self._collect_documents():
                return "ended"
            complete_at = workflow.now()
            self._state.deadlines.decision_due_at = (
                complete_at + self._start.clocks.claim_decision_deadline
            )
            await self._enter(ClaimStage.UNDER_REVIEW, by=SYSTEM, note="materials complete")
            position: PolicyPosition = await self._activity(
                act.LOAD_POLICY_POSITION,
                PolicyRef(policy_number=self._start.policy_number),
                PolicyPosition,
            )
            flags = claim_flags(
                incident_date=self._start.incident_date,
                policy_effective_date=self._start.policy_effective_on,
                amount_claimed=self._start.amount_claimed,
                sum_insured=position.sum_insured,
            )
            assessment = assess(
                incident_type=self._start.incident_type,
                amount_claimed=self._start.amount_claimed,
                sum_insured=position.sum_insured,
                paid_to_date=position.paid_to_date,
                flags=flags,
            )
            self._state.assessment = assessment
            await self._enter(ClaimStage.ASSESSMENT, by=SYSTEM)
            if self._withdrawal:
                return await self._end_withdrawn()
            if assessment.approved_amount <= 0:
                self._decide_by_system("reject", "nothing payable under the policy")
                return await self._rejected(by=SYSTEM)
            tier = approval_tier(
                amount=assessment.approved_amount,
                flags=assessment.flags,
                limits=self._start.limits,
            )
            self._state.tier = tier.value
            if tier == Tier.AUTO:
                self._decide_by_system("approve", "within the automatic approval limit")
                self._state.amount_approved = assessment.approved_amount
                await self._enter(ClaimStage.APPROVED, by=SYSTEM)
                return "approved"
            outcome = await self._approval(tier, assessment.approved_amount)
            if outcome != "request_info":
                return outcome

    async def _collect_documents(self) -> bool:
        """Wait until every required (and requested) document is in; remind on a cadence.
        False when the process ended (withdrawn, or the documents deadline passed)."""
        missing = self._missing()
        self._state.missing_documents = missing
        if not missing:
            return True
        clocks = self._start.clocks
        opened = workflow.now()
        due = opened + clocks.documents_deadline
        self._state.deadlines.documents_due_at = due
        await self._enter(ClaimStage.DOCUMENTS_PENDING, by=SYSTEM, note=", ".join(missing))
        await self._notify("documents_missing", key_suffix=str(len(self._state.history)))

        def settled() -> bool:
            return not self._missing() or self._withdrawal is not None

        for n, moment in enumerate(
            reminder_times(start=opened, deadline=due, every=clocks.documents_reminder_every), 1
        ):
            if await self._wait_until(settled, moment):
                break
            await self._notify("documents_reminder", key_suffix=f"{len(self._state.history)}-{n}")
        if not await self._wait_until(settled, due):
            await self._notify("documents_deadline_passed")
            await self._finish(
                ClaimStatus.WITHDRAWN,
                stage=ClaimStage.CLOSED,
                by=SYSTEM,
                note="documents deadline passed",
            )
            return False
        if self._withdrawal:
            await self._end_withdrawn()
            return False
        self._state.missing_documents = []
        self._requested = []
        return True

    async def _approval(
        self, tier: Tier, amount: Decimal
    ) -> Literal["approved", "rejected", "ended", "request_info"]:
        """One claim_approval task; one or two supervisors; the decision clock running."""
        task_id = f"ca-{self._start.claim_no}-{len(self._state.history)}"
        self._round_approvers = []
        self._decisions = []
        deadlines = self._state.deadlines
        assert deadlines.decision_due_at is not None
        due = deadlines.decision_due_at
        escalate_at = due - self._start.clocks.claim_decision_deadline / 6
        self._state.open_task_id = task_id
        await self._enter(ClaimStage.AWAITING_APPROVAL, by=SYSTEM, note=f"{tier.value} approval")
        await self._open_task(
            task_id,
            "claim_approval",
            subject=f"Approve {self._start.incident_type.value} claim on "
            f"{self._start.policy_number}",
            amount=amount,
            due_at=due,
            escalate_at=escalate_at,
            details={
                "tier": tier.value,
                "approvals_needed": approvals_needed(tier),
                "amount_claimed": str(self._start.amount_claimed),
                "approved_amount": str(amount),
                "flags": self._state.assessment.flags if self._state.assessment else [],
            },
        )
        await self._record()
        escalated = breached = False
        while True:
            decided = await self._wait_for_decision(
                escalate_at if not escalated else (due if not breached else None)
            )
            if not decided:
                if not escalated:
                    escalated = True
                    await self._activity(
                        act.CHANGE_TASK,
                        TaskChange(task_id=task_id, action="escalate", level=1),
                        None,
                    )
                    self._history("decision deadline approaching: escalated", by=SYSTEM)
                    await self._notify("decision_escalated")
                else:
                    breached = True
                    deadlines.breaches.append("decision_deadline")
                    self._history("decision deadline breached", by=SYSTEM)
                    await self._notify("decision_deadline_breached")
                await self._record()
                continue
            if self._withdrawal:
                await self._close_task(task_id, "cancel", by=self._withdrawal.by)
                return await self._end_withdrawn()
            decision = self._decisions.pop(0)
            self._awaiting_second_approval = False
            self._state.approvals.append(
                Approval(
                    by=decision.actor.username,
                    decision=decision.decision,
                    at=workflow.now(),
                    reason=decision.reason,
                    amount=decision.amount,
                )
            )
            if decision.decision == "approve":
                self._round_approvers.append(decision.actor.username)
                approved = decision.amount or amount
                self._state.amount_approved = min(approved, self._state.amount_approved or approved)
                if len(self._round_approvers) < approvals_needed(tier):
                    self._awaiting_second_approval = True
                    self._history(f"first approval by {decision.actor.username}", by=SYSTEM)
                    await self._notify("second_approval_needed", key_suffix=task_id)
                    await self._record()
                    continue
                await self._close_task(task_id, "complete", decision)
                await self._enter(ClaimStage.APPROVED, by=decision.actor.username)
                return "approved"
            await self._close_task(task_id, "complete", decision)
            if decision.decision == "reject":
                self._state.rejected_by = decision.actor.username
                return await self._rejected(by=decision.actor.username, note=decision.reason)
            # request_info: back to documents with the kinds the supervisor named.
            self._requested = sorted(set(decision.missing))
            self._docs_at_request = len(self._state.documents)
            self._state.amount_approved = None
            return "request_info"

    async def _wait_for_decision(self, until: datetime | None) -> bool:
        def arrived() -> bool:
            return bool(self._decisions) or self._withdrawal is not None

        return await self._wait_until(arrived, until)

    async def _rejected(self, *, by: str, note: str | None = None) -> Literal["rejected"]:
        self._state.status = ClaimStatus.REJECTED
        self._state.deadlines.appeal_until = workflow.now() + self._start.clocks.appeal_window
        await self._enter(ClaimStage.REJECTED, by=by, note=note)
        await self._notify("claim_rejected")
        return "rejected"

    async def _appeal_window(self) -> Literal["approved", "rejected"]:
        """After a rejection the agent may appeal until the window closes; a supervisor
        other than the one who rejected re-reviews it."""
        until = self._state.deadlines.appeal_until
        assert until is not None
        if not await self._wait_until(lambda: self._appeal is not None, until):
            return "rejected"
        appeal = self._appeal
        assert appeal is not None
        self._state.status = ClaimStatus.IN_PROGRESS
        await self._enter(ClaimStage.APPEALED, by=appeal.by, note=appeal.reason)
        assessment = self._state.assessment
        amount = assessment.approved_amount if assessment else Decimal(0)
        task_id = f"cr-{self._start.claim_no}"
        self._state.open_task_id = task_id
        self._decisions = []
        self._round_approvers = []
        await self._open_task(
            task_id,
            "claim_review",
            subject=f"Appeal: {self._start.incident_type.value} claim on "
            f"{self._start.policy_number}",
            amount=amount,
            due_at=workflow.now() + self._start.clocks.claim_decision_deadline,
            details={"rejected_by": self._state.rejected_by, "appeal": appeal.reason},
        )
        await self._record()
        await self._wait_until(lambda: bool(self._decisions), None)
        decision = self._decisions.pop(0)
        self._state.approvals.append(
            Approval(
                by=decision.actor.username,
                decision=decision.decision,
                at=workflow.now(),
                reason=decision.reason,
                amount=decision.amount,
            )
        )
        await self._close_task(task_id, "complete", decision)
        if decision.decision == "approve":
            self._state.amount_approved = decision.amount or amount
            await self._enter(ClaimStage.APPROVED, by=decision.actor.username, note="on appeal")
            return "approved"
        self._state.status = ClaimStatus.REJECTED
        await self._enter(ClaimStage.REJECTED, by=decision.actor.username, note="appeal rejected")
        return "rejected"

    async def _pay_out(self) -> None:
        """Pay the approved amount; retry through gateway errors; a decline goes to a
        person who fixes the account. The payout deadline is watched throughout."""
        amount = self._state.amount_approved
        assert amount is not None
        payout = self._state.payout
        deadlines = self._state.deadlines
        deadlines.payout_due_at = workflow.now() + self._start.clocks.payout_deadline
        payout.amount = amount
        await self._notify("claim_approved")
        while True:
            payout.attempts += 1
            key = f"payout:{self._start.claim_no}"
            if payout.attempts > 1:
                key += f":{payout.attempts}"
            payout.idempotency_key = key
            payout.status = "pending"
            await self._record()
            await self._flush()
            handle = workflow.start_activity(
                act.PAY_CLAIM,
                PayoutRequest(
                    idempotency_key=key,
                    claim_no=self._start.claim_no,
                    policy_number=self._start.policy_number,
                    amount=amount,
                    account=self._account,
                ),
                result_type=LedgerEntry,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PAYOUT_RETRY,
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
            if "payout_deadline" not in deadlines.breaches and not await self._wait_until(
                handle.done, deadlines.payout_due_at
            ):
                deadlines.breaches.append("payout_deadline")
                self._history("payout deadline breached", by=SYSTEM)
                await self._notify("payout_deadline_breached")
                await self._record()
                await self._flush()  # the breach is known now, not when the payout ends
            try:
                entry = await handle
            except ActivityError as err:
                if not (
                    isinstance(err.cause, ApplicationError) and err.cause.type == "payout_declined"
                ):
                    raise
                payout.status = "declined"
                await self._payout_failed()
                continue
            payout.status = "paid"
            payout.ledger_id = entry.ledger_id
            payout.gateway_ref = entry.gateway_ref
            payout.paid_at = workflow.now()
            await self._enter(ClaimStage.PAID, by=SYSTEM)
            await self._notify("claim_paid")
            return

    async def _payout_failed(self) -> None:
        task_id = f"pf-{self._start.claim_no}-{self._state.payout.attempts}"
        self._payout_fix = None
        self._state.open_task_id = task_id
        await self._enter(ClaimStage.PAYOUT_FAILED, by=SYSTEM, note="payout declined")
        await self._open_task(
            task_id,
            "payout_failed",
            subject=f"Payout declined for claim {self._start.claim_no}: fix the account",
            amount=self._state.payout.amount or Decimal(0),
            due_at=workflow.now() + timedelta(days=1),
            details={"payee_account": self._state.payee_account_masked},
        )
        await self._notify("payout_failed", key_suffix=task_id)
        await self._wait_until(lambda: self._payout_fix is not None, None)
        fix = self._payout_fix
        assert fix is not None
        self._account = fix.payee_account
        self._state.payee_account_masked = mask_account(fix.payee_account)
        await self._activity(
            act.CHANGE_TASK,
            TaskChange(task_id=task_id, action="complete", by=fix.by, decision="retry",
                       reason=fix.reason),
            None,
        )  # fmt: skip
        self._state.open_task_id = None
        await self._enter(ClaimStage.APPROVED, by=fix.by, note="payee account corrected")

    # --- Updates ---------------------------------------------------------------------------

    @workflow.update
    async def supplement_documents(self, supplement: DocumentsSupplement) -> ClaimState:
        self._took_part(supplement.by)
        self._state.documents.extend(supplement.documents)
        self._state.missing_documents = self._missing()
        self._history("documents supplemented", by=supplement.by)
        await self._record()
        await self._flush()
        return self._state.model_copy(deep=True)

    @supplement_documents.validator
    def _validate_supplement(self, supplement: DocumentsSupplement) -> None:
        if self._state.status != ClaimStatus.IN_PROGRESS or self._state.stage not in (
            ClaimStage.REPORTED,
            ClaimStage.DOCUMENTS_PENDING,
        ):
            raise _refuse("invalid_stage", "documents are not awaited at this stage")
        # Kinds outside the checklist are kept as supplementary documents (a bank-card
        # copy, an expense list): never a reason to refuse the rest. Only the count is bound.
        if len(self._state.documents) + len(supplement.documents) > MAX_CLAIM_DOCUMENTS:
            raise _refuse(
                "too_many_documents", f"a claim keeps at most {MAX_CLAIM_DOCUMENTS} documents"
            )

    @workflow.update
    async def decide(self, decision: ClaimDecision) -> ClaimState:
        """Answer with the state the decision led to: the next stage, or the same stage
        waiting for a second approver."""
        self._decisions.append(decision)
        before, stage = len(self._state.approvals), self._state.stage
        await workflow.wait_condition(
            lambda: (
                len(self._state.approvals) > before
                and (self._state.stage != stage or self._awaiting_second_approval)
            )
        )
        return self._state.model_copy(deep=True)

    @decide.validator
    def _validate_decision(self, decision: ClaimDecision) -> None:
        stage = self._state.stage
        if (
            self._state.status != ClaimStatus.IN_PROGRESS
            or stage not in (ClaimStage.AWAITING_APPROVAL, ClaimStage.APPEALED)
            or self._state.open_task_id != decision.task_id
            or self._decisions
        ):
            raise _refuse("task_not_open", "this task is not open for a decision")
        assessed = self._state.assessment.approved_amount if self._state.assessment else Decimal(0)
        if decision.amount is not None and not Decimal(0) < decision.amount <= assessed:
            raise _refuse(
                "amount_above_assessment", f"an approved amount must be within 0-{assessed}"
            )
        if decision.decision == "request_info":
            if stage == ClaimStage.APPEALED:
                raise _refuse("decision_not_allowed", "an appeal is approved or rejected")
            if not decision.missing or set(decision.missing) - DOCUMENT_KINDS:
                raise _refuse("documents_required", "name the known document kinds still missing")
        refusal = claim_decision_refusal(
            decision.actor,
            decision=decision.decision,
            amount=decision.amount or assessed,
            filed_by=self._filed_by,
            prior_approvers=self._round_approvers,
            rejected_by=self._state.rejected_by if stage == ClaimStage.APPEALED else None,
            participants=self._participants,
        )
        if refusal is not None:
            raise _refuse(refusal, _REFUSAL_TEXT[refusal])

    @workflow.update
    async def withdraw(self, withdrawal: ClaimWithdrawal) -> ClaimState:
        self._withdrawal = withdrawal
        await workflow.wait_condition(lambda: self._state.status != ClaimStatus.IN_PROGRESS)
        return self._state.model_copy(deep=True)

    @withdraw.validator
    def _validate_withdrawal(self, withdrawal: ClaimWithdrawal) -> None:
        if (
            self._state.status != ClaimStatus.IN_PROGRESS
            or self._state.stage not in WITHDRAWABLE
            or self._withdrawal is not None
        ):
            raise _refuse("withdraw_not_allowed", "the claim can no longer be withdrawn")

    @workflow.update
    async def appeal(self, appeal: ClaimAppeal) -> ClaimState:
        self._appeal = appeal
        self._took_part(appeal.by)
        await workflow.wait_condition(lambda: self._state.stage == ClaimStage.APPEALED)
        return self._state.model_copy(deep=True)

    @appeal.validator
    def _validate_appeal(self, appeal: ClaimAppeal) -> None:
        if self._state.stage != ClaimStage.REJECTED or self._appeal is not None:
            raise _refuse("appeal_not_allowed", "only a rejected claim can be appealed, once")
        until = self._state.deadlines.appeal_until
        if until is None or workflow.now() > until:
            raise _refuse("appeal_window_closed", "the appeal window has closed")

    @workflow.update
    async def fix_payout(self, fix: PayoutFix) -> ClaimState:
        self._payout_fix = fix
        self._took_part(fix.by)
        await workflow.wait_condition(lambda: self._state.stage != ClaimStage.PAYOUT_FAILED)
        return self._state.model_copy(deep=True)

    @fix_payout.validator
    def _validate_fix(self, fix: PayoutFix) -> None:
        if self._state.stage != ClaimStage.PAYOUT_FAILED or self._payout_fix is not None:
            raise _refuse("invalid_stage", "no failed payout to retry")

    @workflow.query
    def state(self) -> ClaimState:
        return self._state

    # --- plumbing --------------------------------------------------------------------------

    def _took_part(self, username: str) -> None:
        if username not in self._participants:
            self._participants.append(username)

    def _missing(self) -> list[str]:
        provided = [d.kind for d in self._state.documents]
        required = missing_documents(incident_type=self._start.incident_type, provided=provided)
        requested = [k for k in self._requested if k not in self._supplied_since_request()]
        return sorted(set(required) | set(requested))

    def _supplied_since_request(self) -> set[str]:
        # Kinds asked for by request_info count only when supplied after the request.
        return {d.kind for d in self._state.documents[self._docs_at_request :]}

    def _decide_by_system(self, decision: Literal["approve", "reject"], reason: str) -> None:
        self._state.approvals.append(
            Approval(by=SYSTEM, decision=decision, at=workflow.now(), reason=reason)
        )

    async def _open_task(
        self,
        task_id: str,
        kind: Literal["claim_approval", "claim_review", "payout_failed"],
        *,
        subject: str,
        amount: Decimal,
        due_at: datetime,
        escalate_at: datetime | None = None,
        details: dict[str, Any],
    ) -> None:
        """Open an inbox task on this claim (filed by the agent, who may not decide it)."""
        await self._activity(
            act.OPEN_TASK,
            TaskOpen(
                task_id=task_id,
                kind=kind,
                workflow_id=self._state.workflow_id,
                case_id=self._start.claim_no,
                subject=subject,
                amount=amount,
                submitted_by=self._filed_by,
                agent=self._start.agent,
                due_at=due_at,
                escalate_at=escalate_at,
                details=details,
            ),
            None,
        )

    async def _close_task(
        self, task_id: str, action: Literal["complete", "cancel"], decision: Any = None, *,
        by: str | None = None,
    ) -> None:  # fmt: skip
        await self._activity(
            act.CHANGE_TASK,
            TaskChange(
                task_id=task_id,
                action=action,
                by=by or (decision.actor.username if decision else SYSTEM),
                decision=decision.decision if decision else None,
                reason=decision.reason if decision else None,
            ),
            None,
        )
        self._state.open_task_id = None

    async def _activity(self, name: str, arg: BaseModel, result_type: type[Any] | None) -> Any:
        if self._local_steps():
            if name in act.BATCHED:
                self._pending.queue(name, arg)
                return None
            await self._flush()
        return await run_step(
            name,
            arg,
            result_type,
            local=self._local_steps(),
            start_to_close=timedelta(seconds=30),
            retry_policy=ACTIVITY_RETRY,
        )

    def _local_steps(self) -> bool:
        return local_steps()

    async def _flush(self) -> None:
        """Apply the queued writes with the current state in one local activity (see
        EnrollmentWorkflow._flush): before the run waits or calls another step, and
        before an Update handler answers."""
        await self._pending.flush(
            self._record_lock,
            lambda changes: ChangeBatch(claim=self._state.model_copy(deep=True), changes=changes),
            retry_policy=ACTIVITY_RETRY,
        )

    async def _wait_until(self, condition: Callable[[], bool], moment: datetime | None) -> bool:
        await self._flush()
        return await wait_until(condition, moment)

    def _history(self, note: str | None, *, by: str) -> None:
        self._state.history.append(
            ClaimHistoryEntry(
                stage=self._state.stage,
                status=self._state.status,
                at=workflow.now(),
                by=by,
                note=note,
            )
        )

    async def _enter(self, stage: ClaimStage, *, by: str, note: str | None = None) -> None:
        self._state.stage = stage
        self._history(note, by=by)
        workflow.upsert_search_attributes(
            [sa.STAGE.value_set(stage.value), sa.STATUS.value_set(self._state.status.value)]
        )
        await self._record()

    async def _record(self) -> None:
        if self._local_steps():
            self._pending.dirty = True  # written by the next _flush, with the latest state
            return
        async with self._record_lock:
            await self._activity(act.RECORD_CLAIM, self._state.model_copy(deep=True), None)

    async def _notify(self, template: str, *, key_suffix: str = "") -> None:
        claim_no = self._start.claim_no
        key = f"{claim_no}:{template}" + (f":{key_suffix}" if key_suffix else "")
        await self._activity(
            act.SEND_NOTIFICATION,
            Notification(
                key=key,
                case_id=claim_no,
                recipient=f"agent:{self._start.agent}",
                channel="inbox",
                template=template,
                params={"policy_number": self._start.policy_number},
            ),
            None,
        )

    async def _end_withdrawn(self) -> Literal["ended"]:
        withdrawal = self._withdrawal
        assert withdrawal is not None
        await self._notify("claim_withdrawn")
        await self._finish(
            ClaimStatus.WITHDRAWN, stage=ClaimStage.CLOSED, by=withdrawal.by, note=withdrawal.reason
        )
        return "ended"

    async def _finish(
        self, status: ClaimStatus, *, stage: ClaimStage, by: str, note: str | None = None
    ) -> ClaimState:
        self._state.status = status
        self._state.stage = stage
        self._history(note, by=by)
        workflow.upsert_search_attributes(
            [sa.STAGE.value_set(stage.value), sa.STATUS.value_set(status.value)]
        )
        await self._record()
        await self._flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state


_REFUSAL_TEXT = {
    "not_a_supervisor": "only a supervisor may decide this task",
    "four_eyes_violation": "a person who acted on the claim, an earlier approver or the "
    "rejecter may not decide this",
    "approval_limit_exceeded": "the amount is above the decider's approval limit",
}
