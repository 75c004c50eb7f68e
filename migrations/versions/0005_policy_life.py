"""The policy's life: the policy row written by its own process (stage, receipt,
cooling-off end, state), listed by status.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("policy") as batch:
        batch.add_column(sa.Column("workflow_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("stage", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("receipt_signed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("cooling_off_ends_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("state", JSON, nullable=True))
    op.create_index(
        op.f("ix_policy_status_created_at_policy_number"),
        "policy",
        ["status", "created_at", "policy_number"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_policy_status_created_at_policy_number"), table_name="policy")
    with op.batch_alter_table("policy") as batch:
        batch.drop_column("state")
        batch.drop_column("cooling_off_ends_at")
        batch.drop_column("receipt_signed_at")
        batch.drop_column("stage")
        batch.drop_column("workflow_id")
