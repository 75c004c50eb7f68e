"""Marking a business text for the message catalogues without translating it.

Domain and service code say things in English and stay language-free: a text written
``N_("...")`` is the msgid that ``pybabel extract`` collects (babel.cfg), and whoever shows
it to a person (the console, the API's problem handler, the outbox) translates it there,
in that person's language (``core.i18n``).
"""

from __future__ import annotations


def N_(msgid: str) -> str:  # the name gettext's tools know
    """`msgid` unchanged: marked for extraction, translated where it is shown."""
    return msgid
