"""operator report projections (report_*), a narrower events-by-day index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 12:10:00

The nine-column covering index on events served the reports' scans; the reports now read
counters kept by the writers, so the index shrinks to what credit issuance needs. Existing
databases get their counters rebuilt from the events, check-ins, postings and accounts.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_facts',
    sa.Column('scheme_id', sa.String(length=32), nullable=False),
    sa.Column('local_day', sa.Integer(), nullable=False),
    sa.Column('scenario', sa.String(length=64), nullable=False),
    sa.Column('partner_pk', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('events', sa.BigInteger(), nullable=False),
    sa.Column('carbon_g', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scheme_id', 'local_day', 'scenario', 'partner_pk', 'status', 'reason', name=op.f('pk_report_facts'))
    )
    op.create_table('report_active',
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('local_day', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'local_day', name=op.f('pk_report_active')),
    sqlite_with_rowid=False,
    )
    op.create_table('report_days',
    sa.Column('scheme_id', sa.String(length=32), nullable=False),
    sa.Column('local_day', sa.Integer(), nullable=False),
    sa.Column('shard', sa.String(length=48), nullable=False),
    sa.Column('active_users', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scheme_id', 'local_day', 'shard', name=op.f('pk_report_days'))
    )
    op.create_table('report_flows',
    sa.Column('ledger_account_id', sa.BigInteger(), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('shard', sa.String(length=48), nullable=False),
    sa.Column('amount_out', sa.BigInteger(), nullable=False),
    sa.Column('amount_in', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('ledger_account_id', 'bucket', 'shard', name=op.f('pk_report_flows'))
    )
    op.create_table('report_accounts',
    sa.Column('scheme_id', sa.String(length=32), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('shard', sa.Integer(), nullable=False),
    sa.Column('registered', sa.BigInteger(), nullable=False),
    sa.Column('erased', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scheme_id', 'bucket', 'shard', name=op.f('pk_report_accounts'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_scheme_id_local_day')
        batch_op.create_index('ix_events_scheme_id_local_day', ['scheme_id', 'local_day'], unique=False)
        batch_op.create_index('ix_events_rejected', ['scheme_id', 'id'], unique=False,
                              sqlite_where=sa.text("status = 'rejected'"), postgresql_where=sa.text("status = 'rejected'"))

    from tanhui.store.dialect import Dialect
    from tanhui.store.repositories.reports import ReportRepository

    bind = op.get_bind()
    ReportRepository(bind, Dialect(bind.dialect.name)).rebuild()


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_rejected')
        batch_op.drop_index('ix_events_scheme_id_local_day')
        batch_op.create_index('ix_events_scheme_id_local_day', ['scheme_id', 'local_day', 'scenario', 'partner_pk', 'status', 'reason', 'carbon_g', 'points', 'account_id'], unique=False)
    op.drop_table('report_accounts')
    op.drop_table('report_flows')
    op.drop_table('report_days')
    op.drop_table('report_active')
    op.drop_table('report_facts')
