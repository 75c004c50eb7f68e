"""Search attributes of every InsureFlow process. Plaintext in Temporal: no personal data."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PROCESS = SearchAttributeKey.for_keyword("InsureFlowProcess")
STAGE = SearchAttributeKey.for_keyword("InsureFlowStage")
AGENT = SearchAttributeKey.for_keyword("InsureFlowAgent")
STATUS = SearchAttributeKey.for_keyword("InsureFlowStatus")
AMOUNT = SearchAttributeKey.for_float("InsureFlowAmount")

ALL = (PROCESS, STAGE, AGENT, STATUS, AMOUNT)
