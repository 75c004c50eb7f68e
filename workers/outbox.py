"""The outbox relay: delivers pending notifications through the simulated messaging
provider and marks them sent. Runs beside the worker; safe to run in several processes
(delivery is keyed, marking is idempotent).

The outbox holds a template key and its parameters; the text is rendered here, as it is
delivered, from the message catalogues (``domain.notices``): in Simplified Chinese, since
neither a customer nor a user has a language of their own yet, with the English beside it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import LOCALES, ZH, format_moment, format_money, gettext
from db.repositories import notifications
from domain import notices

log = structlog.get_logger(__name__)


SEND_LOCALE = ZH  # no language is recorded for a customer or an agent: Chinese first


class _Params(dict[str, str]):
    """A text's parameters; one its call did not pass reads as empty, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, params: dict[str, str], *, case_id: str, locale: str) -> str:
    """The text of `template` in `locale` with `params` put in: moments (``ends_at``) and
    amounts (``refund``) as that language writes them."""
    values = _Params(case_id=case_id, template=template)
    for name, value in params.items():
        if name in notices.MOMENTS:
            try:
                value = format_moment(datetime.fromisoformat(value), locale)
            except ValueError:
                pass
        elif name in notices.AMOUNTS:
            value = format_money(value, locale)
        values[name] = value
    return gettext(locale, notices.text_of(template)) % values


def texts(template: str, params: dict[str, str], *, case_id: str) -> dict[str, str]:
    """The text in every language we speak, Chinese first."""
    return {locale: render(template, params, case_id=case_id, locale=locale) for locale in LOCALES}


class SimulatedMessenger:
    """Stands in for the SMS/e-mail provider: appends each message to a JSON-lines file.
    Recipients are references ("agent:alice", "customer:E…"), never phone numbers."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def deliver(
        self,
        *,
        key: str,
        recipient: str,
        channel: str,
        template: str,
        params: dict[str, str],
        case_id: str = "",
    ) -> None:
        """Append the message: its key, recipient, template and params, and the text sent
        (``text``, in ``locale``) with every language's text (``texts``)."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        rendered = texts(template, params, case_id=case_id)
        line = {
            "key": key,
            "recipient": recipient,
            "channel": channel,
            "template": template,
            "params": params,
            "locale": SEND_LOCALE,
            "text": rendered[SEND_LOCALE],
            "texts": rendered,
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
                case_id=n.case_id,
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
