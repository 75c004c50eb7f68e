"""The "before" side of the local-steps change (``act.LOCAL_STEPS_PATCH``): InsureFlow's
worker with both workflows running every step as a regular activity, as runs started
before the patch do. Same code otherwise, same activities, its own task queue and process,
so the runner can interleave it with the real worker and measure the change side by side.

Run by ``bench.stack`` as ``python -m bench.regular_steps`` with the worker's environment.
"""

from __future__ import annotations

import asyncio

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


WORKFLOWS = (EnrollmentRegularSteps, ClaimRegularSteps)


if __name__ == "__main__":
    from cli.main import _run_worker
    from core.config import get_settings

    asyncio.run(_run_worker(get_settings(), workflows=WORKFLOWS, relay=False))
