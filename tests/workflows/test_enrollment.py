"""EnrollmentWorkflow on the time-skipping server, activities mocked by name."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

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
from domain.clocks import ProcessClocks
from domain.enrollment import (
    CheckResult,
    CustomerDetails,
    EnrollmentState,
    PaymentMethod,
    Stage,
    Status,
    Verification,
)
from domain.identity import age_on
from domain.policies import PolicyStage, PolicyStatus
from domain.products import annual_premium, get_product
from domain.underwriting import Actor, Role
from tests.support import CUSTOMER_ID_NUMBER, act, record_changes_mock, working_days_mock
from workflows import search_attributes as sa
from workflows.enrollment import SHANGHAI, EnrollmentWorkflow, workflow_id_for
from workflows.inputs import (
    ApplicationSubmit,
    EnrollmentStart,
    PaymentNotice,
    QuoteRequest,
    UnderwritingDecision,
    Withdrawal,
)
from workflows.policy import PolicyWorkflow

SUE = Actor(username="sue", roles=(Role.SUPERVISOR,), approval_limit=Decimal("5000000"))
SID = Actor(username="sid", roles=(Role.SUPERVISOR,), approval_limit=Decimal("2000000"))
CLOCKS = ProcessClocks()


@dataclass
class World:
    """What the mocked activities saw, and switches for their behaviour."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    # The writes of the policy's process the enrollment starts (its own world).
    policy_calls: list[tuple[str, Any]] = field(default_factory=list)
    verification: Verification = field(
        default_factory=lambda: Verification(
            passed=True,
            checks=[CheckResult(name="id_number", passed=True, detail="ok")],
        )
    )
    decline: bool = False
    # Set to hold the first batched write that opens a task until the process is cancelled.
    hold_task_open: asyncio.Event | None = None
    # Set to hold the charge in flight: (started, release); it then succeeds, as a gateway
    # that took the money does, whatever the workflow asked meanwhile.
    hold_charge: tuple[asyncio.Event, asyncio.Event] | None = None

    async def _before_batch(self, batch: ChangeBatch) -> None:
        held = self.hold_task_open
        if held is not None and any(c.task_open for c in batch.changes):
            self.hold_task_open = None  # only the first such batch
            held.set()  # tell the test the write is in flight
            await asyncio.Event().wait()  # until cancelled

    def named(self, name: str) -> list[Any]:
        return [arg for n, arg in self.calls if n == name]

    def activities(self) -> list[Any]:
        world = self

        @activity.defn(name=act.REGISTER_CUSTOMER)
        async def register_customer(arg: CustomerRegistration) -> CustomerRef:
            world.calls.append((act.REGISTER_CUSTOMER, arg))
            return CustomerRef(customer_id="cust-1")

        @activity.defn(name=act.RECORD_ENROLLMENT)
        async def record_enrollment(arg: EnrollmentState) -> None:
            world.calls.append((act.RECORD_ENROLLMENT, arg))

        @activity.defn(name=act.RECORD_QUOTE)
        async def record_quote(arg: QuoteRecord) -> None:
            world.calls.append((act.RECORD_QUOTE, arg))

        @activity.defn(name=act.VERIFY_APPLICANT)
        async def verify_applicant(arg: VerifyApplicant) -> Verification:
            world.calls.append((act.VERIFY_APPLICANT, arg))
            return world.verification

        @activity.defn(name=act.OPEN_TASK)
        async def open_task(arg: TaskOpen) -> None:
            world.calls.append((act.OPEN_TASK, arg))

        @activity.defn(name=act.CHANGE_TASK)
        async def change_task(arg: TaskChange) -> None:
            world.calls.append((act.CHANGE_TASK, arg))

        @activity.defn(name=act.CHARGE_PREMIUM)
        async def charge_premium(arg: Charge) -> LedgerEntry:
            world.calls.append((act.CHARGE_PREMIUM, arg))
            if world.hold_charge is not None:
                started, release = world.hold_charge
                started.set()
                await release.wait()
            if world.decline:
                raise ApplicationError("declined", type="payment_declined", non_retryable=True)
            return LedgerEntry(
                ledger_id="L1",
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="succeeded",
                gateway_ref="G1",
            )

        @activity.defn(name=act.CREATE_PAYMENT_ORDER)
        async def create_payment_order(arg: PaymentOrder) -> LedgerEntry:
            world.calls.append((act.CREATE_PAYMENT_ORDER, arg))
            return LedgerEntry(
                ledger_id="L2",
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="pending",
                order_id=arg.order_id,
            )

        @activity.defn(name=act.SETTLE_ONLINE_PAYMENT)
        async def settle_online_payment(arg: Settlement) -> LedgerEntry:
            world.calls.append((act.SETTLE_ONLINE_PAYMENT, arg))
            return LedgerEntry(
                ledger_id="L2",
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="succeeded",
                gateway_ref=arg.gateway_ref,
                order_id=arg.order_id,
            )

        @activity.defn(name=act.REFUND_PREMIUM)
        async def refund_premium(arg: Refund) -> LedgerEntry:
            world.calls.append((act.REFUND_PREMIUM, arg))
            return LedgerEntry(
                ledger_id="R1",
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="succeeded",
            )

        @activity.defn(name=act.ISSUE_POLICY)
        async def issue_policy(arg: PolicyIssue) -> None:
            world.calls.append((act.ISSUE_POLICY, arg))

        @activity.defn(name=act.SET_POLICY_STATUS)
        async def set_policy_status(arg: PolicyStatusChange) -> None:
            world.calls.append((act.SET_POLICY_STATUS, arg))

        @activity.defn(name=act.SEND_NOTIFICATION)
        async def send_notification(arg: Notification) -> None:
            world.calls.append((act.SEND_NOTIFICATION, arg))

        return [
            record_changes_mock(world.calls, world._before_batch, policy_calls=world.policy_calls),
            working_days_mock(world.policy_calls),
            register_customer,
            record_enrollment,
            record_quote,
            verify_applicant,
            open_task,
            change_task,
            charge_premium,
            create_payment_order,
            settle_online_payment,
            refund_premium,
            issue_policy,
            set_policy_status,
            send_notification,
        ]


@dataclass
class Harness:
    env: WorkflowEnvironment
    world: World
    task_queue: str
    started: list[WorkflowHandle[Any, EnrollmentState]] = field(default_factory=list)

    async def start(
        self, agent: str = "alice", clocks: ProcessClocks = CLOCKS
    ) -> WorkflowHandle[Any, EnrollmentState]:
        app_no = "E" + uuid.uuid4().hex[:12].upper()
        start = EnrollmentStart(
            application_no=app_no,
            agent=agent,
            customer=CustomerDetails(
                name="张三", id_number=CUSTOMER_ID_NUMBER, phone="13800138000"
            ),
            birth_date=date(1990, 5, 17),
            clocks=clocks,
        )
        handle = await self.env.client.start_workflow(
            EnrollmentWorkflow.run,
            start,
            id=workflow_id_for(app_no),
            task_queue=self.task_queue,
            search_attributes=sa.at_start("enrollment", agent, "consultation", "in_progress"),
        )
        self.started.append(handle)
        return handle

    async def apply(
        self,
        handle: WorkflowHandle[Any, EnrollmentState],
        *,
        sum_insured: str = "200000",
        method: PaymentMethod = PaymentMethod.AUTO_DEBIT,
        product: str = "TERM_LIFE_20",
        by: str = "alice",
        start_date: date | None = None,
    ) -> EnrollmentState:
        quote = await handle.execute_update(
            EnrollmentWorkflow.quote,
            QuoteRequest(product_code=product, sum_insured=Decimal(sum_insured), by=by),
        )
        return await handle.execute_update(
            EnrollmentWorkflow.submit_application,
            ApplicationSubmit(
                quote_id=quote.quote_id,
                payment_method=method,
                bank_account="6222020200112233445" if method == PaymentMethod.AUTO_DEBIT else None,
                consent=True,
                start_date=start_date,
                by=by,
            ),
        )

    async def wait_for_call(self, name: str) -> Any:
        """The first call of a mocked activity, letting workflow time pass until it comes."""
        for _ in range(200):
            if calls := self.world.named(name):
                return calls[0]
            await self.env.sleep(timedelta(seconds=1))
        raise AssertionError(f"{name} was never called")

    async def wait_for_stage(
        self, handle: WorkflowHandle[Any, EnrollmentState], stage: Stage
    ) -> EnrollmentState:
        # Time-skipping: each query lets the server advance; bounded attempts, no sleeps.
        for _ in range(200):
            state = await handle.query(EnrollmentWorkflow.state)
            if state.stage == stage or state.status != Status.IN_PROGRESS:
                return state
            await self.env.sleep(timedelta(seconds=1))
        raise AssertionError(f"never reached {stage}")


@pytest.fixture
async def harness(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    world = World()
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[EnrollmentWorkflow, PolicyWorkflow],
        activities=world.activities(),
    ):
        harness = Harness(time_env, world, task_queue)
        yield harness
        # A failed test must not leave a process behind to hold the shared server's clock.
        for handle in harness.started:
            desc = await handle.describe()
            if desc.status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")
            await terminate_policy_of(time_env, handle.id)


async def terminate_policy_of(env: WorkflowEnvironment, enrollment_id: str) -> None:
    """The policy process an enrollment started, if any, outlives it: end it too."""
    policy = env.client.get_workflow_handle("policy-P" + enrollment_id.removeprefix("enrollment-E"))
    try:
        desc = await policy.describe()
    except RPCError:
        return  # never issued
    if desc.status == WorkflowExecutionStatus.RUNNING:
        await policy.terminate("test finished")


def stages(state: EnrollmentState) -> list[str]:
    seen: list[str] = []
    for entry in state.history:
        if not seen or seen[-1] != entry.stage.value:
            seen.append(entry.stage.value)
    return seen


async def test_auto_underwritten_auto_debit_enrollment_walks_every_stage_to_effective(
    harness: Harness,
) -> None:
    handle = await harness.start()
    await harness.apply(handle, sum_insured="200000")
    result = await handle.result()

    assert result.status == Status.EFFECTIVE
    assert stages(result) == [
        "consultation",
        "quoted",
        "application_submitted",
        "verification",
        "underwriting",
        "awaiting_payment",
        "issued",
        "effective",
    ]
    assert result.underwriting.decided_by == "system"
    world = harness.world
    (charge,) = world.named(act.CHARGE_PREMIUM)
    assert charge.idempotency_key == f"premium:{result.enrollment_id}"
    age = age_on(date(1990, 5, 17), result.history[0].at.astimezone(SHANGHAI).date())
    product = get_product("TERM_LIFE_20")
    assert charge.amount == annual_premium(product, sum_insured=Decimal(200000), age=age)
    (issue,) = world.named(act.ISSUE_POLICY)
    assert issue.policy_number == result.policy_number
    assert result.effective_at is not None and result.effective_at == issue.effective_at
    # The policy becomes effective at the start (Asia/Shanghai) of tomorrow, after a timer.
    assert result.effective_at.utcoffset() == timedelta(hours=8)
    assert (result.effective_at.hour, result.effective_at.minute) == (0, 0)
    # The policy's own process keeps the policy row from issuance on (test below).
    assert world.named(act.SET_POLICY_STATUS) == []
    templates = [n.template for n in world.named(act.SEND_NOTIFICATION)]
    assert templates == [
        "application_received",
        "underwriting_approved",
        "policy_issued",
        "policy_effective",
    ]
    # The read model saw every stage, the last record being the ending.
    assert world.named(act.RECORD_ENROLLMENT)[-1].status == Status.EFFECTIVE


async def test_large_sum_opens_a_task_reminds_escalates_and_a_supervisor_approves(
    harness: Harness,
) -> None:
    handle = await harness.start()
    await harness.apply(handle, sum_insured="1000000")
    state = await harness.wait_for_stage(handle, Stage.UNDERWRITING)
    assert state.underwriting.routed_because == ["above_auto_underwriting_limit"]
    task = await harness.wait_for_call(act.OPEN_TASK)
    assert task.kind == "underwriting" and task.submitted_by == "alice"
    assert task.due_at + timedelta(hours=24) == task.escalate_at

    # Past due (24 h) and past escalation (48 h), short of expiry (7 d).
    await harness.env.sleep(timedelta(hours=49))
    actions = [c.action for c in harness.world.named(act.CHANGE_TASK)]
    assert actions == ["remind", "escalate"]
    templates = [n.template for n in harness.world.named(act.SEND_NOTIFICATION)]
    assert "underwriting_remind" in templates and "underwriting_escalate" in templates

    after = await handle.execute_update(
        EnrollmentWorkflow.decide,
        UnderwritingDecision(task_id=task.task_id, decision="approve", reason="fine", actor=sue()),
    )
    assert after.stage != Stage.UNDERWRITING
    result = await handle.result()
    assert result.status == Status.EFFECTIVE
    assert result.underwriting.decided_by == "sue"
    assert harness.world.named(act.CHANGE_TASK)[-1].action == "complete"


def sue() -> Actor:
    return SUE


async def test_supervisor_rejection_ends_rejected(harness: Harness) -> None:
    handle = await harness.start()
    await harness.apply(handle, sum_insured="1000000")
    await harness.wait_for_stage(handle, Stage.UNDERWRITING)
    await handle.execute_update(
        EnrollmentWorkflow.decide,
        UnderwritingDecision(
            task_id=f"uw-{handle.id.removeprefix('enrollment-')}",
            decision="reject",
            reason="medical history",
            actor=SID,
        ),
    )
    result = await handle.result()
    assert result.status == Status.REJECTED
    assert result.underwriting.decided_by == "sid"
    assert harness.world.named(act.CHARGE_PREMIUM) == []


async def test_undecided_underwriting_expires_after_the_expiry_clock(harness: Harness) -> None:
    handle = await harness.start()
    await harness.apply(handle, sum_insured="1000000")
    result = await handle.result()
    assert result.status == Status.EXPIRED
    assert [c.action for c in harness.world.named(act.CHANGE_TASK)] == [
        "remind",
        "escalate",
        "expire",
    ]
    last = result.history[-1]
    assert last.at - result.history[0].at >= CLOCKS.underwriting_expire


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        (Actor(username="bob", roles=(Role.AGENT,)), "not_a_supervisor"),
        (Actor(username="olga", roles=(Role.OPS,)), "not_a_supervisor"),
        (
            Actor(
                username="sam",
                roles=(Role.AGENT, Role.SUPERVISOR),
                approval_limit=Decimal("500000"),
            ),
            "approval_limit_exceeded",
        ),
        (
            Actor(username="alice", roles=(Role.SUPERVISOR,), approval_limit=Decimal("10000000")),
            "four_eyes_violation",
        ),
    ],
)
async def test_decision_validator_refuses_without_authority(
    harness: Harness, actor: Actor, code: str
) -> None:
    handle = await harness.start()
    await harness.apply(handle, sum_insured="1000000")
    await harness.wait_for_stage(handle, Stage.UNDERWRITING)
    task_id = f"uw-{handle.id.removeprefix('enrollment-')}"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            EnrollmentWorkflow.decide,
            UnderwritingDecision(task_id=task_id, decision="approve", reason="x", actor=actor),
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == code
    state = await handle.query(EnrollmentWorkflow.state)
    assert state.stage == Stage.UNDERWRITING and state.underwriting.decision is None
    await handle.terminate("test over")


async def test_withdrawal_during_underwriting_cancels_the_task(harness: Harness) -> None:
    handle = await harness.start()
    await harness.apply(handle, sum_insured="1000000")
    await harness.wait_for_stage(handle, Stage.UNDERWRITING)
    state = await handle.execute_update(
        EnrollmentWorkflow.withdraw, Withdrawal(by="alice", reason="customer changed mind")
    )
    assert state.status == Status.WITHDRAWN
    result = await handle.result()
    assert result.status == Status.WITHDRAWN
    assert harness.world.named(act.CHANGE_TASK)[-1].action == "cancel"
    assert harness.world.named(act.CHARGE_PREMIUM) == []


async def test_online_payment_not_made_by_the_deadline_lapses(harness: Harness) -> None:
    handle = await harness.start()
    await harness.apply(handle, method=PaymentMethod.ONLINE)
    result = await handle.result()
    assert result.status == Status.LAPSED
    assert result.payment.status == "lapsed"
    (order,) = harness.world.named(act.CREATE_PAYMENT_ORDER)
    assert order.idempotency_key == f"premium:{result.enrollment_id}"
    assert result.history[-1].at - order.due_at < timedelta(minutes=1)


async def test_online_payment_callback_issues_the_policy_and_repeat_is_refused(
    harness: Harness,
) -> None:
    handle = await harness.start()
    await harness.apply(handle, method=PaymentMethod.ONLINE)
    state = await harness.wait_for_stage(handle, Stage.AWAITING_PAYMENT)
    for _ in range(50):
        state = await handle.query(EnrollmentWorkflow.state)
        if state.payment.order_id:
            break
        await harness.env.sleep(timedelta(seconds=1))
    assert state.payment.order_id and state.payment.amount
    notice = PaymentNotice(
        order_id=state.payment.order_id,
        amount=state.payment.amount,
        paid_at=datetime.now().astimezone(),
        gateway_ref="GW-1",
    )
    wrong = notice.model_copy(update={"amount": Decimal("1.00")})
    with pytest.raises(WorkflowUpdateFailedError) as mismatch:
        await handle.execute_update(EnrollmentWorkflow.confirm_payment, wrong)
    assert isinstance(mismatch.value.cause, ApplicationError)
    assert mismatch.value.cause.type == "amount_mismatch"
    paid = await handle.execute_update(EnrollmentWorkflow.confirm_payment, notice)
    assert paid.payment.status == "paid"
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle.execute_update(EnrollmentWorkflow.confirm_payment, notice)
    assert isinstance(again.value.cause, ApplicationError)
    assert again.value.cause.type == "already_paid"
    result = await handle.result()
    assert result.status == Status.EFFECTIVE
    assert len(harness.world.named(act.SETTLE_ONLINE_PAYMENT)) == 1


async def test_failed_verification_rejects_with_its_code(harness: Harness) -> None:
    harness.world.verification = Verification(
        passed=False,
        failure_code="sanctions_hit",
        checks=[CheckResult(name="sanctions", passed=False, detail="listed")],
    )
    handle = await harness.start()
    await harness.apply(handle)
    result = await handle.result()
    assert result.status == Status.REJECTED
    assert result.failure_code == "sanctions_hit"
    assert harness.world.named(act.OPEN_TASK) == []


async def test_declined_premium_charge_fails_the_enrollment(harness: Harness) -> None:
    harness.world.decline = True
    handle = await harness.start()
    await harness.apply(handle)
    result = await handle.result()
    assert result.status == Status.FAILED
    assert result.failure_code == "payment_declined"
    assert harness.world.named(act.ISSUE_POLICY) == []


async def test_withdrawal_before_quote_and_no_withdrawal_after_payment(harness: Harness) -> None:
    handle = await harness.start()
    state = await handle.execute_update(EnrollmentWorkflow.withdraw, Withdrawal(by="alice"))
    assert state.status == Status.WITHDRAWN
    assert (await handle.result()).status == Status.WITHDRAWN

    paid = await harness.start()
    await harness.apply(paid)
    await harness.wait_for_stage(paid, Stage.ISSUED)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await paid.execute_update(EnrollmentWorkflow.withdraw, Withdrawal(by="alice"))
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "withdraw_not_allowed"


async def test_consultation_without_application_expires(harness: Harness) -> None:
    handle = await harness.start()
    result = await handle.result()
    assert result.status == Status.EXPIRED
    assert result.stage == Stage.CONSULTATION


@pytest.mark.parametrize(
    ("product", "sum_insured", "code"),
    [
        ("TERM_LIFE_20", "50000", "sum_insured_out_of_range"),
        ("NO_SUCH", "100000", "unknown_product"),
    ],
)
async def test_quote_validator_refuses_out_of_range(
    harness: Harness, product: str, sum_insured: str, code: str
) -> None:
    handle = await harness.start()
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            EnrollmentWorkflow.quote,
            QuoteRequest(product_code=product, sum_insured=Decimal(sum_insured), by="alice"),
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == code
    state = await handle.query(EnrollmentWorkflow.state)
    assert state.stage == Stage.CONSULTATION and state.quote is None
    await handle.terminate("test over")


async def test_application_needs_consent_and_a_bank_account_for_auto_debit(
    harness: Harness,
) -> None:
    handle = await harness.start()
    quote = await handle.execute_update(
        EnrollmentWorkflow.quote,
        QuoteRequest(product_code="ACCIDENT_1Y", sum_insured=Decimal("100000"), by="alice"),
    )
    for submit, code in [
        (
            ApplicationSubmit(
                quote_id=quote.quote_id,
                payment_method=PaymentMethod.ONLINE,
                consent=False,
                by="alice",
            ),
            "consent_required",
        ),
        (
            ApplicationSubmit(
                quote_id=quote.quote_id,
                payment_method=PaymentMethod.AUTO_DEBIT,
                consent=True,
                by="alice",
            ),
            "bank_account_required",
        ),
        (
            ApplicationSubmit(
                quote_id="Q-other", payment_method=PaymentMethod.ONLINE, consent=True, by="alice"
            ),
            "unknown_quote",
        ),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(EnrollmentWorkflow.submit_application, submit)
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == code
    await handle.terminate("test over")


async def test_cancellation_after_the_charge_refunds_once_and_cancels_the_policy(
    harness: Harness,
) -> None:
    handle = await harness.start()
    await harness.apply(handle, sum_insured="200000")
    await harness.wait_for_stage(handle, Stage.ISSUED)  # charged, waiting to take effect
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as ended:
        await handle.result()
    assert isinstance(ended.value.cause, CancelledError)
    state = await handle.query(EnrollmentWorkflow.state)
    assert state.status == Status.CANCELLED
    assert state.payment.status == "refunded"
    (refund,) = harness.world.named(act.REFUND_PREMIUM)
    assert refund.idempotency_key == f"refund:{state.policy_number}"
    assert refund.original_key == f"premium:{state.enrollment_id}"
    # A batch is applied at least once (a local activity may run again when the policy's
    # cancellation lands mid-task); each write is idempotent.
    assert {c.status for c in harness.world.named(act.SET_POLICY_STATUS)} == {"cancelled"}
    policy = harness.env.client.get_workflow_handle(f"policy-{state.policy_number}")
    assert (await policy.describe()).status == WorkflowExecutionStatus.CANCELED


async def test_a_cancellation_during_a_batched_write_keeps_the_writes_for_the_next(
    harness: Harness,
) -> None:
    # The batch that opens the underwriting task is in flight when ops cancel: its writes
    # must not be lost, or the compensation would cancel a task that was never written.
    in_flight = asyncio.Event()
    harness.world.hold_task_open = in_flight
    handle = await harness.start()
    await harness.apply(handle, sum_insured="1000000")
    await asyncio.wait_for(in_flight.wait(), timeout=30)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), timeout=60)
    names = [name for name, _ in harness.world.calls]
    assert names.index(act.OPEN_TASK) < names.index(act.CHANGE_TASK)
    assert harness.world.named(act.CHANGE_TASK)[-1].action == "cancel"
    assert harness.world.named(act.RECORD_ENROLLMENT)[-1].status == Status.CANCELLED


async def test_cancellation_in_underwriting_closes_the_task_and_refunds_nothing(
    harness: Harness,
) -> None:
    handle = await harness.start()
    await harness.apply(handle, sum_insured="1000000")
    await harness.wait_for_call(act.OPEN_TASK)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert harness.world.named(act.CHANGE_TASK)[-1].action == "cancel"
    assert harness.world.named(act.REFUND_PREMIUM) == []
    assert (await handle.query(EnrollmentWorkflow.state)).status == Status.CANCELLED


async def test_a_person_who_quoted_or_submitted_may_not_decide_the_underwriting(
    harness: Harness,
) -> None:
    # Four eyes binds the person who acted, not only the case's agent. Nobody acts for the
    # agent: sam (an agent and a supervisor) may not quote alice's case, and the process
    # itself refuses it, so the API needs no query to know whose case it is.
    sam = Actor(
        username="sam", roles=(Role.AGENT, Role.SUPERVISOR), approval_limit=SUE.approval_limit
    )
    theirs = await harness.start(agent="alice")
    with pytest.raises(WorkflowUpdateFailedError) as not_theirs:
        await harness.apply(theirs, sum_insured="1000000", by="sam")
    assert isinstance(not_theirs.value.cause, ApplicationError)
    assert not_theirs.value.cause.type == "not_your_case"
    untouched = await theirs.query(EnrollmentWorkflow.state)
    assert untouched.stage == Stage.CONSULTATION and untouched.quote is None
    await theirs.terminate("test over")
    # On sam's own case, sam quoted and submitted: sam may not decide its underwriting.
    handle = await harness.start(agent="sam")
    await harness.apply(handle, sum_insured="1000000", by="sam")
    await harness.wait_for_stage(handle, Stage.UNDERWRITING)
    task = await harness.wait_for_call(act.OPEN_TASK)
    assert task.submitted_by == "sam"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            EnrollmentWorkflow.decide,
            UnderwritingDecision(task_id=task.task_id, decision="approve", reason="x", actor=sam),
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "four_eyes_violation"
    state = await handle.query(EnrollmentWorkflow.state)
    assert [h.by for h in state.history if h.stage == Stage.QUOTED] == ["sam"]
    assert state.underwriting.decision is None
    await handle.terminate("test over")


async def test_a_cancellation_while_the_charge_is_in_flight_ends_cancelled_and_refunds(
    harness: Harness,
) -> None:
    # Probe finding 3: ops cancelled during the auto-debit, got 202, and the process went
    # on to effective with no refund (the charge's success swallowed the cancellation).
    started, release = asyncio.Event(), asyncio.Event()
    harness.world.hold_charge = (started, release)
    handle = await harness.start()
    await harness.apply(handle, sum_insured="200000")
    await asyncio.wait_for(started.wait(), timeout=30)
    await handle.cancel()
    release.set()
    with pytest.raises(WorkflowFailureError) as ended:
        await asyncio.wait_for(handle.result(), timeout=60)
    assert isinstance(ended.value.cause, CancelledError)
    state = await handle.query(EnrollmentWorkflow.state)
    assert state.status == Status.CANCELLED
    assert state.policy_number is None
    assert state.payment.status == "refunded"
    (refund,) = harness.world.named(act.REFUND_PREMIUM)
    assert refund.original_key == f"premium:{state.enrollment_id}"
    assert harness.world.named(act.ISSUE_POLICY) == []


async def test_a_start_date_beyond_the_window_is_refused_before_anything_is_charged(
    harness: Harness,
) -> None:
    # Probe finding 2: start_date 9999-12-31 was accepted, charged, and then every workflow
    # task failed (year 10000 out of range). The window is a clock (default 90 days).
    handle = await harness.start()
    today = datetime.now(SHANGHAI).date()
    for far in (date(9999, 12, 31), today + CLOCKS.start_date_window + timedelta(days=1)):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await harness.apply(handle, start_date=far)
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "invalid_start_date"
    assert harness.world.named(act.CHARGE_PREMIUM) == []
    last_day = today + CLOCKS.start_date_window
    state = await harness.apply(handle, start_date=last_day)
    assert state.start_date == last_day and state.status == Status.IN_PROGRESS
    await handle.terminate("test over")


async def test_a_process_meeting_bad_data_halts_for_ops_and_a_cancel_refunds(
    harness: Harness,
) -> None:
    # Probe finding 2, its second half: whatever bad data gets past the bounds must not
    # freeze a charged process (every workflow task failing, the cancel never seen). A
    # window wide enough to let 9999-12-31 through stands in for such data: after the
    # charge, working out the expiry raises.
    wide = ProcessClocks(start_date_window=timedelta(days=3_000_000))
    handle = await harness.start(clocks=wide)
    await harness.apply(handle, start_date=date(9999, 12, 31))
    for _ in range(120):
        state = await handle.query(EnrollmentWorkflow.state)
        if state.failure_code == "halted":
            break
        await harness.env.sleep(timedelta(seconds=1))
    else:
        raise AssertionError("the process never halted")
    assert state.history[-1].note == "halted on ValueError: waiting for ops"
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.STATUS) == "halted"
    events = [e.event_type async for e in handle.fetch_history_events()]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in events
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as ended:
        await asyncio.wait_for(handle.result(), timeout=60)
    assert isinstance(ended.value.cause, CancelledError)
    (refund,) = harness.world.named(act.REFUND_PREMIUM)
    assert refund.original_key.startswith("premium:")
    assert harness.world.named(act.RECORD_ENROLLMENT)[-1].status == Status.CANCELLED


async def test_issuing_the_policy_starts_its_own_process_which_outlives_the_enrollment(
    harness: Harness,
) -> None:
    handle = await harness.start()
    await harness.apply(handle, sum_insured="200000")
    result = await handle.result()

    assert result.status == Status.EFFECTIVE and result.policy_number
    policy = harness.env.client.get_workflow_handle(f"policy-{result.policy_number}")
    state = await policy.query(PolicyWorkflow.state)
    assert (await policy.describe()).status == WorkflowExecutionStatus.RUNNING
    assert state.application_no == result.enrollment_id and state.agent == "alice"
    assert state.effective_at == result.effective_at and state.expires_at == result.expires_at
    # The server skips time while the test waits for the enrollment's result, and the policy
    # keeps running meanwhile: it may have left cooling-off already. Its history began there.
    assert state.history[0].stage == PolicyStage.COOLING_OFF and state.return_visit is not None
    desc = await policy.describe()
    assert desc.typed_search_attributes.get(sa.PROCESS) == "policy"
    for _ in range(50):  # the policy takes effect by its own timer, at the same moment
        if (await policy.query(PolicyWorkflow.state)).status == PolicyStatus.EFFECTIVE:
            break
        await harness.env.sleep(timedelta(minutes=1))
    assert (await policy.query(PolicyWorkflow.state)).status == PolicyStatus.EFFECTIVE
    assert [c.status for c in _named(harness.world.policy_calls, act.SET_POLICY_STATUS)] == [
        "effective"
    ]


async def test_with_a_short_policy_year_the_policy_issued_expires_twenty_of_them_later(
    harness: Harness,
) -> None:
    handle = await harness.start(clocks=ProcessClocks(policy_year=timedelta(minutes=2)))
    # Starting today, it takes effect on issue: a demo watches it at once.
    today = datetime.now(SHANGHAI).date()
    await harness.apply(handle, sum_insured="200000", start_date=today)
    result = await handle.result()

    assert result.effective_at is not None and result.expires_at is not None
    assert result.expires_at == result.effective_at + timedelta(minutes=40)
    assert result.effective_at.astimezone(SHANGHAI).date() == today


def _named(calls: list[tuple[str, Any]], name: str) -> list[Any]:
    return [arg for n, arg in calls if n == name]
