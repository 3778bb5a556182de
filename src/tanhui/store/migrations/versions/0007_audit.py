"""operator audit log (append-only)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 11:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tanhui.store.types
from tanhui.store.migrations._frozen import append_only_triggers, drop_append_only_triggers

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('scheme_id', sa.String(length=32), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.Column('details', tanhui.store.types.JSONText(), nullable=True),
    sa.Column('created_at', tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_scheme_id_id', ['scheme_id', 'id'], unique=False)
    append_only_triggers(["audit_log"])  # PostgreSQL: tanhui_append_only() from 0001


def downgrade() -> None:
    drop_append_only_triggers(["audit_log"])
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_scheme_id_id')
    op.drop_table('audit_log')
