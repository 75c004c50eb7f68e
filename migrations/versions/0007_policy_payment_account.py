"""Servicing changes: the policy's auto-debit account, encrypted and masked.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("policy") as batch:
        batch.add_column(sa.Column("payment_account_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("payment_account_masked", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policy") as batch:
        batch.drop_column("payment_account_masked")
        batch.drop_column("payment_account_enc")
