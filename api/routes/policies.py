"""Policies: the policy's life after issuance (services.policies, workflows.policy).

List and read policies with where their premiums stand (the schedule, what is due, grace,
suspension, the cash value: domain.premiums), and the requests the policy's process
takes: the customer's receipt, the cancellation within the cooling-off period, the return
visit, the remediation of mis-selling, premium reminders. A request to a policy that has
ended answers 409 ``policy_closed`` from the read model, while Temporal is down too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import (
    AgentUser,
    CurrentUser,
    LazyTemporalDep,
    PayoutFixer,
    SessionDep,
    SettingsDep,
)
from api.middleware import caller_of
from api.openapi import problem_responses
from api.schemas import Checklist, FreeText, Money, RequiredText, StrictModel
from db.models import Policy
from domain.clocks import ProcessClocks
from domain.enrollment import MaskedCustomer
from domain.policies import (
    Cancellation,
    PolicyHistoryEntry,
    PolicyStage,
    PolicyState,
    PolicyStatus,
    Reinstatement,
    Renewal,
    ReturnVisitDecision,
    Surrender,
    TerminationReason,
    VisitAttempt,
)
from domain.premiums import InstallmentStatus
from services import policies
from services.policies import ServicingRequest, VisitRecord

router = APIRouter(prefix="/v1/policies", tags=["policies"])

# The problems these routes answer with themselves (what every route of its kind answers
# is documented app-wide: api.errors.install_problem_openapi). `process_refused`: an
# Update refused for a reason with no code of its own (services.processes.refusal).
_NOT_FOUND = {404: "policy_not_found"}
_CLOSED = {409: ["policy_closed", "process_refused"]}


class ReturnVisitRead(BaseModel):
    status: str = Field(description="pending, unreachable, escalated, completed or misselling")
    task_id: str
    due_at: datetime
    items: list[str] = Field(description="The checklist this policy's visit confirms")
    dual_recording_required: bool
    outcome: str | None = None
    attempts: list[VisitAttempt]
    next_try_on: date | None = None
    remediation_task_id: str | None = None
    remediation_due_on: date | None = None
    remediation_resolved_by: str | None = None


class CancellationRead(BaseModel):
    by: str
    reason: str
    at: datetime
    refund_amount: Money
    refund_status: str


# The premium fields the policy, its list and the customer's query answer alike.
NextDueAt = Annotated[
    datetime | None,
    Field(
        description="The first unpaid premium installment's due date (in the past when it "
        "is overdue); none when nothing more is owed"
    ),
]
AmountDue = Annotated[
    Money | None,
    Field(
        description="What brings the policy up to date: that installment and any other "
        "already due; none when nothing is owed"
    ),
]
GraceEndsAt = Annotated[
    datetime | None,
    Field(
        description="In grace (宽限期, a premium overdue, still in force): unpaid by then, "
        "the policy is suspended"
    ),
]


class InstallmentRead(BaseModel):
    n: int = Field(description="1 is the first premium, collected by the enrollment")
    due_at: datetime
    amount: Money
    status: InstallmentStatus = Field(
        description="paid; due (on its date, today or later); overdue (its date has passed "
        "unpaid); waived (the policy ended before it was paid: never collected)"
    )
    paid_at: datetime | None = None


class ValuePayoutRead(BaseModel):
    amount: Money
    attempts: int
    status: Literal["pending", "declined", "paid"]
    refusal: str | None = Field(description="Why the last attempt was not paid")
    task_id: str | None = Field(description="The open `value_payout_failed` task")


class PolicyRead(BaseModel):
    policy_number: str
    workflow_id: str
    product_code: str
    agent: str
    stage: PolicyStage
    status: PolicyStatus
    holder: MaskedCustomer = Field(description="masked")
    sum_insured: Money
    premium: Money
    issued_at: datetime
    effective_at: datetime
    expires_at: datetime
    policy_year: int
    receipt_signed_at: datetime | None
    cooling_off_ends_at: datetime | None
    schedule: list[InstallmentRead] = Field(
        description="The premium installments, one a policy year, as they stand now (an "
        "ended policy's: as they stood when it ended)"
    )
    paid_to: datetime = Field(
        description="The end of the cover the installments paid in order have paid for"
    )
    next_due_at: NextDueAt
    amount_due: AmountDue
    arrears: Money = Field(description="The overdue installments")
    grace_ends_at: GraceEndsAt
    suspended_at: datetime | None = Field(description="When the policy was suspended (效力中止)")
    reinstatement_deadline: datetime | None = Field(
        description="While suspended: reinstatement (复效) may be applied for until then; "
        "still suspended at that moment, the policy is terminated and its cash value refunded"
    )
    cash_value: Money = Field(
        description="The cash value (现金价值) today, from the product's table "
        "(`GET /v1/products`); 0.00 once the policy has ended"
    )
    return_visit: ReturnVisitRead | None
    cancellation: CancellationRead | None
    surrender: Surrender | None = Field(
        default=None, description="A surrender (退保): the cash value and its payout"
    )
    reinstatements: list[Reinstatement] = Field(
        default=[], description="Applications for reinstatement (复效), oldest first"
    )
    renewal: Renewal | None = Field(
        default=None, description="One-year products: the renewal offered for the next period"
    )
    period: int = Field(default=1, description="One-year products: the period (1 = the first)")
    termination_reason: TerminationReason | None = Field(
        default=None, description="Why a `terminated` policy ended"
    )
    value_payout: ValuePayoutRead | None = Field(
        default=None,
        description="A surrender's or a termination's cash value being paid out; `declined` "
        "waits for ops to correct the account (`POST .../payout/retry`)",
    )
    premium_reminders: bool
    payment_account: str | None = Field(default=None, description="masked")
    ended_at: datetime | None
    history: list[PolicyHistoryEntry]

    @classmethod
    def of(cls, state: PolicyState, clocks: ProcessClocks) -> PolicyRead:
        """The policy in ``state``, its premiums as they stand now (``clocks``: the
        settings the reinstatement window is counted with)."""
        visit = state.return_visit
        premiums = policies.premiums_of(state, clocks)
        schedule = premiums.schedule
        return cls(
            **state.model_dump(
                exclude={"application_no", "customer_id", "term_years", "installments"}
                | {"return_visit", "cancellation", "grace_ends_at", "suspended_at"}
            ),
            schedule=[
                InstallmentRead.model_validate(i.model_dump()) for i in schedule.installments
            ],
            paid_to=schedule.paid_to,
            next_due_at=premiums.next_due_at,
            amount_due=premiums.amount_due,
            arrears=schedule.arrears,
            grace_ends_at=premiums.grace_ends_at,
            suspended_at=premiums.suspended_at,
            reinstatement_deadline=premiums.reinstatement_deadline,
            cash_value=premiums.cash_value,
            return_visit=ReturnVisitRead.model_validate(visit.model_dump()) if visit else None,
            cancellation=_cancellation(state.cancellation),
        )


def _cancellation(cancellation: Cancellation | None) -> CancellationRead | None:
    if cancellation is None:
        return None
    return CancellationRead.model_validate(cancellation.model_dump())


class PolicySummary(BaseModel):
    policy_number: str
    product_code: str
    agent: str
    stage: str | None = Field(description="None until the policy's process first records it")
    status: str
    holder: MaskedCustomer | None = Field(description="masked")
    effective_at: datetime
    expires_at: datetime
    cooling_off_ends_at: datetime | None
    next_due_at: NextDueAt = None
    amount_due: AmountDue = None

    @classmethod
    def of(cls, row: Policy, clocks: ProcessClocks) -> PolicySummary:
        """The row's policy, its premiums from the state its process last recorded."""
        holder = (row.state or {}).get("holder")
        state = policies.last_recorded_state(row)
        premiums = policies.premiums_of(state, clocks) if state else None
        return cls(
            policy_number=row.policy_number,
            product_code=row.product_code,
            agent=row.agent,
            stage=row.stage,
            status=row.status,
            holder=MaskedCustomer.model_validate(holder) if holder else None,
            effective_at=row.effective_at,
            expires_at=row.expires_at,
            cooling_off_ends_at=row.cooling_off_ends_at,
            next_due_at=premiums.next_due_at if premiums else None,
            amount_due=premiums.amount_due if premiums else None,
        )


class PolicyPage(BaseModel):
    items: list[PolicySummary]
    next_cursor: str | None


class ReceiptCreate(StrictModel):
    signed_at: datetime = Field(
        description="When the customer signed the receipt, with its UTC offset; not before "
        "issuance, not in the future"
    )


class CancellationCreate(StrictModel):
    reason: RequiredText = Field(min_length=1, max_length=500)


class ReturnVisitCreate(StrictModel):
    decision: ReturnVisitDecision
    checklist: Checklist = Checklist()
    reason: FreeText = Field(default="", max_length=2000)
    dual_recording_checked: bool | None = Field(
        default=None, description="Required for a buyer aged 60 or over (双录)"
    )


class RemediationCreate(StrictModel):
    reason: RequiredText = Field(min_length=1, max_length=2000)


class RemindersCreate(StrictModel):
    premium_reminders: bool


class ServicingChangeCreate(StrictModel):
    phone: str | None = Field(
        default=None, max_length=64, description="The customer's new phone (5-20 digits)"
    )
    bank_account: str | None = Field(
        default=None, max_length=64, description="The new auto-debit account (12-19 digits)"
    )
    premium_reminders: bool | None = None


@router.get("", response_model=PolicyPage, responses=problem_responses({422: "invalid_cursor"}))
async def list_policies(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    status_: Annotated[PolicyStatus | None, Query(alias="status")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PolicyPage:
    """The caller's customers' policies (an agent), or all of them (supervisor, ops,
    admin, customer service), newest first, from the read model."""
    rows, next_cursor = await policies.list_policies(
        session, user, status=status_, cursor=cursor, limit=limit
    )
    return PolicyPage(
        items=[PolicySummary.of(r, settings.clocks) for r in rows], next_cursor=next_cursor
    )


@router.get("/{policy_number}", response_model=PolicyRead, responses=problem_responses(_NOT_FOUND))
async def get_policy(
    policy_number: str,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """Where the policy stands: status and stage, its dates, the cooling-off period, the
    premium schedule with each installment's state, what is due and by when, arrears,
    grace, suspension and the reinstatement deadline, the cash value, the return visit, a
    cancellation and its refund, the history."""
    state = await policies.read_policy(temporal, session, policy_number, user)
    return PolicyRead.of(state, settings.clocks)


@router.post(
    "/{policy_number}/receipt",
    response_model=PolicyRead,
    responses=problem_responses(
        _NOT_FOUND, _CLOSED, "receipt_already_signed", "not_your_case", "invalid_receipt_date"
    ),
)
async def sign_receipt(
    policy_number: str,
    body: ReceiptCreate,
    user: AgentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """The customer signed the policy receipt (回执): the cooling-off period counts from
    that day. The policy's own agent records it."""
    state = await policies.sign_receipt(temporal, session, policy_number, user, body.signed_at)
    return PolicyRead.of(state, settings.clocks)


@router.post(
    "/{policy_number}/cancellation",
    response_model=PolicyRead,
    responses=problem_responses(
        _NOT_FOUND, _CLOSED, "cooling_off_over", "not_your_case", {409: "invalid_stage"}
    ),
)
async def cancel(
    policy_number: str,
    body: CancellationCreate,
    user: AgentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """Cancel within the cooling-off period (犹豫期): the premium less the cost (at most
    10.00) is refunded, exactly once; the policy is void from the start (`cancelled`).
    Answered once the refund is made."""
    state = await policies.cancel_in_cooling_off(
        temporal, session, policy_number, user, body.reason
    )
    return PolicyRead.of(state, settings.clocks)


@router.post(
    "/{policy_number}/return-visit",
    response_model=PolicyRead,
    responses=problem_responses(
        _NOT_FOUND,
        _CLOSED,
        "four_eyes_violation",
        "not_customer_service",
        "task_not_open",
        "return_visit_retry_too_soon",
        "checklist_incomplete",
        "dual_recording_required",
    ),
)
async def record_return_visit(
    policy_number: str,
    body: ReturnVisitCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """Record one return-visit call (回访), customer service only and never the selling
    agent: `completed` (every checklist item confirmed), `unreachable` (tried again on a
    later working day, escalated at the third try) or `misselling` (a remediation task
    opens, the customer is told of the right to cancel)."""
    record = VisitRecord(
        decision=body.decision,
        checklist=body.checklist.model_dump(),
        reason=body.reason,
        dual_recording_checked=body.dual_recording_checked,
    )
    state = await policies.record_return_visit(temporal, session, policy_number, user, record)
    return PolicyRead.of(state, settings.clocks)


@router.post(
    "/{policy_number}/remediation",
    response_model=PolicyRead,
    responses=problem_responses(
        _NOT_FOUND, _CLOSED, "four_eyes_violation", "not_customer_service", "task_not_open"
    ),
)
async def resolve_remediation(
    policy_number: str,
    body: RemediationCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """The mis-selling the return visit found is remediated (customer service or a
    supervisor, never the selling agent)."""
    state = await policies.resolve_remediation(temporal, session, policy_number, user, body.reason)
    return PolicyRead.of(state, settings.clocks)


@router.post(
    "/{policy_number}/changes",
    response_model=PolicyRead,
    responses=problem_responses(
        _NOT_FOUND,
        _CLOSED,
        "not_your_case",
        "nothing_to_change",
        {422: ["invalid_phone", "invalid_bank_account"]},
    ),
)
async def change(
    policy_number: str,
    body: ServicingChangeCreate,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """A servicing change (保全) by the policy's own agent or customer service: the
    customer's phone, the auto-debit account (`bank_account`), premium reminders; any of
    them, at least one. Accepted or refused at once, applied in the same step (the phone
    and account stored encrypted, shown masked), audited with who asked and what changed."""
    asked = ServicingRequest(
        phone=body.phone, bank_account=body.bank_account, premium_reminders=body.premium_reminders
    )
    state = await policies.change_servicing(
        temporal,
        session,
        request.app.state.field_cipher,
        policy_number,
        user,
        asked,
        caller_of(request),
    )
    return PolicyRead.of(state, settings.clocks)


@router.post(
    "/{policy_number}/reminders",
    response_model=PolicyRead,
    responses=problem_responses(_NOT_FOUND, _CLOSED, "not_your_case"),
)
async def set_reminders(
    policy_number: str,
    body: RemindersCreate,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """A servicing change (保全): premium reminders on or off, applied at once (the
    policy's own agent, or customer service); the same as `changes` with only
    `premium_reminders`."""
    state = await policies.set_premium_reminders(
        temporal,
        session,
        request.app.state.field_cipher,
        policy_number,
        user,
        body.premium_reminders,
        caller_of(request),
    )
    return PolicyRead.of(state, settings.clocks)


class SurrenderCreate(StrictModel):
    reason: RequiredText = Field(min_length=1, max_length=2000)
    payee_account: str | None = Field(
        default=None,
        max_length=64,
        description="Where the cash value goes (12-19 digits); without it, the policy's "
        "auto-debit account",
    )


@router.post(
    "/{policy_number}/surrender",
    response_model=PolicyRead,
    responses=problem_responses(
        _NOT_FOUND,
        _CLOSED,
        "not_your_case",
        "use_cooling_off_cancellation",
        "already_surrendered",
        {422: "invalid_bank_account"},
    ),
)
async def surrender(
    policy_number: str,
    body: SurrenderCreate,
    request: Request,
    user: AgentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """Surrender (退保) after the cooling-off period, asked by the policy's agent for the
    customer: the cash value on the day, from the product's table, paid once within 30
    days (at once here) to `payee_account` or the policy's account; the policy ends
    `surrendered`. Within cooling-off: 409 `use_cooling_off_cancellation`."""
    state = await policies.surrender(
        temporal,
        session,
        request.app.state.field_cipher,
        policy_number,
        user,
        reason=body.reason,
        payee_account=body.payee_account,
    )
    return PolicyRead.of(state, settings.clocks)


class ValuePayoutRetryCreate(StrictModel):
    payee_account: str = Field(max_length=64, description="12-19 digits; shown masked afterwards")
    reason: RequiredText = Field(min_length=1, max_length=500)


@router.post(
    "/{policy_number}/payout/retry",
    response_model=PolicyRead,
    responses=problem_responses(
        _NOT_FOUND, {409: "no_failed_payout"}, {422: "invalid_bank_account"}
    ),
)
async def retry_value_payout(
    policy_number: str,
    body: ValuePayoutRetryCreate,
    request: Request,
    user: PayoutFixer,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """After the bank declined a surrender's or a termination's cash value (the policy's
    `value_payout.status` is `declined`, with a `value_payout_failed` task open): the
    account to pay it to instead, paid again at once (ops or supervisor). The answer shows
    the payout `paid`, or `declined` again with a new task."""
    state = await policies.fix_payout(
        temporal,
        session,
        request.app.state.field_cipher,
        policy_number,
        user,
        payee_account=body.payee_account,
        reason=body.reason,
    )
    return PolicyRead.of(state, settings.clocks)


@router.post(
    "/{policy_number}/reinstatement",
    response_model=PolicyRead,
    responses=problem_responses(_NOT_FOUND, _CLOSED, "not_your_case", "not_reinstatable"),
)
async def apply_for_reinstatement(
    policy_number: str,
    user: AgentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """Apply for reinstatement (复效) of a suspended policy within two years of its
    suspension (the policy's agent): a `reinstatement` task opens for a supervisor, who
    may refuse only with a risk reason; no decision within 30 days counts as consent.
    Consented, the arrears and interest are debited and the policy is in force again.
    Otherwise 409 `not_reinstatable`."""
    state = await policies.apply_for_reinstatement(temporal, session, policy_number, user)
    return PolicyRead.of(state, settings.clocks)


class RenewalCreate(StrictModel):
    decision: Literal["accept", "decline"]


@router.post(
    "/{policy_number}/renewal",
    response_model=PolicyRead,
    responses=problem_responses(_NOT_FOUND, _CLOSED, "not_your_case", "renewal_window_closed"),
)
async def decide_renewal(
    policy_number: str,
    body: RenewalCreate,
    user: AgentUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: LazyTemporalDep,
) -> PolicyRead:
    """The customer's answer to the renewal offer of a one-year policy, recorded by its
    agent inside the window (30 days before expiry until expiry): accepted, the premium is
    debited at expiry and the next period starts with no new waiting period; declined or
    unanswered, the policy expires. Otherwise 409 `renewal_window_closed`."""
    state = await policies.decide_renewal(
        temporal, session, policy_number, user, accept=body.decision == "accept"
    )
    return PolicyRead.of(state, settings.clocks)
