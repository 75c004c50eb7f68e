"""Initial schema: every table of the read model.

Revision ID: 0001
Revises: -
Create Date: 2026-11-22 00:17:39.487430
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=True),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    op.create_index(op.f('ix_audit_event_case_id'), 'audit_event', ['case_id'], unique=False)
    op.create_table('customer',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('id_hash', sa.String(length=128), nullable=False),
    sa.Column('id_number_enc', sa.Text(), nullable=False),
    sa.Column('id_masked', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone_enc', sa.Text(), nullable=False),
    sa.Column('phone_masked', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer')),
    sa.UniqueConstraint('id_hash', name=op.f('uq_customer_id_hash'))
    )
    op.create_table('gateway_transaction',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('account_last4', sa.String(length=4), nullable=True),
    sa.Column('gateway_ref', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('charge', 'order', 'payout', 'refund')", name=op.f('ck_gateway_transaction_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_transaction')),
    sa.UniqueConstraint('gateway_ref', name=op.f('uq_gateway_transaction_gateway_ref')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_gateway_transaction_idempotency_key'))
    )
    op.create_table('notification',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'sent')", name=op.f('ck_notification_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('key', name=op.f('uq_notification_key'))
    )
    op.create_index(op.f('ix_notification_case_id'), 'notification', ['case_id'], unique=False)
    op.create_table('payment_ledger',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('gateway_ref', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('premium', 'payout', 'refund')", name=op.f('ck_payment_ledger_kind')),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'declined')", name=op.f('ck_payment_ledger_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_ledger')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payment_ledger_idempotency_key')),
    sa.UniqueConstraint('order_id', name=op.f('uq_payment_ledger_order_id'))
    )
    op.create_index(op.f('ix_payment_ledger_case_id'), 'payment_ledger', ['case_id'], unique=False)
    op.create_table('query_credential',
    sa.Column('application_no', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('application_no', name=op.f('pk_query_credential'))
    )
    op.create_table('quote',
    sa.Column('quote_id', sa.String(length=64), nullable=False),
    sa.Column('application_no', sa.String(length=64), nullable=False),
    sa.Column('product_code', sa.String(length=32), nullable=False),
    sa.Column('sum_insured', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('premium', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('quote_id', name=op.f('pk_quote'))
    )
    op.create_index(op.f('ix_quote_application_no'), 'quote', ['application_no'], unique=False)
    op.create_table('task',
    sa.Column('task_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('workflow_id', sa.String(length=128), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('submitted_by', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('escalate_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'claimed', 'done', 'cancelled', 'expired')", name=op.f('ck_task_status')),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_task'))
    )
    op.create_index(op.f('ix_task_case_id'), 'task', ['case_id'], unique=False)
    op.create_index(op.f('ix_task_status_due_at_task_id'), 'task', ['status', 'due_at', 'task_id'], unique=False)
    op.create_index(op.f('ix_task_workflow_id'), 'task', ['workflow_id'], unique=False)
    op.create_table('user',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('approval_limit', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('username', name=op.f('uq_user_username'))
    )
    op.create_table('enrollment',
    sa.Column('application_no', sa.String(length=64), nullable=False),
    sa.Column('workflow_id', sa.String(length=128), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('product_code', sa.String(length=32), nullable=True),
    sa.Column('sum_insured', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('premium', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('payment_method', sa.String(length=32), nullable=True),
    sa.Column('policy_number', sa.String(length=64), nullable=True),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_enrollment_customer_id_customer')),
    sa.PrimaryKeyConstraint('application_no', name=op.f('pk_enrollment')),
    sa.UniqueConstraint('workflow_id', name=op.f('uq_enrollment_workflow_id'))
    )
    op.create_index(op.f('ix_enrollment_agent_created_at_application_no'), 'enrollment', ['agent', 'created_at', 'application_no'], unique=False)
    op.create_index(op.f('ix_enrollment_customer_id_product_code'), 'enrollment', ['customer_id', 'product_code'], unique=False)
    op.create_index(op.f('ix_enrollment_stage_created_at_application_no'), 'enrollment', ['stage', 'created_at', 'application_no'], unique=False)
    op.create_index(op.f('ix_enrollment_status_created_at_application_no'), 'enrollment', ['status', 'created_at', 'application_no'], unique=False)
    op.create_table('policy',
    sa.Column('policy_number', sa.String(length=64), nullable=False),
    sa.Column('application_no', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('product_code', sa.String(length=32), nullable=False),
    sa.Column('sum_insured', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('premium', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_to_date', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_policy_customer_id_customer')),
    sa.PrimaryKeyConstraint('policy_number', name=op.f('pk_policy')),
    sa.UniqueConstraint('application_no', name=op.f('uq_policy_application_no'))
    )
    op.create_index(op.f('ix_policy_agent'), 'policy', ['agent'], unique=False)
    op.create_index(op.f('ix_policy_customer_id'), 'policy', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_policy_customer_id'), table_name='policy')
    op.drop_index(op.f('ix_policy_agent'), table_name='policy')
    op.drop_table('policy')
    op.drop_index(op.f('ix_enrollment_status_created_at_application_no'), table_name='enrollment')
    op.drop_index(op.f('ix_enrollment_stage_created_at_application_no'), table_name='enrollment')
    op.drop_index(op.f('ix_enrollment_customer_id_product_code'), table_name='enrollment')
    op.drop_index(op.f('ix_enrollment_agent_created_at_application_no'), table_name='enrollment')
    op.drop_table('enrollment')
    op.drop_table('user')
    op.drop_index(op.f('ix_task_workflow_id'), table_name='task')
    op.drop_index(op.f('ix_task_status_due_at_task_id'), table_name='task')
    op.drop_index(op.f('ix_task_case_id'), table_name='task')
    op.drop_table('task')
    op.drop_index(op.f('ix_quote_application_no'), table_name='quote')
    op.drop_table('quote')
    op.drop_table('query_credential')
    op.drop_index(op.f('ix_payment_ledger_case_id'), table_name='payment_ledger')
    op.drop_table('payment_ledger')
    op.drop_index(op.f('ix_notification_case_id'), table_name='notification')
    op.drop_table('notification')
    op.drop_table('gateway_transaction')
    op.drop_table('customer')
    op.drop_index(op.f('ix_audit_event_case_id'), table_name='audit_event')
    op.drop_table('audit_event')
