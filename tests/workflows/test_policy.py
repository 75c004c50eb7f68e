"""PolicyWorkflow on the time-skipping server, activities mocked by name."""

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
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.activities import (
    InstallmentCharge,
    LedgerEntry,
    PaymentOrder,
    PolicyPayout,
    Refund,
    Settlement,
)
from domain.business import SHANGHAI, business_today
from domain.clocks import DEFAULT_CLOCKS, ProcessClocks
from domain.enrollment import MaskedCustomer
from domain.policies import (
    CHECKLIST_ITEMS,
    PolicyStage,
    PolicyState,
    PolicyStatus,
    Sealed,
    add_years,
    expires_at,
)
from domain.products import get_product
from domain.reports import DayFigures, count_policy, persistency_ends_at
from domain.underwriting import Actor, Role
from tests.support import act, record_changes_mock, working_days_mock
from workflows import search_attributes as sa
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
from workflows.policy import PolicyWorkflow, workflow_id_for

CORA = Actor(username="cora", roles=(Role.SERVICE,))
# The selling agent, even holding the service role, never does their own sale's visit.
ALICE = Actor(username="alice", roles=(Role.AGENT,))
BOB = Actor(username="bob", roles=(Role.AGENT,))
ALICE_SERVICE = Actor(username="alice", roles=(Role.AGENT, Role.SERVICE))
SUE = Actor(username="sue", roles=(Role.SUPERVISOR,), approval_limit=Decimal("5000000"))
PREMIUM = Decimal("180.00")
ACCOUNT = "***************3445"  # the mask of the application's auto-debit account
ALL_CONFIRMED = dict.fromkeys(CHECKLIST_ITEMS, True)

Handle = WorkflowHandle[Any, PolicyState]


@dataclass
class World:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    # The installments whose debit the bank declines (every try).
    declined: set[int] = field(default_factory=set)
    # The cash value payouts (by business key) the receiving bank declines.
    payouts_declined: set[str] = field(default_factory=set)

    def named(self, name: str) -> list[Any]:
        return [arg for n, arg in self.calls if n == name]

    def templates(self) -> list[str]:
        return [n.template for n in self.named(act.SEND_NOTIFICATION)]

    def activities(self) -> list[Any]:
        world = self

        @activity.defn(name=act.REFUND_PREMIUM)
        async def refund_premium(arg: Refund) -> LedgerEntry:
            world.calls.append((act.REFUND_PREMIUM, arg))
            return LedgerEntry(
                ledger_id="R1",
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="succeeded",
            )

        @activity.defn(name=act.CHARGE_INSTALLMENT)
        async def charge_installment(arg: InstallmentCharge) -> LedgerEntry:
            world.calls.append((act.CHARGE_INSTALLMENT, arg))
            n = int(arg.idempotency_key.rsplit(":", 1)[1])
            if n in world.declined:
                raise ApplicationError("declined", type="payment_declined", non_retryable=True)
            return LedgerEntry(
                ledger_id=f"L{n}",
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="succeeded",
            )

        @activity.defn(name=act.PAY_POLICY_VALUE)
        async def pay_policy_value(arg: PolicyPayout) -> LedgerEntry:
            world.calls.append((act.PAY_POLICY_VALUE, arg))
            if arg.idempotency_key in world.payouts_declined:
                raise ApplicationError("declined", type="payout_declined", non_retryable=True)
            return LedgerEntry(
                ledger_id="V1",
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="succeeded",
            )

        @activity.defn(name=act.CREATE_PAYMENT_ORDER)
        async def create_payment_order(arg: PaymentOrder) -> LedgerEntry:
            world.calls.append((act.CREATE_PAYMENT_ORDER, arg))
            return LedgerEntry(
                ledger_id="O1",
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="pending",
                order_id=arg.order_id,
            )

        @activity.defn(name=act.SETTLE_ONLINE_PAYMENT)
        async def settle_online_payment(arg: Settlement) -> LedgerEntry:
            world.calls.append((act.SETTLE_ONLINE_PAYMENT, arg))
            return LedgerEntry(
                ledger_id="O1",
                idempotency_key=arg.idempotency_key,
                amount=arg.amount,
                status="succeeded",
                order_id=arg.order_id,
            )

        return [
            record_changes_mock(world.calls),
            working_days_mock(world.calls),
            refund_premium,
            charge_installment,
            pay_policy_value,
            create_payment_order,
            settle_online_payment,
        ]

    def keys(self) -> list[str]:
        return [c.idempotency_key for c in self.named(act.CHARGE_INSTALLMENT)]

    def customer_notices(self, template: str) -> list[Any]:
        return [
            n
            for n in self.named(act.SEND_NOTIFICATION)
            if n.template == template and n.channel == "sms"
        ]


@dataclass
class Harness:
    env: WorkflowEnvironment
    world: World
    task_queue: str
    started: list[Handle] = field(default_factory=list)

    async def start(
        self,
        product: str = "TERM_LIFE_20",
        birth_date: date = date(1990, 5, 17),
        payment_account: str | None = None,
        clocks: ProcessClocks = DEFAULT_CLOCKS,
    ) -> Handle:
        number = "P" + uuid.uuid4().hex[:12].upper()
        now = datetime.now(SHANGHAI)
        effective_at = datetime.combine(
            business_today(now) + timedelta(days=1), datetime.min.time(), SHANGHAI
        )
        start = PolicyStart(
            policy_number=number,
            application_no="E" + number[1:],
            agent="alice",
            customer_id="cust-1",
            holder=MaskedCustomer(name="张*", id_number="1101**********0012", phone="138****8000"),
            holder_birth_date=birth_date,
            product_code=product,
            sum_insured=Decimal("200000"),
            premium=PREMIUM,
            issued_at=now,
            effective_at=effective_at,
            expires_at=expires_at(effective_at, get_product(product), clocks),
            payment_account=payment_account,
            clocks=clocks,
        )
        handle = await self.env.client.start_workflow(
            PolicyWorkflow.run,
            start,
            id=workflow_id_for(number),
            task_queue=self.task_queue,
            search_attributes=sa.at_start("policy", "alice", "cooling_off", "issued"),
        )
        self.started.append(handle)
        return handle

    async def visit(self, handle: Handle, actor: Actor = CORA, **fields: Any) -> PolicyState:
        return await handle.execute_update(
            PolicyWorkflow.record_return_visit,
            ReturnVisitOutcome(task_id=f"rv-{number(handle)}", actor=actor, **fields),
        )


def number(handle: Handle) -> str:
    return handle.id.removeprefix("policy-")


@pytest.fixture
async def harness(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    world = World()
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[PolicyWorkflow],
        activities=world.activities(),
    ):
        harness = Harness(time_env, world, task_queue)
        yield harness
        for handle in harness.started:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")


async def refused(coro: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await coro
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    return str(cause.type)


# --- cooling-off --------------------------------------------------------------------------


async def test_a_cancellation_in_cooling_off_refunds_the_premium_less_the_cost_once(
    harness: Harness,
) -> None:
    handle = await harness.start()
    await harness.env.sleep(timedelta(days=3))
    after = await handle.execute_update(
        PolicyWorkflow.cancel_in_cooling_off,
        PolicyCancellation(reason="customer changed mind", by="alice"),
    )
    assert after.status == PolicyStatus.CANCELLED and after.stage == PolicyStage.ENDED
    result = await handle.result()

    (refund,) = harness.world.named(act.REFUND_PREMIUM)
    assert refund.amount == Decimal("170.00")  # 180.00 less the 10.00 cost
    assert refund.idempotency_key == f"refund:{number(handle)}"
    assert refund.original_key == f"premium:E{number(handle)[1:]}"
    assert result.cancellation is not None and result.cancellation.refund_status == "succeeded"
    assert [c.status for c in harness.world.named(act.SET_POLICY_STATUS)] == [
        "effective",
        "cancelled",
    ]
    # The return visit's task closed with the policy.
    assert harness.world.named(act.CHANGE_TASK)[-1].action == "cancel"
    assert "policy_cancelled" in harness.world.templates()
    desc = await handle.describe()
    assert desc.typed_search_attributes.get(sa.STATUS) == "cancelled"


async def test_a_cancellation_after_the_cooling_off_period_is_refused_and_changes_nothing(
    harness: Harness,
) -> None:
    handle = await harness.start()
    await harness.env.sleep(timedelta(days=17))
    code = await refused(
        handle.execute_update(
            PolicyWorkflow.cancel_in_cooling_off, PolicyCancellation(reason="late", by="alice")
        )
    )
    assert code == "cooling_off_over"
    state = await handle.query(PolicyWorkflow.state)
    assert state.status == PolicyStatus.EFFECTIVE and state.stage == PolicyStage.IN_FORCE
    assert harness.world.named(act.REFUND_PREMIUM) == []


async def test_the_receipt_moves_the_cooling_off_end_and_a_second_one_is_refused(
    harness: Harness,
) -> None:
    handle = await harness.start()
    before = await handle.query(PolicyWorkflow.state)
    await harness.env.sleep(timedelta(days=5))
    state = await handle.query(PolicyWorkflow.state)
    assert state.cooling_off_ends_at == before.cooling_off_ends_at
    signed = state.history[-1].at
    after = await handle.execute_update(
        PolicyWorkflow.sign_receipt, ReceiptSigned(signed_at=signed, by="alice")
    )
    assert after.receipt_signed_at == signed
    assert after.cooling_off_ends_at is not None and before.cooling_off_ends_at is not None
    assert after.cooling_off_ends_at > before.cooling_off_ends_at
    code = await refused(
        handle.execute_update(
            PolicyWorkflow.sign_receipt, ReceiptSigned(signed_at=signed, by="alice")
        )
    )
    assert code == "receipt_already_signed"


# --- the return visit ---------------------------------------------------------------------


async def test_a_completed_return_visit_confirms_all_seven_items(harness: Harness) -> None:
    handle = await harness.start()
    state = await harness.visit(handle, decision="completed", checklist=ALL_CONFIRMED)
    assert state.return_visit is not None
    assert state.return_visit.status == "completed"
    assert state.return_visit.outcome == "7 of 7 confirmed"
    (task,) = harness.world.named(act.OPEN_TASK)
    assert task.kind == "return_visit" and task.details["checklist"] == list(CHECKLIST_ITEMS)
    change = harness.world.named(act.CHANGE_TASK)[-1]
    assert (change.action, change.by, change.decision) == ("complete", "cora", "completed")
    assert any(h.note == "return visit completed by cora: 7 of 7 confirmed" for h in state.history)


async def test_a_return_visit_with_an_unconfirmed_item_is_refused(harness: Harness) -> None:
    handle = await harness.start()
    checklist = ALL_CONFIRMED | {"surrender_loss_understood": False}
    code = await refused(harness.visit(handle, decision="completed", checklist=checklist))
    assert code == "checklist_incomplete"


async def test_a_buyer_aged_sixty_needs_the_dual_recording_check(harness: Harness) -> None:
    handle = await harness.start(birth_date=date(1960, 1, 1))
    code = await refused(harness.visit(handle, decision="completed", checklist=ALL_CONFIRMED))
    assert code == "dual_recording_required"
    state = await harness.visit(
        handle, decision="completed", checklist=ALL_CONFIRMED, dual_recording_checked=True
    )
    assert state.return_visit is not None and state.return_visit.status == "completed"


async def test_unreachable_three_times_on_later_working_days_then_escalated(
    harness: Harness,
) -> None:
    handle = await harness.start()
    state = await harness.visit(handle, decision="unreachable", reason="no answer")
    assert state.return_visit is not None and state.return_visit.status == "unreachable"
    # Not again the same day: a later working day.
    code = await refused(harness.visit(handle, decision="unreachable"))
    assert code == "return_visit_retry_too_soon"
    for _ in range(2):
        await harness.env.sleep(timedelta(days=3))  # past the next working day
        state = await harness.visit(handle, decision="unreachable", reason="no answer")
    visit = state.return_visit
    assert visit is not None and visit.status == "escalated" and visit.unreachable_tries == 3
    actions = [c.action for c in harness.world.named(act.CHANGE_TASK)]
    assert actions == ["escalate"]
    assert "return_visit_escalated" in harness.world.templates()
    asks = harness.world.named(act.ADD_WORKING_DAYS)
    assert [a.days for a in asks] == [1, 1, 1]


def report_figures(state: PolicyState, moment: datetime) -> dict[str, Any]:
    """What the reports count of the policy on the business day of ``moment``."""
    figures = DayFigures(day=business_today(moment))
    count_policy(figures, state)
    return {k: v for k, v in figures.agents.get(state.agent, {}).items() if v}


async def test_the_reports_count_an_escalation_for_unreachable_tries_on_its_day(
    harness: Harness,
) -> None:
    handle = await harness.start()
    for n in range(3):
        if n:
            await harness.env.sleep(timedelta(days=3))
        state = await harness.visit(handle, decision="unreachable", reason="no answer")
    visit = state.return_visit
    assert visit is not None and visit.status == "escalated"
    # The timeline line the workflow wrote is what the reports find the escalation by.
    assert report_figures(state, visit.attempts[-1].at) == {
        "return_visits_unreachable": 1,
        "return_visits_escalated": 1,
    }
    assert report_figures(state, visit.attempts[0].at) == {"return_visits_unreachable": 1}


async def test_the_reports_count_a_visit_open_at_the_end_of_cooling_off_as_escalated(
    harness: Harness,
) -> None:
    handle = await harness.start()
    state = await handle.query(PolicyWorkflow.state)
    ends = state.cooling_off_ends_at
    assert ends is not None
    await harness.env.sleep(ends - await harness.env.get_current_time() + timedelta(hours=1))
    state = await handle.query(PolicyWorkflow.state)
    visit = state.return_visit
    assert state.stage == PolicyStage.IN_FORCE and visit is not None
    assert visit.status == "escalated"
    assert report_figures(state, ends) == {"return_visits_escalated": 1}
    assert report_figures(state, visit.due_at) == {"return_visits_due": 1}


async def test_misselling_opens_a_remediation_for_someone_other_than_the_agent(
    harness: Harness,
) -> None:
    handle = await harness.start()
    code = await refused(harness.visit(handle, ALICE_SERVICE, decision="misselling"))
    assert code == "four_eyes_violation"

    state = await harness.visit(handle, decision="misselling", reason="cover misdescribed")
    visit = state.return_visit
    assert visit is not None and visit.status == "misselling"
    remediation = [t for t in harness.world.named(act.OPEN_TASK) if t.kind != "return_visit"]
    (task,) = remediation
    assert task.kind == "misselling_remediation" and task.task_id == visit.remediation_task_id
    (ask,) = harness.world.named(act.ADD_WORKING_DAYS)
    assert ask.days == 15
    assert visit.remediation_due_on is not None
    # 15 working days of the mocked calendar (Monday to Friday) after the visit's day, the
    # last of them the due day: 21 days from a weekday, 20 from a Saturday.
    due, span = visit.remediation_due_on, (visit.remediation_due_on - ask.after).days
    after = [ask.after + timedelta(days=d) for d in range(1, span + 1)]
    assert due.weekday() < 5 and sum(d.weekday() < 5 for d in after) == 15
    customer = [n for n in harness.world.named(act.SEND_NOTIFICATION) if n.channel == "sms"]
    assert "right_to_cancel" in [n.template for n in customer]

    resolution = RemediationResolution(task_id=task.task_id, reason="fixed", actor=CORA)
    code = await refused(
        handle.execute_update(
            PolicyWorkflow.resolve_remediation,
            resolution.model_copy(update={"actor": ALICE_SERVICE}),
        )
    )
    assert code == "four_eyes_violation"
    state = await handle.execute_update(PolicyWorkflow.resolve_remediation, resolution)
    assert state.return_visit is not None and state.return_visit.remediation_resolved_by == "cora"


async def test_a_non_service_user_may_not_record_the_visit(harness: Harness) -> None:
    handle = await harness.start()
    code = await refused(harness.visit(handle, SUE, decision="unreachable"))
    assert code == "not_customer_service"


# --- endings ------------------------------------------------------------------------------


async def test_a_one_year_policy_expires_with_a_notice_and_has_no_cooling_off(
    harness: Harness,
) -> None:
    handle = await harness.start(product="ACCIDENT_1Y")
    state = await handle.query(PolicyWorkflow.state)
    assert state.stage == PolicyStage.IN_FORCE and state.return_visit is None
    result = await handle.result()
    assert result.status == PolicyStatus.EXPIRED and result.stage == PolicyStage.ENDED
    assert [c.status for c in harness.world.named(act.SET_POLICY_STATUS)] == [
        "effective",
        "expired",
    ]
    assert harness.world.templates().count("policy_expired") == 2  # the agent and the customer
    # No return visit; the one task is the renewal offer's, cancelled unanswered at expiry.
    assert [t.kind for t in harness.world.named(act.OPEN_TASK)] == ["renewal"]


async def test_term_life_runs_twenty_policy_years_each_run_small(harness: Harness) -> None:
    handle = await harness.start(payment_account=ACCOUNT)
    await harness.visit(handle, decision="completed", checklist=ALL_CONFIRMED)
    result = await handle.result()
    assert result.status == PolicyStatus.EXPIRED
    assert result.policy_year == 20
    assert result.expires_at == add_years(result.effective_at, 20)
    # Every installment after the first debited once, on its anniversary, under its key.
    assert harness.world.keys() == [f"premium:{number(handle)}:{n}" for n in range(2, 21)]
    assert [(p.n, p.amount) for p in result.payments] == [(n, PREMIUM) for n in range(1, 21)]
    for payment in result.payments[1:]:
        due = add_years(result.effective_at, payment.n - 1)
        assert due <= payment.paid_at < due + timedelta(minutes=1)
    assert len(harness.world.customer_notices("premium_collected")) == 19
    # Reminders 30 and 7 days before each of the 19 (the customer wants them by default).
    assert len(harness.world.customer_notices("premium_reminder")) == 38
    assert harness.world.templates().count("payment_demand") == 0

    # Twenty runs, one a policy year, each history under 200 events.
    runs = await run_sizes(harness, handle)
    assert len(runs) == 20
    assert max(runs) < 200


async def run_sizes(harness: Harness, handle: Handle) -> list[int]:
    """The number of events of each run of the process, walking the chain from the first."""
    runs, run_id = [], handle.first_execution_run_id or handle.result_run_id
    while run_id:
        run = harness.env.client.get_workflow_handle(handle.id, run_id=run_id)
        history = await run.fetch_history()
        runs.append(len(history.events))
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            else None
        )
    return runs


async def test_with_a_two_minute_policy_year_term_life_runs_its_twenty_years_in_forty_minutes(
    harness: Harness,
) -> None:
    short = ProcessClocks(policy_year=timedelta(minutes=2))
    handle = await harness.start(payment_account=ACCOUNT, clocks=short)
    await harness.visit(handle, decision="completed", checklist=ALL_CONFIRMED)
    result = await handle.result()

    effective_at, minutes = result.effective_at, timedelta(minutes=1)
    assert result.status == PolicyStatus.EXPIRED and result.policy_year == 20
    assert result.expires_at == effective_at + 40 * minutes
    assert result.ended_at is not None
    assert 40 * minutes <= result.ended_at - effective_at < 41 * minutes
    # Every installment after the first debited once, at the start of its short year.
    assert harness.world.keys() == [f"premium:{number(handle)}:{n}" for n in range(2, 21)]
    assert [(p.n, p.amount) for p in result.payments] == [(n, PREMIUM) for n in range(1, 21)]
    for payment in result.payments[1:]:
        due = effective_at + (payment.n - 1) * 2 * minutes
        assert due <= payment.paid_at < due + minutes
    assert len(harness.world.customer_notices("premium_collected")) == 19
    assert harness.world.templates().count("payment_demand") == 0
    assert len(await run_sizes(harness, handle)) == 20  # one run a short policy year
    # Day clocks keep their days: the fifteen-day cooling-off outlasts the whole term.
    assert result.stage == PolicyStage.ENDED
    assert result.cooling_off_ends_at is not None and result.cooling_off_ends_at > result.ended_at


# --- renewal premiums ----------------------------------------------------------------------


async def first_anniversary(harness: Harness, handle: Handle, after: timedelta) -> PolicyState:
    """The policy's state ``after`` its first anniversary (installment 2's due moment)."""
    state = await handle.query(PolicyWorkflow.state)
    due = add_years(state.effective_at, 1)
    await harness.env.sleep(due + after - await harness.env.get_current_time())
    return await harness.env.client.get_workflow_handle(handle.id).query(PolicyWorkflow.state)


async def test_a_missed_premium_is_retried_demanded_then_the_policy_is_in_grace_and_suspended(
    harness: Harness,
) -> None:
    harness.world.declined.add(2)
    handle = await harness.start(payment_account=ACCOUNT)
    await harness.visit(handle, decision="completed", checklist=ALL_CONFIRMED)

    state = await first_anniversary(harness, handle, timedelta(days=2))
    assert state.status == PolicyStatus.GRACE  # overdue from the day after it was due
    assert harness.world.keys() == [f"premium:{number(handle)}:2"] * 2  # on the day, day 1
    (failed,) = harness.world.customer_notices("premium_debit_failed")  # told once
    assert failed.params["amount"] == "180.00"

    state = await first_anniversary(harness, handle, timedelta(days=8))
    assert len(harness.world.keys()) == 4  # and days 3 and 7: then no more tries
    assert state.demand_at is not None and state.status == PolicyStatus.GRACE
    (demand,) = harness.world.customer_notices("payment_demand")
    # Grace: the earlier of 60 days from the due date and 30 from the demand.
    assert state.grace_ends_at == datetime.combine(
        business_today(state.demand_at) + timedelta(days=31), datetime.min.time(), SHANGHAI
    )
    assert (
        demand.params["grace_ends_on"]
        == (business_today(state.demand_at) + timedelta(days=30)).isoformat()
    )
    assert harness.world.templates().count("payment_demand") == 2  # the agent too

    state = await first_anniversary(harness, handle, timedelta(days=40))
    assert state.status == PolicyStatus.SUSPENDED
    assert state.suspended_at is not None and state.grace_ends_at is None
    assert [p.n for p in state.payments] == [1]
    statuses = [c.status for c in harness.world.named(act.SET_POLICY_STATUS)]
    assert statuses == ["effective", "grace", "suspended"]
    (suspended,) = harness.world.customer_notices("policy_suspended")
    assert (
        suspended.params["deadline"] == add_years(business_today(state.suspended_at), 2).isoformat()
    )
    assert len(harness.world.keys()) == 4  # a suspended policy is not debited


async def test_a_premium_paid_on_a_retry_ends_grace(harness: Harness) -> None:
    harness.world.declined.add(2)
    handle = await harness.start(payment_account=ACCOUNT)
    state = await first_anniversary(harness, handle, timedelta(days=2))
    assert state.status == PolicyStatus.GRACE
    harness.world.declined.clear()  # the customer tops up the account
    state = await first_anniversary(harness, handle, timedelta(days=4))
    assert state.status == PolicyStatus.EFFECTIVE
    assert [p.n for p in state.payments] == [1, 2]
    assert harness.world.keys() == [f"premium:{number(handle)}:2"] * 3
    assert harness.world.templates().count("payment_demand") == 0
    statuses = [c.status for c in harness.world.named(act.SET_POLICY_STATUS)]
    assert statuses == ["effective", "grace", "effective"]


async def test_an_online_payer_gets_an_order_and_its_callback_pays_the_installment(
    harness: Harness,
) -> None:
    handle = await harness.start()  # no auto-debit account: an online payer
    state = await first_anniversary(harness, handle, timedelta(hours=1))
    order_id = f"PO-{number(handle)}-2"
    assert state.payment_order == order_id
    (order,) = harness.world.named(act.CREATE_PAYMENT_ORDER)
    assert order.idempotency_key == f"premium:{number(handle)}:2" and order.amount == PREMIUM
    assert harness.world.customer_notices("premium_payment_requested")
    current = latest(harness, handle)
    notice = PaymentNotice(
        order_id=order_id, amount=PREMIUM, paid_at=datetime.now(SHANGHAI), gateway_ref="G1"
    )
    wrong = notice.model_copy(update={"amount": Decimal("1.00")})
    assert await refused(current.execute_update(PolicyWorkflow.confirm_payment, wrong)) == (
        "amount_mismatch"
    )
    after = await current.execute_update(PolicyWorkflow.confirm_payment, notice)
    assert [p.n for p in after.payments] == [1, 2] and after.payment_order is None
    assert await refused(current.execute_update(PolicyWorkflow.confirm_payment, notice)) == (
        "payment_not_expected"
    )
    (settled,) = harness.world.named(act.SETTLE_ONLINE_PAYMENT)
    assert settled.idempotency_key == f"premium:{number(handle)}:2"
    assert harness.world.keys() == []  # nothing debited


async def test_no_reminders_for_a_customer_who_turned_them_off(harness: Harness) -> None:
    handle = await harness.start(payment_account=ACCOUNT)
    await handle.execute_update(
        PolicyWorkflow.change_servicing, ServicingChange(premium_reminders=False, actor=ALICE)
    )
    state = await first_anniversary(harness, handle, timedelta(hours=1))
    assert [p.n for p in state.payments] == [1, 2]
    assert harness.world.customer_notices("premium_reminder") == []


async def suspended_policy(harness: Harness) -> tuple[Handle, PolicyState]:
    """A TERM_LIFE_20 whose second premium the bank declined: suspended in year two."""
    harness.world.declined.add(2)
    handle = await harness.start(payment_account=ACCOUNT)
    await harness.visit(handle, decision="completed", checklist=ALL_CONFIRMED)
    state = await first_anniversary(harness, handle, timedelta(days=40))
    assert state.status == PolicyStatus.SUSPENDED
    return harness.env.client.get_workflow_handle(handle.id), state


def latest(harness: Harness, handle: Handle) -> Handle:
    return harness.env.client.get_workflow_handle(handle.id)


async def test_a_reinstatement_approved_collects_the_arrears_and_puts_the_policy_back_in_force(
    harness: Harness,
) -> None:
    handle, _ = await suspended_policy(harness)
    # Only the agent applies; a second application while one is decided is refused.
    assert (
        await refused(
            handle.execute_update(
                PolicyWorkflow.apply_for_reinstatement, ReinstatementApplication(by="bob")
            )
        )
        == "not_your_case"
    )
    applied = await handle.execute_update(
        PolicyWorkflow.apply_for_reinstatement, ReinstatementApplication(by="alice")
    )
    (pending,) = applied.reinstatements
    assert pending.status == "applied" and pending.task_id == f"ri-{number(handle)}-1"
    assert (
        await refused(
            handle.execute_update(
                PolicyWorkflow.apply_for_reinstatement, ReinstatementApplication(by="alice")
            )
        )
        == "not_reinstatable"
    )
    (task,) = [t for t in harness.world.named(act.OPEN_TASK) if t.kind == "reinstatement"]
    assert task.amount == PREMIUM and task.submitted_by == "alice"

    # Four eyes and authority: not the agent, and only a supervisor.
    for actor, code in ((ALICE, "four_eyes_violation"), (BOB, "not_a_supervisor")):
        verdict = ReinstatementDecision(
            task_id=pending.task_id, decision="approve", reason="ok", actor=actor
        )
        assert (
            await refused(handle.execute_update(PolicyWorkflow.decide_reinstatement, verdict))
            == code
        )
    harness.world.declined.clear()  # the account is funded again
    after = await handle.execute_update(
        PolicyWorkflow.decide_reinstatement,
        ReinstatementDecision(
            task_id=pending.task_id, decision="approve", reason="health unchanged", actor=SUE
        ),
    )
    assert after.status == PolicyStatus.EFFECTIVE and after.suspended_at is None
    assert after.reinstatements[-1].status == "reinstated"
    assert after.reinstatements[-1].charged == PREMIUM  # no interest by default
    assert [p.n for p in after.payments] == [1, 2]
    assert harness.world.keys()[-1] == f"reinstatement:{number(handle)}:1"
    assert harness.world.customer_notices("policy_reinstated")
    statuses = [c.status for c in harness.world.named(act.SET_POLICY_STATUS)]
    assert statuses[-2:] == ["suspended", "effective"]


async def test_a_reinstatement_refused_with_a_risk_reason_leaves_the_policy_suspended(
    harness: Harness,
) -> None:
    handle, _ = await suspended_policy(harness)
    applied = await handle.execute_update(
        PolicyWorkflow.apply_for_reinstatement, ReinstatementApplication(by="alice")
    )
    task_id = applied.reinstatements[-1].task_id
    after = await handle.execute_update(
        PolicyWorkflow.decide_reinstatement,
        ReinstatementDecision(
            task_id=task_id, decision="reject", reason="new diagnosis: risk", actor=SUE
        ),
    )
    assert after.status == PolicyStatus.SUSPENDED
    assert (after.reinstatements[-1].status, after.reinstatements[-1].decided_by) == (
        "refused",
        "sue",
    )
    assert "reinstatement_refused" in harness.world.templates()
    assert not [k for k in harness.world.keys() if k.startswith("reinstatement:")]


async def test_no_decision_within_thirty_days_counts_as_consent(harness: Harness) -> None:
    handle, _ = await suspended_policy(harness)
    harness.world.declined.clear()
    applied = await handle.execute_update(
        PolicyWorkflow.apply_for_reinstatement, ReinstatementApplication(by="alice")
    )
    deemed = applied.reinstatements[-1].deemed_consent_at
    await harness.env.sleep(deemed - await harness.env.get_current_time() + timedelta(hours=1))
    after = await latest(harness, handle).query(PolicyWorkflow.state)
    assert after.status == PolicyStatus.EFFECTIVE
    last = after.reinstatements[-1]
    assert (last.status, last.decided_by) == ("reinstated", "system")


async def test_two_years_suspended_ends_the_policy_terminated_with_its_cash_value(
    harness: Harness,
) -> None:
    _, state = await suspended_policy(harness)
    assert state.suspended_at is not None
    handle = harness.started[-1]  # its result follows every run to the last
    result = await handle.result()
    assert result.status == PolicyStatus.TERMINATED and result.stage == PolicyStage.ENDED
    assert result.termination_reason == "not_reinstated"
    assert result.ended_at is not None
    assert result.ended_at >= add_years(state.suspended_at, 2)
    (payout,) = harness.world.named(act.PAY_POLICY_VALUE)
    assert payout.idempotency_key == f"termination:{number(handle)}"
    # One year paid of TERM_LIFE_20: the cash value at the end of year one.
    assert payout.amount == Decimal("180.00") * get_product("TERM_LIFE_20").cash_values[1] / 1000
    assert harness.world.customer_notices("policy_terminated")


async def test_the_reports_count_a_suspension_and_a_reinstatement_on_their_days(
    harness: Harness,
) -> None:
    handle, suspended = await suspended_policy(harness)
    assert suspended.suspended_at is not None
    applied = await handle.execute_update(
        PolicyWorkflow.apply_for_reinstatement, ReinstatementApplication(by="alice")
    )
    harness.world.declined.clear()
    after = await handle.execute_update(
        PolicyWorkflow.decide_reinstatement,
        ReinstatementDecision(
            task_id=applied.reinstatements[-1].task_id,
            decision="approve",
            reason="health unchanged",
            actor=SUE,
        ),
    )
    # The reinstatement clears suspended_at: the timeline the workflow wrote keeps both.
    assert after.suspended_at is None
    assert report_figures(after, suspended.suspended_at) == {"policies_suspended": 1}
    assert report_figures(after, after.history[-1].at) == {"policies_reinstated": 1}
    # Its 13th month ended in grace, before the reinstatement paid installment 2.
    assert report_figures(after, persistency_ends_at(after)) == {"persistency_13m_due": 1}


async def test_the_reports_count_a_termination_not_reinstated_on_its_day(
    harness: Harness,
) -> None:
    await suspended_policy(harness)
    result = await harness.started[-1].result()
    assert result.ended_at is not None
    assert report_figures(result, result.ended_at) == {"policies_terminated_not_reinstated": 1}


async def test_the_reports_count_a_policy_paid_on_time_as_persistent_and_its_surrender(
    harness: Harness,
) -> None:
    handle = await harness.start(payment_account=ACCOUNT)
    await first_anniversary(harness, handle, timedelta(days=100))
    after = await latest(harness, handle).execute_update(
        PolicyWorkflow.surrender, SurrenderRequest(reason="needs the money", by="alice")
    )
    assert after.ended_at is not None
    paid = {"persistency_13m_due": 1, "persistency_13m_paid": 1}
    assert report_figures(after, persistency_ends_at(after)) == paid
    assert report_figures(after, after.ended_at) == {"policies_surrendered": 1}


async def test_a_surrender_after_cooling_off_pays_the_cash_value_once(harness: Harness) -> None:
    handle = await harness.start(payment_account=ACCOUNT)
    # Within cooling-off the customer cancels instead.
    ask = SurrenderRequest(reason="needs the money", by="alice")
    assert await refused(handle.execute_update(PolicyWorkflow.surrender, ask)) == (
        "use_cooling_off_cancellation"
    )
    await first_anniversary(harness, handle, timedelta(days=100))
    current = latest(harness, handle)
    assert (
        await refused(
            current.execute_update(PolicyWorkflow.surrender, ask.model_copy(update={"by": "bob"}))
        )
        == "not_your_case"
    )
    after = await current.execute_update(PolicyWorkflow.surrender, ask)
    assert after.status == PolicyStatus.SURRENDERED and after.stage == PolicyStage.ENDED
    assert after.surrender is not None and after.surrender.payout_status == "succeeded"
    (payout,) = harness.world.named(act.PAY_POLICY_VALUE)
    assert payout.idempotency_key == f"surrender:{number(handle)}"
    assert payout.amount == after.surrender.cash_value > 0
    assert after.surrender.pay_by > after.surrender.at
    assert harness.world.customer_notices("policy_surrendered")


async def test_a_declined_surrender_payout_waits_for_a_corrected_account_then_pays(
    harness: Harness,
) -> None:
    handle = await harness.start(payment_account=ACCOUNT)
    await first_anniversary(harness, handle, timedelta(days=100))
    current = latest(harness, handle)
    key = f"surrender:{number(handle)}"
    harness.world.payouts_declined.add(key)
    asked = await current.execute_update(
        PolicyWorkflow.surrender, SurrenderRequest(reason="needs the money", by="alice")
    )
    # The cover has ended: surrendered at once, the value owed, a task for ops.
    assert asked.status == PolicyStatus.SURRENDERED and asked.ended_at is not None
    assert asked.surrender is not None and asked.surrender.payout_status == "declined"
    owed = asked.value_payout
    assert owed is not None and (owed.status, owed.refusal) == ("declined", "payout_declined")
    assert owed.task_id == f"vp-{number(handle)}-1"
    (task,) = [t for t in harness.world.named(act.OPEN_TASK) if t.kind == "value_payout_failed"]
    assert task.task_id == owed.task_id and task.amount == owed.amount
    assert "value_payout_failed" in harness.world.templates()
    assert not harness.world.customer_notices("policy_surrendered")  # not paid: not said
    # Nothing else is taken meanwhile; a fix is taken once.
    assert (
        await refused(
            current.execute_update(
                PolicyWorkflow.surrender, SurrenderRequest(reason="x", by="alice")
            )
        )
        == "already_surrendered"
    )
    fix = ValuePayoutFix(payee_account=NEW_ACCOUNT, by="olga", reason="the customer's new bank")
    harness.world.payouts_declined.add(f"{key}:2")  # the second account is refused too
    again = await current.execute_update(PolicyWorkflow.fix_payout, fix)
    assert again.value_payout is not None and again.value_payout.status == "declined"
    assert again.value_payout.task_id == f"vp-{number(handle)}-2"
    harness.world.payouts_declined.clear()
    paid = await current.execute_update(PolicyWorkflow.fix_payout, fix)
    assert paid.value_payout is not None and paid.value_payout.status == "paid"
    assert paid.surrender is not None and paid.surrender.payout_status == "succeeded"
    result = await handle.result()  # the first run's handle follows every run to the last
    assert result.status == PolicyStatus.SURRENDERED and result.stage == PolicyStage.ENDED
    assert result.ended_at == asked.ended_at  # the cover ended when it was asked
    keys = [p.idempotency_key for p in harness.world.named(act.PAY_POLICY_VALUE)]
    assert keys == [key, f"{key}:2", f"{key}:3"]
    assert harness.world.named(act.PAY_POLICY_VALUE)[-1].account == fix.payee_account
    assert harness.world.customer_notices("policy_surrendered")
    assert (await current.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_a_fix_with_no_declined_payout_is_refused(harness: Harness) -> None:
    handle = await harness.start(payment_account=ACCOUNT)
    fix = ValuePayoutFix(payee_account=NEW_ACCOUNT, by="olga")
    assert await refused(handle.execute_update(PolicyWorkflow.fix_payout, fix)) == (
        "no_failed_payout"
    )


async def test_a_paid_death_claim_ends_a_life_policy_and_its_premiums(harness: Harness) -> None:
    handle = await harness.start(payment_account=ACCOUNT)
    # A claim that leaves cover (hospital) is not the policy's ending.
    await handle.signal(
        PolicyWorkflow.claim_paid,
        ClaimPaid(claim_no="C1", incident_type="hospitalisation", amount=Decimal("900.00")),
    )
    assert (await handle.query(PolicyWorkflow.state)).status == PolicyStatus.ISSUED
    await handle.signal(
        PolicyWorkflow.claim_paid,
        ClaimPaid(claim_no="C2", incident_type="death", amount=Decimal("200000.00")),
    )
    result = await handle.result()
    assert result.status == PolicyStatus.TERMINATED
    assert result.termination_reason == "claim_paid"
    assert harness.world.keys() == []  # no premium after
    assert harness.world.customer_notices("policy_ended_by_claim")
    # The return visit's task, still open, is closed with it.
    (closed,) = [c for c in harness.world.named(act.CHANGE_TASK) if c.action == "cancel"]
    assert closed.task_id == f"rv-{number(handle)}"


async def renewal_window(harness: Harness, handle: Handle) -> PolicyState:
    """A one-year policy's state a day after its renewal window opened."""
    state = await handle.query(PolicyWorkflow.state)
    opens = state.expires_at - timedelta(days=30)
    await harness.env.sleep(opens + timedelta(days=1) - await harness.env.get_current_time())
    return await handle.query(PolicyWorkflow.state)


async def test_a_one_year_renewal_accepted_is_collected_at_expiry_and_runs_a_new_period(
    harness: Harness,
) -> None:
    handle = await harness.start(product="MEDICAL_1Y", payment_account=ACCOUNT)
    early = RenewalDecision(decision="accept", by="alice")
    assert await refused(handle.execute_update(PolicyWorkflow.decide_renewal, early)) == (
        "renewal_window_closed"
    )
    state = await renewal_window(harness, handle)
    assert state.renewal is not None and state.renewal.status == "offered"
    assert state.renewal.guaranteed is False  # MEDICAL_1Y says so, and the SMS too
    assert harness.world.customer_notices("renewal_offered_not_guaranteed")
    (task,) = [t for t in harness.world.named(act.OPEN_TASK) if t.kind == "renewal"]
    assert task.task_id == f"rn-{number(handle)}-2"
    assert (
        await refused(
            handle.execute_update(
                PolicyWorkflow.decide_renewal, RenewalDecision(decision="accept", by="bob")
            )
        )
        == "not_your_case"
    )
    after = await handle.execute_update(PolicyWorkflow.decide_renewal, early)
    assert after.renewal is not None and after.renewal.status == "accepted"

    await harness.env.sleep(timedelta(days=31))
    renewed = await latest(harness, handle).query(PolicyWorkflow.state)
    assert renewed.period == 2 and renewed.status == PolicyStatus.EFFECTIVE
    assert renewed.effective_at == state.effective_at  # cover continuous: no new waiting
    assert renewed.period_started_at == state.expires_at
    assert renewed.expires_at == add_years(state.expires_at, 1)
    assert harness.world.keys() == [f"premium:{number(handle)}:2"]
    assert harness.world.customer_notices("policy_renewed")


@pytest.mark.parametrize("answer", ["decline", None])
async def test_a_one_year_renewal_declined_or_unanswered_expires(
    harness: Harness, answer: str | None
) -> None:
    handle = await harness.start(product="ACCIDENT_1Y", payment_account=ACCOUNT)
    await renewal_window(harness, handle)
    if answer is not None:
        decision = RenewalDecision(decision="decline", by="alice")
        await handle.execute_update(PolicyWorkflow.decide_renewal, decision)
    result = await handle.result()
    assert result.status == PolicyStatus.EXPIRED and result.period == 1
    assert harness.world.keys() == []
    renewal_task = [c for c in harness.world.named(act.CHANGE_TASK) if c.task_id.startswith("rn-")]
    assert [c.action for c in renewal_task] == ["complete" if answer else "cancel"]


# --- servicing changes (保全) --------------------------------------------------------------

NEW_PHONE = Sealed(enc="test-1:c2VhbGVkLXBob25l", masked="139****0000")
NEW_ACCOUNT = Sealed(enc="test-1:c2VhbGVkLWFjY291bnQ", masked="************4321")


async def opened(harness: Harness) -> None:
    """Wait, with a deadline, until the policy's opening (its cooling-off notice and
    return visit task) is written, so a later batch is the Update's own."""
    deadline = asyncio.get_running_loop().time() + 10
    while not harness.world.named(act.OPEN_TASK):
        assert asyncio.get_running_loop().time() < deadline, "the policy never opened"
        await asyncio.sleep(0.05)


async def test_a_phone_and_account_change_is_applied_in_the_same_write_as_the_state(
    harness: Harness,
) -> None:
    handle = await harness.start()
    await opened(harness)
    after = await handle.execute_update(
        PolicyWorkflow.change_servicing,
        ServicingChange(phone=NEW_PHONE, payment_account=NEW_ACCOUNT, actor=CORA),
    )
    # The state keeps only the masks; the sealed values go to the read model's rows.
    assert after.holder.phone == "139****0000"
    assert after.payment_account == "************4321"
    assert [(e.note, e.by) for e in after.history[-2:]] == [
        ("phone number changed", "cora"),
        ("payment account changed", "cora"),
    ]
    (phone,) = harness.world.named(act.CHANGE_CUSTOMER_PHONE)
    assert phone.customer_id == "cust-1" and phone.phone == NEW_PHONE
    (account,) = harness.world.named(act.CHANGE_PAYMENT_ACCOUNT)
    assert account.policy_number == number(handle) and account.account == NEW_ACCOUNT
    # One batch: the state recorded and both writes, in the Update's own step.
    names = [n for n, _ in harness.world.calls]
    last = len(names) - 1 - names[::-1].index(act.RECORD_POLICY)
    assert names[last + 1 : last + 3] == [act.CHANGE_CUSTOMER_PHONE, act.CHANGE_PAYMENT_ACCOUNT]
    assert after.premium_reminders is True  # untouched


async def test_the_customer_is_told_of_each_servicing_change_once(harness: Harness) -> None:
    handle = await harness.start()
    for change in (
        ServicingChange(phone=NEW_PHONE, actor=CORA),
        ServicingChange(premium_reminders=False, actor=ALICE),
    ):
        await handle.execute_update(PolicyWorkflow.change_servicing, change)
    told = [
        n for n in harness.world.named(act.SEND_NOTIFICATION) if n.template == "servicing_changed"
    ]
    # One SMS per change, each under its own key, with no value of the change in it.
    assert [n.channel for n in told] == ["sms", "sms"]
    assert len({n.key for n in told}) == 2
    assert all(n.recipient == f"customer:{number(handle)}" for n in told)
    assert all(set(n.params) == {"policy_number", "on"} for n in told)
    # A refused change tells no one.
    await refused(
        handle.execute_update(PolicyWorkflow.change_servicing, ServicingChange(actor=ALICE))
    )
    assert harness.world.templates().count("servicing_changed") == 2


async def test_a_servicing_change_is_refused_at_once_for_a_stranger_or_nothing_asked(
    harness: Harness,
) -> None:
    handle = await harness.start()
    before = await handle.query(PolicyWorkflow.state)
    stranger = ServicingChange(phone=NEW_PHONE, actor=BOB)
    assert await refused(handle.execute_update(PolicyWorkflow.change_servicing, stranger)) == (
        "not_your_case"
    )
    empty = ServicingChange(actor=ALICE)
    assert await refused(handle.execute_update(PolicyWorkflow.change_servicing, empty)) == (
        "nothing_to_change"
    )
    assert await handle.query(PolicyWorkflow.state) == before
    assert harness.world.named(act.CHANGE_CUSTOMER_PHONE) == []
    # The agent may turn reminders off; nothing else moves.
    after = await handle.execute_update(
        PolicyWorkflow.change_servicing, ServicingChange(premium_reminders=False, actor=ALICE)
    )
    assert after.premium_reminders is False and after.holder.phone == before.holder.phone
