"""The policy page: status, dates, the cooling-off period, the premiums (the schedule,
arrears, grace, suspension and the reinstatement deadline, the cash value), the return
visit and the history in business words; and the return visit's checklist form for
customer service.

Both stand on ``services.policies``, as ``/v1/policies`` does: the same visibility (an
agent their own policies, staff all), the same Update, the process's validators the one
source of the rules (the selling agent never records the visit: ``four_eyes_violation``).
A refusal is shown in words with its status, and nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response

from api.deps import LazyTemporalDep, SessionDep, get_settings
from api.web import formatting
from api.web.language import page_language
from api.web.rendering import WebRoute, redirect, render
from api.web.session import PageError, WebUser, require_csrf
from core.i18n import Language
from domain.masking import scrub
from domain.policies import CHECKLIST_ITEMS, PolicyState
from domain.premiums import InstallmentStatus
from domain.refusals import REFUSALS
from domain.texts import N_
from domain.underwriting import Actor, Role
from services import policies
from services.policies import VisitRecord
from services.problems import ProblemError

router: APIRouter = APIRouter(route_class=WebRoute)

PolicyNumber = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,64}$")]
VISIT_DECISIONS = ("completed", "unreachable", "misselling")

# The checklist items, as customer service asks them (domain.policies.CHECKLIST_ITEMS).
CHECKLIST_LABELS = {
    "policyholder_reached": N_("The policyholder was reached in person"),
    "purchase_and_signature": N_("They confirm the purchase and their own signatures"),
    "documents_read": N_("They read the product brochure and the policy notice"),
    "cover_understood": N_("They understand the cover, the exclusions and the term"),
    "surrender_loss_understood": N_("They understand the loss on surrender"),
    "cooling_off_explained": N_("They know the cooling-off period: its start, length and rights"),
    "payment_terms_understood": N_("They understand the payment period and frequency"),
}
assert tuple(CHECKLIST_LABELS) == CHECKLIST_ITEMS

VISIT_STATUS = {
    "pending": N_("to do"),
    "unreachable": N_("customer not reached yet"),
    "escalated": N_("escalated"),
    "completed": N_("completed"),
    "misselling": N_("mis-selling found"),
}
# A premium installment's state (domain.premiums.InstallmentStatus), as the schedule says it.
INSTALLMENT_STATUS = {
    InstallmentStatus.PAID: N_("collected"),
    InstallmentStatus.DUE: N_("to be paid"),
    InstallmentStatus.OVERDUE: N_("overdue"),
    InstallmentStatus.WAIVED: N_("not collected: the policy ended"),
}
assert set(INSTALLMENT_STATUS) == set(InstallmentStatus)
NOTICES = {
    "completed": N_("Return visit recorded as completed."),
    "unreachable": N_("Call recorded: the customer was not reached. Try again on a later day."),
    "misselling": N_(
        "Mis-selling recorded: a remediation task is open and the customer is told of "
        "the right to cancel."
    ),
    "remediated": N_("Remediation recorded: the remediation task is done."),
}

# The history notes the policy's process writes (workflows.policy), in business words.
_FIXED_NOTES = {
    "policy issued": N_("Policy issued"),
    "the policy takes effect": N_("The policy takes effect"),
    "cooling-off period over": N_("Cooling-off period over"),
    "receipt signed by the customer": N_("Receipt signed by the customer"),
    "the term has ended": N_("The term has ended"),
    "return visit not completed within the cooling-off period": N_(
        "Return visit not completed within the cooling-off period"
    ),
    "premium reminders on": N_("Premium reminders turned on"),
    "premium reminders off": N_("Premium reminders turned off"),
    "phone number changed": N_("The customer's phone number changed"),
    "payment account changed": N_("The auto-debit account changed"),
    "premium paid in grace": N_("Premium paid in the grace period: the policy is in force"),
    "reinstatement: consent deemed given": N_(
        "Reinstatement: no decision within 30 days, consent deemed given"
    ),
    "reinstatement: the debit of the arrears failed": N_(
        "Reinstatement: the debit of the arrears and interest failed"
    ),
    "renewal premium not collected: the policy expires": N_(
        "Renewal premium not collected: the policy expires"
    ),
    "the cover has ended: cash value owed": N_(
        "The cover has ended; the cash value is owed until it is paid"
    ),
    "renewal accepted for the customer": N_("Renewal accepted for the customer"),
    "renewal declined for the customer": N_("Renewal declined for the customer"),
}
_PATTERN_NOTES: formatting.Reworded = (
    (re.compile(r"^policy year (?P<n>\d+)$"), N_("Policy year %(n)s begins")),
    (
        re.compile(
            r"^return visit completed by (?P<who>\S+): (?P<n>\d+) of (?P<of>\d+) confirmed$"
        ),
        N_("Return visit completed by %(who)s: %(n)s of %(of)s confirmed"),
    ),
    (
        re.compile(
            r"^return visit: customer unreachable \(try (?P<n>\d+) of (?P<of>\d+)\), "
            r"next try on or after (?P<day>[\d-]+)$"
        ),
        N_("Customer not reached (try %(n)s of %(of)s); next try on or after %(day)s"),
    ),
    (
        re.compile(r"^return visit escalated: unreachable (?P<n>\d+) times$"),
        N_("Return visit escalated: customer not reached %(n)s times"),
    ),
    (
        re.compile(r"^mis-selling found by (?P<who>\S+): remediation due (?P<day>[\d-]+)$"),
        N_("Mis-selling found by %(who)s: remediation due %(day)s"),
    ),
    (
        re.compile(r"^mis-selling remediated by (?P<who>\S+): (?P<reason>.*)$"),
        N_("Mis-selling remediated by %(who)s: %(reason)s"),
    ),
    (
        re.compile(r"^cancellation in the cooling-off period asked: (?P<reason>.*)$"),
        N_("Cancellation in the cooling-off period asked: %(reason)s"),
    ),
    (
        re.compile(r"^cancelled in the cooling-off period, (?P<amount>[\d.]+) refunded$"),
        N_("Cancelled in the cooling-off period, %(amount)s refunded"),
    ),
    (
        re.compile(r"^installment (?P<n>\d+) collected: (?P<amount>[\d.]+)$"),
        N_("Premium installment %(n)s collected: %(amount)s"),
    ),
    (
        re.compile(r"^installment (?P<n>\d+): the debit failed \(try (?P<try>\d+)\)$"),
        N_("Premium installment %(n)s: the auto-debit failed (try %(try)s)"),
    ),
    (
        re.compile(r"^payment demand sent for installment (?P<n>\d+)$"),
        N_("Payment demand (催告) sent for premium installment %(n)s"),
    ),
    (
        re.compile(r"^installment (?P<n>\d+) overdue: in grace$"),
        N_("Premium installment %(n)s overdue: the policy is in its grace period"),
    ),
    (
        re.compile(r"^installment (?P<n>\d+) unpaid at the end of grace$"),
        N_("Premium installment %(n)s unpaid when the grace period ended: the policy is suspended"),
    ),
    (
        re.compile(r"^payment order (?P<order>\S+) for installment (?P<n>\d+)$"),
        N_("Online payment order %(order)s for premium installment %(n)s"),
    ),
    (
        re.compile(r"^reinstatement applied for by (?P<who>\S+)$"),
        N_("Reinstatement applied for by %(who)s"),
    ),
    (
        re.compile(r"^reinstatement approved by (?P<who>\S+)$"),
        N_("Reinstatement approved by %(who)s"),
    ),
    (
        re.compile(r"^reinstatement refused by (?P<who>\S+): (?P<reason>.*)$"),
        N_("Reinstatement refused by %(who)s: %(reason)s"),
    ),
    (
        re.compile(r"^reinstated: arrears and interest (?P<amount>[\d.]+) paid$"),
        N_("Reinstated: arrears and interest of %(amount)s paid, the policy is in force"),
    ),
    (
        re.compile(r"^not reinstated within two years: cash value (?P<amount>[\d.]+) refunded$"),
        N_("Not reinstated within two years: terminated, cash value %(amount)s refunded"),
    ),
    (
        re.compile(r"^ended by the claim (?P<claim>\S+) paid \((?P<code>[a-z_]+)\)$"),
        N_("Ended by claim %(claim)s paid (%(code)s)"),
    ),
    (
        re.compile(r"^surrender asked: (?P<reason>.*)$"),
        N_("Surrender asked: %(reason)s"),
    ),
    (
        re.compile(r"^surrendered, cash value (?P<amount>[\d.]+) paid$"),
        N_("Surrendered: cash value %(amount)s paid"),
    ),
    (
        re.compile(r"^cash value (?P<amount>[\d.]+) not paid: (?P<code>[a-z_]+)$"),
        N_("Cash value %(amount)s not paid: %(code)s"),
    ),
    (
        re.compile(r"^payee account corrected by (?P<who>\S+)$"),
        N_("Payee account corrected by %(who)s: the cash value is paid again"),
    ),
    (
        re.compile(r"^renewal not offered: (?P<code>[a-z_]+)$"),
        N_("Renewal not offered: %(code)s"),
    ),
    (
        re.compile(r"^renewal offered: premium (?P<amount>[\d.]+)$"),
        N_("Renewal offered at a premium of %(amount)s"),
    ),
    (
        re.compile(r"^renewed for period (?P<n>\d+): premium (?P<amount>[\d.]+) collected$"),
        N_("Renewed for period %(n)s: premium %(amount)s collected"),
    ),
)


def history_note(note: str | None, *, lang: Language) -> str:
    """A note of the policy's history in business words, in the page's language; a note
    not known here as the process wrote it."""
    text = note or ""
    fixed = _FIXED_NOTES.get(text)
    if fixed:
        return lang.gettext(fixed)
    said = formatting.reword(
        text,
        _PATTERN_NOTES,
        lang=lang,
        param=lambda name, value: _note_param(name, value, lang=lang),
    )
    return scrub(text) if said is None else said


def _note_param(name: str, value: str, *, lang: Language) -> str:
    if name == "amount":
        return lang.money(value)
    if name == "code":
        return formatting.words(value, lang=lang)
    return value


_OUTCOMES: formatting.Reworded = (
    (re.compile(r"^(?P<n>\d+) of (?P<of>\d+) confirmed$"), N_("%(n)s of %(of)s confirmed")),
    (re.compile(r"^unreachable (?P<n>\d+) times$"), N_("not reached %(n)s times")),
    (re.compile(r"^mis-selling found$"), N_("mis-selling found")),
)


def visit_outcome(text: str | None, *, lang: Language) -> str:
    """The return visit's outcome (domain.policies.ReturnVisit.outcome) in words."""
    said = formatting.reword(text or "", _OUTCOMES, lang=lang)
    return scrub(text or "") if said is None else said


def visit_refusal(err: ProblemError, *, lang: Language) -> str:
    """A refused return-visit record, said to the person who tried it."""
    if err.code == "four_eyes_violation":
        return lang.gettext(
            "You sold this policy: its return visit is done by customer service, not by "
            "the selling agent."
        )
    if err.code == "decision_not_allowed":
        return lang.gettext("Choose the outcome of the call.")
    if err.code in REFUSALS:
        return lang.gettext(REFUSALS[err.code].text)
    return formatting.refusal_text(err.code, lang=lang, detail=err.detail_msgid)


def remediation_refusal(err: ProblemError, *, lang: Language) -> str:
    """A refused remediation record, said to the person who tried it."""
    if err.code == "four_eyes_violation":
        return lang.gettext(
            "You sold this policy: its remediation is recorded by customer service or a "
            "supervisor, not by the selling agent."
        )
    if err.code in REFUSALS:
        return lang.gettext(REFUSALS[err.code].text)
    return formatting.refusal_text(err.code, lang=lang, detail=err.detail_msgid)


def _remediation_form_allowed(user: Actor, state: PolicyState) -> bool:
    """The remediation's form, for customer service or a supervisor other than the
    selling agent, while its task is open (the process's validator decides in the end)."""
    visit = state.return_visit
    return (
        visit is not None
        and visit.remediation_task_id is not None
        and visit.remediation_resolved_by is None
        and (user.has(Role.SERVICE) or user.has(Role.SUPERVISOR))
        and user.username != state.agent
        and state.status.value in ("issued", "effective")
    )


def _visit_form_allowed(user: Actor, state: PolicyState) -> bool:
    visit = state.return_visit
    return (
        visit is not None
        and visit.open
        and user.has(Role.SERVICE)
        and user.username != state.agent
        and state.status.value in ("issued", "effective")
    )


async def policy_page(
    request: Request,
    number: str,
    user: Actor,
    session: Any,
    temporal: Callable[..., Any],
    *,
    notice: str | None = None,
    alert: str | None = None,
    status_code: int = 200,
) -> Response:
    lang = page_language(request)
    try:
        state = await policies.read_policy(temporal, session, number, user)
    except ProblemError as err:
        if err.status_code == 404:
            raise PageError(404, N_("Not found"), N_("No such policy.")) from None
        raise
    visit = state.return_visit
    premiums = policies.premiums_of(state, get_settings(request).clocks)
    return render(
        request,
        "policy.html",
        {
            "title": lang.gettext("Policy %(number)s", number=state.policy_number),
            "policy": state,
            "premiums": premiums,
            "schedule": [
                (i, lang.gettext(INSTALLMENT_STATUS[i.status]))
                for i in premiums.schedule.installments
            ],
            "visit": visit,
            "visit_status": lang.gettext(VISIT_STATUS[visit.status]) if visit else None,
            "visit_outcome": visit_outcome(visit.outcome, lang=lang) if visit else None,
            "checklist": [(i, lang.gettext(CHECKLIST_LABELS[i])) for i in visit.items]
            if visit
            else [],
            "labels": {i: lang.gettext(t) for i, t in CHECKLIST_LABELS.items()},
            "can_visit": _visit_form_allowed(user, state),
            "can_remediate": _remediation_form_allowed(user, state),
            "history": [
                {"at": h.at, "by": h.by, "note": history_note(h.note, lang=lang)}
                for h in state.history
            ],
            "notice": lang.gettext(notice) if notice else None,
            "alert": alert,
        },
        status_code=status_code,
    )


@router.get("/policies/{number}")
async def policy(
    request: Request,
    number: PolicyNumber,
    user: WebUser,
    session: SessionDep,
    temporal: LazyTemporalDep,
    done: str = "",
) -> Response:
    """One policy: where it stands, its dates, the return visit and its history."""
    return await policy_page(request, number, user, session, temporal, notice=NOTICES.get(done))


@router.post("/policies/{number}/return-visit", dependencies=[Depends(require_csrf)])
async def record_return_visit(
    request: Request,
    number: PolicyNumber,
    user: WebUser,
    session: SessionDep,
    temporal: LazyTemporalDep,
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    confirmed: Annotated[list[str], Form()] = [],  # noqa: B006  # FastAPI copies defaults
    dual_recording_checked: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Record one return-visit call (``POST /v1/policies/{number}/return-visit``)."""
    lang = page_language(request)
    try:
        if decision not in VISIT_DECISIONS:
            raise ProblemError(422, "decision_not_allowed", N_("Not accepted"), "")
        record = VisitRecord(
            decision=decision,  # type: ignore[arg-type]  # checked just above
            checklist={i: i in confirmed for i in CHECKLIST_ITEMS},
            reason=reason.strip(),
            dual_recording_checked=True if dual_recording_checked else None,
        )
        await policies.record_return_visit(temporal, session, number, user, record)
    except ProblemError as err:
        await session.rollback()
        text = visit_refusal(err, lang=lang)
        return await policy_page(
            request, number, user, session, temporal, alert=text, status_code=err.status_code
        )
    return redirect(f"/ui/policies/{number}?done={decision}")


@router.post("/policies/{number}/remediation", dependencies=[Depends(require_csrf)])
async def resolve_remediation(
    request: Request,
    number: PolicyNumber,
    user: WebUser,
    session: SessionDep,
    temporal: LazyTemporalDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Record what was done about the mis-selling (``POST /v1/policies/{number}/remediation``)."""
    lang = page_language(request)
    if not reason.strip():
        return await policy_page(
            request,
            number,
            user,
            session,
            temporal,
            alert=lang.gettext("Say what was done to put it right."),
            status_code=422,
        )
    try:
        await policies.resolve_remediation(temporal, session, number, user, reason.strip())
    except ProblemError as err:
        await session.rollback()
        text = remediation_refusal(err, lang=lang)
        return await policy_page(
            request, number, user, session, temporal, alert=text, status_code=err.status_code
        )
    return redirect(f"/ui/policies/{number}?done=remediated")
