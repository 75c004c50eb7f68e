"""``python -m bench.workers``: InsureFlow's real worker without the outbox relay, the
extra worker processes of the enrollment variants (a second process, the read model on
PostgreSQL), started by ``bench.stack`` with the worker's environment on queues of their
own. The relay stays with the one real worker: more relays would take SQLite's write lock
every second through every scenario.
"""

from __future__ import annotations

import asyncio

if __name__ == "__main__":
    from cli.main import _run_worker
    from core.config import get_settings

    asyncio.run(_run_worker(get_settings(), relay=False))
