"""The policy page's premiums (api/web/policies.py), in English and Chinese: the schedule
as a table, arrears, the end of grace, the suspension and the reinstatement deadline, the
grace and suspended badges. In-process, on the API tests' app and hand-built states
(tests.api.test_policy_premiums), with no dev server: a policy in grace or suspended
cannot be waited for."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import cast

import httpx
import pytest
from temporalio.client import Client

from domain.policies import PolicyState
from tests.api.conftest import (  # noqa: F401  # fixtures, used by name
    api_app,
    api_client,
    api_database_template,
    api_database_url,
    api_session_factory,
    app_settings,
)
from tests.api.test_policies import store
from tests.api.test_policy_premiums import IN_GRACE, SUSPENDED, Factory, PolicyProcesses
from tests.web.console import sign_in


@pytest.fixture
def api_temporal_client() -> Client:
    return cast(Client, PolicyProcesses(IN_GRACE, SUSPENDED))


Page = Callable[[PolicyState, str], Awaitable[str]]


@pytest.fixture
def page_of(
    api_client: httpx.AsyncClient,  # noqa: F811
    api_session_factory: Factory,  # noqa: F811
) -> Page:
    """The policy page of ``state`` (its row stored first) as its agent sees it in
    ``language``."""

    async def open_page(state: PolicyState, language: str) -> str:
        await store(api_session_factory, state)
        api_client.headers["Accept-Language"] = language
        await sign_in(api_client, "alice")
        page = await api_client.get(f"/ui/policies/{state.policy_number}")
        assert page.status_code == 200, page.text
        return page.text

    return open_page


@pytest.mark.parametrize(
    ("language", "badge", "installments", "texts"),
    [
        (
            "en",
            "grace period",
            ("collected", "overdue", "to be paid"),
            ("Premium schedule", "Arrears", "Grace period ends"),
        ),
        (
            "zh-CN",
            "宽限期",
            ("已缴", "逾期未缴", "待缴"),
            ("保费缴费计划", "欠缴保费", "宽限期截止"),
        ),
    ],
)
async def test_a_policy_in_grace_shows_its_schedule_arrears_and_the_end_of_grace(
    page_of: Page, language: str, badge: str, installments: tuple[str, ...], texts: tuple[str, ...]
) -> None:
    html = await page_of(IN_GRACE, language)

    assert f'class="badge status-grace" data-testid="policy-status">{badge}<' in html
    rows = dict(re.findall(r'<tr data-installment="(\d+)">(.*?)</tr>', html, re.S))
    assert list(rows) == [str(n) for n in range(1, 21)]
    for n, said in zip(("1", "2", "3"), installments, strict=True):
        assert f">{said}</span>" in rows[n]
    assert "¥1,234.50" in rows["2"]
    assert 'data-testid="arrears">¥1,234.50<' in html
    assert 'data-testid="grace-end"' in html
    assert 'data-testid="suspended-at"' not in html
    assert 'data-testid="reinstatement-deadline"' not in html
    for said in texts:
        assert said in html


@pytest.mark.parametrize(
    ("language", "badge", "texts"),
    [
        ("en", "suspended", ("Suspended on", "Reinstatement possible until")),
        ("zh-CN", "效力中止", ("效力中止日", "可申请复效至")),
    ],
)
async def test_a_suspended_policy_shows_the_suspension_and_the_reinstatement_deadline(
    page_of: Page, language: str, badge: str, texts: tuple[str, ...]
) -> None:
    html = await page_of(SUSPENDED, language)

    assert f'class="badge status-suspended" data-testid="policy-status">{badge}<' in html
    assert 'data-testid="suspended-at"' in html
    assert 'data-testid="reinstatement-deadline"' in html
    assert 'data-testid="grace-end"' not in html
    for said in texts:
        assert said in html
