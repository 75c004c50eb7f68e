"""Claims: the read model of the claim process.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:07:14.653780
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('claim',
    sa.Column('claim_no', sa.String(length=64), nullable=False),
    sa.Column('workflow_id', sa.String(length=128), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('policy_number', sa.String(length=64), nullable=False),
    sa.Column('incident_date', sa.Date(), nullable=False),
    sa.Column('incident_type', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('amount_claimed', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('amount_approved', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['policy_number'], ['policy.policy_number'], name=op.f('fk_claim_policy_number_policy')),
    sa.PrimaryKeyConstraint('claim_no', name=op.f('pk_claim')),
    sa.UniqueConstraint('workflow_id', name=op.f('uq_claim_workflow_id'))
    )
    op.create_index(op.f('ix_claim_agent_created_at_claim_no'), 'claim', ['agent', 'created_at', 'claim_no'], unique=False)
    op.create_index(op.f('ix_claim_policy_number_incident_date_incident_type'), 'claim', ['policy_number', 'incident_date', 'incident_type'], unique=False)
    op.create_index(op.f('ix_claim_stage_created_at_claim_no'), 'claim', ['stage', 'created_at', 'claim_no'], unique=False)
    op.create_index(op.f('ix_claim_status_created_at_claim_no'), 'claim', ['status', 'created_at', 'claim_no'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_claim_status_created_at_claim_no'), table_name='claim')
    op.drop_index(op.f('ix_claim_stage_created_at_claim_no'), table_name='claim')
    op.drop_index(op.f('ix_claim_policy_number_incident_date_incident_type'), table_name='claim')
    op.drop_index(op.f('ix_claim_agent_created_at_claim_no'), table_name='claim')
    op.drop_table('claim')
