"""The console's language: the user's choice (the switch on every page, remembered in the
``insureflow_lang`` cookie), else the browser's ``Accept-Language``, else Chinese.

The switch is a small form on every page (``POST /ui/language``, in ``api.web.signin``,
CSRF-protected like every form) that sets the cookie and leads back to the page it was on.
"""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import Response

from api.web.session import SIGNIN_PATH, safe_next, signin_url
from core.i18n import DEFAULT_LOCALE, Language, chosen, language, negotiate

LANGUAGE_COOKIE = "insureflow_lang"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600  # a preference, not a secret: kept for a year


def locale_of(request: Request) -> str:
    """The locale a console page is shown in."""
    return chosen(request.cookies.get(LANGUAGE_COOKIE)) or negotiate(
        request.headers.get("accept-language"), default=DEFAULT_LOCALE
    )


def page_language(request: Request) -> Language:
    """The `Language` of this request's page (worked out once per request)."""
    cached = getattr(request.state, "language", None)
    if isinstance(cached, Language):
        return cached
    lang = language(locale_of(request))
    request.state.language = lang
    return lang


def back_to(value: str | None) -> str:
    """Where the switch leads back to: a page of the console, the sign-in page included."""
    if value == SIGNIN_PATH:
        return SIGNIN_PATH
    if value and value.startswith(SIGNIN_PATH + "?next="):
        return signin_url(unquote(value[len(SIGNIN_PATH) + len("?next=") :]))
    return safe_next(value) or "/ui/"


def remember(response: Response, request: Request, locale: str) -> None:
    """Set the language cookie (read by every page, not by scripts)."""
    response.set_cookie(
        LANGUAGE_COOKIE,
        locale,
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
