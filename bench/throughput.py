"""Scenarios (a) to (d), interleaved: the bare pipeline with regular and with local activities
(the ceiling Temporal sets here), enrollments to ``effective`` and claims to ``closed`` (the
real worker process), in alternating rounds so the ratios between them are measured under
the same conditions.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from bench.baseline import Pipeline
from bench.histories import history_profile
from bench.load import Arm, drive, interleave
from bench.processes import (
    AUTO_SUM,
    CLAIM_AMOUNT,
    PRODUCT,
    People,
    claim_operation,
    enrollment_operation,
)
from bench.stack import Stack
from workflows.claim import workflow_id_for as claim_workflow_id
from workflows.enrollment import workflow_id_for

PROCESS_WARMUP = 3
REGULAR_ENROLLMENT = "enrollment, regular steps"
REGULAR_CLAIMS = "claims, regular steps"
PAIR_ENROLLMENT = "enrollment, two worker processes"
PG_ENROLLMENT = "enrollment, read model on PostgreSQL"
PG_PAIR_ENROLLMENT = "enrollment, read model on PostgreSQL, two worker processes"
# result key, arm, the label in the report
VARIANTS = (
    ("enrollment_two_workers", PAIR_ENROLLMENT, "on a queue polled by two worker processes"),
    ("enrollment_postgres", PG_ENROLLMENT, "with the read model on PostgreSQL"),
    (
        "enrollment_postgres_two_workers",
        PG_PAIR_ENROLLMENT,
        "with the read model on PostgreSQL, on a queue polled by two worker processes",
    ),
)


async def run_throughput(
    stack: Stack,
    people: People,
    *,
    baseline: int | None,
    enrollments: int | None,
    claims: int | None,
    concurrency: int,
    rounds: int,
) -> dict[str, Any]:
    """Whichever of the four are asked for (a size of None leaves one out)."""
    client = stack.require_client()
    progress = stack.progress
    arms: list[Arm] = []
    pipelines: dict[str, Pipeline] = {}
    async with AsyncExitStack() as running:
        if baseline:
            for variant in ("regular", "local"):
                pipeline = await running.enter_async_context(Pipeline(client, variant).running())
                pipelines[variant] = pipeline
                arms.append(Arm(f"baseline {variant}", pipeline.one(), baseline, concurrency))
        # Each process also runs on the before side of the local-steps change: the same
        # workflows with every step a regular activity (bench.regular_steps, own worker).
        before = stack.regular_steps_queue
        if enrollments:
            # More workers, and the read model on PostgreSQL (when the run has a URL for it):
            # the same enrollments on the real worker, each variant on its own queue. Keys
            # written to PostgreSQL carry the run's tag, since that database outlives the run.
            tag = stack.run_tag
            variants = [(PAIR_ENROLLMENT, stack.pair_queue, "EY", "EX")]
            if stack.postgres_url:
                variants += [
                    (PG_ENROLLMENT, stack.postgres_queue, f"EG{tag}", f"EF{tag}"),
                    (PG_PAIR_ENROLLMENT, stack.postgres_pair_queue, f"EH{tag}", f"EI{tag}"),
                ]
            warmups = [(None, "EW"), (before, "EV")] + [(q, w) for _, q, _, w in variants]
            for queue, prefix in warmups:
                # A queue two processes poll gets four times as many, so both get some.
                n = PROCESS_WARMUP * stack.queues[queue or stack.task_queue] ** 2
                warm = enrollment_operation(stack, people, prefix=prefix, task_queue=queue)
                await drive(n, n, warm)
            arms.append(
                Arm("enrollment", enrollment_operation(stack, people), enrollments, concurrency)
            )
            arms.append(
                Arm(
                    REGULAR_ENROLLMENT,
                    enrollment_operation(stack, people, prefix="ER", task_queue=before),
                    enrollments,
                    concurrency,
                )
            )
            for name, queue, prefix, _ in variants:
                operation = enrollment_operation(stack, people, prefix=prefix, task_queue=queue)
                arms.append(Arm(name, operation, enrollments, concurrency))
        if claims:
            for queue, prefix in ((None, "CW"), (before, "CV")):
                warm = await claim_operation(stack, PROCESS_WARMUP, prefix=prefix, task_queue=queue)
                await drive(PROCESS_WARMUP, PROCESS_WARMUP, warm)
            one = await claim_operation(stack, claims)
            one_before = await claim_operation(stack, claims, prefix="CR", task_queue=before)
            progress.say(f"claims: {2 * claims} effective policies written to the read model")
            arms.append(Arm("claims", one, claims, concurrency))
            arms.append(Arm(REGULAR_CLAIMS, one_before, claims, concurrency))
        progress.say(
            "throughput: "
            + ", ".join(f"{a.name} {a.total}" for a in arms)
            + f"; {concurrency} in flight; {rounds} interleaved rounds"
        )
        results = await interleave(arms, rounds=rounds, sampler=stack.sampler, progress=progress)
        out: dict[str, Any] = {}
        if pipelines:
            out["baseline"] = {
                variant: results[f"baseline {variant}"].as_dict()
                | {"concurrency": concurrency}
                | await pipeline.describe()
                for variant, pipeline in pipelines.items()
            }
    for key, arm, first in (
        ("enrollment_regular_steps", REGULAR_ENROLLMENT, "ER0000000"),
        ("claims_regular_steps", REGULAR_CLAIMS, "CR0000000"),
    ):
        if arm in results:
            workflow_id = (workflow_id_for if key.startswith("enr") else claim_workflow_id)(first)
            out[key] = results[arm].as_dict() | {
                "concurrency": concurrency,
                "path": "as above, every step a regular activity (runs from before "
                "LOCAL_STEPS_PATCH)",
                "per_process": await history_profile(client, workflow_id),
            }
    if enrollments:
        out["enrollment"] = results["enrollment"].as_dict() | {
            "concurrency": concurrency,
            "path": f"{PRODUCT} {AUTO_SUM}, auto_debit, start today → effective",
            "per_process": await history_profile(client, workflow_id_for("EA0000000")),
        }
    for key, arm, where in VARIANTS:
        if arm in results:
            out[key] = results[arm].as_dict() | {
                "concurrency": concurrency,
                "path": f"as the enrollment above, {where}",
            }
    if claims:
        out["claims"] = results["claims"].as_dict() | {
            "concurrency": concurrency,
            "path": f"MEDICAL_1Y hospitalisation {CLAIM_AMOUNT}, complete documents → auto → paid",
            "per_process": await history_profile(client, claim_workflow_id("CB0000000")),
        }
    for name, r in results.items():
        summary = r.drive.latencies.summary()
        progress.say(
            f"{name}: {r.drive.per_second:.2f}/s, p50 {summary['p50_ms']} ms, "
            f"p99 {summary['p99_ms']} ms, errors {summary['errors']}"
        )
    return out
