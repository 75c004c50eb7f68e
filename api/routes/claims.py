"""Claims (理赔): a policyholder's loss from first notice to money in their account."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from api.deps import (
    AgentUser,
    CurrentUser,
    LazyTemporalDep,
    PayoutFixer,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.openapi import problem_responses
from api.schemas import FreeText, Money, RequiredText, StrictDate, StrictModel
from domain.claim_rules import MAX_DOCUMENTS_PER_REQUEST, is_supplementary
from domain.claims import (
    Approval,
    Assessment,
    ClaimDocument,
    ClaimHistoryEntry,
    ClaimStage,
    ClaimState,
    ClaimStatus,
    Deadlines,
)
from domain.products import IncidentType
from services import claims
from services.claims import ClaimReport

router = APIRouter(prefix="/v1/claims", tags=["claims"])

# The problems these routes answer with themselves. What every route of its kind answers
# (401, 403, 503, body and validation errors, 500) is documented app-wide: see
# api.errors.install_problem_openapi. `process_refused`: an Update refused for a reason
# with no code of its own (services.processes.refusal); `process_closed`: one the process ended
# before taking (services.processes.run_update).
_NOT_FOUND = {404: "claim_not_found"}
_REFUSED = {409: ["process_refused", "process_closed"]}
_NOT_YOURS = {403: "not_your_case"}


class ClaimCreate(StrictModel):
    policy_number: str = Field(min_length=1, max_length=40)
    incident_date: StrictDate
    incident_type: str = Field(description="One of the product's `covered_incidents`")
    description: RequiredText = Field(min_length=1, max_length=2000)
    amount_claimed: Money
    documents: list[ClaimDocument] = Field(
        default=[],
        max_length=MAX_DOCUMENTS_PER_REQUEST,
        description="Each `kind` a slug (at most 40 characters): the product's "
        "`required_documents` for the incident, or any other kind, kept as supplementary",
    )
    payee_account: str = Field(description="12-19 digits; shown masked afterwards")


class ClaimAccepted(BaseModel):
    claim_id: str
    workflow_id: str
    stage: ClaimStage
    status: ClaimStatus


class DocumentsCreate(StrictModel):
    documents: list[ClaimDocument] = Field(min_length=1, max_length=MAX_DOCUMENTS_PER_REQUEST)


class AppealCreate(StrictModel):
    reason: RequiredText = Field(min_length=1, max_length=2000)


class ClaimWithdrawalCreate(StrictModel):
    reason: FreeText = Field(default="", max_length=500)


class PayoutRetryCreate(StrictModel):
    payee_account: str
    reason: RequiredText = Field(min_length=1, max_length=500)


class PayoutRead(BaseModel):
    """The payout as the agent sees it: no ledger or idempotency internals."""

    status: str
    amount: Money | None = None
    paid_at: datetime | None = None
    attempts: int = 0


class ClaimDocumentRead(BaseModel):
    kind: str
    name: str
    supplementary: bool = Field(
        description="A kind outside every checklist: kept, never counted as required"
    )


class ClaimRead(BaseModel):
    claim_id: str
    workflow_id: str
    agent: str
    policy_number: str
    product_code: str
    incident_date: date
    incident_type: IncidentType
    stage: ClaimStage
    status: ClaimStatus
    amount_claimed: Money
    amount_approved: Money | None
    payee_account: str = Field(description="masked")
    documents: list[ClaimDocumentRead]
    missing_documents: list[str]
    assessment: Assessment | None
    tier: str | None
    approvals: list[Approval]
    payout: PayoutRead | None
    deadlines: Deadlines
    history: list[ClaimHistoryEntry]

    @classmethod
    def of(cls, state: ClaimState) -> ClaimRead:
        data = state.model_dump(
            exclude={"payee_account_masked", "description", "open_task_id", "payout"}
        )
        payout = PayoutRead.model_validate(state.payout.model_dump())
        data["documents"] = [
            ClaimDocumentRead(kind=d.kind, name=d.name, supplementary=is_supplementary(d.kind))
            for d in state.documents
        ]
        return cls(**data, payout=payout, payee_account=state.payee_account_masked)


class ClaimSummary(BaseModel):
    claim_id: str
    workflow_id: str
    agent: str
    policy_number: str
    incident_date: date
    incident_type: str
    stage: str
    status: str
    amount_claimed: Money
    amount_approved: Money | None
    created_at: datetime
    updated_at: datetime


class ClaimPage(BaseModel):
    items: list[ClaimSummary]
    next_cursor: str | None


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ClaimAccepted,
    responses=problem_responses(
        _NOT_YOURS,
        {409: "duplicate_claim"},
        {
            422: [
                "invalid_bank_account",
                "unknown_policy",
                "policy_not_effective",
                "incident_not_covered",
                "unknown_incident_type",
                "incident_in_future",
                "incident_too_old",
                "invalid_amount",
            ]
        },
    ),
)
async def report_claim(
    body: ClaimCreate,
    user: AgentUser,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
) -> ClaimAccepted:
    """First notice of loss. Checked before anything starts: the policy (the caller's
    customer's), effective on the incident date, the incident covered by the product, the
    date not in the future, the amount positive, and not the same claim again (same policy,
    incident date and type, still open or paid: 409 `duplicate_claim`)."""
    report = ClaimReport(
        policy_number=body.policy_number,
        incident_date=body.incident_date,
        incident_type=body.incident_type,
        description=body.description,
        amount_claimed=body.amount_claimed,
        documents=body.documents,
        payee_account=body.payee_account,
    )
    reported = await claims.report_claim(client, session, user, settings, report)
    return ClaimAccepted(
        claim_id=reported.claim_id,
        workflow_id=reported.workflow_id,
        stage=reported.stage,
        status=reported.status,
    )


@router.get("", response_model=ClaimPage, responses=problem_responses({422: "invalid_cursor"}))
async def list_claims(
    user: CurrentUser,
    session: SessionDep,
    stage: ClaimStage | None = None,
    status_: Annotated[ClaimStatus | None, Query(alias="status")] = None,
    policy_number: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ClaimPage:
    """The caller's claims (an agent) or all of them (supervisor, ops), newest first."""
    rows, next_cursor = await claims.list_claims(
        session,
        user,
        stage=stage,
        status=status_,
        policy_number=policy_number,
        cursor=cursor,
        limit=limit,
    )
    return ClaimPage(
        items=[
            ClaimSummary(
                claim_id=r.claim_no,
                workflow_id=r.workflow_id,
                agent=r.agent,
                policy_number=r.policy_number,
                incident_date=r.incident_date,
                incident_type=r.incident_type,
                stage=r.stage,
                status=r.status,
                amount_claimed=r.amount_claimed,
                amount_approved=r.amount_approved,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


@router.get("/{claim_id}", response_model=ClaimRead, responses=problem_responses(_NOT_FOUND))
async def get_claim(
    claim_id: str, user: CurrentUser, temporal: LazyTemporalDep, session: SessionDep
) -> ClaimRead:
    """Where the claim stands: stage, missing documents, assessment with the reasons for any
    reduction, approvals, payout, deadlines (and any breach), history."""
    return ClaimRead.of(await claims.read_claim(temporal, session, claim_id, user))


@router.post(
    "/{claim_id}/documents",
    response_model=ClaimRead,
    responses=problem_responses(
        _NOT_FOUND, _NOT_YOURS, {409: "invalid_stage"}, _REFUSED, {422: "too_many_documents"}
    ),
)
async def supplement_documents(
    claim_id: str, body: DocumentsCreate, user: AgentUser, client: TemporalDep
) -> ClaimRead:
    """Supplement missing documents; the review resumes when none is missing. Kinds
    outside the checklist are kept as supplementary; a claim keeps at most 100 documents
    (422 `too_many_documents`)."""
    state = await claims.supplement_documents(client, claim_id, user, body.documents)
    return ClaimRead.of(state)


@router.post(
    "/{claim_id}/appeal",
    response_model=ClaimRead,
    responses=problem_responses(
        _NOT_FOUND, _NOT_YOURS, {409: ["appeal_not_allowed", "appeal_window_closed"]}, _REFUSED
    ),
)
async def appeal(
    claim_id: str, body: AppealCreate, user: AgentUser, client: TemporalDep
) -> ClaimRead:
    """Appeal a rejection within the appeal window; a supervisor other than the one who
    rejected reviews it."""
    return ClaimRead.of(await claims.appeal(client, claim_id, user, body.reason))


@router.post(
    "/{claim_id}/withdraw",
    response_model=ClaimRead,
    responses=problem_responses(_NOT_FOUND, _NOT_YOURS, {409: "withdraw_not_allowed"}, _REFUSED),
)
async def withdraw_claim(
    claim_id: str, body: ClaimWithdrawalCreate, user: AgentUser, client: TemporalDep
) -> ClaimRead:
    """Withdraw the claim before it is approved."""
    return ClaimRead.of(await claims.withdraw(client, claim_id, user, body.reason))


@router.post(
    "/{claim_id}/payout/retry",
    response_model=ClaimRead,
    responses=problem_responses(
        _NOT_FOUND, {409: "invalid_stage"}, _REFUSED, {422: "invalid_bank_account"}
    ),
)
async def retry_payout(
    claim_id: str, body: PayoutRetryCreate, user: PayoutFixer, client: TemporalDep
) -> ClaimRead:
    """After the bank declined the payout (stage `payout_failed`): correct the payee account
    and pay again (ops or supervisor)."""
    state = await claims.fix_payout(client, claim_id, user, body.payee_account, body.reason)
    return ClaimRead.of(state)
