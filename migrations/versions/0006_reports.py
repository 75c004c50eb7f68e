"""The reports' daily aggregates: figures per business day and agent, SLA figures per task
kind, and the duration samples median and percentiles are computed from.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = (
    "applications_started",
    "applications_submitted",
    "applications_approved",
    "applications_rejected",
    "policies_issued",
)
_CLAIM_COUNTS = ("claims_reported", "claims_decided", "claims_rejected", "claims_decided_in_time")
_QUERY_COUNTS = (
    "queries_attempted",
    "queries_succeeded",
    "queries_failed",
    "queries_locked",
    "query_lockouts",
)
_TASK_COUNTS = ("opened", "decided", "decided_before_due", "escalated", "breached", "cancelled")


def _int(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False)


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=14, scale=2), nullable=False)


def upgrade() -> None:
    op.create_table(
        "report_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        *(_int(name) for name in _COUNTS),
        _money("premium_issued"),
        *(_int(name) for name in _CLAIM_COUNTS),
        _int("claims_paid"),
        _money("claims_paid_amount"),
        *(_int(name) for name in _QUERY_COUNTS),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "agent", name=op.f("pk_report_daily")),
    )
    op.create_index(op.f("ix_report_daily_agent_day"), "report_daily", ["agent", "day"])
    op.create_table(
        "report_task_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        *(_int(name) for name in _TASK_COUNTS),
        sa.PrimaryKeyConstraint("day", "agent", "kind", name=op.f("pk_report_task_daily")),
    )
    op.create_index(op.f("ix_report_task_daily_agent_day"), "report_task_daily", ["agent", "day"])
    op.create_table(
        "report_samples",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column(
            "samples",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("day", "agent", "measure", name=op.f("pk_report_samples")),
    )
    op.create_index(op.f("ix_report_samples_agent_day"), "report_samples", ["agent", "day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_report_samples_agent_day"), table_name="report_samples")
    op.drop_table("report_samples")
    op.drop_index(op.f("ix_report_task_daily_agent_day"), table_name="report_task_daily")
    op.drop_table("report_task_daily")
    op.drop_index(op.f("ix_report_daily_agent_day"), table_name="report_daily")
    op.drop_table("report_daily")
