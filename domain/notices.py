"""The notifications' texts (SMS to customers, notices to agents), by the template key the
processes put in the outbox (``Notification.template``, ``workflows.process.notify``).

The outbox stores the key and its parameters, never a sentence: the relay
(``workers.outbox``) renders the text where it delivers it, through the message catalogues,
Chinese first. There is no language field on a customer or a user, so every message goes
out in Simplified Chinese, with the English beside it in the delivery record.

Parameters a text may use: those the process passes (``policy_number``, ``order_id``,
``task_id``, ``refund``, ``ends_at``) and ``case_id``, always there. One that a call does
not pass is left empty rather than failing a delivery.
"""

from __future__ import annotations

from domain.texts import N_

TEMPLATES: dict[str, str] = {
    # Enrollment: to the agent.
    "application_received": N_("Application %(case_id)s received; verification has started."),
    "application_rejected": N_("Application %(case_id)s was rejected."),
    "application_withdrawn": N_("Application %(case_id)s was withdrawn."),
    "application_expired": N_("Application %(case_id)s expired before it was decided."),
    "underwriting_approved": N_("Application %(case_id)s passed underwriting."),
    "underwriting_remind": N_(
        "Underwriting task %(task_id)s for application %(case_id)s is past due."
    ),
    "underwriting_escalate": N_(
        "Underwriting task %(task_id)s for application %(case_id)s was escalated."
    ),
    "payment_requested": N_("Premium payment order %(order_id)s is open for %(case_id)s."),
    "payment_declined": N_("The premium payment for %(case_id)s was declined."),
    "payment_lapsed": N_(
        "The premium for %(case_id)s was not paid in time; the application lapsed."
    ),
    "policy_issued": N_("Policy %(policy_number)s was issued."),
    "policy_effective": N_("Policy %(policy_number)s is in force."),
    "enrollment_cancelled": N_("Application %(case_id)s was cancelled."),
    # Claims: to the agent.
    "claim_reported": N_("Claim %(case_id)s was reported."),
    "documents_missing": N_("Claim %(case_id)s is missing documents."),
    "documents_reminder": N_("Reminder: claim %(case_id)s still needs its documents."),
    "documents_deadline_passed": N_("The deadline for the documents of claim %(case_id)s passed."),
    "decision_escalated": N_("The decision on claim %(case_id)s was escalated."),
    "decision_deadline_breached": N_("The decision deadline of claim %(case_id)s was missed."),
    "second_approval_needed": N_("Claim %(case_id)s needs a second approval."),
    "claim_approved": N_("Claim %(case_id)s was approved."),
    "claim_rejected": N_("Claim %(case_id)s was rejected."),
    "claim_paid": N_("Claim %(case_id)s was paid."),
    "payout_failed": N_("The payout of claim %(case_id)s failed; the payee account needs fixing."),
    "payout_deadline_breached": N_("The payout deadline of claim %(case_id)s was missed."),
    "claim_withdrawn": N_("Claim %(case_id)s was withdrawn."),
    "claim_cancelled": N_("Claim %(case_id)s was cancelled."),
    # Policies: to the agent, and (cooling_off_started, right_to_cancel, policy_expired,
    # policy_cancelled, servicing_changed) to the customer by SMS.
    "cooling_off_started": N_(
        "Your policy %(policy_number)s has a cooling-off period until %(ends_at)s: you may "
        "cancel it until then for a refund of the premium."
    ),
    "right_to_cancel": N_(
        "You may cancel policy %(policy_number)s until %(ends_at)s and have the premium refunded."
    ),
    "receipt_signed": N_("The receipt for policy %(policy_number)s was signed."),
    "return_visit_completed": N_("The return visit for policy %(policy_number)s was completed."),
    "return_visit_overdue": N_("The return visit for policy %(policy_number)s is overdue."),
    "return_visit_escalated": N_(
        "The return visit for policy %(policy_number)s was escalated: the customer could not "
        "be reached."
    ),
    "misselling_found": N_(
        "Mis-selling was found on policy %(policy_number)s; remediation task %(task_id)s is open."
    ),
    "misselling_remediated": N_("The mis-selling on policy %(policy_number)s was remediated."),
    "policy_cancelled": N_("Policy %(policy_number)s was cancelled; refund %(refund)s."),
    "policy_expired": N_("Policy %(policy_number)s has expired."),
    # Renewal premiums (domain.premiums): to the customer by SMS, the demand and the
    # suspension to the agent too.
    "premium_reminder": N_(
        "The premium of %(amount)s for policy %(policy_number)s is due on %(due_on)s."
    ),
    "premium_collected": N_(
        "The premium of %(amount)s for year %(n)s of policy %(policy_number)s was collected."
    ),
    "premium_payment_requested": N_(
        "The premium of %(amount)s for policy %(policy_number)s is due: pay order %(order_id)s "
        "online."
    ),
    "premium_debit_failed": N_(
        "The premium of %(amount)s for policy %(policy_number)s could not be debited from your "
        "account; it will be tried again."
    ),
    "payment_demand": N_(
        "Payment demand: the premium of %(amount)s for policy %(policy_number)s, due on "
        "%(due_on)s, is unpaid. The policy stays in force until %(grace_ends_on)s; unpaid by "
        "then, it is suspended."
    ),
    "policy_suspended": N_(
        "Policy %(policy_number)s is suspended from %(on)s because its premium was not paid: "
        "an incident from then on is not covered. It can be reinstated until %(deadline)s by "
        "paying what is owed with interest; ask your agent."
    ),
    "policy_reinstated": N_(
        "Policy %(policy_number)s is back in force: the arrears and interest of %(amount)s "
        "were paid."
    ),
    "reinstatement_refused": N_("The reinstatement of policy %(policy_number)s was refused."),
    "reinstatement_charge_failed": N_(
        "The reinstatement of policy %(policy_number)s was agreed, but the debit of "
        "%(amount)s failed: apply again once the account is funded."
    ),
    "policy_surrendered": N_(
        "Policy %(policy_number)s was surrendered; its cash value of %(value)s is paid to you."
    ),
    "value_payout_failed": N_(
        "The cash value of %(amount)s of policy %(policy_number)s was not paid: the bank "
        "declined it. It is paid again once ops correct the account (task %(task_id)s)."
    ),
    "policy_terminated": N_(
        "Policy %(policy_number)s has ended: it was not reinstated within two years of its "
        "suspension. Its cash value of %(value)s is refunded to you."
    ),
    "policy_ended_by_claim": N_(
        "Policy %(policy_number)s has ended: the claim paid %(value)s, its sum insured; no "
        "further premium is due."
    ),
    "renewal_offered": N_(
        "Policy %(policy_number)s ends on %(expires_on)s. It can be renewed for another year "
        "at a premium of %(premium)s: tell your agent if you wish to."
    ),
    "renewal_offered_not_guaranteed": N_(
        "Policy %(policy_number)s ends on %(expires_on)s. It can be renewed for another year "
        "at a premium of %(premium)s: tell your agent if you wish to. Renewal of this "
        "product is not guaranteed."
    ),
    "policy_renewed": N_(
        "Policy %(policy_number)s is renewed for another year; the premium of %(amount)s was "
        "collected."
    ),
    "servicing_changed": N_(
        "The details of policy %(policy_number)s were changed on %(on)s. If you did not ask "
        "for this change, call us at once."
    ),
    "policy_process_cancelled": N_("The process of policy %(policy_number)s was cancelled."),
    # Any process.
    "process_halted": N_("The process of %(case_id)s stopped on an error and waits for ops."),
}
UNKNOWN = N_("Notice %(template)s about %(case_id)s.")
# Parameters written as a moment or an amount in the reader's language.
MOMENTS = frozenset({"ends_at"})
AMOUNTS = frozenset({"refund"})


def text_of(template: str) -> str:
    """The msgid of `template`'s text (``UNKNOWN`` for a key without one)."""
    return TEMPLATES.get(template, UNKNOWN)
