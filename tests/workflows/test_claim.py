"""ClaimWorkflow on the time-skipping server, activities mocked by name."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.activities import (
    LedgerEntry,
    Notification,
    PayoutRequest,
    PolicyPosition,
    PolicyRef,
    TaskChange,
    TaskOpen,
)
from domain.claim_rules import MAX_CLAIM_DOCUMENTS
from domain.claims import ClaimDocument, ClaimStage, ClaimState, ClaimStatus, Reduction
from domain.clocks import ProcessClocks
from domain.policies import PolicyState, PolicyStatus, TerminationReason
from domain.products import IncidentType
from domain.underwriting import Actor, Role
from tests.support import act, record_changes_mock, working_days_mock
from tests.workflows import test_policy as policy_tests
from workflows.claim import ClaimWorkflow, workflow_id_for
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

CLOCKS = ProcessClocks()
SUE = Actor(username="sue", roles=(Role.SUPERVISOR,), approval_limit=Decimal("5000000"))
SID = Actor(username="sid", roles=(Role.SUPERVISOR,), approval_limit=Decimal("2000000"))
SAM = Actor(username="sam", roles=(Role.AGENT, Role.SUPERVISOR), approval_limit=Decimal("500000"))
HOSPITAL_DOCS = ["claim_form", "id_proof", "discharge_summary", "medical_invoice"]
DEATH_DOCS = ["claim_form", "id_proof", "death_certificate", "beneficiary_proof"]


def docs(*kinds: str) -> list[ClaimDocument]:
    return [ClaimDocument(kind=k, name=f"{k}.pdf") for k in kinds]


@dataclass
class World:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    sum_insured: Decimal = Decimal("1000000")
    paid_to_date: Decimal = Decimal("0")
    arrears: Reduction | None = None  # the premium owed at the incident (a claim in grace)
    declines_left: int = 0
    gateway_down_until_breach: bool = False

    def named(self, name: str) -> list[Any]:
        return [arg for n, arg in self.calls if n == name]

    def templates(self) -> list[str]:
        return [n.template for n in self.named(act.SEND_NOTIFICATION)]

    def activities(self) -> list[Any]:
        world = self

        @activity.defn(name=act.RECORD_CLAIM)
        async def record_claim(arg: ClaimState) -> None:
            world.calls.append((act.RECORD_CLAIM, arg))

        @activity.defn(name=act.LOAD_POLICY_POSITION)
        async def load_policy_position(arg: PolicyRef) -> PolicyPosition:
            world.calls.append((act.LOAD_POLICY_POSITION, arg))
            return PolicyPosition(
                policy_number=arg.policy_number,
                status="effective",
                sum_insured=world.sum_insured,
                paid_to_date=world.paid_to_date,
                effective_at=datetime(2025, 1, 1, tzinfo=UTC),
                expires_at=datetime(2045, 1, 1, tzinfo=UTC),
                arrears=world.arrears,
            )

        @activity.defn(name=act.OPEN_TASK)
        async def open_task(arg: TaskOpen) -> None:
            world.calls.append((act.OPEN_TASK, arg))

        @activity.defn(name=act.CHANGE_TASK)
        async def change_task(arg: TaskChange) -> None:
            world.calls.append((act.CHANGE_TASK, arg))

        @activity.defn(name=act.PAY_CLAIM)
        async def pay_claim(arg: PayoutRequest) -> LedgerEntry:
            world.calls.append((act.PAY_CLAIM, arg))
            if world.gateway_down_until_breach and (
                "payout_deadline_breached" not in world.templates()
            ):
                raise ApplicationError("gateway unavailable", type="gateway_error")
            if world.declines_left:
                world.declines_left -= 1
                raise ApplicationError("declined", type="payout_declined", non_retryable=True)
            return LedgerEntry(
                ledger_id="L-" + arg.idempotency_key,
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="succeeded",
                gateway_ref="GW",
            )

        @activity.defn(name=act.SEND_NOTIFICATION)
        async def send_notification(arg: Notification) -> None:
            world.calls.append((act.SEND_NOTIFICATION, arg))

        return [
            record_changes_mock(world.calls),
            working_days_mock(),  # for a policy's process running beside the claims
            record_claim,
            load_policy_position,
            open_task,
            change_task,
            pay_claim,
            send_notification,
        ]


Handle = WorkflowHandle[Any, ClaimState]


@dataclass
class Harness:
    env: WorkflowEnvironment
    world: World
    task_queue: str
    started: list[Handle] = field(default_factory=list)

    async def report(
        self,
        *,
        amount: str = "3000.00",
        incident: IncidentType = IncidentType.HOSPITALISATION,
        documents: list[str] | None = None,
        effective_on: date = date(2025, 1, 1),
        clocks: ProcessClocks = CLOCKS,
        policy_number: str = "PTEST",  # no policy process runs under it unless a test starts one
    ) -> Handle:
        claim_no = "C" + uuid.uuid4().hex[:12].upper()
        handle = await self.env.client.start_workflow(
            ClaimWorkflow.run,
            ClaimStart(
                claim_no=claim_no,
                agent="alice",
                policy_number=policy_number,
                product_code="MEDICAL_1Y",
                policy_effective_on=effective_on,
                incident_date=date(2025, 6, 1),
                incident_type=incident,
                description="appendicitis",
                amount_claimed=Decimal(amount),
                documents=docs(*(HOSPITAL_DOCS if documents is None else documents)),
                payee_account="6222020200112233445",
                clocks=clocks,
            ),
            id=workflow_id_for(claim_no),
            task_queue=self.task_queue,
        )
        self.started.append(handle)
        return handle

    async def until(
        self, handle: Handle, check: Any, *, step: timedelta = timedelta(seconds=1)
    ) -> ClaimState:
        for _ in range(300):
            state = await handle.query(ClaimWorkflow.state)
            if check(state):
                return state
            await self.env.sleep(step)
        raise AssertionError("condition never held")

    async def task(self, handle: Handle) -> str:
        state = await self.until(handle, lambda s: s.open_task_id is not None)
        assert state.open_task_id
        return state.open_task_id

    async def decide(
        self, handle: Handle, actor: Actor, decision: str = "approve", **kw: Any
    ) -> ClaimState:
        task_id = await self.task(handle)
        return await handle.execute_update(
            ClaimWorkflow.decide,
            ClaimDecision(task_id=task_id, decision=decision, reason="reviewed", actor=actor, **kw),  # type: ignore[arg-type]
        )


@pytest.fixture
async def harness(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    world = World()
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[ClaimWorkflow, PolicyWorkflow],
        activities=world.activities(),
    ):
        h = Harness(time_env, world, task_queue)
        yield h
        for handle in h.started:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")


def refused(err: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> str | None:
    cause = err.value.cause
    return cause.type if isinstance(cause, ApplicationError) else None


async def test_small_complete_claim_is_approved_by_system_and_paid_once(harness: Harness) -> None:
    handle = await harness.report(amount="3000.00")
    result = await handle.result()
    assert result.status == ClaimStatus.PAID and result.stage == ClaimStage.CLOSED
    assert result.tier == "auto"
    # 3,000 claimed, less the 1,000 deductible, 90 % reimbursed.
    assert result.amount_approved == Decimal("1800.00")
    assert [r.reason for r in result.assessment.reductions] == ["deductible", "co_payment"]  # type: ignore[union-attr]
    assert [a.by for a in result.approvals] == ["system"]
    (payout,) = harness.world.named(act.PAY_CLAIM)
    assert payout.idempotency_key == f"payout:{result.claim_id}"
    assert payout.amount == Decimal("1800.00")
    seen = [h.stage for h in result.history]
    for stage in (
        ClaimStage.UNDER_REVIEW,
        ClaimStage.ASSESSMENT,
        ClaimStage.APPROVED,
        ClaimStage.PAID,
    ):
        assert stage in seen


async def test_single_supervisor_approves_within_limit_and_the_filer_cannot(
    harness: Harness,
) -> None:
    handle = await harness.report(amount="200000.00")
    task_id = await harness.task(handle)
    assert harness.world.named(act.OPEN_TASK)[0].kind == "claim_approval"
    filer = Actor(
        username="alice", roles=(Role.AGENT, Role.SUPERVISOR), approval_limit=Decimal(10**7)
    )
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(
            ClaimWorkflow.decide,
            ClaimDecision(task_id=task_id, decision="approve", reason="x", actor=filer),
        )
    assert refused(err) == "four_eyes_violation"
    state = await harness.decide(handle, SAM)
    assert state.approvals[-1].by == "sam"
    assert state.stage == ClaimStage.APPROVED  # the answer shows where the decision led
    result = await handle.result()
    assert result.status == ClaimStatus.PAID
    assert result.tier == "single"


async def test_dual_control_needs_two_different_supervisors(harness: Harness) -> None:
    # Above the dual-control limit (1,000,000) and within the sum insured.
    harness.world.sum_insured = Decimal("5000000")
    handle = await harness.report(amount="1500000.00")
    task_id = await harness.task(handle)
    first = await harness.decide(handle, SID)
    assert first.stage == ClaimStage.AWAITING_APPROVAL and first.tier == "dual"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(
            ClaimWorkflow.decide,
            ClaimDecision(task_id=task_id, decision="approve", reason="again", actor=SID),
        )
    assert refused(err) == "four_eyes_violation"
    await harness.decide(handle, SUE)
    result = await handle.result()
    assert result.status == ClaimStatus.PAID
    assert [a.by for a in result.approvals] == ["sid", "sue"]


async def test_limit_too_low_is_refused(harness: Harness) -> None:
    handle = await harness.report(amount="700000.00")
    task_id = await harness.task(handle)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(
            ClaimWorkflow.decide,
            ClaimDecision(task_id=task_id, decision="approve", reason="x", actor=SAM),
        )
    assert refused(err) == "approval_limit_exceeded"


async def test_missing_documents_remind_and_a_supplement_resumes_review(harness: Harness) -> None:
    handle = await harness.report(documents=["claim_form", "id_proof"])
    state = await harness.until(handle, lambda s: s.stage == ClaimStage.DOCUMENTS_PENDING)
    assert state.missing_documents == ["discharge_summary", "medical_invoice"]
    await harness.env.sleep(timedelta(days=8))
    assert "documents_reminder" in harness.world.templates()
    await handle.execute_update(
        ClaimWorkflow.supplement_documents,
        DocumentsSupplement(documents=docs("discharge_summary", "medical_invoice"), by="alice"),
    )
    result = await handle.result()
    assert result.status == ClaimStatus.PAID


async def test_a_supplement_keeps_other_kinds_and_bounds_the_documents_a_claim_holds(
    harness: Harness,
) -> None:
    handle = await harness.report(documents=["claim_form", "id_proof"])
    await harness.until(handle, lambda s: s.stage == ClaimStage.DOCUMENTS_PENDING)
    state = await handle.execute_update(
        ClaimWorkflow.supplement_documents,
        DocumentsSupplement(documents=docs("bank_card_copy", "discharge_summary"), by="alice"),
    )
    assert [d.kind for d in state.documents][-2:] == ["bank_card_copy", "discharge_summary"]
    assert state.missing_documents == ["medical_invoice"]  # the bank card counts for nothing
    too_many = docs(*["expense_list"] * (MAX_CLAIM_DOCUMENTS - len(state.documents) + 1))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(
            ClaimWorkflow.supplement_documents, DocumentsSupplement(documents=too_many, by="alice")
        )
    assert refused(err) == "too_many_documents"
    state = await handle.execute_update(
        ClaimWorkflow.supplement_documents,
        DocumentsSupplement(documents=docs("medical_invoice"), by="alice"),
    )
    assert state.missing_documents == []
    assert (await handle.result()).status == ClaimStatus.PAID


async def test_documents_not_supplied_by_the_deadline_withdraw_the_claim(harness: Harness) -> None:
    handle = await harness.report(documents=["claim_form"])
    result = await handle.result()
    assert result.status == ClaimStatus.WITHDRAWN
    assert result.history[-1].note == "documents deadline passed"
    assert harness.world.templates().count("documents_reminder") == 4  # days 7, 14, 21, 28
    assert harness.world.named(act.PAY_CLAIM) == []


async def test_request_info_sends_the_claim_back_for_documents(harness: Harness) -> None:
    handle = await harness.report(amount="200000.00")
    await harness.decide(handle, SUE, "request_info", missing=["medical_records"])
    state = await harness.until(handle, lambda s: s.stage == ClaimStage.DOCUMENTS_PENDING)
    assert state.missing_documents == ["medical_records"]
    await handle.execute_update(
        ClaimWorkflow.supplement_documents,
        DocumentsSupplement(documents=docs("medical_records"), by="alice"),
    )
    await harness.until(handle, lambda s: s.stage == ClaimStage.AWAITING_APPROVAL)
    await harness.decide(handle, SUE)
    result = await handle.result()
    assert result.status == ClaimStatus.PAID
    assert [a.decision for a in result.approvals] == ["request_info", "approve"]


async def test_rejection_appeal_and_review_by_another_supervisor(harness: Harness) -> None:
    handle = await harness.report(amount="200000.00")
    await harness.decide(handle, SID, "reject")
    await harness.until(handle, lambda s: s.stage == ClaimStage.REJECTED)
    appealed = await handle.execute_update(
        ClaimWorkflow.appeal, ClaimAppeal(by="alice", reason="new evidence")
    )
    assert appealed.stage == ClaimStage.APPEALED
    review_task = await harness.task(handle)
    assert harness.world.named(act.OPEN_TASK)[-1].kind == "claim_review"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(
            ClaimWorkflow.decide,
            ClaimDecision(task_id=review_task, decision="approve", reason="x", actor=SID),
        )
    assert refused(err) == "four_eyes_violation"
    await harness.decide(handle, SUE)
    result = await handle.result()
    assert result.status == ClaimStatus.PAID


async def test_rejection_without_appeal_closes_after_the_window(harness: Harness) -> None:
    handle = await harness.report(amount="200000.00")
    await harness.decide(handle, SID, "reject")
    result = await handle.result()
    assert result.status == ClaimStatus.REJECTED and result.stage == ClaimStage.CLOSED
    assert result.history[-1].at - result.history[-2].at >= CLOCKS.appeal_window
    with pytest.raises(RPCError):  # the process is closed: no appeal any more
        await handle.execute_update(ClaimWorkflow.appeal, ClaimAppeal(by="alice", reason="late"))


async def test_payout_decline_opens_a_task_and_a_fixed_account_pays_once(harness: Harness) -> None:
    harness.world.declines_left = 1
    handle = await harness.report()
    state = await harness.until(handle, lambda s: s.stage == ClaimStage.PAYOUT_FAILED)
    assert harness.world.named(act.OPEN_TASK)[-1].kind == "payout_failed"
    fixed = await handle.execute_update(
        ClaimWorkflow.fix_payout, PayoutFix(payee_account="6222020200999988887", by="olga")
    )
    assert fixed.stage != ClaimStage.PAYOUT_FAILED
    result = await handle.result()
    assert result.status == ClaimStatus.PAID
    first, second = harness.world.named(act.PAY_CLAIM)
    assert first.idempotency_key == f"payout:{state.claim_id}"
    assert second.idempotency_key == f"payout:{state.claim_id}:2"
    assert second.account == "6222020200999988887"
    assert result.payee_account_masked.endswith("8887")


async def test_a_payout_deadline_breach_is_written_while_the_payout_still_retries(
    harness: Harness,
) -> None:
    # The gateway stays down until the breach notice is in the outbox: the notice must be
    # written while the payout activity is still retrying, not when it ends.
    harness.world.gateway_down_until_breach = True
    handle = await harness.report(
        clocks=CLOCKS.model_copy(update={"payout_deadline": timedelta(hours=1)})
    )
    # Without the breach written mid-payout the gateway never comes back: bound the wait.
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.status == ClaimStatus.PAID
    assert result.deadlines.breaches == ["payout_deadline"]
    assert len(harness.world.named(act.PAY_CLAIM)) > 1  # it did retry through the outage


async def test_decision_deadline_escalates_then_records_a_breach(harness: Harness) -> None:
    handle = await harness.report(amount="200000.00")
    await harness.task(handle)
    await harness.env.sleep(timedelta(days=26))
    assert [c.action for c in harness.world.named(act.CHANGE_TASK)] == ["escalate"]
    assert "decision_escalated" in harness.world.templates()
    await harness.env.sleep(timedelta(days=5))
    state = await handle.query(ClaimWorkflow.state)
    assert state.deadlines.breaches == ["decision_deadline"]
    assert "decision_deadline_breached" in harness.world.templates()
    await harness.decide(handle, SUE)
    result = await handle.result()
    assert result.status == ClaimStatus.PAID


async def test_withdrawal_while_awaiting_approval_cancels_the_task(harness: Harness) -> None:
    handle = await harness.report(amount="200000.00")
    await harness.task(handle)
    state = await handle.execute_update(ClaimWorkflow.withdraw, Withdrawal(by="alice"))
    assert state.status == ClaimStatus.WITHDRAWN
    assert harness.world.named(act.CHANGE_TASK)[-1].action == "cancel"


async def test_sum_insured_already_paid_caps_the_approved_amount(harness: Harness) -> None:
    harness.world.sum_insured = Decimal("10000")
    harness.world.paid_to_date = Decimal("9000")
    handle = await harness.report(amount="3000.00")
    result = await handle.result()
    assert result.amount_approved == Decimal("1000.00")
    assert result.assessment and result.assessment.reductions[-1].reason == "remaining_sum_insured"


async def test_cancellation_closes_the_open_task(harness: Harness) -> None:
    handle = await harness.report(amount="200000.00")
    await harness.task(handle)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert harness.world.named(act.CHANGE_TASK)[-1].action == "cancel"
    state = await handle.query(ClaimWorkflow.state)
    assert state.status == ClaimStatus.CANCELLED
    assert harness.world.named(act.PAY_CLAIM) == []


# --- the policy: arrears, and the claim telling it ----------------------------------------

ARREARS = Reduction(
    reason="arrears", amount=Decimal("1500.00"), detail="unpaid premium due by 2025-06-01"
)


async def test_a_claim_in_grace_is_paid_less_the_arrears_owed_at_the_incident(
    harness: Harness,
) -> None:
    harness.world.sum_insured = Decimal("200000")
    harness.world.arrears = ARREARS
    handle = await harness.report(
        amount="200000.00", incident=IncidentType.DEATH, documents=DEATH_DOCS
    )
    await harness.decide(handle, SUE)
    result = await handle.result()

    (asked,) = harness.world.named(act.LOAD_POLICY_POSITION)
    assert asked == PolicyRef(policy_number="PTEST", incident_date=date(2025, 6, 1))
    assert result.assessment is not None
    assert [(r.reason, r.amount) for r in result.assessment.reductions] == [
        ("arrears", Decimal("1500.00"))
    ]
    assert result.amount_approved == Decimal("198500.00")
    (payout,) = harness.world.named(act.PAY_CLAIM)
    assert payout.amount == Decimal("198500.00")


async def paid_death_claim_on_a_policy(
    harness: Harness, *, policy_ended_first: bool = False
) -> tuple[ClaimState, WorkflowHandle[Any, PolicyState]]:
    """A TERM_LIFE_20 policy's process beside the claims (same queue), and a small death
    claim on it, approved by the system and paid."""
    policies = policy_tests.Harness(harness.env, policy_tests.World(), harness.task_queue)
    policy = await policies.start()
    if policy_ended_first:
        await policy.terminate("the policy's process is gone")
    handle = await harness.report(
        amount="3000.00",
        incident=IncidentType.DEATH,
        documents=DEATH_DOCS,
        policy_number=policy_tests.number(policy),
    )
    return await handle.result(), policy


async def test_a_paid_death_claim_tells_the_policy_which_ends_terminated(harness: Harness) -> None:
    result, policy = await paid_death_claim_on_a_policy(harness)

    assert result.status == ClaimStatus.PAID
    ended = await policy.result()
    assert ended.status == PolicyStatus.TERMINATED
    assert ended.termination_reason == TerminationReason.CLAIM_PAID
    history = await policy.fetch_history()
    (signal,) = [
        e.workflow_execution_signaled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert signal.signal_name == "claim_paid"
    (paid,) = await harness.env.client.data_converter.decode(signal.input.payloads, [ClaimPaid])
    assert paid == ClaimPaid(
        claim_no=result.claim_id, incident_type="death", amount=Decimal("3000.00")
    )


async def test_a_claim_on_a_policy_whose_process_has_ended_still_ends_paid(
    harness: Harness,
) -> None:
    result, _ = await paid_death_claim_on_a_policy(harness, policy_ended_first=True)

    assert result.status == ClaimStatus.PAID and result.stage == ClaimStage.CLOSED
    assert result.payout.status == "paid"
    notes = [h.note for h in result.history]
    assert "the policy's process has ended: not told of the payment" in notes
