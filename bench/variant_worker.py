"""InsureFlow's real worker without the outbox relay: the extra worker processes of the
bench's variants (a second process, the read model on PostgreSQL) on their own queues.

The relay stays with the one real worker (``insureflow worker``), as with the regular-steps
worker: more relays would take SQLite's write lock every second through every scenario,
the one-worker measurements included.

Run by ``bench.stack`` as ``python -m bench.variant_worker`` with the worker's environment.
"""

from __future__ import annotations

import asyncio

if __name__ == "__main__":
    from cli.main import _run_worker
    from core.config import get_settings

    asyncio.run(_run_worker(get_settings(), relay=False))
