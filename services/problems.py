"""The error every layer below the HTTP edge raises for a request it refuses.

``ProblemError`` carries what the API answers (RFC 9457 problem details, with a stable
``code``): ``api.errors`` turns it into the response. Its title and detail are English
msgids of the message catalogues (``core/locale``), translated at the edge into the
request's language; a detail with values in it is given as a msgid with ``%(name)s``
placeholders and its ``params``, so the catalogue can hold it. It lives below ``api`` so that the
service layer can refuse without importing the web layer; it is a Starlette
``HTTPException`` so FastAPI passes it through untouched wherever it passes those (body
parsing, dependencies with ``yield``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.refusals import refusal_for


class ProblemError(StarletteHTTPException):
    """An error answered as a problem document. ``extra`` adds members to the body (e.g.
    ``{"checks": {...}}``); never personal data."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.params: dict[str, Any] = dict(params or {})
        # `detail` is the English text (logs, str()); `detail_msgid` what a catalogue holds.
        text = detail % self.params if self.params else detail
        super().__init__(status_code=status, detail=text, headers=dict(headers or {}) or None)
        self.code = code
        self.title = title
        self.detail_msgid = detail
        self.extra: dict[str, Any] = dict(extra or {})

    def __repr__(self) -> str:
        return f"ProblemError(status={self.status_code}, code={self.code!r})"


def refused(code: str, detail: str | None = None) -> ProblemError:
    """The problem for a registered refusal code (domain.refusals), with its status and
    title; ``detail`` replaces the registry's text where the refusal is more precise."""
    refusal = refusal_for(code)
    return ProblemError(
        refusal.status, code, refusal.title, refusal.text if detail is None else detail
    )
