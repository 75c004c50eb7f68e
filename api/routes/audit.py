"""The audit log, for ops: who did what to which case, when, from which client."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import OpsUser, SessionDep
from services import audit

router = APIRouter(prefix="/v1/ops", tags=["ops"])


class AuditEventRead(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    case_id: str | None
    client: str | None
    request_id: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEventRead]


@router.get("/audit", response_model=AuditPage)
async def list_audit(
    user: OpsUser,
    session: SessionDep,
    case: Annotated[str, Query(min_length=1, max_length=128, description="a case id")],
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> AuditPage:
    """The latest events of one case (an enrollment, claim, task, policy or workflow id),
    newest first."""
    rows = await audit.case_events(session, case_id=case, limit=limit)
    return AuditPage(items=[AuditEventRead.model_validate(r, from_attributes=True) for r in rows])
