"""Choosing the language and saying money and moments in it (core.i18n)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.i18n import EN, ZH, format_moment, format_money, language, negotiate


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, ZH),
        ("", ZH),
        ("zh-CN,zh;q=0.9,en;q=0.8", ZH),
        ("zh-Hans-CN", ZH),
        ("zh-TW", ZH),  # the only Chinese we have
        ("en-US,en;q=0.9", EN),
        ("fr-FR, en;q=0.5, zh;q=0.4", EN),
        ("en;q=0.2, zh;q=0.8", ZH),
        ("fr, de", ZH),  # neither: the default
        ("*", ZH),
        ("zh;q=0, en", EN),  # q=0 means "not this"
    ],
)
def test_accept_language_picks_our_locale_it_prefers(header: str | None, locale: str) -> None:
    assert negotiate(header) == locale


def test_the_default_is_the_callers_to_choose() -> None:
    assert negotiate(None, default=EN) == EN
    assert negotiate("fr", default=EN) == EN
    assert negotiate("zh", default=EN) == ZH


@pytest.mark.parametrize("locale", [ZH, EN])
def test_money_is_yuan_with_two_decimals_in_either_language(locale: str) -> None:
    assert format_money(Decimal("250000"), locale) == "¥250,000.00"
    assert format_money("1234.5", locale) == "¥1,234.50"
    assert format_money(Decimal("-12.00"), locale) == "-¥12.00"
    assert format_money(None, locale) == ""
    assert format_money("n/a", locale) == "n/a"


def test_moments_are_shanghai_time_written_as_each_language_writes_dates() -> None:
    at = datetime(2025, 12, 31, 16, 5, tzinfo=UTC)  # 00:05 on 1 January in Shanghai
    assert format_moment(at, ZH) == "2026年1月1日 00:05"
    assert format_moment(at, EN) == "Jan 1, 2026, 00:05"


def test_a_language_translates_with_values_and_plurals() -> None:
    zh, en = language(ZH), language(EN)
    assert zh.gettext("Inbox") == "待办任务"
    assert en.gettext("Inbox") == "Inbox"
    assert zh.gettext("Task %(id)s", id="uw-1") == "任务 uw-1"
    assert en.ngettext("%(count)s approval needed", "%(count)s approvals needed", 2, count=2) == (
        "2 approvals needed"
    )
    assert zh.ngettext("%(count)s approval needed", "%(count)s approvals needed", 2, count=2) == (
        "需 2 人审批"
    )
    assert zh.html_lang == "zh-CN"
    with pytest.raises(ValueError, match="unsupported"):
        language("fr")
