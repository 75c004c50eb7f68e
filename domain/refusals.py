"""Every code a process may refuse a request with: its HTTP status and its text.

One registry for the three places a refusal shows: the workflows' Update validators raise
it (``workflows.process.refuse``), the API turns it into a problem with this status
(``services.processes.refusal``), and the routes' OpenAPI text lists the codes each operation
may answer (``refusal_responses``). A code missing here cannot be raised.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.texts import N_


@dataclass(frozen=True)
class Refusal:
    code: str
    status: int
    text: str  # the problem's detail unless the refusal names a more precise one

    @property
    def title(self) -> str:
        """The code in words: the problem's title (listed in ``TITLES`` for the catalogues)."""
        return self.code.replace("_", " ").capitalize()


def _registry(*refusals: Refusal) -> dict[str, Refusal]:
    return {r.code: r for r in refusals}


REFUSALS: dict[str, Refusal] = _registry(
    # Who may decide (domain.underwriting.decision_refusal, domain.claim_rules).
    Refusal("not_a_supervisor", 403, N_("only a supervisor may decide this task")),
    Refusal("approval_limit_exceeded", 403, N_("the amount is above the decider's approval limit")),
    Refusal("four_eyes_violation", 409, N_("a person who acted on a case may not decide it")),
    Refusal("not_your_case", 403, N_("only the case's own agent may act on it")),
    # Where the process is.
    Refusal("task_not_open", 409, N_("this task is no longer open for a decision")),
    Refusal("claimed_by_other", 409, N_("another supervisor has claimed this task")),
    Refusal("invalid_stage", 409, N_("the process does not take this request at its stage")),
    Refusal("withdraw_not_allowed", 409, N_("the case can no longer be withdrawn")),
    Refusal("appeal_not_allowed", 409, N_("only a rejected claim can be appealed, once")),
    Refusal("appeal_window_closed", 409, N_("the appeal window has closed")),
    # The policy's life (domain.policies).
    Refusal(
        "cooling_off_over",
        409,
        N_("the cooling-off period is over: cancellation is no longer possible"),
    ),
    Refusal("receipt_already_signed", 409, N_("the policy receipt is already recorded")),
    Refusal("policy_closed", 409, N_("the policy has ended")),
    Refusal(
        "return_visit_retry_too_soon",
        409,
        N_("an unreachable customer is tried again on a later working day"),
    ),
    Refusal("not_customer_service", 403, N_("only customer service may record this")),
    Refusal("nothing_to_change", 422, N_("a servicing change names at least one thing to change")),
    # Renewal premiums, reinstatement, surrender, renewal (domain.premiums).
    Refusal(
        "use_cooling_off_cancellation",
        409,
        N_("within the cooling-off period the policy is cancelled, not surrendered"),
    ),
    Refusal("already_surrendered", 409, N_("the policy is already surrendered")),
    Refusal("no_failed_payout", 409, N_("no declined cash value payout awaits an account")),
    Refusal("risk_reason_required", 422, N_("a reinstatement is refused only with a risk reason")),
    Refusal(
        "not_reinstatable",
        409,
        N_("only a suspended policy inside its reinstatement window can be reinstated"),
    ),
    Refusal(
        "renewal_window_closed",
        409,
        N_("a renewal is decided only in the renewal window before expiry"),
    ),
    # Payments.
    Refusal("already_paid", 409, N_("this order is already paid")),
    Refusal("payment_not_expected", 409, N_("this enrollment no longer takes payment")),
    Refusal("unknown_order", 404, N_("no such payment order on this enrollment")),
    Refusal("amount_mismatch", 422, N_("paid amount differs from the premium due")),
    # What the request says (domain.products.QuoteRefused and the validators).
    Refusal("sum_insured_out_of_range", 422, N_("the sum insured is outside the product's range")),
    Refusal("age_not_eligible", 422, N_("the insured's age is outside the product's range")),
    Refusal("unknown_product", 422, N_("no product with this code")),
    Refusal("unknown_quote", 422, N_("the application must name the current quote")),
    Refusal("quote_expired", 422, N_("the quote is no longer valid; quote again")),
    Refusal("consent_required", 422, N_("the applicant's consent is required")),
    Refusal("bank_account_required", 422, N_("auto_debit needs a bank account")),
    Refusal("invalid_start_date", 422, N_("start_date cannot be in the past")),
    Refusal("decision_not_allowed", 422, N_("this task does not take that decision")),
    Refusal("amount_above_assessment", 422, N_("an approved amount must be within the assessment")),
    Refusal("documents_required", 422, N_("name the known document kinds still missing")),
    Refusal("too_many_documents", 422, N_("a claim keeps too many documents")),
    Refusal(
        "checklist_incomplete", 422, N_("a completed return visit confirms every checklist item")
    ),
    Refusal(
        "dual_recording_required",
        422,
        N_("this buyer's return visit must record the dual-recording check"),
    ),
    Refusal(
        "invalid_receipt_date",
        422,
        N_("the receipt cannot be signed before issuance or in the future"),
    ),
)

# The titles as msgids (``Refusal.title`` computes them; pybabel extract needs them written).
# tests/core/test_catalogues.py checks each refusal's title and text are translated.
TITLES = (
    N_("Not a supervisor"),
    N_("Approval limit exceeded"),
    N_("Four eyes violation"),
    N_("Not your case"),
    N_("Task not open"),
    N_("Claimed by other"),
    N_("Invalid stage"),
    N_("Withdraw not allowed"),
    N_("Appeal not allowed"),
    N_("Appeal window closed"),
    N_("Cooling off over"),
    N_("Receipt already signed"),
    N_("Policy closed"),
    N_("Return visit retry too soon"),
    N_("Not customer service"),
    N_("Nothing to change"),
    N_("Use cooling off cancellation"),
    N_("Already surrendered"),
    N_("No failed payout"),
    N_("Risk reason required"),
    N_("Not reinstatable"),
    N_("Renewal window closed"),
    N_("Already paid"),
    N_("Payment not expected"),
    N_("Unknown order"),
    N_("Amount mismatch"),
    N_("Sum insured out of range"),
    N_("Age not eligible"),
    N_("Unknown product"),
    N_("Unknown quote"),
    N_("Quote expired"),
    N_("Consent required"),
    N_("Bank account required"),
    N_("Invalid start date"),
    N_("Decision not allowed"),
    N_("Amount above assessment"),
    N_("Documents required"),
    N_("Too many documents"),
    N_("Checklist incomplete"),
    N_("Dual recording required"),
    N_("Invalid receipt date"),
)


def refusal_for(code: str) -> Refusal:
    """The registered refusal; a KeyError for a code nobody registered (a bug)."""
    return REFUSALS[code]


def refusal_codes_by_status(*codes: str) -> dict[int, list[str]]:
    """The given codes grouped by their HTTP status, for an operation's OpenAPI text."""
    grouped: dict[int, list[str]] = {}
    for code in codes:
        grouped.setdefault(REFUSALS[code].status, []).append(code)
    return grouped
