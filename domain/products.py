"""The product catalogue (docs/api.md "Products") and premium calculation."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

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
    # The premium is annual: one installment a policy year for this many years (缴费期),
    # the first collected by the enrollment (docs/premiums.md).
    payment_years: int
    # The cash-value table (现金价值表) published with the product: the cash value per
    # 1,000 of annual premium at the end of each policy year, the first entry at the start
    # (term_years + 1 entries). domain.premiums.cash_value reads it.
    cash_values: tuple[Decimal, ...]
    # Whether the insurer must renew a one-year product (保证续保); without it the product
    # says renewal is not guaranteed (健康保险管理办法 arts. 4, 21).
    renewal_guaranteed: bool = False

    @model_validator(mode="after")
    def _payments_and_cash_values_fit_the_term(self) -> Self:
        if not 1 <= self.payment_years <= self.term_years:
            raise ValueError("payment_years must be between 1 and term_years")
        if len(self.cash_values) != self.term_years + 1:
            raise ValueError("cash_values needs one entry a policy year and one at the start")
        if any(v < 0 for v in self.cash_values):
            raise ValueError("a cash value cannot be negative")
        return self


def _bands(*rows: tuple[int, int, str]) -> tuple[RateBand, ...]:
    return tuple(RateBand(min_age=a, max_age=b, per_mille=Decimal(r)) for a, b, r in rows)


def _per_thousand(*values: int) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


# Illustrative product data, not an actuarial calculation. A level-premium term life
# policy builds a small reserve: its cash value is low, rises while the early years'
# premiums pay for the later years' higher risk, and falls back to nothing at the end of
# the term (no maturity benefit). Per 1,000 of annual premium, at the start and the end of
# policy years 1 to 20.
TERM_LIFE_20_CASH_VALUES = _per_thousand(
    0, 30, 90, 160, 230, 300, 360, 420, 470, 510, 540,
    550, 540, 510, 460, 400, 330, 250, 170, 80, 0,
)  # fmt: skip
# One-year products (market practice for short-term cover, illustrative): the unearned
# premium less a 25 % expense charge, so 750 per 1,000 at the start falling to 0 at expiry.
ONE_YEAR_CASH_VALUES = _per_thousand(750, 0)


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
            payment_years=20,
            cash_values=TERM_LIFE_20_CASH_VALUES,
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
            payment_years=1,
            cash_values=ONE_YEAR_CASH_VALUES,
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
            payment_years=1,
            cash_values=ONE_YEAR_CASH_VALUES,
            # Short-term health cover is not renewed as of right (健康保险管理办法 art. 21):
            # the renewal offer says so.
            renewal_guaranteed=False,
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
