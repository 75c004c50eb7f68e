"""The product catalogue (docs/api.md "Products") and premium calculation."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

CENT = Decimal("0.01")


class IncidentType(StrEnum):
    DEATH = "death"
    TOTAL_DISABILITY = "total_disability"
    ACCIDENTAL_DEATH = "accidental_death"
    ACCIDENT_DISABILITY = "accident_disability"
    ACCIDENT_MEDICAL = "accident_medical"
    HOSPITALISATION = "hospitalisation"
    OUTPATIENT_SURGERY = "outpatient_surgery"


class RateBand(BaseModel):
    """Annual premium per 1,000 of sum insured for ages ``min_age``..``max_age``."""

    model_config = ConfigDict(frozen=True)
    min_age: int
    max_age: int
    per_mille: Decimal


class Product(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    kind: str
    term_years: int
    min_sum_insured: Decimal
    max_sum_insured: Decimal
    min_age: int
    max_age: int
    auto_underwriting_limit: Decimal
    covered_incidents: tuple[IncidentType, ...]
    rates: tuple[RateBand, ...]
    # How long after an incident a claim may still be made (诉讼时效, Insurance Law
    # art. 26): 2 years for non-life insurance, 5 years for life insurance.
    claim_limitation_years: int


def _bands(*rows: tuple[int, int, str]) -> tuple[RateBand, ...]:
    return tuple(RateBand(min_age=a, max_age=b, per_mille=Decimal(r)) for a, b, r in rows)


CATALOGUE: dict[str, Product] = {
    p.code: p
    for p in (
        Product(
            code="TERM_LIFE_20",
            name="定期寿险 20 年 (Term Life 20)",
            kind="term_life",
            term_years=20,
            min_sum_insured=Decimal("100000"),
            max_sum_insured=Decimal("5000000"),
            min_age=18,
            max_age=60,
            auto_underwriting_limit=Decimal("300000"),
            covered_incidents=(IncidentType.DEATH, IncidentType.TOTAL_DISABILITY),
            rates=_bands((18, 30, "0.90"), (31, 40, "1.50"), (41, 50, "3.20"), (51, 60, "6.50")),
            claim_limitation_years=5,
        ),
        Product(
            code="ACCIDENT_1Y",
            name="意外险 1 年 (Accident 1Y)",
            kind="accident",
            term_years=1,
            min_sum_insured=Decimal("50000"),
            max_sum_insured=Decimal("2000000"),
            min_age=18,
            max_age=65,
            auto_underwriting_limit=Decimal("500000"),
            covered_incidents=(
                IncidentType.ACCIDENTAL_DEATH,
                IncidentType.ACCIDENT_DISABILITY,
                IncidentType.ACCIDENT_MEDICAL,
            ),
            rates=_bands((18, 50, "0.80"), (51, 65, "1.20")),
            claim_limitation_years=2,
        ),
        Product(
            code="MEDICAL_1Y",
            name="医疗险 1 年 (Medical 1Y)",
            kind="medical_reimbursement",
            term_years=1,
            min_sum_insured=Decimal("10000"),
            max_sum_insured=Decimal("1000000"),
            min_age=0,
            max_age=65,
            auto_underwriting_limit=Decimal("200000"),
            covered_incidents=(IncidentType.HOSPITALISATION, IncidentType.OUTPATIENT_SURGERY),
            rates=_bands((0, 17, "3.00"), (18, 40, "2.50"), (41, 55, "4.00"), (56, 65, "6.00")),
            claim_limitation_years=2,
        ),
    )
}


class QuoteRefused(ValueError):
    """A quote the rules do not allow; ``code`` is the API's stable error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def get_product(code: str) -> Product:
    try:
        return CATALOGUE[code]
    except KeyError:
        raise QuoteRefused("unknown_product", f"no product with code {code!r}") from None


def check_eligibility(product: Product, *, sum_insured: Decimal, age: int) -> None:
    """Raise ``QuoteRefused`` when the sum or the applicant's age is outside the product."""
    if not product.min_sum_insured <= sum_insured <= product.max_sum_insured:
        raise QuoteRefused(
            "sum_insured_out_of_range",
            f"sum insured for {product.code} must be between "
            f"{product.min_sum_insured} and {product.max_sum_insured}",
        )
    if not product.min_age <= age <= product.max_age:
        raise QuoteRefused(
            "age_not_eligible",
            f"{product.code} is for ages {product.min_age} to {product.max_age}",
        )


def annual_premium(product: Product, *, sum_insured: Decimal, age: int) -> Decimal:
    """First-year premium in CNY, rounded half-up to the cent."""
    check_eligibility(product, sum_insured=sum_insured, age=age)
    band = next(b for b in product.rates if b.min_age <= age <= b.max_age)
    return (sum_insured / 1000 * band.per_mille).quantize(CENT, rounding=ROUND_HALF_UP)
