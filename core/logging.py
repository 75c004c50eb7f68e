"""structlog through the stdlib: console in a terminal, JSON otherwise; personal data masked.

Context (request id, user, workflow id) is bound with ``structlog.contextvars`` by the
API middleware and the worker's activity interceptor and shows up on every line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from core.config import Settings
from domain.masking import scrub


def mask_personal_data(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask anything shaped like an ID number, phone or bank account in every value: strings
    are scrubbed in place; any other value (a number, a model, a list) whose text shows
    personal data is replaced by its scrubbed text."""
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = scrub(value)
        elif value is not None and not isinstance(value, bool):
            text = str(value)
            if scrub(text) != text:
                event_dict[key] = scrub(text)
    return event_dict


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    stream = stream or sys.stderr
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not stream.isatty()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            mask_personal_data,
            renderer,
        ],
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(stream)]
    handlers[0].setFormatter(formatter)
    if settings.log_file is not None:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(settings.log_file, encoding="utf-8")
        to_file.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    mask_personal_data,
                    structlog.processors.JSONRenderer(ensure_ascii=False),
                ],
            )
        )
        handlers.append(to_file)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_insureflow", False):
            root.removeHandler(old)
            old.close()
    for handler in handlers:
        handler._insureflow = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for noisy in ("uvicorn.access", "aiosqlite", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
