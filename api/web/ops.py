"""The ops views: search the processes, see one process — its stage, its timeline drawn
top to bottom with the waits between steps, what it waits on and what is failing — and
cancel it with a reason.

The data is what ``/v1/ops`` answers (the same services: the same visibility query,
description, masked history and timeline, the same audited cancel), so these pages show
no personal data either.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import SessionDep, TemporalDep
from api.middleware import client_address
from api.schemas import OpsActionCreate
from api.web import formatting
from api.web.language import page_language
from api.web.rendering import WebRoute, redirect, render
from api.web.session import OpsUser, require_csrf
from core.i18n import Language
from domain.business import SHANGHAI
from domain.claims import ClaimStage, ClaimStatus
from domain.enrollment import Stage, Status
from domain.policies import PolicyStage, PolicyStatus
from domain.texts import N_
from domain.underwriting import Actor
from services.ops import actions, describe, runs, visibility
from services.problems import ProblemError

router: APIRouter = APIRouter(route_class=WebRoute)

PAGE_SIZE = 25
WorkflowId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
PROCESSES = visibility.PROCESSES
EXECUTION_STATUSES = tuple(visibility.EXECUTION_STATUS)
STAGES = tuple(dict.fromkeys([*Stage, *ClaimStage, *PolicyStage]))
BUSINESS_STATUSES = tuple(dict.fromkeys([*Status, *ClaimStatus, *PolicyStatus]))
_AGENT = re.compile(visibility.AGENT_PATTERN)
_AS_GIVEN = ("process", "status", "stage", "business_status", "agent")
NOTICES = {"cancel": N_("Cancellation requested: the process compensates and ends as cancelled.")}


def _amount(value: str, label: str, errors: list[str], lang: Language) -> Decimal | None:
    if not value.strip():
        return None
    try:
        amount = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        errors.append(lang.gettext("%(field)s must be an amount like 250000.00.", field=label))
        return None
    return amount


def _day(
    value: str, label: str, errors: list[str], lang: Language, *, end: bool = False
) -> datetime | None:
    """A date typed in the form, as the start (or, for `end`, the end) of that day in
    Asia/Shanghai."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        errors.append(lang.gettext("%(field)s must be a date like 2025-03-01.", field=label))
        return None
    start = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    return start + timedelta(days=1) if end else start


@router.get("/ops/processes")
async def processes(
    request: Request,
    user: OpsUser,
    client: TemporalDep,
    process: str = "",
    status: str = "",
    stage: str = "",
    business_status: str = "",
    agent: str = "",
    amount_min: str = "",
    amount_max: str = "",
    started_after: str = "",
    started_before: str = "",
    cursor: str = "",
) -> Response:
    """Process search with the ops filters (``GET /v1/ops/workflows``), newest first."""
    filters = {
        "process": process if process in PROCESSES else "",
        "status": status if status in EXECUTION_STATUSES else "",
        "stage": stage if stage in STAGES else "",
        "business_status": business_status if business_status in BUSINESS_STATUSES else "",
        "agent": agent.strip(),
        "amount_min": amount_min.strip(),
        "amount_max": amount_max.strip(),
        "started_after": started_after.strip(),
        "started_before": started_before.strip(),
    }
    lang = page_language(request)
    _ = lang.gettext
    errors: list[str] = []
    if filters["agent"] and not _AGENT.fullmatch(filters["agent"]):
        errors.append(_("Agent must be a username (letters, digits, . _ -)."))
    low = _amount(filters["amount_min"], _("Minimum amount"), errors, lang)
    high = _amount(filters["amount_max"], _("Maximum amount"), errors, lang)
    after = _day(filters["started_after"], _("Started from"), errors, lang)
    before = _day(filters["started_before"], _("Started until"), errors, lang, end=True)
    items: list[visibility.WorkflowSummary] = []
    next_cursor = None
    if not errors:
        try:
            # The filters given as they are: the chosen ones and the agent (checked above).
            chosen: dict[str, Any] = {key: filters[key] or None for key in _AS_GIVEN}
            search = visibility.SearchFilters(
                **chosen,
                amount_min=low,
                amount_max=high,
                started_after=after,
                started_before=before,
            )
            items, next_cursor = await visibility.search(
                client, search, cursor=cursor, limit=PAGE_SIZE
            )
        except ProblemError as err:
            errors.append(_search_refusal(err, lang))
    query = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "processes.html",
        {
            "title": _("Processes"),
            "filters": filters,
            "processes": PROCESSES,
            "execution_statuses": EXECUTION_STATUSES,
            "stages": STAGES,
            "business_statuses": BUSINESS_STATUSES,
            "items": items,
            "errors": errors,
            "next_url": f"/ui/ops/processes?{urlencode({**query, 'cursor': next_cursor})}"
            if next_cursor
            else None,
            "first_url": f"/ui/ops/processes?{urlencode(query)}" if cursor else None,
        },
        status_code=422 if errors else 200,
    )


def _search_refusal(err: ProblemError, lang: Language) -> str:
    match err.code:
        case "invalid_amount_range":
            return lang.gettext("The minimum amount is above the maximum.")
        case "invalid_cursor":
            return lang.gettext(
                "This page link is no longer valid. Start again from the first page."
            )
        case "invalid_search":
            return lang.gettext("The search could not be run with these filters.")
    return formatting.refusal_text(err.code, lang=lang, detail=err.detail_msgid)


async def process_page(
    request: Request,
    workflow_id: str,
    user: Actor,
    client: Any,
    session: Any,
    *,
    notice: str | None = None,
    alert: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response:
    description = await describe.describe_process(client, session, workflow_id)
    history = await runs.read_history(client, workflow_id, workflow_tasks=False)
    now = datetime.now(UTC)
    lang = page_language(request)
    steps = formatting.steps(history.timeline, lang=lang)
    running = description.status == "running"
    waiting = formatting.span(now - steps[-1].at, lang=lang) if running and steps else None
    return render(
        request,
        "process.html",
        {
            "title": lang.gettext("Process %(id)s", id=workflow_id),
            "process": description,
            "running": running,
            "steps": steps,
            "waiting": waiting,
            "ahead": formatting.ahead(description.deadlines, description.timers, now=now, lang=lang)
            if running
            else [],
            "notice": lang.gettext(notice) if notice else None,
            "alert": alert,
            "reason": reason,
        },
        status_code=status_code,
    )


@router.get("/ops/processes/{workflow_id}")
async def process(
    request: Request,
    workflow_id: WorkflowId,
    user: OpsUser,
    client: TemporalDep,
    session: SessionDep,
    done: str = "",
) -> Response:
    """One process: stage, timeline, pending activities and failures, deadlines, cancel."""
    return await process_page(request, workflow_id, user, client, session, notice=NOTICES.get(done))


@router.post("/ops/processes/{workflow_id}/cancel", dependencies=[Depends(require_csrf)])
async def cancel(
    request: Request,
    workflow_id: WorkflowId,
    user: OpsUser,
    client: TemporalDep,
    session: SessionDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Cancel the process with a reason (``POST /v1/ops/workflows/{id}/cancel``, audited)."""
    try:
        body = OpsActionCreate(reason=reason)
    except ValidationError:
        return await process_page(
            request,
            workflow_id,
            user,
            client,
            session,
            alert=page_language(request).gettext(
                "Give a reason for cancelling (up to 500 characters)."
            ),
            reason=reason[:500],
            status_code=422,
        )
    try:
        await actions.act(
            client,
            session,
            "cancel",
            workflow_id,
            reason=body.reason,
            actor=user,
            client_address=client_address(request),
            request_id=getattr(request.state, "request_id", None),
        )
    except ProblemError as err:
        await session.rollback()
        return await process_page(
            request,
            workflow_id,
            user,
            client,
            session,
            alert=formatting.refusal_text(
                err.code, lang=page_language(request), detail=err.detail_msgid
            ),
            status_code=err.status_code,
        )
    return redirect(f"/ui/ops/processes/{workflow_id}?done=cancel")
