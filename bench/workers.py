"""The bench's extra worker processes, started by ``bench.stack`` with the worker's
environment on queues of their own, all without the outbox relay (it stays with the one
real worker: more relays would take SQLite's write lock every second through every
scenario).

``python -m bench.workers regular-steps``: InsureFlow's worker with both workflows running
every step as a regular activity, as runs started before ``act.LOCAL_STEPS_PATCH`` do, the
before side of the local-steps change. ``python -m bench.workers variant``: the real worker
(the variants: a second process, the read model on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import sys

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.claims import ClaimState
    from domain.enrollment import EnrollmentState
    from workflows.claim import ClaimWorkflow
    from workflows.enrollment import EnrollmentWorkflow
    from workflows.inputs import ClaimStart, EnrollmentStart


@workflow.defn(name="EnrollmentWorkflow")
class EnrollmentRegularSteps(EnrollmentWorkflow):
    @workflow.run
    async def run(self, start: EnrollmentStart) -> EnrollmentState:
        return await super().run(start)

    def _local_steps(self) -> bool:
        return False


@workflow.defn(name="ClaimWorkflow")
class ClaimRegularSteps(ClaimWorkflow):
    @workflow.run
    async def run(self, start: ClaimStart) -> ClaimState:
        return await super().run(start)

    def _local_steps(self) -> bool:
        return False


if __name__ == "__main__":
    from cli.main import _run_worker
    from core.config import get_settings

    regular = sys.argv[1:] == ["regular-steps"]
    workflows = (EnrollmentRegularSteps, ClaimRegularSteps) if regular else None
    asyncio.run(_run_worker(get_settings(), workflows=workflows, relay=False))
