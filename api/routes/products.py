"""The product catalogue (read-only; the rules live in ``domain.products``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CurrentUser
from api.openapi import problem_responses
from api.schemas import Money, Page
from domain.claim_rules import REQUIRED_DOCUMENTS
from domain.products import CATALOGUE, IncidentType, Product
from domain.texts import N_
from services.problems import ProblemError

router = APIRouter(prefix="/v1/products", tags=["products"])


class ProductRead(BaseModel):
    code: str
    name: str
    kind: str
    term_years: int
    min_sum_insured: Money
    max_sum_insured: Money
    min_age: int
    max_age: int
    auto_underwriting_limit: Money
    covered_incidents: list[IncidentType]
    required_documents: dict[IncidentType, list[str]] = Field(
        description="The claim checklist: for each covered incident type, the document "
        "kinds a claim needs before it is reviewed. Other kinds may be attached and are "
        "kept as supplementary."
    )
    claim_limitation_years: int = Field(
        description="A claim's incident may be at most this many years before the report "
        "(Insurance Law art. 26: 2 for non-life, 5 for life); older is `incident_too_old`"
    )
    cash_values: list[Money] = Field(
        description="The cash-value table (现金价值表): the cash value per 1,000 of annual "
        "premium at the start (the first entry) and at the end of each policy year "
        "(`term_years` + 1 entries), straight-line by days in between; only paid years "
        "build value. A surrender pays it, as does a termination after two years suspended. "
        "Illustrative product data, not an actuarial calculation"
    )
    renewal_guaranteed: bool = Field(
        description="Whether a one-year product must be renewed (保证续保); false: the "
        "insurer may decline the next period (健康保险管理办法 art. 21)"
    )

    @classmethod
    def from_product(cls, product: Product) -> ProductRead:
        return cls.model_validate(
            product.model_dump()
            | {
                "required_documents": {
                    kind: list(REQUIRED_DOCUMENTS[kind]) for kind in product.covered_incidents
                }
            }
        )


@router.get("")
async def list_products(actor: CurrentUser) -> Page[ProductRead]:
    """Every product that can be quoted: sums insured, ages, the automatic underwriting
    limit, the incident types (`covered_incidents`) claims may name, and for each the
    documents a claim needs (`required_documents`), the cash-value table (`cash_values`)
    and whether renewal is guaranteed (`renewal_guaranteed`)."""
    return Page(items=[ProductRead.from_product(p) for p in CATALOGUE.values()])


@router.get("/{code}", responses=problem_responses({404: "unknown_product"}))
async def read_product(code: str, actor: CurrentUser) -> ProductRead:
    """One product by its code (e.g. `TERM_LIFE_20`); 404 `unknown_product` if none."""
    product = CATALOGUE.get(code)
    if product is None:
        raise ProblemError(
            404, "unknown_product", N_("Unknown product"), N_("No product has this code.")
        )
    return ProductRead.from_product(product)
