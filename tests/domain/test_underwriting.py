"""Underwriting routing and the authority rules for human decisions."""

from __future__ import annotations

from decimal import Decimal

from domain.products import CATALOGUE
from domain.underwriting import (
    Actor,
    Role,
    decision_refusal,
    risk_flags,
    route_underwriting,
)

TERM_LIFE = CATALOGUE["TERM_LIFE_20"]  # max age 60, auto-underwriting up to 300,000
LIMIT = Decimal("100000")
SUPERVISOR = Actor(username="sam", roles=(Role.SUPERVISOR,), approval_limit=LIMIT)
AGENT = Actor(username="alice", roles=(Role.AGENT,), approval_limit=Decimal("10000000"))


def test_applicant_within_five_years_of_max_age_is_flagged() -> None:
    assert risk_flags(TERM_LIFE, age=56, declared_conditions=[]) == ["near_max_age"]


def test_applicant_exactly_five_years_below_max_age_is_not_flagged() -> None:
    assert risk_flags(TERM_LIFE, age=55, declared_conditions=[]) == []


def test_declared_health_conditions_are_flagged() -> None:
    flags = risk_flags(TERM_LIFE, age=30, declared_conditions=["asthma"])

    assert flags == ["declared_health_conditions"]


def test_sum_exactly_at_the_auto_underwriting_limit_is_auto_approved() -> None:
    route = route_underwriting(TERM_LIFE, sum_insured=Decimal("300000"), flags=[])

    assert route.auto_approve
    assert route.reasons == []


def test_sum_one_cent_over_the_limit_goes_to_a_person() -> None:
    route = route_underwriting(TERM_LIFE, sum_insured=Decimal("300000.01"), flags=[])

    assert not route.auto_approve
    assert route.reasons == ["above_auto_underwriting_limit"]


def test_any_risk_flag_sends_a_small_sum_to_a_person() -> None:
    route = route_underwriting(TERM_LIFE, sum_insured=Decimal("100000"), flags=["near_max_age"])

    assert not route.auto_approve
    assert route.reasons == ["near_max_age"]


def test_non_supervisor_is_refused_before_four_eyes_and_limit() -> None:
    refusal = decision_refusal(AGENT, amount=LIMIT * 1000, submitted_by=AGENT.username)

    assert refusal == "not_a_supervisor"


def test_supervisor_deciding_own_submission_is_refused_before_the_limit() -> None:
    refusal = decision_refusal(SUPERVISOR, amount=LIMIT * 2, submitted_by=SUPERVISOR.username)

    assert refusal == "four_eyes_violation"


def test_supervisor_is_refused_one_cent_over_their_approval_limit() -> None:
    refusal = decision_refusal(
        SUPERVISOR, amount=LIMIT + Decimal("0.01"), submitted_by=AGENT.username
    )

    assert refusal == "approval_limit_exceeded"


def test_supervisor_may_decide_exactly_at_their_approval_limit() -> None:
    assert decision_refusal(SUPERVISOR, amount=LIMIT, submitted_by=AGENT.username) is None
