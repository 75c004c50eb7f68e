"""The supervisor inbox: open tasks soonest due first, one task with what its decision
needs, and the claim / release / decide forms.

Everything a task page does is what ``api.routes.tasks`` does, through the same service
(``services.tasks``): the same listings, the same workflow Updates, so the workflow
validators stay the one source of the rules (role, approval limit, four eyes, stage). A
refusal is shown in words on the task page, with the refusal's HTTP status, and nothing
changes. The audit log gets the row the API's audit middleware would have written for the
same call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import SessionDep, TemporalDep, get_temporal
from api.middleware import client_address
from api.schemas import DecisionCreate
from api.web import formatting
from api.web.language import page_language
from api.web.rendering import WebRoute, redirect, render
from api.web.session import INBOX_ROLES, InboxUser, PageError, WebUser, has_any, require_csrf
from db.models import Task
from domain.claim_rules import DOCUMENT_KINDS
from domain.products import CATALOGUE
from domain.tasks import TaskKind
from domain.texts import N_
from domain.underwriting import Actor, Role
from services import tasks
from services.problems import ProblemError

log = structlog.get_logger("api.web")

router: APIRouter = APIRouter(route_class=WebRoute)

PAGE_SIZE = 20
KINDS = (
    TaskKind.UNDERWRITING,
    TaskKind.CLAIM_APPROVAL,
    TaskKind.CLAIM_REVIEW,
    TaskKind.PAYOUT_FAILED,
    TaskKind.LATE_PAYMENT,
    TaskKind.RETURN_VISIT,
    TaskKind.MISSELLING_REMEDIATION,
    TaskKind.REINSTATEMENT,
    TaskKind.RENEWAL,
    TaskKind.VALUE_PAYOUT_FAILED,
)
# What customer service sees in its inbox; their page is the policy's (api.web.policies),
# where the return visit's checklist is the form.
SERVICE_KINDS = (TaskKind.RETURN_VISIT, TaskKind.MISSELLING_REMEDIATION)
_STAFF = (Role.SUPERVISOR, Role.OPS, Role.ADMIN)
SHOWS = {"all": N_("All open"), "mine": N_("Claimed by me"), "unassigned": N_("Unassigned")}
DECISIONS = ("approve", "reject", "request_info")
TaskId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,64}$")]
# What a successful action says on the task page it leads back to.
NOTICES = {
    "claimed": N_("You claimed this task: it is yours until you decide or release it."),
    "released": N_("You released this task: it is back in the inbox."),
    "approve": N_("You approved this task. The process moves on."),
    "reject": N_("You rejected this task. The process moves on."),
    "request_info": N_("You asked for more information. The process waits for the documents."),
}


# --- the inbox -----------------------------------------------------------------------------


@router.get("/inbox")
async def inbox(
    request: Request,
    user: InboxUser,
    session: SessionDep,
    kind: str = "",
    show: str = "all",
    overdue: str = "",
    cursor: str = "",
) -> Response:
    """Open tasks soonest due first, filtered by kind, holder and overdue, with their SLA."""
    kind = kind if kind in KINDS else ""
    show = show if show in SHOWS else "all"
    is_overdue = overdue in ("1", "on", "true")
    now = datetime.now(UTC)
    lang = page_language(request)
    alert = None
    try:
        rows, next_cursor = await tasks.inbox_rows(
            session,
            show=show,
            kind=kind or None,
            username=user.username,
            kinds=None if has_any(user, _STAFF) else tuple(SERVICE_KINDS),
            overdue=is_overdue,
            cursor=cursor or None,
            now=now,
            limit=PAGE_SIZE,
        )
    except ValueError:
        rows, next_cursor = [], None
        alert = lang.gettext("This page link is no longer valid. Start again from the first page.")
    await session.commit()
    filters = {"kind": kind, "show": show, "overdue": "1" if is_overdue else ""}
    query = {k: v for k, v in filters.items() if v and not (k == "show" and v == "all")}
    return render(
        request,
        "inbox.html",
        {
            "title": lang.gettext("Inbox"),
            "rows": [
                {
                    "task": t,
                    "sla": formatting.sla(
                        status=t.status,
                        due_at=t.due_at,
                        escalation_level=t.escalation_level,
                        now=now,
                        lang=lang,
                    ),
                }
                for t in rows
            ],
            "kinds": KINDS,
            "shows": SHOWS,
            "kind": kind,
            "show": show,
            "overdue": is_overdue,
            "next_url": f"/ui/inbox?{urlencode({**query, 'cursor': next_cursor})}"
            if next_cursor
            else None,
            "first_url": f"/ui/inbox?{urlencode(query)}" if cursor else None,
            "alert": alert,
        },
    )


# --- one task ------------------------------------------------------------------------------


async def task_page(
    request: Request,
    task_id: str,
    user: Actor,
    session: Any,
    client: Any,
    *,
    notice: str | None = None,
    alert: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response:
    found = await tasks.task_case(client, session, task_id, user)
    detail = found.task
    now = datetime.now(UTC)
    lang = page_language(request)
    case = dict(found.case or {})
    is_supervisor = user.has(Role.SUPERVISOR)
    if not is_supervisor:
        # Ops and admins read the case but decide nothing: they need no personal data.
        for personal in ("customer", "payee_account_masked", "description"):
            case.pop(personal, None)
    quote = case.get("quote") or {}
    product_code = quote.get("product_code") or case.get("product_code")
    product = CATALOGUE.get(product_code) if product_code else None
    is_open = detail.status in formatting.OPEN_TASK_STATUSES
    return render(
        request,
        "task.html",
        {
            "title": lang.gettext("Task %(id)s", id=detail.task_id),
            "task": detail,
            "case": case,
            "product": product,
            "product_code": product_code,
            "sla": formatting.sla(
                status=detail.status,
                due_at=detail.due_at,
                escalation_level=detail.escalation_level,
                now=now,
                lang=lang,
            ),
            "is_open": is_open,
            "can_decide": is_open and is_supervisor,
            "held_by_me": detail.assignee == user.username,
            "is_claim": detail.kind in tasks.CLAIM_DECISIONS,
            "document_kinds": sorted(DOCUMENT_KINDS),
            "notice": lang.gettext(notice) if notice else None,
            "alert": alert,
            "reason": reason,
        },
        status_code=status_code,
    )


@router.get("/tasks/{task_id}")
async def task(
    request: Request,
    task_id: TaskId,
    user: InboxUser,
    session: SessionDep,
    client: TemporalDep,
    done: str = "",
) -> Response:
    """One task with what its decision needs, and the forms to claim, release and decide.
    A return visit or a remediation is done on its policy's page."""
    row = await tasks.find_task(session, task_id)
    await session.commit()
    if row.kind in SERVICE_KINDS:
        return redirect(f"/ui/policies/{row.case_id}")
    return await task_page(request, task_id, user, session, client, notice=NOTICES.get(done))


async def _refused(
    request: Request,
    task_id: str,
    user: Actor,
    session: Any,
    err: ProblemError,
    *,
    amount: Decimal | None = None,
    reason: str = "",
) -> Response:
    """The task page with the refusal `err` in words, answered with its status."""
    row: Task | None
    try:
        row = await tasks.find_task(session, task_id)
    except ProblemError:
        row = None
    await session.commit()
    text = formatting.refusal_text(
        err.code,
        lang=page_language(request),
        detail=err.detail_msgid,
        username=user.username,
        submitted_by=row.submitted_by if row else None,
        assignee=row.assignee if row else None,
        amount=amount if amount is not None else (row.amount if row else None),
        approval_limit=user.approval_limit,
    )
    if row is None or not has_any(user, INBOX_ROLES):
        raise PageError(err.status_code, N_("Refused"), text)
    client = await get_temporal(request)  # the page shows the case, as the process has it
    return await task_page(
        request,
        task_id,
        user,
        session,
        client,
        alert=text,
        reason=reason,
        status_code=err.status_code,
    )


async def _audit(
    request: Request, user: Actor, action: str, task_id: str, status: int, code: str | None
) -> None:
    """The row ``api.audit.AuditMiddleware`` writes for the same call under /v1."""
    try:
        await tasks.record_page_action(
            request.app.state.session_factory,
            actor=user,
            action=action,
            task_id=task_id,
            client=client_address(request),
            request_id=getattr(request.state, "request_id", None),
            status=status,
            code=code,
        )
    except Exception:
        # The action is done; losing its audit line must at least be loud.
        log.exception("audit write failed", action=action, case_id=task_id)


@router.post("/tasks/{task_id}/claim", dependencies=[Depends(require_csrf)])
async def claim(request: Request, task_id: TaskId, user: WebUser, session: SessionDep) -> Response:
    """Take the task (``POST /v1/tasks/{id}/claim``)."""
    try:
        await tasks.claim_task(session, task_id, user)
    except ProblemError as err:
        await _audit(request, user, "tasks.claim_task", task_id, err.status_code, err.code)
        return await _refused(request, task_id, user, session, err)
    await _audit(request, user, "tasks.claim_task", task_id, 200, None)
    return redirect(f"/ui/tasks/{task_id}?done=claimed")


@router.post("/tasks/{task_id}/release", dependencies=[Depends(require_csrf)])
async def release(
    request: Request, task_id: TaskId, user: WebUser, session: SessionDep
) -> Response:
    """Give the task back to the inbox (``POST /v1/tasks/{id}/release``)."""
    try:
        await tasks.release_task(session, task_id, user)
    except ProblemError as err:
        await _audit(request, user, "tasks.release_task", task_id, err.status_code, err.code)
        return await _refused(request, task_id, user, session, err)
    await _audit(request, user, "tasks.release_task", task_id, 200, None)
    return redirect(f"/ui/tasks/{task_id}?done=released")


def _form_refusal(code: str, status: int = 422) -> ProblemError:
    return ProblemError(status, code, N_("Not accepted"), "")


def decision_body(decision: str, reason: str, amount: str, missing: list[str]) -> DecisionCreate:
    """The JSON route's body from the form; a ProblemError in the API's words if it is not one."""
    if decision not in DECISIONS:
        raise _form_refusal("decision_not_allowed")
    if not reason.strip():
        raise _form_refusal("reason_required")
    # The text goes to the API's Money type as typed (less thousands separators), so the
    # form and the JSON route refuse the same amounts ("1E+3", full-width digits).
    value = amount.strip().replace(",", "") or None
    try:
        return DecisionCreate.model_validate(
            {
                "decision": decision,
                "reason": reason.strip(),
                "amount": value,
                "missing": missing if decision == "request_info" else [],
            }
        )
    except ValidationError as err:
        fields = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
        if "amount" in fields:
            raise _form_refusal("invalid_amount") from None
        if "missing" in fields:
            raise _form_refusal("documents_required") from None
        raise _form_refusal("reason_required") from None


@router.post("/tasks/{task_id}/decision", dependencies=[Depends(require_csrf)])
async def decide(
    request: Request,
    task_id: TaskId,
    user: WebUser,
    session: SessionDep,
    client: TemporalDep,
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    missing: Annotated[list[str], Form()] = [],  # noqa: B006  # FastAPI copies defaults
) -> Response:
    """Approve, reject or ask for information: ``POST /v1/tasks/{id}/decision`` itself."""
    body: DecisionCreate | None = None
    try:
        body = decision_body(decision, reason, amount, missing)
        await tasks.decide(client, session, task_id, user, body.asked())
    except ProblemError as err:
        await session.rollback()
        # A malformed form is what a malformed body is to the API: 422 validation_error.
        code = err.code if body is not None else "validation_error"
        await _audit(request, user, "tasks.decide", task_id, err.status_code, code)
        return await _refused(
            request,
            task_id,
            user,
            session,
            err,
            amount=body.amount if body else None,
            reason=reason[:2000],
        )
    await _audit(request, user, "tasks.decide", task_id, 200, None)
    return redirect(f"/ui/tasks/{task_id}?done={body.decision}")
