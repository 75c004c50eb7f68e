"""Errors the repositories raise; the API maps them to problem responses."""

from __future__ import annotations


class NotFound(LookupError):
    """The row a change was aimed at does not exist."""
