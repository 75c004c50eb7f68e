"""The report pages (/ui/reports) over plain HTTP and in Chromium: figures per role (an
agent their own, whatever they ask; supervisors and ops everyone's or one agent's), the
chart as a same-origin SVG image under the strict CSP, the downloads, and both languages.

The figures are daily aggregate rows written straight to the report tables for days long
past (no other test writes there), so the numbers are known by hand."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.middleware import STRICT_CSP
from db.models import ReportDaily, ReportSamples, ReportTaskDaily
from tests.web.conftest import LAPTOP, PHONE
from tests.web.console import sign_in
from tests.web.test_browser import no_horizontal_overflow

pytestmark = pytest.mark.devserver

DAYS = (date(2024, 2, 5), date(2024, 2, 6), date(2024, 2, 7))
RANGE = {"from": "2024-02-05", "to": "2024-02-07"}


@pytest.fixture
async def figures(sessions: async_sessionmaker[AsyncSession]) -> None:
    """alice: 1 + 2 + 0 policies issued (¥1,200.00 + ¥2,400.50), and on the 6th 4 return
    visits due, 3 completed, 2 of them within cooling-off, and 3 policies at 13 months, 2
    of them paid, 1 suspended and 1 reinstated; bob: 1 on the 6th (¥800.00); one SLA row
    and a turnaround sample each."""
    async with sessions() as s, s.begin():
        for model in (ReportDaily, ReportTaskDaily, ReportSamples):
            await s.execute(delete(model).where(model.day.in_(DAYS)))
        visits = {"return_visits_due": 4, "return_visits_completed": 3}
        visits |= {"return_visits_in_cooling_off": 2}
        persistency = {"persistency_13m_due": 3, "persistency_13m_paid": 2}
        persistency |= {"policies_suspended": 1, "policies_reinstated": 1}
        nothing: dict[str, int] = {}
        for day, agent, issued, premium, figures in (
            (DAYS[0], "alice", 1, "1200.00", nothing),
            (DAYS[1], "alice", 2, "2400.50", visits | persistency),
            (DAYS[2], "alice", 0, "0", nothing),
            (DAYS[1], "bob", 1, "800.00", nothing),
        ):
            s.add(
                ReportDaily(
                    day=day,
                    agent=agent,
                    applications_started=issued + 1,
                    applications_submitted=issued,
                    applications_approved=issued,
                    policies_issued=issued,
                    premium_issued=Decimal(premium),
                    **figures,
                )
            )
        s.add(
            ReportTaskDaily(
                day=DAYS[1], agent="alice", kind="underwriting", opened=4, decided=3,
                decided_before_due=2, breached=1,
            )
        )  # fmt: skip
        s.add(ReportSamples(day=DAYS[1], agent="alice", measure="submission_to_issue",
                            samples=[3600, 7200]))  # fmt: skip


def _rows(html: str) -> str:
    return " ".join(html.split())


@pytest.mark.usefixtures("figures")
async def test_a_supervisor_sees_every_agent_the_total_a_chart_and_the_downloads(
    web: httpx.AsyncClient,
) -> None:
    await sign_in(web, "sue")
    page = await web.get("/ui/reports", params={"report": "new-business", **RANGE})
    assert page.status_code == 200, page.text
    assert page.headers["content-security-policy"] == STRICT_CSP
    text = _rows(page.text)
    assert "Policies issued" in text and "Premium issued (CNY)" in text
    assert ">alice<" in text and ">bob<" in text
    assert "¥3,600.50" in text  # alice over the three days
    assert "¥4,400.50" in text  # the total
    assert "<script>" not in page.text and "<style" not in page.text and " style=" not in page.text
    assert 'id="agent"' in page.text  # supervisors choose an agent

    chart = await web.get(
        "/ui/reports/new-business/chart.svg", params={"report": "new-business", **RANGE}
    )
    assert chart.status_code == 200
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert "script-src" not in chart.headers["content-security-policy"]
    assert chart.headers["content-security-policy"].startswith("default-src 'none'")
    assert chart.text.startswith("<svg") and "Policies issued" in chart.text
    assert 'src="/ui/reports/new-business/chart.svg?from=2024-02-05&amp;to=2024-02-07"' in page.text

    download = await web.get("/ui/reports/new-business/download", params={**RANGE, "format": "csv"})
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["agent"], r["policies_issued"], r["premium_issued"]) for r in lines] == [
        ("alice", "3", "3600.50"),
        ("bob", "1", "800.00"),
        ("", "4", "4400.50"),
    ]
    xlsx = await web.get("/ui/reports/new-business/download", params={**RANGE, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert sheet["A2"].value == "alice"

    one = await web.get("/ui/reports", params={"report": "new-business", **RANGE, "agent": "bob"})
    assert ">alice<" not in _rows(one.text) and "¥800.00" in one.text


@pytest.mark.usefixtures("figures")
async def test_a_supervisor_sees_the_figures_per_branch_in_chinese(web: httpx.AsyncClient) -> None:
    await sign_in(web, "sid")
    zh = {"Accept-Language": "zh-CN"}
    params = {"report": "new-business", **RANGE, "group": "branch"}
    page = await web.get("/ui/reports", params=params, headers=zh)
    assert page.status_code == 200, page.text
    text = _rows(page.text)
    assert '<option value="branch" selected>按分公司</option>' in text
    assert "按分公司汇总" in text and ">分公司<" in text
    assert ">上海分公司<" in text and "¥3,600.50" in text  # alice
    assert ">北京分公司<" in text and "¥800.00" in text  # bob
    assert ">alice<" not in text
    assert "chart.svg?from=2024-02-05&amp;to=2024-02-07&amp;group=branch" in page.text
    download = await web.get(
        "/ui/reports/new-business/download", params={**RANGE, "group": "branch", "format": "csv"}
    )
    assert "per-branch" in download.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["branch"], r["premium_issued"]) for r in lines] == [
        ("上海分公司", "3600.50"),
        ("北京分公司", "800.00"),
        ("", "4400.50"),
    ]
    sla = await web.get("/ui/reports", params={**params, "report": "sla"}, headers=zh)
    # A row per branch and task kind: alice's underwriting tasks under her branch, in words.
    assert ">上海分公司</td>" in sla.text and ">核保</td>" in _rows(sla.text)
    unknown = await web.get("/ui/reports", params={**params, "group": "team"}, headers=zh)
    assert unknown.status_code == 422 and "group 须为以下之一：agent, branch。" in unknown.text


@pytest.mark.usefixtures("figures")
async def test_an_agent_sees_only_their_own_figures_whatever_the_form_asks(
    web: httpx.AsyncClient,
) -> None:
    landed = await sign_in(web, "alice")
    assert landed.headers["location"] == "/ui/agent"
    agent_page = await web.get("/ui/agent")
    assert 'href="/ui/reports"' in agent_page.text
    page = await web.get("/ui/reports", params={"report": "new-business", **RANGE, "agent": "bob"})
    assert page.status_code == 200
    text = _rows(page.text)
    assert ">bob<" not in text and "¥800.00" not in text and "¥3,600.50" in text
    assert 'id="agent"' not in page.text and 'id="group"' not in page.text
    branch = await web.get(
        "/ui/reports", params={"report": "new-business", **RANGE, "group": "branch"}
    )
    assert branch.status_code == 200 and ">alice<" in _rows(branch.text)
    assert "上海分公司" not in branch.text
    csv_text = (
        await web.get(
            "/ui/reports/new-business/download", params={**RANGE, "agent": "bob", "format": "csv"}
        )
    ).text
    assert "bob" not in csv_text and "alice" in csv_text


@pytest.mark.usefixtures("figures")
async def test_the_report_in_chinese_sla_kinds_in_words_and_bad_ranges_in_words(
    web: httpx.AsyncClient,
) -> None:
    await sign_in(web, "olga")
    zh = {"Accept-Language": "zh-CN"}
    page = await web.get("/ui/reports", params={"report": "sla", **RANGE}, headers=zh)
    assert page.status_code == 200
    for text in ("业务报告", "各类任务时效达标", "任务类型", "时效达标率", "核保", "合计", "66.7%"):
        assert text in page.text, text
    chart = await web.get("/ui/reports/sla/chart.svg", params=RANGE, headers=zh)
    assert "已决定" in chart.text
    turnaround = await web.get("/ui/reports", params={"report": "turnaround", **RANGE}, headers=zh)
    assert "提交至出单（中位数）" in turnaround.text and "1 小时" in turnaround.text
    visits = await web.get("/ui/reports", params={"report": "return-visits", **RANGE}, headers=zh)
    for text in ("回访情况", "应回访数", "犹豫期内完成数", "犹豫期内完成率", "66.7%"):
        assert text in visits.text, text
    chart = await web.get("/ui/reports/return-visits/chart.svg", params=RANGE, headers=zh)
    assert "应回访数" in chart.text and "回访完成数" in chart.text
    kept = await web.get(
        "/ui/reports", params={"report": "policy-persistency", **RANGE}, headers=zh
    )
    for text in ("继续率与保单失效", "满13个月保单数", "效力中止保单数", "13个月继续率", "66.7%"):
        assert text in kept.text, text
    chart = await web.get("/ui/reports/policy-persistency/chart.svg", params=RANGE, headers=zh)
    assert "效力中止保单数" in chart.text and "复效保单数" in chart.text

    backwards = await web.get(
        "/ui/reports", params={"report": "claims", "from": "2024-02-07", "to": "2024-02-05"}
    )
    assert backwards.status_code == 422
    assert "from (2024-02-07) is after to (2024-02-05)." in backwards.text
    bad = await web.get("/ui/reports", params={"from": "yesterday"}, headers=zh)
    assert bad.status_code == 422 and "起始日" in bad.text
    empty = await web.get(
        "/ui/reports", params={"report": "claims", "from": "2023-01-01", "to": "2023-01-02"}
    )
    assert "No figures for these days" in empty.text and "chart.svg" not in empty.text


async def test_reports_need_a_session(web: httpx.AsyncClient) -> None:
    for path in ("/ui/reports", "/ui/reports/sla/chart.svg", "/ui/reports/sla/download"):
        answer = await web.get(path)
        assert answer.status_code == 303 and "/ui/signin" in answer.headers["location"]


LANGUAGES = {
    "zh": ("zh-CN", "业务报告", "新单业务", "出单数", "查看"),
    "en": ("en-US", "Reports", "New business", "Policies issued", "Show"),
}


@pytest.mark.usefixtures("figures")
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_report_page_in_either_language_at_either_width(
    browser: Any, console_url: str, tmp_path: Path, lang: str, viewport: dict[str, int]
) -> None:
    """A supervisor opens the reports from the navigation, chooses the range and sees the
    table and the chart (the image loads under the CSP), in the browser's language."""
    locale, heading, report, column, show = LANGUAGES[lang]
    context = await browser.new_context(
        viewport=viewport, base_url=console_url, locale=locale, timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(15_000)
    refused: list[str] = []
    try:
        page = await context.new_page()
        page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
        await page.goto("/ui/signin?next=/ui/reports")
        await page.locator("#username").fill("sue")
        await page.locator("#password").fill("sue-dev")
        await page.locator("main form.stack button[type=submit]").click()
        await page.wait_for_url(lambda url: url.endswith("/ui/reports"))
        assert await page.get_by_role("heading", name=heading, exact=True).is_visible()
        await page.locator("#report").select_option("new-business")
        await page.locator("#from").fill("2024-02-05")
        await page.locator("#to").fill("2024-02-07")
        await page.get_by_role("button", name=show, exact=True).click()
        await page.wait_for_url(lambda url: "from=2024-02-05" in url)
        assert await page.get_by_role("heading", name=report, exact=True).is_visible()
        # A column's title heads it on a laptop and labels each card's line on a phone.
        cells = page.locator(f'table.report-table td[data-label="{column}"]')
        assert await cells.count() == 3  # alice, bob, the total
        assert await cells.first.is_visible()
        image = page.locator("figure.chart img")
        await image.scroll_into_view_if_needed()
        assert await image.evaluate("i => i.complete && i.naturalWidth > 0")
        width = viewport["width"]
        await page.screenshot(path=str(tmp_path / f"reports-{lang}-{width}.png"), full_page=True)
        assert await no_horizontal_overflow(page)
        assert not [m for m in refused if "Content Security Policy" in m], refused
    finally:
        await context.close()
