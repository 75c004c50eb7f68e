"""Every router the app serves, in the order they appear in the OpenAPI document.

Each module defines ``router = APIRouter(prefix=..., tags=[...])``; ``api.main`` includes
the routers listed here and nothing else.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    audit,
    auth,
    claims,
    codec,
    enrollments,
    health,
    ops,
    payments,
    policies,
    policy_query,
    products,
    reports,
    tasks,
)
from api.web import pages as web_pages

# New routers: import the module above and add its router here.
ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    products.router,
    enrollments.router,
    claims.router,
    policies.router,
    tasks.router,
    payments.router,
    ops.router,
    audit.router,
    policy_query.router,
    reports.router,
    codec.router,
    web_pages.router,  # the /ui console, not in the OpenAPI document
]
