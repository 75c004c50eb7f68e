"""The product catalogue (docs/api.md "Products"), eligibility and premiums."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from pydantic import ValidationError

from domain.products import (
    CATALOGUE,
    Product,
    QuoteRefused,
    annual_premium,
    check_eligibility,
    get_product,
)

# docs/api.md "Products": code, kind, term, sum range, ages, auto-underwriting limit, covers.
CATALOGUE_FACTS = [
    (
        "TERM_LIFE_20",
        "term_life",
        20,
        ("100000", "5000000"),
        (18, 60),
        "300000",
        {"death", "total_disability"},
    ),
    (
        "ACCIDENT_1Y",
        "accident",
        1,
        ("50000", "2000000"),
        (18, 65),
        "500000",
        {"accidental_death", "accident_disability", "accident_medical"},
    ),
    (
        "MEDICAL_1Y",
        "medical_reimbursement",
        1,
        ("10000", "1000000"),
        (0, 65),
        "200000",
        {"hospitalisation", "outpatient_surgery"},
    ),
]


@pytest.mark.parametrize(
    ("code", "kind", "term", "sums", "ages", "limit", "covers"),
    CATALOGUE_FACTS,
    ids=[row[0] for row in CATALOGUE_FACTS],
)
def test_catalogue_holds_the_business_facts_of_api_md(
    code: str,
    kind: str,
    term: int,
    sums: tuple[str, str],
    ages: tuple[int, int],
    limit: str,
    covers: set[str],
) -> None:
    p = get_product(code)

    assert (p.code, p.kind, p.term_years) == (code, kind, term)
    assert (p.min_sum_insured, p.max_sum_insured) == (Decimal(sums[0]), Decimal(sums[1]))
    assert (p.min_age, p.max_age) == ages
    assert p.auto_underwriting_limit == Decimal(limit)
    assert {str(i) for i in p.covered_incidents} == covers


def test_rate_bands_cover_every_eligible_age_exactly_once() -> None:
    for p in CATALOGUE.values():
        ages = [a for band in p.rates for a in range(band.min_age, band.max_age + 1)]
        assert ages == list(range(p.min_age, p.max_age + 1)), p.code


def test_unknown_product_code_is_refused_as_unknown_product() -> None:
    with pytest.raises(QuoteRefused) as caught:
        get_product("PET_1Y")

    assert caught.value.code == "unknown_product"


def test_sum_and_age_at_both_ends_of_their_ranges_are_eligible() -> None:
    for p in CATALOGUE.values():
        check_eligibility(p, sum_insured=p.min_sum_insured, age=p.min_age)
        check_eligibility(p, sum_insured=p.max_sum_insured, age=p.max_age)


def test_sum_insured_one_cent_outside_the_range_is_refused() -> None:
    cent = Decimal("0.01")
    for p in CATALOGUE.values():
        for sum_insured in (p.min_sum_insured - cent, p.max_sum_insured + cent):
            with pytest.raises(QuoteRefused) as caught:
                check_eligibility(p, sum_insured=sum_insured, age=p.min_age)
            assert caught.value.code == "sum_insured_out_of_range", (p.code, sum_insured)


def test_age_one_year_outside_the_range_is_refused() -> None:
    for p in CATALOGUE.values():
        for age in (p.min_age - 1, p.max_age + 1):
            with pytest.raises(QuoteRefused) as caught:
                check_eligibility(p, sum_insured=p.min_sum_insured, age=age)
            assert caught.value.code == "age_not_eligible", (p.code, age)


@pytest.mark.parametrize(
    ("code", "age", "per_mille"),
    [
        ("TERM_LIFE_20", 30, "0.90"),
        ("TERM_LIFE_20", 31, "1.50"),
        ("ACCIDENT_1Y", 50, "0.80"),
        ("ACCIDENT_1Y", 51, "1.20"),
        ("MEDICAL_1Y", 17, "3.00"),
        ("MEDICAL_1Y", 18, "2.50"),
    ],
)
def test_premium_uses_the_band_that_contains_the_age_at_band_edges(
    code: str, age: int, per_mille: str
) -> None:
    premium = annual_premium(CATALOGUE[code], sum_insured=Decimal("100000"), age=age)

    assert premium == Decimal(per_mille) * 100


def test_premium_rounds_half_a_cent_up() -> None:
    # 10,002 / 1000 * 2.50 = 25.005: half-up gives 25.01 where banker's rounding gives 25.00.
    premium = annual_premium(CATALOGUE["MEDICAL_1Y"], sum_insured=Decimal("10002"), age=30)

    assert premium == Decimal("25.01")


def test_premium_is_quantized_to_the_cent() -> None:
    premium = annual_premium(CATALOGUE["TERM_LIFE_20"], sum_insured=Decimal("100000"), age=18)

    assert premium.as_tuple().exponent == -2


def test_premium_refuses_an_ineligible_applicant() -> None:
    with pytest.raises(QuoteRefused) as caught:
        annual_premium(CATALOGUE["TERM_LIFE_20"], sum_insured=Decimal("100000"), age=61)

    assert caught.value.code == "age_not_eligible"


def test_term_life_pays_twenty_annual_installments_and_one_year_products_one() -> None:
    assert get_product("TERM_LIFE_20").payment_years == 20
    assert get_product("ACCIDENT_1Y").payment_years == 1
    assert get_product("MEDICAL_1Y").payment_years == 1


def test_term_life_cash_values_start_at_zero_rise_then_fall_to_zero_at_the_end() -> None:
    table = get_product("TERM_LIFE_20").cash_values
    assert len(table) == 21 and table[0] == 0 and table[-1] == 0
    peak = table.index(max(table))
    assert all(a < b for a, b in pairwise(table[: peak + 1]))
    assert all(a > b for a, b in pairwise(table[peak:]))
    # Small: never more than the annual premium (per 1,000 of it).
    assert max(table) < 1000


def test_medical_renewal_is_not_guaranteed() -> None:
    assert get_product("MEDICAL_1Y").renewal_guaranteed is False


@pytest.mark.parametrize(
    "change",
    [
        {"payment_years": 0},
        {"payment_years": 21},
        {"cash_values": (Decimal(0),) * 20},
        {"cash_values": (Decimal(-1),) + (Decimal(0),) * 20},
    ],
)
def test_a_product_whose_payments_or_cash_values_do_not_fit_its_term_is_refused(
    change: dict[str, object],
) -> None:
    with pytest.raises(ValidationError):
        Product.model_validate(get_product("TERM_LIFE_20").model_dump() | change)
