"""Renewal premiums and what follows an unpaid one (docs/premiums.md): the premium
schedule, reminders, the failed debit's retries and the payment demand (催告), grace,
suspension (效力中止), reinstatement (复效), termination, surrender (退保) with the cash
value, the arrears a claim in grace is paid less, the one-year products' renewal, and
where a policy's premiums stand for the people who read it (``premium_standing``).

Pure and deterministic: moments in, moments out, no clock read and no I/O, so the policy's
process calls these in workflow code with ``workflow.now()`` and the clocks it started
with. A period counted in days or years follows the Civil Code (``period_ends_at``): the
day of the event is not counted, and the period ends at midnight Shanghai after its last
day. Working days are not counted here: a rule that needs them answers a
``WorkingDaysAsk`` for the process's ``add_working_days`` step (domain.working_days).
Money is CNY, quantised half-up to the cent.

Sources (PRC): Insurance Law 2015 arts. 36 (grace, suspension), 37 (reinstatement,
termination with the cash value), 38 (no suit for a life premium), 47 (surrender);
保险法解释三 art. 8 (deemed consent, revival on payment, interest);
人身保险业务基本服务规定 art. 21 (reminders, the suspension notice); 健康保险管理办法
arts. 4, 21 (short-term health cover is not renewed as of right).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.activities import WorkingDaysAsk
from domain.business import SHANGHAI, business_today
from domain.claims import Reduction
from domain.clocks import DEFAULT_CLOCKS, ProcessClocks
from domain.identity import age_on
from domain.policies import (
    IN_FORCE_STATUSES,
    LIVE_STATUSES,
    PolicyState,
    PolicyStatus,
    PremiumPayment,
    period_ends_at,
    policy_year_ends_at,
    policy_years_after,
)
from domain.policies import expires_at as term_ends_at
from domain.products import CENT, Product, annual_premium, get_product

# Interest is simple and counted on actual days over a 365-day year.
DAYS_A_YEAR = Decimal(365)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _total(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, Decimal("0.00"))


# --- the premium schedule ------------------------------------------------------------------


class InstallmentStatus(StrEnum):
    PAID = "paid"
    DUE = "due"  # unpaid, not overdue: it falls due on its date, today or later
    OVERDUE = "overdue"  # its due date has passed unpaid
    WAIVED = "waived"  # never to be collected: the policy has ended (Insurance Law art. 38)


class Installment(BaseModel):
    """One line of the premium schedule."""

    model_config = ConfigDict(frozen=True)

    n: int  # 1 is the first premium, collected by the enrollment
    due_at: datetime
    amount: Decimal
    status: InstallmentStatus
    paid_at: datetime | None = None

    @property
    def owed(self) -> bool:
        return self.status in (InstallmentStatus.DUE, InstallmentStatus.OVERDUE)


class PremiumSchedule(BaseModel):
    """A policy's installments and what they add up to at ``as_of``."""

    model_config = ConfigDict(frozen=True)

    as_of: datetime
    installments: list[Installment]
    # The first unpaid installment's due date (in the past when it is overdue); None when
    # nothing more is owed.
    next_due_at: datetime | None
    # What brings the policy up to date by then: the first unpaid installment and every
    # other one already due at ``as_of``.
    amount_due: Decimal
    arrears: Decimal  # the overdue installments
    installments_paid: int  # paid in order from the first, without a gap
    paid_to: datetime  # the end of the cover those installments paid for

    @property
    def first_unpaid(self) -> Installment | None:
        return next((i for i in self.installments if i.owed), None)


def unpaid_due_by(schedule: PremiumSchedule, day: date) -> list[Installment]:
    """The installments still owed whose due date is ``day`` or earlier."""
    return [i for i in schedule.installments if i.owed and business_today(i.due_at) <= day]


def installment_due_at(
    effective_at: datetime, n: int, *, clocks: ProcessClocks = DEFAULT_CLOCKS
) -> datetime:
    """When installment ``n`` falls due: the start of policy year ``n``, i.e. the effective
    date for the first and its ``n - 1``-th anniversary after (``policy_year_ends_at``;
    with a short policy year in the clocks, ``n - 1`` of them after).

    A policy that took effect on 29 February pays on 28 February in common years and on
    the 29th again in leap years: each anniversary is counted from the effective date, not
    from the previous one, so the policy year and the installment it is paid by always
    start on the same day.
    """
    if n < 1:
        raise ValueError("installments are numbered from 1")
    return policy_year_ends_at(effective_at, n - 1, clocks)


def installment_status(
    due_at: datetime, *, paid: bool, on: datetime, ended: bool
) -> InstallmentStatus:
    """Paid; else waived once the policy has ended; else overdue from the day after its
    due date (the first day of grace); else due."""
    if paid:
        return InstallmentStatus.PAID
    if ended:
        return InstallmentStatus.WAIVED
    if business_today(on) > business_today(due_at):
        return InstallmentStatus.OVERDUE
    return InstallmentStatus.DUE


def premium_schedule(
    product: Product,
    *,
    effective_at: datetime,
    premium: Decimal,
    payments: Sequence[PremiumPayment],
    on: datetime,
    ended_at: datetime | None = None,
    clocks: ProcessClocks = DEFAULT_CLOCKS,
) -> PremiumSchedule:
    """The policy's installments as they stand at ``on``: one level annual ``premium`` a
    policy year for the product's ``payment_years`` (TERM_LIFE_20: 20; the one-year
    products: 1), each due on an anniversary of ``effective_at`` (``installment_due_at``).

    ``payments`` are the installments collected, the enrollment's first premium included;
    a payment for an installment the schedule does not have, or a second one for the same,
    is an error (the ledger's business key makes each exactly once). ``ended_at``: when
    the policy ended, if it has; from then on nothing unpaid is owed. ``clocks``: the
    process's, for its policy year (calendar by default).
    """
    paid = _by_installment(product, payments)
    ended = ended_at is not None and on >= ended_at
    installments = [
        _installment(
            n, installment_due_at(effective_at, n, clocks=clocks), premium, paid.get(n), on, ended
        )
        for n in range(1, product.payment_years + 1)
    ]
    owed = [i for i in installments if i.owed]
    next_due_at = owed[0].due_at if owed else None
    in_order = next(
        (i.n - 1 for i in installments if i.status != InstallmentStatus.PAID), len(installments)
    )
    return PremiumSchedule(
        as_of=on,
        installments=installments,
        next_due_at=next_due_at,
        amount_due=_total(i.amount for i in owed if i.due_at <= max(on, owed[0].due_at)),
        arrears=_total(i.amount for i in owed if i.status == InstallmentStatus.OVERDUE),
        installments_paid=in_order,
        paid_to=paid_to(
            product, effective_at=effective_at, installments_paid=in_order, clocks=clocks
        ),
    )


def _installment(
    n: int,
    due_at: datetime,
    premium: Decimal,
    payment: PremiumPayment | None,
    on: datetime,
    ended: bool,
) -> Installment:
    return Installment(
        n=n,
        due_at=due_at,
        amount=_cents(premium),
        status=installment_status(due_at, paid=payment is not None, on=on, ended=ended),
        paid_at=payment.paid_at if payment else None,
    )


def _by_installment(
    product: Product, payments: Sequence[PremiumPayment]
) -> dict[int, PremiumPayment]:
    paid: dict[int, PremiumPayment] = {}
    for payment in payments:
        if payment.n > product.payment_years:
            raise ValueError(
                f"{product.code} has {product.payment_years} installments, not {payment.n}"
            )
        if payment.n in paid:
            raise ValueError(f"installment {payment.n} is paid twice")
        paid[payment.n] = payment
    return paid


def paid_to(
    product: Product,
    *,
    effective_at: datetime,
    installments_paid: int,
    clocks: ProcessClocks = DEFAULT_CLOCKS,
) -> datetime:
    """The end of the cover ``installments_paid`` annual premiums pay for: that many policy
    years, or the whole term once every installment is paid."""
    if installments_paid >= product.payment_years:
        return term_ends_at(effective_at, product, clocks)
    return policy_year_ends_at(effective_at, installments_paid, clocks)


# --- reminders, debits and the payment demand ----------------------------------------------


def premium_reminders_at(due_at: datetime, clocks: ProcessClocks) -> list[datetime]:
    """When to remind the customer of an installment (人身保险业务基本服务规定 art. 21),
    earliest first: ``premium_reminders`` before its due moment (30 and 7 days). Only for
    a customer who wants reminders; the time of day is the due moment's, and holding a
    message back from quiet hours is the notification's business."""
    return sorted(due_at - before for before in clocks.premium_reminders)


def debit_retries_at(due_at: datetime, clocks: ProcessClocks) -> list[datetime]:
    """When a failed auto-debit is tried again: ``premium_debit_retries`` after the due
    moment (days 1, 3 and 7)."""
    return [due_at + after for after in clocks.premium_debit_retries]


def payment_demand_at(due_at: datetime, clocks: ProcessClocks) -> datetime:
    """When the payment demand (催告) goes out for an installment still unpaid:
    ``payment_demand_after`` the due moment (7 days), never before the last debit retry
    (ProcessClocks checks it). Sending it shortens grace (``grace_ends_at``)."""
    return due_at + clocks.payment_demand_after


# --- grace, suspension ---------------------------------------------------------------------


def grace_ends_at(
    due_at: datetime, clocks: ProcessClocks, *, demand_at: datetime | None = None
) -> datetime:
    """The end of grace (宽限期) for an unpaid installment: the earlier of the end of the
    60th day after its due date and of the 30th day after the payment demand (Insurance
    Law art. 36; ``premium_grace``, ``payment_demand_grace``). Until then the policy is in
    force; unpaid at that moment, it is suspended. Without a demand (yet), the 60 days."""
    by_due = period_ends_at(business_today(due_at), days=clocks.premium_grace.days)
    if demand_at is None:
        return by_due
    by_demand = period_ends_at(business_today(demand_at), days=clocks.payment_demand_grace.days)
    return min(by_due, by_demand)


def status_from_premiums(
    schedule: PremiumSchedule, clocks: ProcessClocks, *, demand_at: datetime | None = None
) -> PolicyStatus:
    """Where the premiums leave a policy in force at the schedule's ``as_of``: effective
    while nothing is overdue, in grace until ``grace_ends_at`` of the first unpaid
    installment (``demand_at``: its payment demand), suspended after. A reinstatement
    pays the arrears, so the same rule then says effective again."""
    first = schedule.first_unpaid
    if first is None or first.status != InstallmentStatus.OVERDUE:
        return PolicyStatus.EFFECTIVE
    if schedule.as_of < grace_ends_at(first.due_at, clocks, demand_at=demand_at):
        return PolicyStatus.GRACE
    return PolicyStatus.SUSPENDED


def suspension_notice_due(suspended_at: datetime, clocks: ProcessClocks) -> WorkingDaysAsk:
    """The last day for the suspension notice (its consequences and how to reinstate):
    the ``suspension_notice_working_days``-th PRC working day (10) after the day of
    suspension (人身保险业务基本服务规定 art. 21), as the question the process asks its
    ``add_working_days`` step; the notice is due by the end of the day it answers."""
    return WorkingDaysAsk(
        after=business_today(suspended_at), days=clocks.suspension_notice_working_days
    )


# --- reinstatement, termination ------------------------------------------------------------


class ArrearsLine(BaseModel):
    """One missed installment a reinstatement pays, with its interest."""

    model_config = ConfigDict(frozen=True)

    n: int
    due_at: datetime
    amount: Decimal
    days: int  # from the due date to the payment date
    interest: Decimal


class ReinstatementCharge(BaseModel):
    """What a reinstatement collects: the arrears and the interest on each."""

    model_config = ConfigDict(frozen=True)

    lines: list[ArrearsLine]
    arrears: Decimal
    interest: Decimal
    total: Decimal


def reinstatement_deadline(suspended_at: datetime, clocks: ProcessClocks) -> datetime:
    """The end of the reinstatement window: ``reinstatement_window_years`` (2) counted from
    the day of suspension (Insurance Law art. 37). A policy still suspended then is
    terminated, refunding its cash value; a 29 February suspension's window ends on 28
    February. Counted in policy years, it shrinks with a short one (development): then it
    ends that many of them after the suspension itself (``policy_years_after``)."""
    years = clocks.reinstatement_window_years
    if clocks.policy_year is not None:
        return policy_years_after(suspended_at, years, clocks)
    return period_ends_at(business_today(suspended_at), years=years)


def reinstatement_refusal(
    *,
    status: PolicyStatus,
    suspended_at: datetime | None,
    on: datetime,
    clocks: ProcessClocks,
) -> str | None:
    """``not_reinstatable`` unless the policy is suspended and its window still open at
    ``on``; None when an application may be made."""
    if status != PolicyStatus.SUSPENDED or suspended_at is None:
        return "not_reinstatable"
    if on >= reinstatement_deadline(suspended_at, clocks):
        return "not_reinstatable"
    return None


def reinstatement_deemed_consent_at(applied_at: datetime, clocks: ProcessClocks) -> datetime:
    """When an application without a decision counts as consent: the end of the 30th day
    (``reinstatement_deemed_consent``) after the day it was received (保险法解释三 art. 8).
    An application made inside the window is decided this way even if the window closes
    meanwhile: the agreement was asked for in time."""
    return period_ends_at(business_today(applied_at), days=clocks.reinstatement_deemed_consent.days)


def interest_on(amount: Decimal, *, rate: Decimal, days: int) -> Decimal:
    """Simple interest at the annual ``rate`` for ``days`` days (actual/365)."""
    return _cents(amount * rate * days / DAYS_A_YEAR)


def reinstatement_charge(
    schedule: PremiumSchedule, *, paid_at: datetime, clocks: ProcessClocks
) -> ReinstatementCharge:
    """What a reinstatement paid at ``paid_at`` collects: every unpaid installment due on
    or before the payment day, each with interest at ``reinstatement_interest_rate`` (a
    market-practice setting, 0 by default) for the days from its due date to the payment
    date, rounded to the cent line by line (保险法解释三 art. 8: interest may be charged)."""
    pay_day = business_today(paid_at)
    lines = [
        ArrearsLine(
            n=i.n,
            due_at=i.due_at,
            amount=i.amount,
            days=(days := (pay_day - business_today(i.due_at)).days),
            interest=interest_on(i.amount, rate=clocks.reinstatement_interest_rate, days=days),
        )
        for i in unpaid_due_by(schedule, pay_day)
    ]
    arrears = _total(line.amount for line in lines)
    interest = _total(line.interest for line in lines)
    return ReinstatementCharge(
        lines=lines, arrears=arrears, interest=interest, total=arrears + interest
    )


def reinstated_from(paid_at: datetime) -> datetime:
    """The policy is back in force from the day the reinstatement charge is paid
    (保险法解释三 art. 8: 自补交保险费之日恢复效力), read literally: from the start of that
    day in Shanghai."""
    return datetime.combine(business_today(paid_at), time(0), SHANGHAI)


class Suspension(BaseModel):
    """A time the policy was suspended (效力中止): from ``since`` until it was back in force
    (``until``, the start of its reinstatement day), or with no end: still suspended, or
    ended so (terminated)."""

    model_config = ConfigDict(frozen=True)

    since: datetime
    until: datetime | None = None


def suspensions(state: PolicyState) -> list[Suspension]:
    """The policy's suspensions, oldest first. The current one starts at the state's
    ``suspended_at``. A reinstatement clears that field, so an earlier one is read from the
    policy's history, where each status change is a line: from the line that suspended it
    to the line that put it in force again, which it is from the start of that day
    (``reinstated_from``: the day the arrears were paid)."""
    found: list[Suspension] = []
    since: datetime | None = None
    for entry in state.history:
        if entry.status == PolicyStatus.SUSPENDED:
            since = since or entry.at
        elif since is not None:
            back = reinstated_from(entry.at) if entry.status in IN_FORCE_STATUSES else None
            found.append(Suspension(since=since, until=back))
            since = None
    if state.status == PolicyStatus.SUSPENDED:
        since = state.suspended_at or since
    if since is not None:
        found.append(Suspension(since=since))
    return found


def suspended_on(periods: Sequence[Suspension], day: date) -> bool:
    """Whether the policy was suspended on ``day``, so that an incident that day is not
    covered (Insurance Law art. 36), even after a reinstatement: from the day it was
    suspended (grace ended at the midnight before), up to the day before the arrears were
    paid (``reinstated_from``)."""
    return any(
        business_today(s.since) <= day and (s.until is None or day < business_today(s.until))
        for s in periods
    )


# --- cash value, surrender -----------------------------------------------------------------


def completed_policy_years(
    effective_at: datetime, on: datetime, *, clocks: ProcessClocks = DEFAULT_CLOCKS
) -> int:
    """How many policy years have ended by ``on`` (0 before the first anniversary)."""
    if on < effective_at:
        return 0
    if clocks.policy_year is None:
        years = on.astimezone(effective_at.tzinfo).year - effective_at.year
    else:
        years = (on - effective_at) // clocks.policy_year
    while years > 0 and policy_year_ends_at(effective_at, years, clocks) > on:
        years -= 1
    return years


def policy_years_elapsed(
    product: Product,
    *,
    effective_at: datetime,
    on: datetime,
    clocks: ProcessClocks = DEFAULT_CLOCKS,
) -> Decimal:
    """The policy's age at ``on`` in policy years, whole days pro rata within the current
    year (a 366-day year when it holds a 29 February): 0 before the start, the term after
    the end. A short policy year (development) may last less than a day: it is pro rata
    by the microsecond."""
    years = min(completed_policy_years(effective_at, on, clocks=clocks), product.term_years)
    if years == product.term_years or on <= effective_at:
        return Decimal(years)
    start = policy_year_ends_at(effective_at, years, clocks)
    end = policy_year_ends_at(effective_at, years + 1, clocks)
    if clocks.policy_year is not None:
        tick = timedelta(microseconds=1)
        return years + Decimal((on - start) // tick) / Decimal((end - start) // tick)
    start_day, end_day = business_today(start), business_today(end)
    return years + Decimal((business_today(on) - start_day).days) / Decimal(
        (end_day - start_day).days
    )


def cash_value(
    product: Product,
    *,
    premium: Decimal,
    effective_at: datetime,
    installments_paid: int,
    on: datetime,
    clocks: ProcessClocks = DEFAULT_CLOCKS,
) -> Decimal:
    """The cash value (现金价值) at ``on`` from the product's table (``Product.cash_values``,
    per 1,000 of the annual ``premium`` at the end of each policy year), straight-line
    between one year-end's figure and the next by whole days (``policy_years_elapsed``).

    Only paid cover builds value: while an installment is unpaid (grace, suspension) the
    value stays where the last paid year left it, the end of year ``installments_paid``.
    It is what a surrender pays (Insurance Law art. 47) and a termination after two years
    of suspension refunds (art. 37). The table is illustrative product data, not an
    actuarial calculation.
    """
    position = policy_years_elapsed(product, effective_at=effective_at, on=on, clocks=clocks)
    if installments_paid < product.payment_years:
        position = min(position, Decimal(installments_paid))
    year = int(position)
    table = product.cash_values
    per_thousand = table[year]
    if year < product.term_years:
        per_thousand += (table[year + 1] - table[year]) * (position - year)
    return _cents(premium * per_thousand / 1000)


def surrender_refusal(
    *, status: PolicyStatus, cooling_off_ends_at: datetime | None, on: datetime
) -> str | None:
    """Why a surrender (退保) requested at ``on`` is refused, or None: a second one
    (``already_surrendered``), an ended policy (``policy_closed``), or inside the
    cooling-off period, where the customer cancels instead and gets the whole premium back
    less the cost (``use_cooling_off_cancellation``)."""
    if status == PolicyStatus.SURRENDERED:
        return "already_surrendered"
    if status not in LIVE_STATUSES:
        return "policy_closed"
    if cooling_off_ends_at is not None and on < cooling_off_ends_at:
        return "use_cooling_off_cancellation"
    return None


def surrender_payment_due_at(requested_at: datetime, clocks: ProcessClocks) -> datetime:
    """The cash value of a surrender is paid by the end of the 30th day after the day of
    the request (Insurance Law art. 47; ``surrender_payment``)."""
    return period_ends_at(business_today(requested_at), days=clocks.surrender_payment.days)


# --- a claim in grace ----------------------------------------------------------------------


def arrears_on(schedule: PremiumSchedule, incident_at: datetime) -> Decimal:
    """The unpaid installments due on or before the incident's day: what a claim for an
    incident in grace is paid less (Insurance Law art. 36)."""
    return _total(i.amount for i in unpaid_due_by(schedule, business_today(incident_at)))


def arrears_reduction(schedule: PremiumSchedule, incident_at: datetime) -> Reduction | None:
    """The assessment's ``arrears`` reduction for an incident in grace, or None."""
    amount = arrears_on(schedule, incident_at)
    if not amount:
        return None
    return Reduction(
        reason="arrears",
        amount=amount,
        detail=f"unpaid premium due by {business_today(incident_at).isoformat()}",
    )


def claim_arrears(state: PolicyState, *, incident_date: date) -> Reduction | None:
    """The ``arrears`` reduction of a claim for an incident on ``incident_date``: the
    installments due on or before that day that the state's payments have not paid yet
    (``arrears_reduction``), so a premium paid before the claim is assessed is not taken
    twice; None when nothing is owed. The schedule is read without the policy's ending: an
    ended policy collects nothing more (art. 38), but a benefit is still paid less what was
    owed at the incident (art. 36)."""
    incident_at = datetime.combine(incident_date, time(0), SHANGHAI)
    schedule = premium_schedule(
        get_product(state.product_code),
        effective_at=state.effective_at,
        premium=state.premium,
        payments=state.payments,
        on=incident_at,
    )
    return arrears_reduction(schedule, incident_at)


# --- one-year renewal ----------------------------------------------------------------------


class RenewalOffer(BaseModel):
    """The next period of a one-year policy as offered before expiry."""

    model_config = ConfigDict(frozen=True)

    offered_at: datetime
    age: int  # the insured's age on the offer's day
    premium: Decimal  # at the rates and that age
    guaranteed: bool  # False: the insurer need not renew (MEDICAL_1Y says so)
    starts_at: datetime  # the old expiry: no gap in cover
    ends_at: datetime
    # Cover has run without a break since then: a waiting period or an early-claim check
    # counts from it, never from a renewal's start.
    continuous_since: datetime


def is_renewable(product: Product) -> bool:
    """One-year products renew into a new period; longer ones run their term."""
    return product.term_years == 1


def renewal_window_opens_at(expires_at: datetime, clocks: ProcessClocks) -> datetime:
    """The renewal window opens ``renewal_notice`` (30 days) before expiry and closes at
    expiry."""
    return expires_at - clocks.renewal_notice


def renewal_refusal(
    product: Product,
    *,
    status: PolicyStatus,
    expires_at: datetime,
    on: datetime,
    clocks: ProcessClocks,
) -> str | None:
    """Why a renewal decision at ``on`` is refused, or None: an ended policy
    (``policy_closed``); a product that does not renew, a policy not in force, or outside
    the window (``renewal_window_closed``)."""
    if status not in LIVE_STATUSES:
        return "policy_closed"
    if not is_renewable(product) or status not in IN_FORCE_STATUSES:
        return "renewal_window_closed"
    if not renewal_window_opens_at(expires_at, clocks) <= on < expires_at:
        return "renewal_window_closed"
    return None


def renewal_offer(
    product: Product,
    *,
    sum_insured: Decimal,
    birth_date: date,
    offered_at: datetime,
    expires_at: datetime,
    continuous_since: datetime,
    clocks: ProcessClocks = DEFAULT_CLOCKS,
) -> RenewalOffer:
    """The renewal offered at ``offered_at`` (the window's opening): the product's premium
    for the insured's age that day (``annual_premium``; an age beyond the product's
    refuses it with ``QuoteRefused("age_not_eligible")``); the next period starts at the
    old expiry, one term long (in the ``clocks``' policy years), with no new waiting period."""
    if not is_renewable(product):
        raise ValueError(f"{product.code} runs its term; it is not renewed")
    age = age_on(birth_date, business_today(offered_at))
    return RenewalOffer(
        offered_at=offered_at,
        age=age,
        premium=annual_premium(product, sum_insured=sum_insured, age=age),
        guaranteed=product.renewal_guaranteed,
        starts_at=expires_at,
        ends_at=term_ends_at(expires_at, product, clocks),
        continuous_since=continuous_since,
    )


# --- where a policy's premiums stand, for its readers ------------------------------------


class PremiumStanding(BaseModel):
    """Where a policy's premiums stand for the people who read it (the policy's page and
    API, the customer's query): the schedule, the dates an unpaid installment sets, the
    cash value."""

    model_config = ConfigDict(frozen=True)

    schedule: PremiumSchedule
    grace_ends_at: datetime | None  # while in grace, as the process set it
    suspended_at: datetime | None
    reinstatement_deadline: datetime | None  # while suspended
    cash_value: Decimal

    @property
    def next_due_at(self) -> datetime | None:
        return self.schedule.next_due_at

    @property
    def amount_due(self) -> Decimal | None:
        """What brings the policy up to date (``PremiumSchedule.amount_due``); None when
        nothing more is owed."""
        return self.schedule.amount_due if self.schedule.next_due_at else None


def premium_standing(state: PolicyState, *, on: datetime, clocks: ProcessClocks) -> PremiumStanding:
    """Where the premiums of the policy in ``state`` stand at ``on`` (the moment asked
    about): its schedule (``premium_schedule``) and cash value (``cash_value``) then,
    grace and suspension as its process recorded them, and while suspended the end of the
    reinstatement window (``reinstatement_deadline``). ``clocks``: those the process runs
    on (the settings'), for the reinstatement window and the policy year.

    An ended policy is read as it stood when it ended: its unpaid installments waived,
    nothing due, and no cash value left (a surrender or a termination paid it out, a
    cancellation refunded the premium, and the table ends at 0 at expiry)."""
    product = get_product(state.product_code)
    ended_at = state.ended_at
    schedule = premium_schedule(
        product,
        effective_at=state.effective_at,
        premium=state.premium,
        payments=state.payments,
        on=min(on, ended_at) if ended_at else on,
        ended_at=ended_at,
        clocks=clocks,
    )
    suspended_at = state.suspended_at if state.status == PolicyStatus.SUSPENDED else None
    return PremiumStanding(
        schedule=schedule,
        grace_ends_at=state.grace_ends_at,
        suspended_at=state.suspended_at,
        reinstatement_deadline=reinstatement_deadline(suspended_at, clocks)
        if suspended_at
        else None,
        cash_value=Decimal("0.00")
        if ended_at
        else cash_value(
            product,
            premium=state.premium,
            effective_at=state.effective_at,
            installments_paid=schedule.installments_paid,
            on=on,
            clocks=clocks,
        ),
    )
