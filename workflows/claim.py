"""ClaimWorkflow (理赔): reported → documents pending / under review → assessment →
awaiting approval → approved → paid → closed, with rejection, appeal and withdrawal.

Orchestration only: the rules (documents, assessment, tiers, authority) are pure
functions in ``domain.claim_rules``; every effect is an activity. People act through
Updates whose validators refuse before anything is written to history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.activities import Change, ChangeBatch, PayoutRequest, PolicyRef
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
        CLAIM_WITHDRAWABLE,
        Approval,
        ClaimHistoryEntry,
        ClaimStage,
        ClaimState,
        ClaimStatus,
    )
    from domain.masking import mask_account
    from domain.tasks import TaskKind
    from domain.underwriting import SYSTEM
    from workflows.inputs import (
        ClaimAppeal,
        ClaimDecision,
        ClaimPaid,
        ClaimStart,
        DocumentsSupplement,
        PayoutFix,
        Withdrawal,
    )
    from workflows.policy import PolicyWorkflow
    from workflows.policy import workflow_id_for as policy_workflow_id
    from workflows.process import Process, refuse, until_cancelled

# Money to a customer: keep trying through gateway errors (no attempt limit), but a
# decline is the bank's answer and goes to a person.
PAYOUT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["payout_declined", "invalid_input"],
)


# A signal to a process that has ended (or never ran) fails with this type.
_POLICY_GONE = "ExternalWorkflowExecutionNotFound"

# What the claim's state keeps of it as filed, field for field.
_AS_FILED = {
    "agent",
    "policy_number",
    "product_code",
    "incident_date",
    "incident_type",
    "description",
    "amount_claimed",
}


def workflow_id_for(claim_no: str) -> str:
    return f"claim-{claim_no}"


@workflow.defn
class ClaimWorkflow:
    @workflow.init
    def __init__(self, start: ClaimStart) -> None:
        # Everything validators check is here before any handler can run.
        self._start = start
        # The person who filed (a supervisor may not file for another agent: the API
        # refuses), and everyone who took a step since; four eyes binds each of them.
        filed_by = self._filed_by = start.filed_by or start.agent
        self._state = ClaimState(
            **start.model_dump(include=_AS_FILED),
            claim_id=start.claim_no,
            workflow_id=workflow_id_for(start.claim_no),
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
        self._appeal: ClaimAppeal | None = None
        self._payout_fix: PayoutFix | None = None
        notices = {"policy_number": start.policy_number}
        self._p = Process(
            self._state, ClaimHistoryEntry, _batch, start.claim_no, start.agent, filed_by, notices
        )

    # --- the process, in business order -------------------------------------------------

    @workflow.run
    async def run(self, start: ClaimStart) -> ClaimState:
        return await until_cancelled(self._handle_claim(), self._compensate)

    async def _compensate(self) -> None:
        """Ops cancelled the process: close its task and end as cancelled. A payout in
        flight finishes first (it waits on cancel), and money paid stays paid."""
        if self._state.open_task_id:
            await self._close_task(self._state.open_task_id, "cancel", by="ops")
        await self._p.notify("claim_cancelled")
        await self._p.end_cancelled(ClaimStatus.CANCELLED)

    async def _handle_claim(self) -> ClaimState:
        self._p.record()
        await self._p.notify("claim_reported")
        outcome = await self._review_until_decided()
        if outcome == "ended":
            return self._state
        if outcome == "rejected":
            outcome = await self._appeal_window()
            if outcome != "approved":
                return await self._p.finish(
                    ClaimStatus.REJECTED, stage=ClaimStage.CLOSED, by=SYSTEM, note="rejected"
                )
        await self._pay_out()
        await self._tell_policy()
        self._p.enter(ClaimStage.CLOSED, by=SYSTEM)
        return await self._p.finish(ClaimStatus.PAID, stage=ClaimStage.CLOSED, by=SYSTEM)

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
            self._p.enter(ClaimStage.UNDER_REVIEW, by=SYSTEM, note="materials complete")
            position = await self._p.call(
                steps.LOAD_POLICY_POSITION,
                PolicyRef(
                    policy_number=self._start.policy_number,
                    incident_date=self._start.incident_date,
                ),
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
                arrears=position.arrears,
            )
            self._state.assessment = assessment
            self._p.enter(ClaimStage.ASSESSMENT, by=SYSTEM)
            if self._p.withdrawal:
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
                self._p.enter(ClaimStage.APPROVED, by=SYSTEM)
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
        self._p.enter(ClaimStage.DOCUMENTS_PENDING, by=SYSTEM, note=", ".join(missing))
        await self._p.notify("documents_missing", key_suffix=str(len(self._state.history)))

        def settled() -> bool:
            return not self._missing() or self._p.withdrawal is not None

        for n, moment in enumerate(
            reminder_times(start=opened, deadline=due, every=clocks.documents_reminder_every), 1
        ):
            if await self._p.wait_until(settled, moment):
                break
            await self._p.notify("documents_reminder", key_suffix=f"{len(self._state.history)}-{n}")
        if not await self._p.wait_until(settled, due):
            await self._p.notify("documents_deadline_passed")
            await self._p.finish(
                ClaimStatus.WITHDRAWN,
                stage=ClaimStage.CLOSED,
                by=SYSTEM,
                note="documents deadline passed",
            )
            return False
        if self._p.withdrawal:
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
        self._p.enter(ClaimStage.AWAITING_APPROVAL, by=SYSTEM, note=f"{tier.value} approval")
        await self._open_task(
            task_id,
            TaskKind.CLAIM_APPROVAL,
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
        self._p.record()
        escalated = breached = False
        while True:
            decided = await self._wait_for_decision(
                escalate_at if not escalated else (due if not breached else None)
            )
            if not decided:
                if not escalated:
                    escalated = True
                    await self._p.change_task(task_id, "escalate", level=1)
                    self._p.history("decision deadline approaching: escalated", by=SYSTEM)
                    await self._p.notify("decision_escalated")
                else:
                    breached = True
                    deadlines.breaches.append("decision_deadline")
                    self._p.history("decision deadline breached", by=SYSTEM)
                    await self._p.notify("decision_deadline_breached")
                self._p.record()
                continue
            if self._p.withdrawal:
                await self._close_task(task_id, "cancel", by=self._p.withdrawal.by)
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
                    self._p.history(f"first approval by {decision.actor.username}", by=SYSTEM)
                    await self._p.notify("second_approval_needed", key_suffix=task_id)
                    self._p.record()
                    continue
                await self._close_task(task_id, "complete", decision)
                self._p.enter(ClaimStage.APPROVED, by=decision.actor.username)
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
            return bool(self._decisions) or self._p.withdrawal is not None

        return await self._p.wait_until(arrived, until)

    async def _rejected(self, *, by: str, note: str | None = None) -> Literal["rejected"]:
        self._state.status = ClaimStatus.REJECTED
        self._state.deadlines.appeal_until = workflow.now() + self._start.clocks.appeal_window
        self._p.enter(ClaimStage.REJECTED, by=by, note=note)
        await self._p.notify("claim_rejected")
        return "rejected"

    async def _appeal_window(self) -> Literal["approved", "rejected"]:
        """After a rejection the agent may appeal until the window closes; a supervisor
        other than the one who rejected re-reviews it."""
        until = self._state.deadlines.appeal_until
        assert until is not None
        if not await self._p.wait_until(lambda: self._appeal is not None, until):
            return "rejected"
        appeal = self._appeal
        assert appeal is not None
        self._state.status = ClaimStatus.IN_PROGRESS
        self._p.enter(ClaimStage.APPEALED, by=appeal.by, note=appeal.reason)
        assessment = self._state.assessment
        amount = assessment.approved_amount if assessment else Decimal(0)
        task_id = f"cr-{self._start.claim_no}"
        self._state.open_task_id = task_id
        self._decisions = []
        self._round_approvers = []
        await self._open_task(
            task_id,
            TaskKind.CLAIM_REVIEW,
            subject=f"Appeal: {self._start.incident_type.value} claim on "
            f"{self._start.policy_number}",
            amount=amount,
            due_at=workflow.now() + self._start.clocks.claim_decision_deadline,
            details={"rejected_by": self._state.rejected_by, "appeal": appeal.reason},
        )
        self._p.record()
        await self._p.wait_until(lambda: bool(self._decisions), None)
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
            self._p.enter(ClaimStage.APPROVED, by=decision.actor.username, note="on appeal")
            return "approved"
        self._state.status = ClaimStatus.REJECTED
        self._p.enter(ClaimStage.REJECTED, by=decision.actor.username, note="appeal rejected")
        return "rejected"

    async def _pay_out(self) -> None:
        """Pay the approved amount; retry through gateway errors; a decline goes to a
        person who fixes the account. The payout deadline is watched throughout."""
        amount = self._state.amount_approved
        assert amount is not None
        start, payout = self._start, self._state.payout
        deadlines = self._state.deadlines
        deadlines.payout_due_at = workflow.now() + start.clocks.payout_deadline
        payout.amount = amount
        await self._p.notify("claim_approved")
        while True:
            payout.attempts += 1
            key = f"payout:{start.claim_no}"
            if payout.attempts > 1:
                key += f":{payout.attempts}"
            payout.idempotency_key = key
            payout.status = "pending"
            self._p.record()
            handle = await self._p.start(
                steps.PAY_CLAIM,
                PayoutRequest(
                    idempotency_key=key,
                    claim_no=start.claim_no,
                    policy_number=start.policy_number,
                    amount=amount,
                    account=self._account,
                ),
                retry_policy=PAYOUT_RETRY,
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
            if "payout_deadline" not in deadlines.breaches and not await self._p.wait_until(
                handle.done, deadlines.payout_due_at
            ):
                deadlines.breaches.append("payout_deadline")
                self._p.history("payout deadline breached", by=SYSTEM)
                await self._p.notify("payout_deadline_breached")
                self._p.record()
                await self._p.flush()  # the breach is known now, not when the payout ends
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
            self._p.enter(ClaimStage.PAID, by=SYSTEM)
            await self._p.notify("claim_paid")
            return

    async def _tell_policy(self) -> None:
        """Tell the policy's process that the claim was paid: a death or total-disability
        claim ends a life policy (the policy decides: domain.policies.claim_ends_policy). A
        signal, so the claim waits for nobody; a policy whose process has ended takes none,
        which the claim notes and ends paid all the same."""
        amount = self._state.payout.amount
        assert amount is not None
        policy = workflow.get_external_workflow_handle_for(
            PolicyWorkflow.run, policy_workflow_id(self._start.policy_number)
        )
        paid = ClaimPaid(
            claim_no=self._start.claim_no,
            incident_type=self._start.incident_type.value,
            amount=amount,
        )
        try:
            await policy.signal(PolicyWorkflow.claim_paid, paid)
        except ApplicationError as err:  # how the SDK reports a signal not delivered
            gone = err.type == _POLICY_GONE
            self._p.history(
                "the policy's process has ended: not told of the payment"
                if gone
                else f"the policy's process was not told of the payment ({err.type})",
                by=SYSTEM,
            )

    async def _payout_failed(self) -> None:
        task_id = f"pf-{self._start.claim_no}-{self._state.payout.attempts}"
        self._payout_fix = None
        self._state.open_task_id = task_id
        self._p.enter(ClaimStage.PAYOUT_FAILED, by=SYSTEM, note="payout declined")
        await self._open_task(
            task_id,
            TaskKind.PAYOUT_FAILED,
            subject=f"Payout declined for claim {self._start.claim_no}: fix the account",
            amount=self._state.payout.amount or Decimal(0),
            due_at=workflow.now() + timedelta(days=1),
            details={"payee_account": self._state.payee_account_masked},
        )
        await self._p.notify("payout_failed", key_suffix=task_id)
        await self._p.wait_until(lambda: self._payout_fix is not None, None)
        fix = self._payout_fix
        assert fix is not None
        self._account = fix.payee_account
        self._state.payee_account_masked = mask_account(fix.payee_account)
        await self._p.change_task(
            task_id, "complete", by=fix.by, decision="retry", reason=fix.reason
        )
        self._state.open_task_id = None
        self._p.enter(ClaimStage.APPROVED, by=fix.by, note="payee account corrected")

    # --- Updates ---------------------------------------------------------------------------

    @workflow.update
    async def supplement_documents(self, supplement: DocumentsSupplement) -> ClaimState:
        self._p.took_part(supplement.by)
        self._state.documents.extend(supplement.documents)
        self._state.missing_documents = self._missing()
        self._p.history("documents supplemented", by=supplement.by)
        self._p.record()
        await self._p.flush()
        return self._p.copy()

    @supplement_documents.validator
    def _validate_supplement(self, supplement: DocumentsSupplement) -> None:
        self._p.require_agent(supplement.by)
        if not self._p.at({ClaimStage.REPORTED, ClaimStage.DOCUMENTS_PENDING}):
            raise refuse("invalid_stage", "documents are not awaited at this stage")
        # Kinds outside the checklist are kept as supplementary documents (a bank-card
        # copy, an expense list): never a reason to refuse the rest. Only the count is bound.
        if len(self._state.documents) + len(supplement.documents) > MAX_CLAIM_DOCUMENTS:
            raise refuse(
                "too_many_documents", f"a claim keeps at most {MAX_CLAIM_DOCUMENTS} documents"
            )

    @workflow.update
    async def decide(self, decision: ClaimDecision) -> ClaimState:
        """Answer with the state the decision led to: the next stage, or the same stage
        waiting for a second approver."""
        self._decisions.append(decision)
        before, stage = len(self._state.approvals), self._state.stage
        return await self._p.answer_when(
            lambda: (
                len(self._state.approvals) > before
                and (self._state.stage != stage or self._awaiting_second_approval)
            )
        )

    @decide.validator
    def _validate_decision(self, decision: ClaimDecision) -> None:
        stage = self._state.stage
        if (
            not self._p.at({ClaimStage.AWAITING_APPROVAL, ClaimStage.APPEALED})
            or self._state.open_task_id != decision.task_id
            or self._decisions
        ):
            raise refuse("task_not_open", "this task is not open for a decision")
        assessed = self._state.assessment.approved_amount if self._state.assessment else Decimal(0)
        if decision.amount is not None and not Decimal(0) < decision.amount <= assessed:
            raise refuse(
                "amount_above_assessment", f"an approved amount must be within 0-{assessed}"
            )
        if decision.decision == "request_info":
            if stage == ClaimStage.APPEALED:
                raise refuse("decision_not_allowed", "an appeal is approved or rejected")
            if not decision.missing or set(decision.missing) - DOCUMENT_KINDS:
                raise refuse("documents_required", "name the known document kinds still missing")
        refusal = claim_decision_refusal(
            decision.actor,
            decision=decision.decision,
            amount=decision.amount or assessed,
            filed_by=self._filed_by,
            prior_approvers=self._round_approvers,
            rejected_by=self._state.rejected_by if stage == ClaimStage.APPEALED else None,
            participants=self._p.participants,
        )
        if refusal is not None:
            raise refuse(refusal, _CLAIM_REFUSAL_TEXT.get(refusal))

    @workflow.update
    async def withdraw(self, withdrawal: Withdrawal) -> ClaimState:
        return await self._p.withdraw(withdrawal)

    @withdraw.validator
    def _validate_withdrawal(self, withdrawal: Withdrawal) -> None:
        self._p.require_agent(withdrawal.by)
        if not self._p.at(CLAIM_WITHDRAWABLE) or self._p.withdrawal is not None:
            raise refuse("withdraw_not_allowed", "the claim can no longer be withdrawn")

    @workflow.update
    async def appeal(self, appeal: ClaimAppeal) -> ClaimState:
        self._appeal = appeal
        self._p.took_part(appeal.by)
        return await self._p.answer_when(lambda: self._state.stage == ClaimStage.APPEALED)

    @appeal.validator
    def _validate_appeal(self, appeal: ClaimAppeal) -> None:
        self._p.require_agent(appeal.by)
        if self._state.stage != ClaimStage.REJECTED or self._appeal is not None:
            raise refuse("appeal_not_allowed", "only a rejected claim can be appealed, once")
        until = self._state.deadlines.appeal_until
        if until is None or workflow.now() > until:
            raise refuse("appeal_window_closed", "the appeal window has closed")

    @workflow.update
    async def fix_payout(self, fix: PayoutFix) -> ClaimState:
        self._payout_fix = fix
        self._p.took_part(fix.by)
        return await self._p.answer_when(lambda: self._state.stage != ClaimStage.PAYOUT_FAILED)

    @fix_payout.validator
    def _validate_fix(self, fix: PayoutFix) -> None:
        if self._state.stage != ClaimStage.PAYOUT_FAILED or self._payout_fix is not None:
            raise refuse("invalid_stage", "no failed payout to retry")

    @workflow.query
    def state(self) -> ClaimState:
        return self._state

    # --- plumbing --------------------------------------------------------------------------

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
        kind: TaskKind,
        *,
        subject: str,
        amount: Decimal,
        due_at: datetime,
        escalate_at: datetime | None = None,
        details: dict[str, Any],
    ) -> None:
        """Open an inbox task on this claim (filed by the filer, who may not decide it)."""
        await self._p.open_task(
            task_id,
            kind,
            subject=subject,
            amount=amount,
            submitted_by=self._filed_by,
            due_at=due_at,
            escalate_at=escalate_at,
            details=details,
        )

    async def _close_task(
        self,
        task_id: str,
        action: Literal["complete", "cancel"],
        decision: ClaimDecision | None = None,
        *,
        by: str | None = None,
    ) -> None:
        await self._p.change_task(
            task_id,
            action,
            by=by or (decision.actor.username if decision else SYSTEM),
            decision=decision.decision if decision else None,
            reason=decision.reason if decision else None,
        )
        self._state.open_task_id = None

    async def _end_withdrawn(self) -> Literal["ended"]:
        withdrawal = self._p.withdrawal
        assert withdrawal is not None
        await self._p.notify("claim_withdrawn")
        await self._p.finish(
            ClaimStatus.WITHDRAWN, stage=ClaimStage.CLOSED, by=withdrawal.by, note=withdrawal.reason
        )
        return "ended"


def _batch(state: ClaimState, changes: list[Change]) -> ChangeBatch:
    return ChangeBatch(claim=state, changes=changes)


# Where the claim says more than the registry's text (domain.refusals).
_CLAIM_REFUSAL_TEXT = {
    "four_eyes_violation": "a person who acted on the claim, an earlier approver or the "
    "rejecter may not decide this",
}
