"""Verification of an applicant: ID number, age band, sanctions list, duplicate application."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.repositories import enrollments
from domain import steps
from domain.activities import VerifyApplicant
from domain.enrollment import CheckResult, Verification
from domain.identity import InvalidIdNumber, age_on, parse_id_number
from domain.products import get_product
from domain.underwriting import risk_flags
from gateways.sanctions import SanctionsList


class VerificationActivities:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], sanctions: SanctionsList
    ) -> None:
        self._sessions = session_factory
        self._sanctions = sanctions

    @activity.defn(name=steps.VERIFY_APPLICANT.name)
    async def verify_applicant(self, request: VerifyApplicant) -> Verification:
        """Run every check and report each; the first failure names the rejection code."""
        checks: list[CheckResult] = []
        failure: str | None = None
        flags: list[str] = []
        product = get_product(request.product_code)

        try:
            identity = parse_id_number(request.customer.id_number, today=request.on)
            checks.append(CheckResult(name="id_number", passed=True, detail="check digit valid"))
        except InvalidIdNumber as err:
            checks.append(CheckResult(name="id_number", passed=False, detail=str(err)))
            return Verification(passed=False, failure_code="invalid_id_number", checks=checks)

        age = age_on(identity.birth_date, request.on)
        in_band = product.min_age <= age <= product.max_age
        checks.append(
            CheckResult(
                name="age_band",
                passed=in_band,
                detail=f"age {age}; {product.code} takes {product.min_age}-{product.max_age}",
            )
        )
        if not in_band:
            failure = "age_not_eligible"

        screening = self._sanctions.screen(
            name=request.customer.name, id_number=request.customer.id_number
        )
        checks.append(
            CheckResult(
                name="sanctions",
                passed=not screening.hit,
                detail="listed"
                if screening.hit
                else ("name resembles a listed person" if screening.name_match else "not listed"),
            )
        )
        if screening.hit:
            failure = failure or "sanctions_hit"
        elif screening.name_match:
            flags.append("sanctions_name_match")

        async with self._sessions() as session:
            duplicate = await enrollments.has_open_duplicate(
                session,
                customer_id=request.customer_id,
                product_code=product.code,
                exclude_application_no=request.application_no,
            )
        checks.append(
            CheckResult(
                name="duplicate_application",
                passed=not duplicate,
                detail="another open application for this product"
                if duplicate
                else "no other open application",
            )
        )
        if duplicate:
            failure = failure or "duplicate_application"

        flags = (
            risk_flags(product, age=age, declared_conditions=request.declared_conditions) + flags
        )
        return Verification(
            passed=failure is None, failure_code=failure, checks=checks, risk_flags=flags
        )
