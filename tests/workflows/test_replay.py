"""Golden histories (tests/histories/) replayed with the current workflow code and codec.

A change that would break a running process on deploy fails here. Fix it with
``workflow.patched`` (docs/changing-workflows.md), not by regenerating the histories.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

# The replay sandbox re-imports this module for the negative control's workflow below:
# pass the rest through, as workflow modules do.
with workflow.unsafe.imports_passed_through():
    import pytest

    from core.temporal import data_converter
    from domain.enrollment import EnrollmentState
    from tests.support import CUSTOMER_ID_NUMBER, TEST_KEYRING
    from workflows.claim import ClaimWorkflow
    from workflows.enrollment import EnrollmentWorkflow
    from workflows.inputs import EnrollmentStart
    from workflows.policy import PolicyWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"
FILES = sorted(HISTORIES.glob("*.json"))

# Every process and every way it ends needs at least one golden history.
REQUIRED = {
    "enrollment": {
        "effective",
        "effective_after_supervisor",
        "rejected_by_supervisor",
        "rejected_by_verification",
        "withdrawn",
        "lapsed",
        "paid_online",
        "expired",
        "failed",
        "cancelled",
    },
    "claim": {
        "paid_auto",
        "paid_single",
        "paid_dual",
        "paid_ending_the_policy",
        "request_info_then_paid",
        "documents_withdrawn",
        "rejected_closed",
        "appeal_paid",
        "payout_declined_then_paid",
        "breach_then_paid",
        "withdrawn",
        "cancelled",
    },
    "policy": {
        "cancelled_in_cooling_off",
        "expired",
        "year_one_continued",
        "premium_missed_then_suspended",
        "reinstated_then_continued",
        "surrendered",
        "terminated_not_reinstated",
        "ended_by_claim",
        "renewed_then_continued",
    },
}
# Plaintext that the payload codec must have encrypted (tests.histories.regenerate's data).
PERSONAL_DATA = (CUSTOMER_ID_NUMBER, "13800138000", "6222020200112233445", "6222020200999988887")

REPLAYER = Replayer(
    workflows=[EnrollmentWorkflow, ClaimWorkflow, PolicyWorkflow],
    data_converter=data_converter(TEST_KEYRING),
)


def scenario_of(path: Path) -> tuple[str, str]:
    """``claim-paid_auto.json``, and an old path's recording kept beside it after a patch
    (``claim-paid_auto.v1.json``), name the scenario ("claim", "paid_auto")."""
    name = re.sub(r"(\.v\d+)?\.json$", "", path.name)
    process, _, ending = name.partition("-")
    return process, ending


def load(path: Path) -> WorkflowHistory:
    # to_json() leaves the workflow id out; the code never reads it, so the file name serves.
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_golden_history_replays_with_the_current_code_and_codec(path: Path) -> None:
    await REPLAYER.replay_workflow(load(path))


def test_every_process_and_ending_has_a_golden_history() -> None:
    present = {scenario_of(p) for p in FILES}
    missing = sorted(
        f"{process}-{ending}"
        for process, endings in REQUIRED.items()
        for ending in endings
        if (process, ending) not in present
    )
    assert not missing, f"no golden history for {missing}: run `make histories`"


def test_golden_histories_hold_no_plaintext_personal_data() -> None:
    assert FILES
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        json.loads(text)  # and each is a whole JSON document
        leaked = [secret for secret in PERSONAL_DATA if secret in text]
        assert not leaked, f"{path.name} holds plaintext personal data"


@workflow.defn(name="EnrollmentWorkflow")
class ReorderedEnrollmentWorkflow(EnrollmentWorkflow):
    """The negative control: EnrollmentWorkflow as a careless edit would leave it, writing
    the read model before registering the customer — one command moved, nothing else."""

    @workflow.run
    async def run(self, start: EnrollmentStart) -> EnrollmentState:
        self._p.record()
        await self._p.flush()
        return await super().run(start)


@workflow.defn(name="EnrollmentWorkflow")
class WaitFirstEnrollmentWorkflow(EnrollmentWorkflow):
    """A careless edit of another kind: a durable wait added before the first step."""

    @workflow.run
    async def run(self, start: EnrollmentStart) -> EnrollmentState:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


@pytest.mark.parametrize(
    "careless", [ReorderedEnrollmentWorkflow, WaitFirstEnrollmentWorkflow], ids=lambda c: c.__name__
)
async def test_a_reordered_workflow_fails_replay_as_non_deterministic(careless: type) -> None:
    replayer = Replayer(workflows=[careless], data_converter=data_converter(TEST_KEYRING))
    result = await replayer.replay_workflow(
        load(HISTORIES / "enrollment-effective.json"), raise_on_replay_failure=False
    )
    # The moved write is handed the recorded register_customer marker: its result fails to
    # decode as the batch's. The added timer meets that marker: non-determinism. Either
    # way the run would not go on.
    assert result.replay_failure is not None
    if careless is WaitFirstEnrollmentWorkflow:
        assert isinstance(result.replay_failure, workflow.NondeterminismError)
