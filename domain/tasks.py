"""The kinds of inbox task a process opens for a person, one name each everywhere."""

from __future__ import annotations

from enum import StrEnum


class TaskKind(StrEnum):
    UNDERWRITING = "underwriting"  # an enrollment the rules could not decide
    CLAIM_REVIEW = "claim_review"  # a claim whose materials a supervisor reviews
    CLAIM_APPROVAL = "claim_approval"  # a claim above the automatic limit
    PAYOUT_FAILED = "payout_failed"  # a declined payout: fix the payee account
    LATE_PAYMENT = "late_payment"  # money that came after its process ended: refund it
    RETURN_VISIT = "return_visit"  # customer service confirms the sale with the customer
    MISSELLING_REMEDIATION = "misselling_remediation"  # mis-selling found: put it right
    REINSTATEMENT = "reinstatement"  # a suspended policy asks to be back in force
    RENEWAL = "renewal"  # the agent follows a one-year policy's renewal offer up
    VALUE_PAYOUT_FAILED = "value_payout_failed"  # a cash value declined: fix the account

    @property
    def on_claim(self) -> bool:
        return self in (TaskKind.CLAIM_REVIEW, TaskKind.CLAIM_APPROVAL, TaskKind.PAYOUT_FAILED)

    @property
    def on_policy(self) -> bool:
        """Customer service's kinds: the policy's process decides them."""
        return self in (TaskKind.RETURN_VISIT, TaskKind.MISSELLING_REMEDIATION)
