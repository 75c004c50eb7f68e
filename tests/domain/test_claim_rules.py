"""The claim process's business rules (docs/claims.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.business import SHANGHAI
from domain.claim_rules import (
    COVERAGE,
    DOCUMENT_KINDS,
    REQUIRED_DOCUMENTS,
    Tier,
    approval_tier,
    approvals_needed,
    assess,
    claim_decision_refusal,
    claim_flags,
    intake_refusal,
    missing_documents,
    reminder_times,
    years_before,
)
from domain.claims import Assessment, Reduction
from domain.clocks import ClaimLimits
from domain.premiums import Suspension
from domain.products import CATALOGUE, IncidentType
from domain.underwriting import Actor, Role

D = Decimal

# --- Documents -------------------------------------------------------------------------


@pytest.mark.parametrize("incident_type", list(IncidentType))
def test_every_incident_type_requires_the_claim_form_and_id_proof(
    incident_type: IncidentType,
) -> None:
    required = REQUIRED_DOCUMENTS[incident_type]

    assert {"claim_form", "id_proof"} <= set(required)
    assert len(required) > 2  # plus evidence of the incident itself


def test_every_required_kind_is_a_known_document_kind() -> None:
    required = {kind for kinds in REQUIRED_DOCUMENTS.values() for kind in kinds}

    assert required == DOCUMENT_KINDS


def test_missing_documents_are_the_required_kinds_not_provided_sorted() -> None:
    missing = missing_documents(incident_type=IncidentType.DEATH, provided=["claim_form"])

    assert missing == ["beneficiary_proof", "death_certificate", "id_proof"]


def test_duplicate_and_unneeded_documents_do_not_change_what_is_missing() -> None:
    missing = missing_documents(
        incident_type=IncidentType.HOSPITALISATION,
        provided=["medical_invoice", "medical_invoice", "surgery_record", "claim_form"],
    )

    assert missing == ["discharge_summary", "id_proof"]


def test_nothing_is_missing_when_every_required_kind_is_provided() -> None:
    provided = iter(REQUIRED_DOCUMENTS[IncidentType.ACCIDENTAL_DEATH])

    assert missing_documents(incident_type=IncidentType.ACCIDENTAL_DEATH, provided=provided) == []


# --- Assessment ------------------------------------------------------------------------


@pytest.mark.parametrize("incident_type", list(IncidentType))
def test_every_incident_type_has_a_coverage_rule(incident_type: IncidentType) -> None:
    assert incident_type in COVERAGE


def _reasons(assessment: Assessment) -> list[tuple[str, Decimal]]:
    return [(r.reason, r.amount) for r in assessment.reductions]


def test_life_benefit_is_paid_in_full_without_reductions() -> None:
    result = assess(
        incident_type=IncidentType.DEATH,
        amount_claimed=D("500000"),
        sum_insured=D("500000"),
        paid_to_date=D("0"),
    )

    assert result.approved_amount == D("500000.00")
    assert result.reductions == []


def test_hospitalisation_takes_the_deductible_then_the_co_payment() -> None:
    result = assess(
        incident_type=IncidentType.HOSPITALISATION,
        amount_claimed=D("11000.00"),
        sum_insured=D("100000"),
        paid_to_date=D("0"),
    )

    # 11000 - 1000 deductible = 10000; 90% of that = 9000.
    assert result.approved_amount == D("9000.00")
    assert _reasons(result) == [("deductible", D("1000.00")), ("co_payment", D("1000.00"))]


def test_co_payment_is_rounded_half_up_to_the_cent() -> None:
    result = assess(
        incident_type=IncidentType.HOSPITALISATION,
        amount_claimed=D("1000.05"),
        sum_insured=D("100000"),
        paid_to_date=D("0"),
    )

    # 0.05 after the deductible; 90% = 0.045, half-up to 0.05.
    assert result.approved_amount == D("0.05")
    assert _reasons(result) == [("deductible", D("1000.00"))]


def test_claim_below_the_deductible_is_reduced_to_zero_by_the_deductible_alone() -> None:
    result = assess(
        incident_type=IncidentType.OUTPATIENT_SURGERY,
        amount_claimed=D("300.00"),
        sum_insured=D("50000"),
        paid_to_date=D("0"),
    )

    assert result.approved_amount == D("0.00")
    assert _reasons(result) == [("deductible", D("300.00"))]


def test_accident_medical_is_capped_at_ten_percent_of_the_sum_insured() -> None:
    result = assess(
        incident_type=IncidentType.ACCIDENT_MEDICAL,
        amount_claimed=D("20100.00"),
        sum_insured=D("100000"),
        paid_to_date=D("0"),
    )

    assert result.approved_amount == D("10000.00")
    assert _reasons(result) == [("deductible", D("100.00")), ("coverage_cap", D("10000.00"))]


def test_remaining_sum_insured_binds_when_smaller_than_the_cap() -> None:
    result = assess(
        incident_type=IncidentType.OUTPATIENT_SURGERY,
        amount_claimed=D("50500.00"),
        sum_insured=D("100000"),
        paid_to_date=D("95000"),
    )

    # 50000 after the deductible, 80% = 40000, cap 20% = 20000, remaining 5000.
    assert result.approved_amount == D("5000.00")
    assert _reasons(result) == [
        ("deductible", D("500.00")),
        ("co_payment", D("10000.00")),
        ("coverage_cap", D("20000.00")),
        ("remaining_sum_insured", D("15000.00")),
    ]
    assert result.remaining_sum_insured == D("5000.00")


def test_cap_binds_alone_when_smaller_than_the_remaining_sum_insured() -> None:
    result = assess(
        incident_type=IncidentType.OUTPATIENT_SURGERY,
        amount_claimed=D("50500.00"),
        sum_insured=D("100000"),
        paid_to_date=D("50000"),
    )

    assert result.approved_amount == D("20000.00")
    assert [r.reason for r in result.reductions] == ["deductible", "co_payment", "coverage_cap"]


def test_exhausted_sum_insured_approves_nothing_and_says_why() -> None:
    result = assess(
        incident_type=IncidentType.DEATH,
        amount_claimed=D("100000"),
        sum_insured=D("100000"),
        paid_to_date=D("100000"),
    )

    assert result.approved_amount == D("0.00")
    assert result.remaining_sum_insured == D("0.00")
    assert _reasons(result) == [("remaining_sum_insured", D("100000.00"))]


def test_remaining_sum_insured_is_floored_at_zero_when_overpaid() -> None:
    result = assess(
        incident_type=IncidentType.TOTAL_DISABILITY,
        amount_claimed=D("1000"),
        sum_insured=D("100000"),
        paid_to_date=D("100000.01"),
    )

    assert result.remaining_sum_insured == D("0.00")
    assert result.approved_amount == D("0.00")


def test_remaining_sum_insured_is_reported_as_before_this_claim() -> None:
    result = assess(
        incident_type=IncidentType.ACCIDENTAL_DEATH,
        amount_claimed=D("30000"),
        sum_insured=D("100000"),
        paid_to_date=D("10000"),
    )

    assert result.remaining_sum_insured == D("90000.00")


def test_assessment_carries_the_claim_flags() -> None:
    result = assess(
        incident_type=IncidentType.DEATH,
        amount_claimed=D("1000"),
        sum_insured=D("100000"),
        paid_to_date=D("0"),
        flags=["early_claim"],
    )

    assert result.flags == ["early_claim"]


ARREARS = Reduction(
    reason="arrears", amount=D("1500.00"), detail="unpaid premium due by 2027-12-20"
)


def _in_grace(incident_type: IncidentType, claimed: str, sum_insured: str) -> Assessment:
    return assess(
        incident_type=incident_type,
        amount_claimed=D(claimed),
        sum_insured=D(sum_insured),
        paid_to_date=D("0"),
        arrears=ARREARS,
    )


def test_a_claim_in_grace_is_paid_less_the_arrears_after_every_other_reduction() -> None:
    # A death in grace with installment 2 (1,500.00) unpaid: the benefit less the arrears.
    result = _in_grace(IncidentType.DEATH, "200000", "200000")

    assert result.approved_amount == D("198500.00")
    assert _reasons(result) == [("arrears", D("1500.00"))]
    assert result.reductions[0].detail == "unpaid premium due by 2027-12-20"


def test_the_arrears_take_at_most_what_is_left_to_pay() -> None:
    # 1,200 claimed for a hospital stay: 1,000 deductible, 90 % of 200 is 180.00 left.
    result = _in_grace(IncidentType.HOSPITALISATION, "1200", "100000")

    assert result.approved_amount == D("0.00")
    assert _reasons(result)[-1] == ("arrears", D("180.00"))
    assert sum(r.amount for r in result.reductions) == result.amount_claimed


def test_reduction_details_name_no_personal_data_and_are_not_empty() -> None:
    result = assess(
        incident_type=IncidentType.OUTPATIENT_SURGERY,
        amount_claimed=D("50500.00"),
        sum_insured=D("100000"),
        paid_to_date=D("95000"),
    )

    assert [r.detail for r in result.reductions] == [
        "deductible of 500.00 per claim",
        "the policy reimburses 80% after the deductible",
        "capped at 20% of the sum insured per claim (20000.00)",
        "only 5000.00 of the sum insured remains after earlier payouts",
    ]


def test_negative_amount_is_refused_by_assessment() -> None:
    with pytest.raises(ValueError, match="negative"):
        assess(
            incident_type=IncidentType.DEATH,
            amount_claimed=D("-1"),
            sum_insured=D("100000"),
            paid_to_date=D("0"),
        )


# (incident type, claimed, sum insured, paid to date, expected approved)
ASSESSMENT_TABLE = [
    (IncidentType.DEATH, "100000", "100000", "0", "100000.00"),
    (IncidentType.DEATH, "250000", "100000", "0", "100000.00"),
    (IncidentType.TOTAL_DISABILITY, "100000", "100000", "99999.99", "0.01"),
    (IncidentType.ACCIDENT_MEDICAL, "100.00", "50000", "0", "0.00"),
    (IncidentType.ACCIDENT_MEDICAL, "100.01", "50000", "0", "0.01"),
    (IncidentType.ACCIDENT_MEDICAL, "5100.01", "50000", "0", "5000.00"),
    (IncidentType.ACCIDENT_MEDICAL, "9999.99", "50000", "48000", "2000.00"),
    (IncidentType.HOSPITALISATION, "1000.00", "10000", "0", "0.00"),
    (IncidentType.HOSPITALISATION, "1000.01", "10000", "0", "0.01"),
    (IncidentType.HOSPITALISATION, "1333.33", "10000", "0", "300.00"),
    (IncidentType.HOSPITALISATION, "999999.99", "10000", "2500", "7500.00"),
    (IncidentType.HOSPITALISATION, "1234.567", "10000", "0", "211.11"),
    (IncidentType.OUTPATIENT_SURGERY, "500.01", "10000", "0", "0.01"),
    (IncidentType.OUTPATIENT_SURGERY, "777.77", "10000", "0", "222.22"),
    (IncidentType.OUTPATIENT_SURGERY, "3000.00", "10000", "9000", "1000.00"),
    (IncidentType.OUTPATIENT_SURGERY, "3000.00", "10000", "10000", "0.00"),
    (IncidentType.OUTPATIENT_SURGERY, "3000.00", "10000.005", "0", "2000.00"),
]


@pytest.mark.parametrize(
    ("incident_type", "claimed", "sum_insured", "paid", "approved"), ASSESSMENT_TABLE
)
def test_reductions_add_up_to_claimed_minus_approved(
    incident_type: IncidentType, claimed: str, sum_insured: str, paid: str, approved: str
) -> None:
    result = assess(
        incident_type=incident_type,
        amount_claimed=D(claimed),
        sum_insured=D(sum_insured),
        paid_to_date=D(paid),
    )

    assert result.approved_amount == D(approved)
    assert sum(r.amount for r in result.reductions) == result.amount_claimed - D(approved)
    assert all(r.amount > 0 for r in result.reductions)
    assert all(r.amount == r.amount.quantize(D("0.01")) for r in result.reductions)


# --- Flags -----------------------------------------------------------------------------

EFFECTIVE = date(2025, 1, 1)


def _flags(incident_date: date, claimed: str = "1000", sum_insured: str = "100000") -> list[str]:
    return claim_flags(
        incident_date=incident_date,
        policy_effective_date=EFFECTIVE,
        amount_claimed=D(claimed),
        sum_insured=D(sum_insured),
    )


def test_incident_on_day_89_of_the_policy_is_an_early_claim() -> None:
    assert _flags(EFFECTIVE + timedelta(days=89)) == ["early_claim"]


def test_incident_on_day_90_of_the_policy_is_not_an_early_claim() -> None:
    assert _flags(EFFECTIVE + timedelta(days=90)) == []


def test_claim_one_cent_above_the_sum_insured_is_flagged() -> None:
    flags = _flags(EFFECTIVE + timedelta(days=365), claimed="100000.01")

    assert flags == ["claim_exceeds_sum_insured"]


def test_claim_exactly_at_the_sum_insured_is_not_flagged() -> None:
    assert _flags(EFFECTIVE + timedelta(days=365), claimed="100000.00") == []


# --- Approval tiers --------------------------------------------------------------------


def test_amount_exactly_at_the_auto_limit_without_flags_is_auto_approved() -> None:
    assert approval_tier(amount=D("5000.00"), flags=[]) is Tier.AUTO


def test_amount_one_cent_over_the_auto_limit_needs_one_supervisor() -> None:
    assert approval_tier(amount=D("5000.01"), flags=[]) is Tier.SINGLE


def test_any_flag_sends_a_small_amount_to_one_supervisor() -> None:
    assert approval_tier(amount=D("10.00"), flags=["early_claim"]) is Tier.SINGLE


def test_amount_exactly_at_the_dual_limit_needs_one_supervisor() -> None:
    assert approval_tier(amount=D("1000000.00"), flags=[]) is Tier.SINGLE


def test_amount_one_cent_over_the_dual_limit_needs_two_supervisors() -> None:
    assert approval_tier(amount=D("1000000.01"), flags=["early_claim"]) is Tier.DUAL


def test_configured_limits_replace_the_defaults() -> None:
    limits = ClaimLimits(claim_auto_limit=D("100.00"), dual_control_limit=D("200.00"))

    assert approval_tier(amount=D("100.01"), flags=[], limits=limits) is Tier.SINGLE
    assert approval_tier(amount=D("200.01"), flags=[], limits=limits) is Tier.DUAL


@pytest.mark.parametrize(("tier", "needed"), [(Tier.AUTO, 0), (Tier.SINGLE, 1), (Tier.DUAL, 2)])
def test_each_tier_needs_its_number_of_approvals(tier: Tier, needed: int) -> None:
    assert approvals_needed(tier) == needed


# --- Authority -------------------------------------------------------------------------

LIMIT = D("500000.00")
SAM = Actor(username="sam", roles=(Role.AGENT, Role.SUPERVISOR), approval_limit=LIMIT)
SUE = Actor(username="sue", roles=(Role.SUPERVISOR,), approval_limit=D("5000000.00"))
LOW = Actor(username="lou", roles=(Role.SUPERVISOR,), approval_limit=D("0"))
OLGA = Actor(username="olga", roles=(Role.OPS,), approval_limit=D("10000000"))


def test_non_supervisor_is_refused_before_any_other_check() -> None:
    refusal = claim_decision_refusal(
        OLGA,
        decision="approve",
        amount=D("99999999"),
        filed_by="olga",
        prior_approvers=["olga"],
        rejected_by="olga",
    )

    assert refusal == "not_a_supervisor"


def test_supervisor_deciding_a_claim_they_filed_is_a_four_eyes_violation() -> None:
    refusal = claim_decision_refusal(SAM, decision="approve", amount=D("100"), filed_by="sam")

    assert refusal == "four_eyes_violation"


def test_four_eyes_is_refused_before_the_approval_limit() -> None:
    refusal = claim_decision_refusal(
        SAM, decision="approve", amount=LIMIT * 10, filed_by="alice", prior_approvers=["sam"]
    )

    assert refusal == "four_eyes_violation"


def test_supervisor_who_already_approved_may_not_approve_again_under_dual_control() -> None:
    refusal = claim_decision_refusal(
        SUE, decision="approve", amount=D("2000000"), filed_by="alice", prior_approvers=["sue"]
    )

    assert refusal == "four_eyes_violation"


def test_second_supervisor_may_approve_under_dual_control() -> None:
    refusal = claim_decision_refusal(
        SUE, decision="approve", amount=D("2000000"), filed_by="alice", prior_approvers=["sid"]
    )

    assert refusal is None


def test_supervisor_who_rejected_may_not_review_the_appeal() -> None:
    refusal = claim_decision_refusal(
        SUE, decision="reject", amount=D("1000"), filed_by="alice", rejected_by="sue"
    )

    assert refusal == "four_eyes_violation"


def test_another_supervisor_may_review_the_appeal() -> None:
    refusal = claim_decision_refusal(
        SAM, decision="approve", amount=D("1000"), filed_by="alice", rejected_by="sue"
    )

    assert refusal is None


def test_approval_one_cent_over_the_limit_is_refused() -> None:
    refusal = claim_decision_refusal(
        SAM, decision="approve", amount=LIMIT + D("0.01"), filed_by="alice"
    )

    assert refusal == "approval_limit_exceeded"


def test_approval_exactly_at_the_limit_is_allowed() -> None:
    assert claim_decision_refusal(SAM, decision="approve", amount=LIMIT, filed_by="alice") is None


@pytest.mark.parametrize("decision", ["reject", "request_info"])
def test_supervisor_with_a_low_limit_may_reject_or_request_information(decision: str) -> None:
    refusal = claim_decision_refusal(LOW, decision=decision, amount=D("2000000"), filed_by="alice")

    assert refusal is None


def test_unknown_decision_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown claim decision"):
        claim_decision_refusal(SUE, decision="pay", amount=D("1"), filed_by="alice")


# --- Intake ----------------------------------------------------------------------------

TODAY = date(2025, 6, 1)
ACCIDENT = CATALOGUE["ACCIDENT_1Y"]


def _intake(**changes: object) -> tuple[str, str] | None:
    facts: dict[str, object] = {
        "policy_status": "effective",
        "effective_on": date(2025, 1, 1),
        "expires_on": date(2026, 1, 1),
        "covered": ACCIDENT.covered_incidents,
        "incident_type": "accident_medical",
        "incident_date": date(2025, 5, 1),
        "today": TODAY,
        "amount_claimed": D("1000.00"),
        "limitation_years": ACCIDENT.claim_limitation_years,
    }
    facts.update(changes)
    return intake_refusal(**facts)  # type: ignore[arg-type]


def _code(**changes: object) -> str | None:
    refusal = _intake(**changes)
    return None if refusal is None else refusal[0]


def test_a_claim_within_the_policy_term_and_cover_is_accepted() -> None:
    assert _intake() is None


@pytest.mark.parametrize("amount", ["0", "-0.01", "NaN", "Infinity"])
def test_an_amount_that_is_not_positive_is_invalid(amount: str) -> None:
    assert _code(amount_claimed=D(amount)) == "invalid_amount"


def test_invalid_amount_is_refused_before_every_other_reason() -> None:
    code = _code(
        amount_claimed=D("0"),
        incident_date=TODAY + timedelta(days=1),
        incident_type="flood",
        policy_status="lapsed",
    )

    assert code == "invalid_amount"


def test_incident_tomorrow_is_in_the_future() -> None:
    assert _code(incident_date=TODAY + timedelta(days=1), incident_type="flood") == (
        "incident_in_future"
    )


def test_incident_today_is_not_in_the_future() -> None:
    assert _code(incident_date=TODAY) is None


@pytest.mark.parametrize(
    ("code", "years"), [("ACCIDENT_1Y", 2), ("MEDICAL_1Y", 2), ("TERM_LIFE_20", 5)]
)
def test_the_limitation_period_is_two_years_non_life_and_five_years_life(
    code: str, years: int
) -> None:
    assert CATALOGUE[code].claim_limitation_years == years


@pytest.mark.parametrize("years", [2, 5])
def test_an_incident_before_the_limitation_period_is_too_old(years: int) -> None:
    limit = TODAY.replace(year=TODAY.year - years)
    old = {"effective_on": date(2000, 1, 1), "limitation_years": years}

    assert _code(incident_date=limit - timedelta(days=1), **old) == "incident_too_old"
    assert _code(incident_date=limit, **old) is None  # exactly N years ago: still in time


def test_incident_too_old_comes_before_cover_and_policy_checks() -> None:
    refusal = _intake(incident_date=date(2020, 1, 1), incident_type="flood", policy_status="lapsed")

    assert refusal == ("incident_too_old", "a claim must be made within 2 years of the incident")


def test_the_limitation_period_from_29_february_ends_on_28_february() -> None:
    assert years_before(date(2028, 2, 29), 2) == date(2026, 2, 28)


def test_unknown_incident_type_is_refused_without_echoing_the_input() -> None:
    refusal = _intake(incident_type="13800138000", policy_status="lapsed")

    assert refusal is not None
    assert refusal[0] == "unknown_incident_type"
    assert "13800138000" not in refusal[1]


def test_incident_type_outside_the_product_cover_is_not_covered() -> None:
    assert _code(incident_type="hospitalisation", policy_status="lapsed") == (
        "incident_not_covered"
    )


@pytest.mark.parametrize("status", ["in_progress", "lapsed", "withdrawn", "rejected", "failed"])
def test_policy_never_in_force_cannot_be_claimed_on(status: str) -> None:
    assert _code(policy_status=status) == "policy_not_effective"


def test_a_policy_in_grace_is_in_force_and_a_suspended_one_without_its_date_is_refused() -> None:
    assert _code(policy_status="grace") is None
    # No recorded state to say since when: nothing is covered.
    assert _code(policy_status="suspended") == "policy_not_effective"


# Suspended at midnight starting 11 March 2025 (grace ended after 10 March); reinstated on
# 20 May 2025 at 15:30, so in force again from that day's start.
SUSPENDED = Suspension(since=datetime(2025, 3, 11, tzinfo=SHANGHAI))
REINSTATED = Suspension(
    since=datetime(2025, 3, 11, tzinfo=SHANGHAI), until=datetime(2025, 5, 20, tzinfo=SHANGHAI)
)


@pytest.mark.parametrize(
    ("incident", "code"),
    [
        (date(2025, 3, 10), None),
        (date(2025, 3, 11), "policy_not_effective"),
        (date(2025, 5, 31), "policy_not_effective"),
    ],
)
def test_a_suspended_policy_covers_an_incident_before_its_suspension_not_after(
    incident: date, code: str | None
) -> None:
    assert _code(policy_status="suspended", suspensions=[SUSPENDED], incident_date=incident) == code


@pytest.mark.parametrize(
    ("incident", "code"),
    [
        (date(2025, 3, 10), None),
        (date(2025, 3, 11), "policy_not_effective"),
        (date(2025, 5, 19), "policy_not_effective"),
        (date(2025, 5, 20), None),
    ],
)
def test_a_reinstated_policy_still_covers_nothing_that_happened_while_suspended(
    incident: date, code: str | None
) -> None:
    assert (
        _code(policy_status="effective", suspensions=[REINSTATED], incident_date=incident) == code
    )


def test_the_suspension_refusal_says_why() -> None:
    refusal = _intake(suspensions=[SUSPENDED], incident_date=date(2025, 3, 11))

    assert refusal == ("policy_not_effective", "the policy was suspended on the incident date")


def test_expired_policy_still_pays_for_an_incident_during_its_term() -> None:
    assert _code(policy_status="expired") is None


def test_an_issued_policy_covers_from_its_effective_date_though_its_row_is_not_yet_effective() -> (
    None
):
    # The policy process marks its row effective a moment after the enrollment ends
    # effective: the dates, not that write, say whether the policy was in force.
    assert _code(policy_status="issued", incident_date=date(2025, 1, 1)) is None
    assert _code(policy_status="issued", incident_date=date(2024, 12, 31)) == (
        "policy_not_effective"
    )


def test_incident_on_the_effective_date_is_covered() -> None:
    assert _code(incident_date=date(2025, 1, 1)) is None


def test_incident_the_day_before_the_effective_date_is_not_covered() -> None:
    assert _code(incident_date=date(2024, 12, 31)) == "policy_not_effective"


def test_incident_on_the_expiry_date_is_not_covered() -> None:
    code = _code(incident_date=date(2026, 1, 1), today=date(2026, 2, 1), policy_status="expired")

    assert code == "policy_not_effective"


# --- Reminders -------------------------------------------------------------------------

START = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def test_reminders_fall_every_interval_after_the_start() -> None:
    times = reminder_times(start=START, deadline=START + timedelta(days=30), every=WEEK)

    assert times == [START + WEEK * n for n in range(1, 5)]


def test_no_reminder_falls_exactly_on_the_deadline() -> None:
    times = reminder_times(start=START, deadline=START + 4 * WEEK, every=WEEK)

    assert times == [START + WEEK * n for n in range(1, 4)]


def test_interval_longer_than_the_window_gives_no_reminders() -> None:
    assert reminder_times(start=START, deadline=START + timedelta(days=6), every=WEEK) == []


def test_deadline_already_passed_gives_no_reminders() -> None:
    assert reminder_times(start=START, deadline=START - WEEK, every=WEEK) == []


@pytest.mark.parametrize("every", [timedelta(0), -WEEK])
def test_interval_that_is_not_positive_is_refused(every: timedelta) -> None:
    with pytest.raises(ValueError, match="positive"):
        reminder_times(start=START, deadline=START + WEEK, every=every)
