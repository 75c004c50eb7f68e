"""The return visits report: six daily figures per agent in report_daily.

Days aggregated before this migration hold 0 for them until they are computed again
(`insureflow reports backfill FROM TO`); the daily schedule fills every day after it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = (
    "return_visits_due",
    "return_visits_completed",
    "return_visits_in_cooling_off",
    "return_visits_unreachable",
    "return_visits_escalated",
    "return_visits_misselling",
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
