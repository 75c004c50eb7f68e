"""Regenerate the golden histories in this folder from real runs of the workflows.

Run from the repository root: ``python -m tests.histories.regenerate`` (``make histories``),
or name scenarios to write only those: ``python -m tests.histories.regenerate claim-paid_auto``.

Each scenario runs on Temporal's time-skipping test server with the activities mocked by
name, exactly as the workflow tests drive them (their ``World`` and ``Harness`` are reused),
waits for its ending and writes the history as ``<process>-<ending>.json``. Payloads are
encrypted with the fixed test keyring, so the files hold no plaintext personal data.
Read README.md before regenerating: a replay failure is fixed with ``workflow.patched``,
not by regenerating.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.temporal import data_converter
from domain.claims import ClaimStage
from domain.enrollment import CheckResult, PaymentMethod, Verification
from domain.products import IncidentType
from tests.histories.timelines import timeline_path, timeline_words
from tests.support import BIN, CUSTOMER_ID_NUMBER, TEST_KEYRING, act
from tests.workflows import test_claim as claim_tests
from tests.workflows import test_enrollment as enrollment_tests
from tests.workflows import test_policy as policy_tests
from workers.namespace import register_search_attributes
from workflows.claim import ClaimWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.inputs import (
    ClaimAppeal,
    ClaimPaid,
    DocumentsSupplement,
    PaymentNotice,
    PayoutFix,
    PolicyCancellation,
    ReceiptSigned,
    ReinstatementApplication,
    ReinstatementDecision,
    RemediationResolution,
    RenewalDecision,
    ServicingChange,
    SurrenderRequest,
    UnderwritingDecision,
    ValuePayoutFix,
    Withdrawal,
)
from workflows.policy import PolicyWorkflow

HERE = Path(__file__).parent
SCENARIO_TIMEOUT = 120  # seconds of wall time; the server skips the workflow time
# Plaintext that must never reach a history file: the payload codec encrypts it.
PERSONAL_DATA = (
    CUSTOMER_ID_NUMBER,
    "13800138000",
    "6222020200112233445",
    "6222020200999988887",
    "张三",
)

EnrollmentHarness = enrollment_tests.Harness
ClaimHarness = claim_tests.Harness
PolicyHarness = policy_tests.Harness
Handle = WorkflowHandle[Any, Any]


@dataclass(frozen=True)
class Scenario:
    process: str  # "enrollment" | "claim" | "policy"
    ending: str
    status: str  # the status the process must end in, checked before writing
    drive: Callable[[Any], Awaitable[Handle]]

    @property
    def name(self) -> str:
        return f"{self.process}-{self.ending}"


SCENARIOS: list[Scenario] = []


def scenario(process: str, ending: str, status: str) -> Callable[[Any], Any]:
    def register(drive: Callable[[Any], Awaitable[Handle]]) -> Callable[[Any], Any]:
        SCENARIOS.append(Scenario(process, ending, status, drive))
        return drive

    return register


async def ended_cancelled(handle: Handle) -> Handle:
    try:
        await handle.result()
    except WorkflowFailureError as ended:
        if not isinstance(ended.cause, CancelledError):
            raise
    else:
        raise AssertionError(f"{handle.id} completed instead of ending cancelled")
    return handle


# --- enrollment ----------------------------------------------------------------------------

SUE, SID = enrollment_tests.SUE, enrollment_tests.SID


def uw_task_id(handle: Handle) -> str:
    return f"uw-{handle.id.removeprefix('enrollment-')}"


@scenario("enrollment", "effective", "effective")
async def enrollment_effective(h: EnrollmentHarness) -> Handle:
    handle = await h.start()
    await h.apply(handle, sum_insured="200000")
    await handle.result()
    return handle


@scenario("enrollment", "effective_after_supervisor", "effective")
async def enrollment_effective_after_supervisor(h: EnrollmentHarness) -> Handle:
    handle = await h.start()
    await h.apply(handle, sum_insured="1000000")
    task = await h.wait_for_call(act.OPEN_TASK)
    await h.env.sleep(timedelta(hours=49))  # past the reminder and the escalation
    await handle.execute_update(
        EnrollmentWorkflow.decide,
        UnderwritingDecision(task_id=task.task_id, decision="approve", reason="fine", actor=SUE),
    )
    await handle.result()
    return handle


@scenario("enrollment", "rejected_by_supervisor", "rejected")
async def enrollment_rejected_by_supervisor(h: EnrollmentHarness) -> Handle:
    handle = await h.start()
    await h.apply(handle, sum_insured="1000000")
    await h.wait_for_call(act.OPEN_TASK)
    await handle.execute_update(
        EnrollmentWorkflow.decide,
        UnderwritingDecision(
            task_id=uw_task_id(handle), decision="reject", reason="medical history", actor=SID
        ),
    )
    await handle.result()
    return handle


@scenario("enrollment", "rejected_by_verification", "rejected")
async def enrollment_rejected_by_verification(h: EnrollmentHarness) -> Handle:
    h.world.verification = Verification(
        passed=False,
        failure_code="sanctions_hit",
        checks=[CheckResult(name="sanctions", passed=False, detail="listed")],
    )
    handle = await h.start()
    await h.apply(handle)
    await handle.result()
    return handle


@scenario("enrollment", "withdrawn", "withdrawn")
async def enrollment_withdrawn(h: EnrollmentHarness) -> Handle:
    handle = await h.start()
    await h.apply(handle, sum_insured="1000000")
    await h.wait_for_call(act.OPEN_TASK)  # withdrawn with an open task, which is cancelled
    await handle.execute_update(
        EnrollmentWorkflow.withdraw, Withdrawal(by="alice", reason="customer changed mind")
    )
    await handle.result()
    return handle


@scenario("enrollment", "lapsed", "lapsed")
async def enrollment_lapsed(h: EnrollmentHarness) -> Handle:
    handle = await h.start()
    await h.apply(handle, method=PaymentMethod.ONLINE)
    await handle.result()
    return handle


@scenario("enrollment", "paid_online", "effective")
async def enrollment_paid_online(h: EnrollmentHarness) -> Handle:
    handle = await h.start()
    await h.apply(handle, method=PaymentMethod.ONLINE)
    order = await h.wait_for_call(act.CREATE_PAYMENT_ORDER)
    await handle.execute_update(
        EnrollmentWorkflow.confirm_payment,
        PaymentNotice(
            order_id=order.order_id,
            amount=order.amount,
            paid_at=datetime.now().astimezone(),
            gateway_ref="GW-1",
        ),
    )
    await handle.result()
    return handle


@scenario("enrollment", "expired", "expired")
async def enrollment_expired(h: EnrollmentHarness) -> Handle:
    handle = await h.start()
    await h.apply(handle, sum_insured="1000000")  # nobody decides the underwriting task
    await handle.result()
    return handle


@scenario("enrollment", "failed", "failed")
async def enrollment_failed(h: EnrollmentHarness) -> Handle:
    h.world.decline = True
    handle = await h.start()
    await h.apply(handle)
    await handle.result()
    return handle


@scenario("enrollment", "cancelled", "cancelled")
async def enrollment_cancelled(h: EnrollmentHarness) -> Handle:
    # Cancelled after the charge, waiting to take effect: refund, policy cancelled.
    handle = await h.start()
    await h.apply(handle, sum_insured="200000")
    await h.wait_for_call(act.ISSUE_POLICY)
    await handle.cancel()
    await ended_cancelled(handle)
    assert h.world.named(act.REFUND_PREMIUM), "the premium was not refunded"
    return handle


@scenario("enrollment", "cancelled_in_underwriting", "cancelled")
async def enrollment_cancelled_in_underwriting(h: EnrollmentHarness) -> Handle:
    # Cancelled with an open task and nothing charged: the task is cancelled.
    handle = await h.start()
    await h.apply(handle, sum_insured="1000000")
    await h.wait_for_call(act.OPEN_TASK)
    await handle.cancel()
    return await ended_cancelled(handle)


# --- claim ---------------------------------------------------------------------------------

CSUE, CSID, CSAM = claim_tests.SUE, claim_tests.SID, claim_tests.SAM


@scenario("claim", "paid_auto", "paid")
async def claim_paid_auto(h: ClaimHarness) -> Handle:
    handle = await h.report(amount="3000.00")
    await handle.result()
    return handle


@scenario("claim", "paid_single", "paid")
async def claim_paid_single(h: ClaimHarness) -> Handle:
    handle = await h.report(amount="200000.00")
    await h.decide(handle, CSAM)
    await handle.result()
    return handle


@scenario("claim", "paid_dual", "paid")
async def claim_paid_dual(h: ClaimHarness) -> Handle:
    h.world.sum_insured = Decimal("5000000")
    handle = await h.report(amount="1500000.00")
    await h.decide(handle, CSID)
    await h.decide(handle, CSUE)
    await handle.result()
    return handle


@scenario("claim", "request_info_then_paid", "paid")
async def claim_request_info_then_paid(h: ClaimHarness) -> Handle:
    handle = await h.report(amount="200000.00")
    await h.decide(handle, CSUE, "request_info", missing=["medical_records"])
    await h.until(handle, lambda s: s.stage == ClaimStage.DOCUMENTS_PENDING)
    await handle.execute_update(
        ClaimWorkflow.supplement_documents,
        DocumentsSupplement(documents=claim_tests.docs("medical_records"), by="alice"),
    )
    await h.until(handle, lambda s: s.stage == ClaimStage.AWAITING_APPROVAL)
    await h.decide(handle, CSUE)
    await handle.result()
    return handle


@scenario("claim", "documents_withdrawn", "withdrawn")
async def claim_documents_withdrawn(h: ClaimHarness) -> Handle:
    handle = await h.report(documents=["claim_form"])  # reminders, then the deadline
    await handle.result()
    return handle


@scenario("claim", "rejected_closed", "rejected")
async def claim_rejected_closed(h: ClaimHarness) -> Handle:
    handle = await h.report(amount="200000.00")
    await h.decide(handle, CSID, "reject")
    await handle.result()  # the appeal window passes unused
    return handle


@scenario("claim", "appeal_paid", "paid")
async def claim_appeal_paid(h: ClaimHarness) -> Handle:
    handle = await h.report(amount="200000.00")
    await h.decide(handle, CSID, "reject")
    await h.until(handle, lambda s: s.stage == ClaimStage.REJECTED)
    await handle.execute_update(
        ClaimWorkflow.appeal, ClaimAppeal(by="alice", reason="new evidence")
    )
    await h.decide(handle, CSUE)
    await handle.result()
    return handle


@scenario("claim", "payout_declined_then_paid", "paid")
async def claim_payout_declined_then_paid(h: ClaimHarness) -> Handle:
    h.world.declines_left = 1
    handle = await h.report()
    await h.until(handle, lambda s: s.stage == ClaimStage.PAYOUT_FAILED)
    await handle.execute_update(
        ClaimWorkflow.fix_payout, PayoutFix(payee_account="6222020200999988887", by="olga")
    )
    await handle.result()
    return handle


@scenario("claim", "paid_ending_the_policy", "paid")
async def claim_paid_ending_the_policy(h: ClaimHarness) -> Handle:
    # A death in grace on a running TERM_LIFE_20: paid less the arrears, then the policy's
    # process is told, and ends terminated (the other paid claims find no policy process).
    policy = await PolicyHarness(h.env, policy_tests.World(), h.task_queue).start()
    h.world.sum_insured = Decimal("200000")
    h.world.arrears = claim_tests.ARREARS
    handle = await h.report(
        amount="200000.00",
        incident=IncidentType.DEATH,
        documents=claim_tests.DEATH_DOCS,
        policy_number=policy_tests.number(policy),
    )
    await h.decide(handle, CSUE)
    await handle.result()
    await policy.result()
    return handle


@scenario("claim", "breach_then_paid", "paid")
async def claim_breach_then_paid(h: ClaimHarness) -> Handle:
    handle = await h.report(amount="200000.00")
    await h.task(handle)
    await h.env.sleep(timedelta(days=26))  # escalated
    await h.env.sleep(timedelta(days=5))  # decision deadline breached
    await h.decide(handle, CSUE)
    await handle.result()
    return handle


@scenario("claim", "withdrawn", "withdrawn")
async def claim_withdrawn(h: ClaimHarness) -> Handle:
    handle = await h.report(amount="200000.00")
    await h.task(handle)
    await handle.execute_update(ClaimWorkflow.withdraw, Withdrawal(by="alice"))
    await handle.result()
    return handle


@scenario("claim", "cancelled", "cancelled")
async def claim_cancelled(h: ClaimHarness) -> Handle:
    # Cancelled while awaiting approval: the task is cancelled, nothing is paid.
    handle = await h.report(amount="200000.00")
    await h.task(handle)
    await handle.cancel()
    return await ended_cancelled(handle)


# --- policy --------------------------------------------------------------------------------


@scenario("policy", "cancelled_in_cooling_off", "cancelled")
async def policy_cancelled_in_cooling_off(h: PolicyHarness) -> Handle:
    handle = await h.start()
    await h.env.sleep(timedelta(days=2))
    await handle.execute_update(
        PolicyWorkflow.cancel_in_cooling_off,
        PolicyCancellation(reason="customer changed mind", by="alice"),
    )
    await handle.result()
    return handle


@scenario("policy", "expired", "expired")
async def policy_expired(h: PolicyHarness) -> Handle:
    handle = await h.start(product="ACCIDENT_1Y")  # no cooling-off: in force, then expiry
    await handle.result()
    return handle


@scenario("policy", "year_one_continued", "effective")
async def policy_year_one_continued(h: PolicyHarness) -> Handle:
    # Year one of a TERM_LIFE_20: receipt, a completed return visit, then continue-as-new
    # (installment 2 debited at the anniversary).
    handle = await h.start(payment_account=policy_tests.ACCOUNT)
    state = await handle.query(PolicyWorkflow.state)
    await handle.execute_update(
        PolicyWorkflow.sign_receipt, ReceiptSigned(signed_at=state.issued_at, by="alice")
    )
    await h.visit(handle, decision="completed", checklist=policy_tests.ALL_CONFIRMED)
    # A servicing change (保全): the phone and the account come sealed, never in clear.
    await handle.execute_update(
        PolicyWorkflow.change_servicing,
        ServicingChange(
            phone=policy_tests.NEW_PHONE,
            payment_account=policy_tests.NEW_ACCOUNT,
            actor=policy_tests.CORA,
        ),
    )
    return await first_run_after_continue(h, handle)


@scenario("policy", "misselling_then_continued", "effective")
async def policy_misselling_then_continued(h: PolicyHarness) -> Handle:
    handle = await h.start(payment_account=policy_tests.ACCOUNT)
    await h.visit(handle, decision="unreachable", reason="no answer")
    await h.env.sleep(timedelta(days=3))
    await h.visit(handle, decision="misselling", reason="cover misdescribed")
    await handle.execute_update(
        PolicyWorkflow.resolve_remediation,
        RemediationResolution(
            task_id=f"rm-{policy_tests.number(handle)}", reason="re-explained", actor=CSUE
        ),
    )
    return await first_run_after_continue(h, handle)


@scenario("policy", "premium_missed_then_suspended", "suspended")
async def policy_premium_missed_then_suspended(h: PolicyHarness) -> Handle:
    # Year two of a TERM_LIFE_20 whose second premium the bank declines: the debit and its
    # retries, the payment demand, grace, suspension; the run continues into year three.
    h.world.declined.add(2)
    handle = await h.start(payment_account=policy_tests.ACCOUNT)
    await h.visit(handle, decision="completed", checklist=policy_tests.ALL_CONFIRMED)
    first = await first_run_after_continue(h, handle)
    year_two = (await h.env.client.get_workflow_handle(handle.id).describe()).run_id
    for _ in range(400):
        latest = await h.env.client.get_workflow_handle(handle.id).describe()
        if latest.run_id not in (first.run_id, year_two):
            return h.env.client.get_workflow_handle(handle.id, run_id=year_two)
        await h.env.sleep(timedelta(days=30))
    raise AssertionError("the policy never continued into its third year")


@scenario("policy", "surrendered", "surrendered")
async def policy_surrendered(h: PolicyHarness) -> Handle:
    # After cooling-off, in year one: the cash value paid once (surrender:<number>).
    handle = await h.start(payment_account=policy_tests.ACCOUNT)
    await h.env.sleep(timedelta(days=60))
    await handle.execute_update(
        PolicyWorkflow.surrender, SurrenderRequest(reason="needs the money", by="alice")
    )
    await handle.result()
    return handle


@scenario("policy", "surrender_declined_then_paid", "surrendered")
async def policy_surrender_declined_then_paid(h: PolicyHarness) -> Handle:
    # The bank declines the cash value: surrendered at once, the value owed with a task
    # for ops, then paid to the account ops give (surrender:<number>:2).
    handle = await h.start(payment_account=policy_tests.ACCOUNT)
    await h.env.sleep(timedelta(days=60))
    h.world.payouts_declined.add(f"surrender:{policy_tests.number(handle)}")
    await handle.execute_update(
        PolicyWorkflow.surrender, SurrenderRequest(reason="needs the money", by="alice")
    )
    await handle.execute_update(
        PolicyWorkflow.fix_payout,
        ValuePayoutFix(payee_account=policy_tests.NEW_ACCOUNT, by="olga", reason="new bank"),
    )
    await handle.result()
    return handle


@scenario("policy", "terminated_not_reinstated", "terminated")
async def policy_terminated_not_reinstated(h: PolicyHarness) -> Handle:
    # Suspended in year two, never reinstated: terminated two years on, its cash value
    # refunded; the file is the last run.
    h.world.declined.add(2)
    handle = await h.start(payment_account=policy_tests.ACCOUNT)
    await handle.result()
    last = await h.env.client.get_workflow_handle(handle.id).describe()
    return h.env.client.get_workflow_handle(handle.id, run_id=last.run_id)


@scenario("policy", "reinstated_then_continued", "effective")
async def policy_reinstated_then_continued(h: PolicyHarness) -> Handle:
    # Suspended in year two; the agent applies, a supervisor approves, the arrears are
    # debited; the run continues into year three.
    h.world.declined.add(2)
    handle = await h.start(payment_account=policy_tests.ACCOUNT)
    await policy_tests.first_anniversary(h, handle, timedelta(days=40))
    current = h.env.client.get_workflow_handle(handle.id)
    year_two = (await current.describe()).run_id
    applied = await current.execute_update(
        PolicyWorkflow.apply_for_reinstatement, ReinstatementApplication(by="alice")
    )
    h.world.declined.clear()
    await current.execute_update(
        PolicyWorkflow.decide_reinstatement,
        ReinstatementDecision(
            task_id=applied.reinstatements[-1].task_id,
            decision="approve",
            reason="health unchanged",
            actor=policy_tests.SUE,
        ),
    )
    for _ in range(400):
        if (await current.describe()).run_id != year_two:
            return h.env.client.get_workflow_handle(handle.id, run_id=year_two)
        await h.env.sleep(timedelta(days=30))
    raise AssertionError("the policy never continued into its third year")


@scenario("policy", "ended_by_claim", "terminated")
async def policy_ended_by_claim(h: PolicyHarness) -> Handle:
    # A death claim paid in year one: the policy ends, no premium after.
    handle = await h.start(payment_account=policy_tests.ACCOUNT)
    await h.env.sleep(timedelta(days=40))
    await handle.signal(
        PolicyWorkflow.claim_paid,
        ClaimPaid(claim_no="C-GOLDEN", incident_type="death", amount=Decimal("200000.00")),
    )
    await handle.result()
    return handle


@scenario("policy", "renewed_then_continued", "effective")
async def policy_renewed_then_continued(h: PolicyHarness) -> Handle:
    # A one-year policy renewed: offered 30 days before expiry, accepted, the next
    # period's premium debited at expiry; the run continues into period two.
    handle = await h.start(product="ACCIDENT_1Y", payment_account=policy_tests.ACCOUNT)
    await policy_tests.renewal_window(h, handle)
    await handle.execute_update(
        PolicyWorkflow.decide_renewal, RenewalDecision(decision="accept", by="alice")
    )
    return await first_run_after_continue(h, handle)


async def first_run_after_continue(h: PolicyHarness, handle: Handle) -> Handle:
    """The first run, once it has continued as new into policy year two."""
    first = handle.first_execution_run_id or handle.result_run_id
    for _ in range(400):
        latest = await h.env.client.get_workflow_handle(handle.id).describe()
        if latest.run_id != first:
            return h.env.client.get_workflow_handle(handle.id, run_id=first)
        await h.env.sleep(timedelta(days=30))
    raise AssertionError("the policy never continued into its second year")


# --- running them --------------------------------------------------------------------------


async def time_skipping_server() -> WorkflowEnvironment:
    """A fresh server per scenario, as ``tests/conftest.py`` gives each test: its clock is
    shared by everything on it, and the scenarios skip months of it."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=data_converter(TEST_KEYRING),
    )
    await register_search_attributes(env.client)
    return env


async def run_one(scenario: Scenario) -> Path:
    """Drive one scenario on a fresh server, World and task queue; write its file."""
    env = await time_skipping_server()
    try:
        handle, status = await drive(env, scenario)
        history = await handle.fetch_history()
    finally:
        await env.shutdown()
    if status != scenario.status:
        raise AssertionError(f"{scenario.name} ended {status}, not {scenario.status}")
    text = history.to_json()
    if any(secret in text for secret in PERSONAL_DATA):
        raise AssertionError(f"{scenario.name}: plaintext personal data in the history")
    path = HERE / f"{scenario.name}.json"
    path.write_text(text + "\n", encoding="utf-8")
    timeline_path(path).write_text(await timeline_words(path), encoding="utf-8")
    print(
        f"{scenario.name:45} {status:10} {len(history.events):4} events "
        f"{len(text.encode()):8,} bytes",
        flush=True,
    )
    return path


async def drive(env: WorkflowEnvironment, scenario: Scenario) -> tuple[Handle, str]:
    """Run the scenario to its ending with the workflow tests' mocked activities."""
    task_queue = f"histories-{uuid.uuid4()}"
    if scenario.process == "enrollment":
        world: Any = enrollment_tests.World()
        workflow: Any = EnrollmentWorkflow
        harness: Any = EnrollmentHarness(env, world, task_queue)
    elif scenario.process == "claim":
        world = claim_tests.World()
        workflow = ClaimWorkflow
        harness = ClaimHarness(env, world, task_queue)
    else:
        world = policy_tests.World()
        workflow = PolicyWorkflow
        harness = PolicyHarness(env, world, task_queue)
    # An enrollment that issues a policy starts the policy's process, and a paid claim
    # tells its policy's: it runs here too.
    workflows = [workflow, PolicyWorkflow] if scenario.process != "policy" else [workflow]
    async with Worker(
        env.client, task_queue=task_queue, workflows=workflows, activities=world.activities()
    ):
        try:
            async with asyncio.timeout(SCENARIO_TIMEOUT):
                handle = await scenario.drive(harness)
                # A policy's run that continued as new: the state of the latest run.
                latest = env.client.get_workflow_handle(handle.id)
                state = await latest.query(workflow.state)
        finally:
            # A failed scenario must not leave a process for the worker shutdown to wait on.
            for started in harness.started:
                if (await started.describe()).status == WorkflowExecutionStatus.RUNNING:
                    await started.terminate("history scenario ended")
                if scenario.process == "enrollment":
                    await enrollment_tests.terminate_policy_of(env, started.id)
    return handle, state.status.value


async def main(names: list[str]) -> int:
    known = {s.name: s for s in SCENARIOS}
    unknown = sorted(set(names) - set(known))
    if unknown:
        print(f"unknown scenarios: {', '.join(unknown)}; known: {', '.join(known)}")
        return 2
    chosen = [known[n] for n in names] if names else SCENARIOS
    # The declined charge and payout are on purpose: no tracebacks for them.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    for s in chosen:
        await run_one(s)
    print(f"{len(chosen)} histories written to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
