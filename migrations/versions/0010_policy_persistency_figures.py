"""The policy persistency report: the lapses (suspended, reinstated, surrendered,
terminated by reason, expired) and the 13-month persistency's numerator and denominator,
daily figures per agent in report_daily.

Days aggregated before this migration hold 0 for them until they are computed again
(`insureflow reports backfill FROM TO`); the daily schedule fills every day after it.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = (
    "policies_suspended",
    "policies_reinstated",
    "policies_surrendered",
    "policies_terminated_not_reinstated",
    "policies_terminated_claim_paid",
    "policies_expired",
    "persistency_13m_due",
    "persistency_13m_paid",
)


def upgrade() -> None:
    with op.batch_alter_table("report_daily") as batch:
        for name in _COUNTS:
            # The rows already there get 0 (NOT NULL needs a value for them).
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("report_daily") as batch:
        for name in reversed(_COUNTS):
            batch.drop_column(name)
