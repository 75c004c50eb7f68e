"""``python -m bench.timers``: a worker process with nothing but the bare timer workflow
(bench.pipeline.BenchTimerWorkflow) on ``INSUREFLOW_TASK_QUEUE``, with the real worker's
client (converter and codec) and cache size, so that its memory and CPU stand beside the
real worker's with policies parked (bench.policies)."""

from __future__ import annotations

import asyncio


async def main() -> None:
    from temporalio.worker import Worker

    from bench.pipeline import BenchTimerWorkflow
    from core.config import get_settings
    from core.keys import parse_keys
    from core.temporal import connect

    settings = get_settings()
    client = await connect(settings, keyring=parse_keys(settings.codec_keys or ""))
    async with Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[BenchTimerWorkflow],
        max_cached_workflows=settings.worker_max_cached_workflows,
    ):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
