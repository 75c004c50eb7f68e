"""Pages from templates, and the route class that turns a refusal into a page.

Every page gets the signed-in user (for the navigation), a CSRF token for its forms, the
language switch and the display filters of ``api.web.formatting``; every answer is
``Cache-Control: no-store`` (pages show case data).

Pages are translated with Jinja2's i18n extension: each render puts the reader's catalogue
(``api.web.language.page_language``) into the template context as ``gettext`` /
``ngettext``, which ``{{ _("...") }}`` and ``{% trans %}`` call. The shared environment
holds no language, so concurrent requests in different languages cannot mix.

``WebRoute`` answers what a JSON route would answer with a problem document — no session,
wrong role, bad form token, unknown case, Temporal down — with a redirect to sign-in or an
error page in words.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.web import STATIC_PATH, TEMPLATES_DIR, formatting
from api.web.language import page_language
from api.web.session import (
    INBOX_ROLES,
    OPS_ROLES,
    REPORT_ROLES,
    SESSION_COOKIE,
    SIGNIN_PATH,
    PageError,
    SignInRequired,
    clear_session_cookie,
    csrf_cookie_value,
    csrf_token,
    has_any,
    set_csrf_cookie,
    signin_url,
)
from core.i18n import LANGUAGE_NAMES, Language
from domain.masking import scrub
from domain.texts import N_
from domain.underwriting import Actor, Role
from services.problems import ProblemError

log = structlog.get_logger("api.web")


def _lang(context: Context) -> Language:
    lang = context.get("lang")
    assert isinstance(lang, Language), "render() puts the page's language in every context"
    return lang


@pass_context
def _shanghai(context: Context, at: Any) -> str:
    return formatting.shanghai(at, lang=_lang(context))


@pass_context
def _money(context: Context, amount: Any) -> str:
    return _lang(context).money(amount)


@pass_context
def _words(context: Context, code: Any) -> str:
    return formatting.words(code, lang=_lang(context))


_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True),
    extensions=["jinja2.ext.i18n"],
)
_env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them: whitespace collapsed
_env.filters.update(
    shanghai=_shanghai,
    money=_money,
    words=_words,
    scrub=lambda value: scrub(str(value)) if value is not None else "",
)
templates = Jinja2Templates(env=_env)


def task_subject(task: Any, user: Actor | None, lang: Language) -> str:
    """A task's subject for `user`: as the workflow wrote it (the customer's name masked)
    for a supervisor; for ops and admins, who need no personal data, its kind and case."""
    if user is not None and user.has(Role.SUPERVISOR):
        return scrub(formatting.subject_text(str(task.subject), lang=lang))
    return f"{formatting.words(task.kind, lang=lang).capitalize()} {task.case_id}"


def _here(request: Request) -> str:
    """The page to come back to after switching language: this one, or for a form's answer
    the page the form was on."""
    path = request.url.path
    if request.method != "GET":
        return path if path == SIGNIN_PATH else path.rsplit("/", 1)[0]
    return path + (f"?{request.url.query}" if request.url.query else "")


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """The page `template` with `context`, the navigation and a form token."""
    user: Actor | None = getattr(request.state, "web_user", None)
    cookie, new_cookie = csrf_cookie_value(request)
    settings = request.app.state.settings
    lang = page_language(request)
    page = {
        "lang": lang,
        "locale": lang.locale,
        "html_lang": lang.html_lang,
        # Unformatted: the i18n extension puts a {% trans %} block's values in itself.
        "gettext": lang.catalogue.gettext,
        "ngettext": lang.catalogue.ngettext,
        "languages": LANGUAGE_NAMES,
        "here": _here(request),
        "user": user,
        "can_inbox": user is not None and has_any(user, INBOX_ROLES),
        "can_ops": user is not None and has_any(user, OPS_ROLES),
        "can_reports": user is not None and has_any(user, REPORT_ROLES),
        "csrf_token": csrf_token(settings, cookie),
        "static": STATIC_PATH,
        "path": request.url.path,
        "subject": lambda task: task_subject(task, user, lang),
        "now": datetime.now(UTC),
        **(context or {}),
    }
    response = templates.TemplateResponse(
        request, template, page, status_code=status_code, headers=NO_STORE
    )
    if new_cookie:
        set_csrf_cookie(response, request, cookie)
    return response


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    """The error page; `title` and `message` are msgids (or already translated text, which
    the catalogue does not hold and so passes through)."""
    _ = page_language(request).gettext
    return render(
        request,
        "error.html",
        {"title": _(title), "message": _(message), "status": status},
        status_code=status,
    )


def redirect(url: str) -> Response:
    """303 See Other: after a form, the browser GETs the page it names."""
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


class WebRoute(APIRoute):
    """A console route: refusals become pages, a missing session a redirect to sign-in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                response = redirect(signin_url(exc.next_path))
                if request.cookies.get(SESSION_COOKIE):  # expired or revoked: drop it
                    clear_session_cookie(response, request)
                return response
            except PageError as exc:
                return error_page(request, exc.status, exc.title, exc.message)
            except ProblemError as exc:
                lang = page_language(request)
                return error_page(
                    request,
                    exc.status_code,
                    exc.title,
                    formatting.refusal_text(exc.code, lang=lang, detail=exc.detail_msgid),
                )
            except RequestValidationError:
                return error_page(
                    request,
                    422,
                    N_("Not understood"),
                    N_("The address or the form is not valid. Go back and try again."),
                )
            except StarletteHTTPException as exc:
                if exc.status_code < 400:
                    raise
                title = N_("Not found") if exc.status_code == 404 else N_("Refused")
                return error_page(request, exc.status_code, title, str(exc.detail))
            except Exception:
                # As RequestContextMiddleware does for the API: logged in full, said briefly.
                log.exception("unhandled_error", method=request.method, path=request.url.path)
                request_id = getattr(request.state, "request_id", "")
                _ = page_language(request).gettext
                return error_page(
                    request,
                    500,
                    _("Something went wrong"),
                    _(
                        "The page could not be shown. Try again; if it persists, quote "
                        "request %(id)s when reporting it.",
                        id=request_id,
                    ),
                )

        return page_handler
