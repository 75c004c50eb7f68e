"""Search over Temporal visibility: a query string built only from validated filters, and
one page at a time with Temporal's own page token as the cursor.

The search attributes (``workflows.search_attributes``) carry no personal data, so
neither do the queries nor the answers.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import TypedSearchAttributes
from temporalio.converter import decode_typed_search_attributes
from temporalio.service import RPCError, RPCStatusCode

from domain.masking import scrub
from domain.products import CENT
from domain.texts import N_
from services.problems import ProblemError
from workflows import search_attributes as sa

# The API's execution statuses and Temporal's ``ExecutionStatus`` values.
EXECUTION_STATUS: dict[str, str] = {
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "canceled": "Canceled",
    "terminated": "Terminated",
    "timed_out": "TimedOut",
}
PROCESSES = ("enrollment", "claim", "policy")

# Values that go into the query string must match these: no quote, no operator, nothing
# that could change the query's meaning.
ENUM_PATTERN = r"^[a-z_]{1,64}$"
AGENT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_ENUM_RE = re.compile(ENUM_PATTERN)
_AGENT_RE = re.compile(AGENT_PATTERN)


class InvalidCursor(ValueError):
    """The cursor is not one this API handed out."""


@dataclass(frozen=True, kw_only=True)
class SearchFilters:
    """What to look for; every field is optional and the given ones must all hold."""

    process: str | None = None
    status: str | None = None  # execution status, a key of EXECUTION_STATUS
    stage: str | None = None
    business_status: str | None = None  # InsureFlowStatus: in_progress, effective, ...
    agent: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None


def build_query(filters: SearchFilters) -> str:
    """The visibility query for `filters`. Raises ValueError for a value that does not
    match its pattern, so nothing unchecked ever reaches the query string."""
    clauses: list[str] = []
    for key, value in (
        (sa.PROCESS.name, filters.process),
        (sa.STAGE.name, filters.stage),
        (sa.STATUS.name, filters.business_status),
    ):
        if value is not None:
            clauses.append(f"{key} = '{_checked(value, _ENUM_RE)}'")
    if filters.agent is not None:
        clauses.append(f"{sa.AGENT.name} = '{_checked(filters.agent, _AGENT_RE)}'")
    if filters.status is not None:
        if filters.status not in EXECUTION_STATUS:
            raise ValueError(f"unknown execution status {filters.status!r}")
        clauses.append(f"ExecutionStatus = '{EXECUTION_STATUS[filters.status]}'")
    if filters.amount_min is not None:
        clauses.append(f"{sa.AMOUNT.name} >= {_number(filters.amount_min)}")
    if filters.amount_max is not None:
        clauses.append(f"{sa.AMOUNT.name} <= {_number(filters.amount_max)}")
    if filters.started_after is not None:
        clauses.append(f"StartTime >= '{_timestamp(filters.started_after)}'")
    if filters.started_before is not None:
        clauses.append(f"StartTime < '{_timestamp(filters.started_before)}'")
    return " AND ".join(clauses)


def running_processes_query() -> str:
    """Every running InsureFlow process (the incident scan's scope)."""
    names = ", ".join(f"'{p}'" for p in PROCESSES)
    return f"ExecutionStatus = 'Running' AND {sa.PROCESS.name} IN ({names})"


def _checked(value: str, pattern: re.Pattern[str]) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"value {value!r} is not allowed in a search")
    return value


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError("amounts must be finite")
    return format(value, "f")


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("times must carry a zone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- cursors ------------------------------------------------------------------------------


def encode_cursor(token: bytes) -> str:
    """Temporal's page token as a cursor (url-safe base64, unpadded)."""
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_cursor(cursor: str) -> bytes:
    try:
        token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursor("malformed cursor") from None
    if not token:
        raise InvalidCursor("empty cursor")
    return token


# --- answers ------------------------------------------------------------------------------


class WorkflowSummary(BaseModel):
    """One process as visibility knows it. (``api.routes.ops`` answers ``amount`` as the
    API's money.)"""

    workflow_id: str
    run_id: str
    workflow_type: str
    process: str | None
    stage: str | None
    status: str  # execution status: running, completed, failed, canceled, terminated, ...
    business_status: str | None  # the process's own: in_progress, effective, paid, ...
    agent: str | None
    amount: Decimal | None
    started_at: datetime | None
    closed_at: datetime | None


def status_name(status: WorkflowExecutionStatus | int | None) -> str:
    """``running``, ``completed``, ``timed_out``, ... for an execution status."""
    if status is None:
        return "unknown"
    try:
        return WorkflowExecutionStatus(status).name.lower()
    except ValueError:
        return "unknown"


def amount_of(value: float | None) -> Decimal | None:
    """A Double search attribute as money (it was set from a two-decimal amount)."""
    if value is None:
        return None
    return Decimal(repr(value)).quantize(CENT)


def summary_of(info: WorkflowExecutionInfo) -> WorkflowSummary:
    attributes = decode_typed_search_attributes(info.search_attributes)
    return WorkflowSummary(
        workflow_id=info.execution.workflow_id,
        run_id=info.execution.run_id,
        workflow_type=info.type.name,
        status=status_name(info.status),
        started_at=info.start_time.ToDatetime(tzinfo=UTC) if info.HasField("start_time") else None,
        closed_at=info.close_time.ToDatetime(tzinfo=UTC) if info.HasField("close_time") else None,
        **business_attributes(attributes),
    )


def business_attributes(attributes: TypedSearchAttributes) -> dict[str, Any]:
    """Process, stage, business status, agent and amount from a process's search attributes."""
    return {
        "process": attributes.get(sa.PROCESS),
        "stage": attributes.get(sa.STAGE),
        "business_status": attributes.get(sa.STATUS),
        "agent": attributes.get(sa.AGENT),
        "amount": amount_of(attributes.get(sa.AMOUNT)),
    }


async def list_page(
    client: Client, query: str, *, page_size: int, cursor: str | None
) -> tuple[list[WorkflowSummary], str | None]:
    """One page of the processes matching `query` and the cursor of the next (None at the
    end). Raises InvalidCursor for a cursor that does not decode, or that Temporal refuses
    (made up, or from another search)."""
    token = decode_cursor(cursor) if cursor else b""
    try:
        response = await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(
                namespace=client.namespace, query=query, page_size=page_size, next_page_token=token
            )
        )
    except RPCError as err:
        # Temporal parses the token it gets back; a foreign one fails that parse.
        if token and err.status in (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.UNKNOWN):
            raise InvalidCursor("Temporal refused the page token") from None
        raise
    items = [summary_of(info) for info in response.executions]
    following = response.next_page_token
    return items, encode_cursor(following) if following else None


async def search(
    client: Client, filters: SearchFilters, *, cursor: str | None, limit: int
) -> tuple[list[WorkflowSummary], str | None]:
    """One page of the processes matching `filters` (newest first) and the next cursor;
    422 ``invalid_amount_range``, ``invalid_cursor``, or ``invalid_search`` for a filter
    visibility cannot answer. An empty `cursor` is the first page."""
    low, high = filters.amount_min, filters.amount_max
    if low is not None and high is not None and low > high:
        raise ProblemError(
            422,
            "invalid_amount_range",
            N_("Invalid amount range"),
            N_("amount_min is above amount_max"),
        )
    try:
        return await list_page(client, build_query(filters), page_size=limit, cursor=cursor or None)
    except InvalidCursor:
        raise ProblemError(422, "invalid_cursor", N_("Invalid cursor"), "") from None
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:  # a filter visibility cannot answer
            detail = scrub(err.message)
            raise ProblemError(422, "invalid_search", N_("Search refused"), detail) from None
        raise
