"""Structured logs: JSON lines, bound context, personal data masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from core.config import Settings
from core.logging import configure_logging
from tests.support import CUSTOMER_ID_NUMBER

PHONE = "13800138000"
ACCOUNT = "6222021234567890123"  # 19 digits


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Logging configured to JSON on a buffer; the global logging state restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=buffer)
    yield buffer
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def assert_no_personal_data(text: str) -> None:
    for secret in (CUSTOMER_ID_NUMBER, PHONE, ACCOUNT):
        assert secret not in text


def test_structlog_fields_are_masked_in_json(stream: io.StringIO) -> None:
    structlog.get_logger("t").info(
        "customer", id_number=CUSTOMER_ID_NUMBER, phone=PHONE, account=ACCOUNT
    )

    [line] = lines(stream)
    assert line["event"] == "customer"
    assert line["phone"] == "138****8000"
    assert line["id_number"].endswith(CUSTOMER_ID_NUMBER[-4:])
    assert_no_personal_data(stream.getvalue())


def test_stdlib_message_is_masked_in_json(stream: io.StringIO) -> None:
    logging.getLogger("stdlib").warning(
        "id %s phone %s acct %s", CUSTOMER_ID_NUMBER, PHONE, ACCOUNT
    )

    [line] = lines(stream)
    assert (line["level"], line["logger"]) == ("warning", "stdlib")
    assert "138****8000" in line["event"]
    assert_no_personal_data(stream.getvalue())


def test_context_bound_with_contextvars_appears_on_both_kinds_of_line(
    stream: io.StringIO,
) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-1", workflow_id="enrollment-9")

    structlog.get_logger("t").info("one")
    logging.getLogger("stdlib").info("two")

    for line in lines(stream):
        assert (line["request_id"], line["workflow_id"]) == ("req-1", "enrollment-9")


def test_structlog_exception_traceback_is_masked(stream: io.StringIO) -> None:
    try:
        raise ValueError(f"rejected {CUSTOMER_ID_NUMBER}")
    except ValueError:
        structlog.get_logger("t").exception("failed")

    [line] = lines(stream)
    assert "ValueError: rejected" in line["exception"]
    assert_no_personal_data(stream.getvalue())


def test_stdlib_exception_traceback_is_masked(stream: io.StringIO) -> None:
    try:
        raise ValueError(f"rejected {CUSTOMER_ID_NUMBER}")
    except ValueError:
        logging.getLogger("stdlib").exception("failed")

    [line] = lines(stream)
    assert "ValueError: rejected" in line["exception"]
    assert_no_personal_data(stream.getvalue())
