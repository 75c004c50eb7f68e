"""The languages InsureFlow speaks: Simplified Chinese first (``zh_CN``), English second.

The texts are Babel message catalogues: ``core/locale/<locale>/LC_MESSAGES/messages.po``
are checked in (extracted from the templates and the code with ``pybabel extract``, see
babel.cfg); their compiled ``.mo`` files are made by ``make install`` (and the Dockerfile)
and never committed. Dates and money are formatted per locale with Babel, always in
Asia/Shanghai and in CNY.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_decimal
from babel.support import Translations

from domain.business import SHANGHAI

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
ZH = "zh_CN"
EN = "en"
LOCALES = (ZH, EN)
DEFAULT_LOCALE = ZH
# What the language switch shows for each locale: each in its own language.
LANGUAGE_NAMES = {ZH: "中文", EN: "English"}


class CatalogueMissing(RuntimeError):
    """A compiled catalogue is not where the code looks: ``make install`` compiles them."""


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of `locale` (one of ``LOCALES``), loaded once."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    mo = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.is_file():
        raise CatalogueMissing(
            f"{mo} is missing: run `make install` (pybabel compile -d {LOCALE_DIR})"
        )
    with mo.open("rb") as f:
        return Translations(f, domain=DOMAIN)


def gettext(locale: str, msgid: str, params: Mapping[str, Any] | None = None) -> str:
    """`msgid` in `locale`, with `params` put in (``%(name)s``); the msgid if not translated."""
    text = translations(locale).gettext(msgid)
    return text % dict(params) if params else text


def negotiate(accept_language: str | None, *, default: str = DEFAULT_LOCALE) -> str:
    """The locale an ``Accept-Language`` header prefers among ours (``zh-CN,zh;q=0.9`` →
    ``zh_CN``, ``en-GB`` → ``en``), or `default` when it names neither (or is absent)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, q = part.strip().partition(";")
        weight = 1.0
        q = q.strip()
        if q.startswith("q="):
            try:
                weight = float(q[2:])
            except ValueError:
                weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        language = tag.replace("_", "-").split("-")[0]
        if language == "zh":
            return ZH
        if language == "en":
            return EN
        if tag == "*":
            return default
    return default


def chosen(value: str | None) -> str | None:
    """`value` if it names one of our locales (a cookie, a form field), else None."""
    return value if value in LOCALES else None


def format_money(amount: Any, locale: str) -> str:
    """``¥250,000.00`` in the locale's digits (CNY, two decimals); empty for none, and
    anything that is not a number as it is."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except (ArithmeticError, ValueError):
        return str(amount)
    # "¥" in both languages: Babel's English says "CN¥", which nobody here writes.
    digits = format_decimal(abs(value), "#,##0.00", locale=Locale.parse(locale))
    return f"{'-' if value < 0 else ''}¥{digits}"


def format_moment(at: datetime, locale: str) -> str:
    """A moment in Asia/Shanghai, as each language writes it to the minute:
    ``2025年3月1日 09:30`` or ``Mar 1, 2025, 09:30``."""
    pattern = "y年M月d日 HH:mm" if locale == ZH else "MMM d, y, HH:mm"
    return format_datetime(at, pattern, tzinfo=SHANGHAI, locale=Locale.parse(locale))


@dataclass(frozen=True)
class Language:
    """Everything said to one person in `locale`: texts, plural texts, money and moments."""

    locale: str

    def gettext(self, msgid: str, **params: Any) -> str:
        """`msgid` in this language, with `params` put in (``%(name)s``)."""
        return gettext(self.locale, msgid, params)

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        """The text for `n` things (``%(num)s`` is `n` unless `params` name it)."""
        text = translations(self.locale).ngettext(singular, plural, n)
        return text % {"num": n, **params}

    @property
    def catalogue(self) -> Translations:
        """The compiled catalogue itself (what Jinja2's i18n extension calls)."""
        return translations(self.locale)

    def money(self, amount: Any) -> str:
        return format_money(amount, self.locale)

    def moment(self, at: datetime) -> str:
        return format_moment(at, self.locale)

    @property
    def html_lang(self) -> str:
        """The page's ``lang`` attribute: ``zh-CN`` or ``en``."""
        return self.locale.replace("_", "-")


def language(locale: str) -> Language:
    """The `Language` of one of ``LOCALES``."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    return Language(locale)
