"""The business's time zone and its way of writing money."""

from datetime import UTC, date, datetime
from decimal import Decimal

from domain.business import business_today, money
from domain.tasks import TaskKind


def test_the_business_day_turns_at_midnight_in_shanghai_not_utc() -> None:
    assert business_today(datetime(2026, 3, 1, 15, 59, tzinfo=UTC)) == date(2026, 3, 1)
    assert business_today(datetime(2026, 3, 1, 16, 0, tzinfo=UTC)) == date(2026, 3, 2)


def test_money_is_written_in_yuan_with_two_places_and_separators() -> None:
    assert money(Decimal("1234")) == "¥1,234.00"
    assert money("300000.5") == "¥300,000.50"
    assert money(None) == ""
    assert money("n/a") == "n/a"


def test_task_kinds_keep_their_wire_names() -> None:
    assert [k.value for k in TaskKind] == [
        "underwriting",
        "claim_review",
        "claim_approval",
        "payout_failed",
        "late_payment",
        "return_visit",
        "misselling_remediation",
        "reinstatement",
        "renewal",
        "value_payout_failed",
    ]
    assert TaskKind("claim_approval").on_claim and not TaskKind.LATE_PAYMENT.on_claim
    assert not TaskKind.VALUE_PAYOUT_FAILED.on_claim  # a policy's: its process takes the fix
