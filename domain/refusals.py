"""Every code a process may refuse a request with: its HTTP status and its text.

One registry for the three places a refusal shows: the workflows' Update validators raise
it (``workflows.process.refuse``), the API turns it into a problem with this status
(``services.processes.refusal``), and the routes' OpenAPI text lists the codes each operation
may answer (``refusal_responses``). A code missing here cannot be raised.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    code: str
    status: int
    text: str  # the problem's detail unless the refusal names a more precise one

    @property
    def title(self) -> str:
        return self.code.replace("_", " ").capitalize()


def _registry(*refusals: Refusal) -> dict[str, Refusal]:
    return {r.code: r for r in refusals}


REFUSALS: dict[str, Refusal] = _registry(
    # Who may decide (domain.underwriting.decision_refusal, domain.claim_rules).
    Refusal("not_a_supervisor", 403, "only a supervisor may decide this task"),
    Refusal("approval_limit_exceeded", 403, "the amount is above the decider's approval limit"),
    Refusal("four_eyes_violation", 409, "a person who acted on a case may not decide it"),
    Refusal("not_your_case", 403, "only the case's own agent may act on it"),
    # Where the process is.
    Refusal("task_not_open", 409, "this task is no longer open for a decision"),
    Refusal("claimed_by_other", 409, "another supervisor has claimed this task"),
    Refusal("invalid_stage", 409, "the process does not take this request at its stage"),
    Refusal("withdraw_not_allowed", 409, "the case can no longer be withdrawn"),
    Refusal("appeal_not_allowed", 409, "only a rejected claim can be appealed, once"),
    Refusal("appeal_window_closed", 409, "the appeal window has closed"),
    # The policy's life (domain.policies).
    Refusal(
        "cooling_off_over",
        409,
        "the cooling-off period is over: cancellation is no longer possible",
    ),
    Refusal("receipt_already_signed", 409, "the policy receipt is already recorded"),
    Refusal("policy_closed", 409, "the policy has ended"),
    Refusal(
        "return_visit_retry_too_soon",
        409,
        "an unreachable customer is tried again on a later working day",
    ),
    Refusal("not_customer_service", 403, "only customer service may record this"),
    # Payments.
    Refusal("already_paid", 409, "this order is already paid"),
    Refusal("payment_not_expected", 409, "this enrollment no longer takes payment"),
    Refusal("unknown_order", 404, "no such payment order on this enrollment"),
    Refusal("amount_mismatch", 422, "paid amount differs from the premium due"),
    # What the request says (domain.products.QuoteRefused and the validators).
    Refusal("sum_insured_out_of_range", 422, "the sum insured is outside the product's range"),
    Refusal("age_not_eligible", 422, "the insured's age is outside the product's range"),
    Refusal("unknown_product", 422, "no product with this code"),
    Refusal("unknown_quote", 422, "the application must name the current quote"),
    Refusal("quote_expired", 422, "the quote is no longer valid; quote again"),
    Refusal("consent_required", 422, "the applicant's consent is required"),
    Refusal("bank_account_required", 422, "auto_debit needs a bank account"),
    Refusal("invalid_start_date", 422, "start_date cannot be in the past"),
    Refusal("decision_not_allowed", 422, "this task does not take that decision"),
    Refusal("amount_above_assessment", 422, "an approved amount must be within the assessment"),
    Refusal("documents_required", 422, "name the known document kinds still missing"),
    Refusal("too_many_documents", 422, "a claim keeps too many documents"),
    Refusal("checklist_incomplete", 422, "a completed return visit confirms every checklist item"),
    Refusal(
        "dual_recording_required",
        422,
        "this buyer's return visit must record the dual-recording check",
    ),
    Refusal(
        "invalid_receipt_date", 422, "the receipt cannot be signed before issuance or in the future"
    ),
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
