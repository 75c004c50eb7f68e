"""The read model's tables: typed SQLAlchemy 2 models.

Temporal holds the truth about each process; these tables hold what people list and
search, the money ledger, the notification outbox and the audit log.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TASK_STATUSES = ("open", "claimed", "done", "cancelled", "expired")
TASK_CLOSED_STATUSES = ("done", "cancelled", "expired")
LEDGER_KINDS = ("premium", "payout", "refund")
LEDGER_STATUSES = ("pending", "succeeded", "declined")
GATEWAY_KINDS = ("charge", "order", "payout", "refund")
NOTIFICATION_STATUSES = ("pending", "sent")


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh opaque id for rows that have no business key of their own."""
    return uuid.uuid4().hex


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware in UTC.

    PostgreSQL keeps `timestamptz` as an instant; SQLite has no timestamp type and
    SQLAlchemy drops the offset, so it stores the naive UTC wall time (which also sorts
    correctly as text). Naive datetimes are refused: their zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Money: two decimal places, up to a trillion; `Decimal` in Python on both backends.
Money = Numeric(14, 2)
# JSONB on PostgreSQL (comparable, indexable), JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class User(TimestampMixin, Base):
    __tablename__ = "user"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    approval_limit: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    active: Mapped[bool] = mapped_column(default=True)
    # The branch (分公司) the user works in, as the agency names it; the reports sum agents'
    # figures per branch by it (docs/reports.md). None: no branch (head office, or not set).
    branch: Mapped[str | None] = mapped_column(String(64))


class Customer(TimestampMixin, Base):
    """A customer. Personal data is stored encrypted or masked; `id_hash` finds them."""

    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    id_hash: Mapped[str] = mapped_column(String(128), unique=True)
    id_number_enc: Mapped[str] = mapped_column(Text)
    id_masked: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    phone_enc: Mapped[str] = mapped_column(Text)
    phone_masked: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    birth_date: Mapped[date] = mapped_column(Date)


class Enrollment(TimestampMixin, Base):
    """The read model of one enrollment process, written by its record activity."""

    __tablename__ = "enrollment"

    application_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(128), unique=True)
    agent: Mapped[str] = mapped_column(String(64))  # indexed by the listing index below
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id"))
    stage: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    product_code: Mapped[str | None] = mapped_column(String(32))
    sum_insured: Mapped[Decimal | None] = mapped_column(Money)
    premium: Mapped[Decimal | None] = mapped_column(Money)
    payment_method: Mapped[str | None] = mapped_column(String(32))
    policy_number: Mapped[str | None] = mapped_column(String(64))
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # EnrollmentState.model_dump(mode="json"): masked data only, never raw personal data.
    state: Mapped[dict[str, Any]] = mapped_column(JSONDocument)

    __table_args__ = (
        # Keyset listing: newest first, filtered by one of these.
        Index(None, "agent", "created_at", "application_no"),
        Index(None, "status", "created_at", "application_no"),
        Index(None, "stage", "created_at", "application_no"),
        # The duplicate-application check.
        Index(None, "customer_id", "product_code"),
    )


class Quote(CreatedAtMixin, Base):
    __tablename__ = "quote"

    quote_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_no: Mapped[str] = mapped_column(String(64), index=True)
    product_code: Mapped[str] = mapped_column(String(32))
    sum_insured: Mapped[Decimal] = mapped_column(Money)
    premium: Mapped[Decimal] = mapped_column(Money)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())


class Policy(TimestampMixin, Base):
    __tablename__ = "policy"

    policy_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_no: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    product_code: Mapped[str] = mapped_column(String(32))
    sum_insured: Mapped[Decimal] = mapped_column(Money)
    premium: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(32))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_to_date: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # Written by the policy's own process (PolicyWorkflow) from its first step on; None
    # for a row its process has not recorded yet.
    workflow_id: Mapped[str | None] = mapped_column(String(128))
    stage: Mapped[str | None] = mapped_column(String(32))
    receipt_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cooling_off_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The auto-debit account a servicing change named (FieldCipher ciphertext, and masked).
    payment_account_enc: Mapped[str | None] = mapped_column(Text)
    payment_account_masked: Mapped[str | None] = mapped_column(String(32))
    # PolicyState.model_dump(mode="json"): masked data only.
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)

    __table_args__ = (
        # Keyset listing by status (GET /v1/policies?status=effective).
        Index(None, "status", "created_at", "policy_number"),
    )


class Claim(TimestampMixin, Base):
    """The read model of one claim process, written by its record activity."""

    __tablename__ = "claim"

    claim_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(128), unique=True)
    agent: Mapped[str] = mapped_column(String(64))  # indexed by the listing index below
    # Indexed by the duplicate-check index below, which leads with it.
    policy_number: Mapped[str] = mapped_column(ForeignKey("policy.policy_number"))
    incident_date: Mapped[date] = mapped_column(Date)
    incident_type: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    amount_claimed: Mapped[Decimal] = mapped_column(Money)
    amount_approved: Mapped[Decimal | None] = mapped_column(Money)
    # ClaimState.model_dump(mode="json"): the payee account only masked, no raw personal data.
    state: Mapped[dict[str, Any]] = mapped_column(JSONDocument)

    __table_args__ = (
        # Keyset listing: newest first, filtered by one of these.
        Index(None, "agent", "created_at", "claim_no"),
        Index(None, "status", "created_at", "claim_no"),
        Index(None, "stage", "created_at", "claim_no"),
        # The duplicate-claim check; also serves a policy's claims and the foreign key.
        Index(None, "policy_number", "incident_date", "incident_type"),
    )


class Task(TimestampMixin, Base):
    """A human step waiting in the supervisor inbox."""

    __tablename__ = "task"

    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    workflow_id: Mapped[str] = mapped_column(String(128), index=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[str | None] = mapped_column(String(64))
    submitted_by: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(default=0)
    escalation_level: Mapped[int] = mapped_column(default=0)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expire_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        # The inbox: by status, soonest due first, keyset-paginated.
        Index(None, "status", "due_at", "task_id"),
    )


class PaymentLedger(TimestampMixin, Base):
    """Our book of money movements. `idempotency_key` makes each movement happen once."""

    __tablename__ = "payment_ledger"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    order_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16))
    gateway_ref: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(_in("kind", LEDGER_KINDS), name="kind"),
        CheckConstraint(_in("status", LEDGER_STATUSES), name="status"),
    )


class GatewayTransaction(TimestampMixin, Base):
    """The simulated payment gateway's own book, kept apart from our ledger."""

    __tablename__ = "gateway_transaction"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16))
    account_last4: Mapped[str | None] = mapped_column(String(4))
    gateway_ref: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (CheckConstraint(_in("kind", GATEWAY_KINDS), name="kind"),)


class Notification(CreatedAtMixin, Base):
    """The notification outbox: one row per message, sent by a dispatcher."""

    __tablename__ = "notification"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    recipient: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, str]] = mapped_column(JSONDocument, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (CheckConstraint(_in("status", NOTIFICATION_STATUSES), name="status"),)


class AuditEvent(Base):
    """Append-only audit log: who did what, when, to which case."""

    __tablename__ = "audit_event"

    # SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    client: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class QueryCredential(CreatedAtMixin, Base):
    """The customer's policy-query password (hashed), per application."""

    __tablename__ = "query_credential"

    application_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))


class RevokedToken(CreatedAtMixin, Base):
    """An access token ended before its expiry (sign-out), by its ``jti``; refused from then
    on. A row is of no use once the token has expired, and may be purged after
    `expires_at`."""

    __tablename__ = "revoked_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


LOGIN_THROTTLE_SCOPES = ("user", "client")


class LoginThrottle(Base):
    """Failed sign-ins counted per attempted username or per client address, and the
    lockout they led to. `key` is a keyed hash (HMAC) of the scope and the name or address:
    an attempted username may be an ID number typed in the wrong field, and is never kept
    in clear here."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    unlock_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Indexed for the purge of rows whose window and lockout have both passed.
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, index=True
    )

    __table_args__ = (CheckConstraint(_in("scope", LOGIN_THROTTLE_SCOPES), name="scope"),)


class ReportDaily(Base):
    """One business day's figures for one agent (domain.reports.AGENT_FIGURES), written
    by the daily aggregation: the reports sum these rows, never the raw tables. An agent
    of ``""`` holds figures that belong to no agent (docs/reports.md)."""

    __tablename__ = "report_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    applications_started: Mapped[int] = mapped_column(default=0)
    applications_submitted: Mapped[int] = mapped_column(default=0)
    applications_approved: Mapped[int] = mapped_column(default=0)
    applications_rejected: Mapped[int] = mapped_column(default=0)
    policies_issued: Mapped[int] = mapped_column(default=0)
    premium_issued: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    claims_reported: Mapped[int] = mapped_column(default=0)
    claims_decided: Mapped[int] = mapped_column(default=0)
    claims_rejected: Mapped[int] = mapped_column(default=0)
    claims_decided_in_time: Mapped[int] = mapped_column(default=0)
    claims_paid: Mapped[int] = mapped_column(default=0)
    claims_paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    queries_attempted: Mapped[int] = mapped_column(default=0)
    queries_succeeded: Mapped[int] = mapped_column(default=0)
    queries_failed: Mapped[int] = mapped_column(default=0)
    queries_locked: Mapped[int] = mapped_column(default=0)
    query_lockouts: Mapped[int] = mapped_column(default=0)
    return_visits_due: Mapped[int] = mapped_column(default=0)
    return_visits_completed: Mapped[int] = mapped_column(default=0)
    return_visits_in_cooling_off: Mapped[int] = mapped_column(default=0)
    return_visits_unreachable: Mapped[int] = mapped_column(default=0)
    return_visits_escalated: Mapped[int] = mapped_column(default=0)
    return_visits_misselling: Mapped[int] = mapped_column(default=0)
    policies_suspended: Mapped[int] = mapped_column(default=0)
    policies_reinstated: Mapped[int] = mapped_column(default=0)
    policies_surrendered: Mapped[int] = mapped_column(default=0)
    policies_terminated_not_reinstated: Mapped[int] = mapped_column(default=0)
    policies_terminated_claim_paid: Mapped[int] = mapped_column(default=0)
    policies_expired: Mapped[int] = mapped_column(default=0)
    persistency_13m_due: Mapped[int] = mapped_column(default=0)
    persistency_13m_paid: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # A range for one agent (an agent's own report) reads by agent first.
    __table_args__ = (Index(None, "agent", "day"),)


class ReportTaskDaily(Base):
    """One business day's SLA figures for one agent's inbox tasks of one kind
    (domain.reports.TASK_FIGURES)."""

    __tablename__ = "report_task_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    opened: Mapped[int] = mapped_column(default=0)
    decided: Mapped[int] = mapped_column(default=0)
    decided_before_due: Mapped[int] = mapped_column(default=0)
    escalated: Mapped[int] = mapped_column(default=0)
    breached: Mapped[int] = mapped_column(default=0)
    cancelled: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index(None, "agent", "day"),)


class ReportSamples(Base):
    """One business day's durations of one measure for one agent (domain.reports.MEASURES),
    every one, sorted: median and percentiles are not sums, so a range's are computed from
    all its samples, exactly (a median of daily medians is not the range's median)."""

    __tablename__ = "report_samples"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    samples: Mapped[list[int]] = mapped_column(JSONDocument, default=list)

    __table_args__ = (Index(None, "agent", "day"),)
