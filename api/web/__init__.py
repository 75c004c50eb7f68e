"""The web console under ``/ui``: sign-in, the supervisor inbox and the ops views, rendered
on the server (Jinja2) over the same rules as the JSON API.

The router is ``api.web.pages.router``, listed in ``api.routes.ROUTERS``; the static files
(``STATIC_DIR``) are mounted at ``STATIC_PATH`` by ``api.main``.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/ui/static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
