"""The customer's policy look-up: when repeated failures lock a policy number. Defined once:
the look-up (services.policies) enforces it, the reports (domain.reports) count by it."""

from __future__ import annotations

from datetime import timedelta

# Five failures for one policy number within 15 minutes lock it until the window passes.
LOCK_AFTER = 5
LOCK_WINDOW = timedelta(minutes=15)
# The audit actions of one look-up: exactly one per attempt past the rate limit.
SUCCEEDED = "policy_query.succeeded"
FAILED = "policy_query.failed"
LOCKED = "policy_query.locked"
