"""The outbox relay: delivers pending notifications through the simulated messaging
provider and marks them sent. Runs beside the worker; safe to run in several processes
(delivery is keyed, marking is idempotent)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories import notifications

log = structlog.get_logger(__name__)


class SimulatedMessenger:
    """Stands in for the SMS/e-mail provider: appends each message to a JSON-lines file.
    Recipients are references ("agent:alice", "customer:E…"), never phone numbers."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def deliver(
        self, *, key: str, recipient: str, channel: str, template: str, params: dict[str, str]
    ) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        line = {
            "key": key,
            "recipient": recipient,
            "channel": channel,
            "template": template,
            "params": params,
            "at": datetime.now(UTC).isoformat(),
        }
        with self._path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


async def relay_once(
    session_factory: async_sessionmaker[AsyncSession], messenger: SimulatedMessenger
) -> int:
    async with session_factory() as session, session.begin():
        pending = await notifications.list_pending(session, limit=100)
        for n in pending:
            messenger.deliver(
                key=n.key,
                recipient=n.recipient,
                channel=n.channel,
                template=n.template,
                params=dict(n.params or {}),
            )
        # One statement for the batch: the read model's write lock is held briefly.
        await notifications.mark_all_sent(session, keys=[n.key for n in pending])
    return len(pending)


async def relay_forever(
    session_factory: async_sessionmaker[AsyncSession],
    messenger: SimulatedMessenger,
    stop: asyncio.Event,
    *,
    interval: float = 1.0,
) -> None:
    while not stop.is_set():
        try:
            sent = await relay_once(session_factory, messenger)
            if sent:
                log.info("notifications delivered", count=sent)
        except Exception:
            log.exception("outbox relay failed; will retry")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
