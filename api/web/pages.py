"""The console's router: every page under ``/ui``, kept out of the OpenAPI document (the
pages are for people; the API they stand on is documented there)."""

from __future__ import annotations

from fastapi import APIRouter

from api.web import inbox, ops, policies, reports, signin

router: APIRouter = APIRouter(prefix="/ui", include_in_schema=False)
router.include_router(signin.router)
router.include_router(inbox.router)
router.include_router(ops.router)
router.include_router(policies.router)
router.include_router(reports.router)
