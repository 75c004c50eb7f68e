"""services.enrollments.start_enrollment: what it refuses before it asks Temporal anything."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import pytest
from temporalio.client import Client

from domain.clocks import ProcessClocks
from domain.identity import make_id_number
from domain.underwriting import Actor, Role
from services.enrollments import NewCustomer, start_enrollment
from services.problems import ProblemError

AGENT = Actor(username="amy", roles=(Role.AGENT,))
VALID_ID = make_id_number("110101", date(1990, 1, 1), 1)


async def _refusal(customer: NewCustomer, needs: Any = None, key: str | None = None) -> str:
    with pytest.raises(ProblemError) as caught:
        await start_enrollment(
            cast(Client, None),  # never reached: every case here is refused first
            AGENT,
            customer,
            needs,
            idempotency_key=key,
            secret="s",
            task_queue="q",
            clocks=ProcessClocks(),
        )
    assert caught.value.status_code == 422
    return caught.value.code


async def test_the_checks_come_in_order_key_id_number_phone_needs() -> None:
    bad = NewCustomer(name="张三", id_number="123", phone="x")
    assert await _refusal(bad, {"health_conditions": "x"}, key="short") == "invalid_idempotency_key"
    assert await _refusal(bad, {"health_conditions": "x"}) == "invalid_id_number"
    bad = NewCustomer(name="张三", id_number=VALID_ID, phone="x")
    assert await _refusal(bad, {"health_conditions": "x"}) == "invalid_phone"
    bad = NewCustomer(name="张三", id_number=VALID_ID, phone="13800138000")
    assert await _refusal(bad, {"health_conditions": [1]}) == "validation_error"
