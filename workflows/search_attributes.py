"""Search attributes of every InsureFlow process. Plaintext in Temporal: no personal data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

PROCESS = SearchAttributeKey.for_keyword("InsureFlowProcess")
STAGE = SearchAttributeKey.for_keyword("InsureFlowStage")
AGENT = SearchAttributeKey.for_keyword("InsureFlowAgent")
STATUS = SearchAttributeKey.for_keyword("InsureFlowStatus")
AMOUNT = SearchAttributeKey.for_float("InsureFlowAmount")

ALL = (PROCESS, STAGE, AGENT, STATUS, AMOUNT)


def at_start(
    process: str, agent: str, stage: str, status: str, amount: Decimal | None = None
) -> TypedSearchAttributes:
    """What a process is searchable by from its first moment (the service that starts it
    sets them; the process upserts stage and status on every change after)."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(PROCESS, process),
        SearchAttributePair(AGENT, agent),
        SearchAttributePair(STAGE, stage),
        SearchAttributePair(STATUS, status),
    ]
    if amount is not None:
        pairs.append(SearchAttributePair(AMOUNT, float(amount)))
    return TypedSearchAttributes(pairs)
