"""operator report projections (report_*), a narrower events-by-day index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 12:10:00

The nine-column covering index on events served the reports' scans; the reports now read
counters kept by the writers, so the index shrinks to what credit issuance needs. Existing
databases get their counters rebuilt from the events, check-ins, postings and accounts.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tanhui.store.migrations._frozen import epoch_bucket_sql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# As they were on this revision's day (the repositories' constants may move on; this file does not).
BUCKET_SECONDS = 900  # report_flows and report_accounts count per quarter hour of UTC epoch seconds
ACCOUNT_SHARDS = 16  # report_accounts: a person's row is shard (account id % 16)
REBUILT = "''"  # the shard of counters written by a rebuild (report_days, report_flows), as an SQL literal


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

    _backfill()


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


def _backfill() -> None:
    """The counters of the existing rows (the report tables are new and empty), as
    ``ReportRepository.rebuild()`` computed them on this revision's day, in SQL of its own."""
    op.execute(
        "INSERT INTO report_facts (scheme_id, local_day, scenario, partner_pk, status, reason, events, carbon_g, points) "
        "SELECT scheme_id, local_day, scenario, partner_pk, status, coalesce(reason, ''), count(*), "
        "coalesce(sum(carbon_g), 0), coalesce(sum(points), 0) FROM events WHERE local_day IS NOT NULL "
        "GROUP BY scheme_id, local_day, scenario, partner_pk, status, coalesce(reason, '')"
    )
    # a person is active on a day with a credited event or a check-in
    op.execute(
        "INSERT INTO report_active (account_id, local_day) "
        "SELECT account_id, local_day FROM events "
        "WHERE status = 'credited' AND account_id IS NOT NULL AND local_day IS NOT NULL "
        "UNION SELECT account_id, local_day FROM checkins"
    )
    op.execute(
        "INSERT INTO report_days (scheme_id, local_day, shard, active_users) "
        f"SELECT accounts.scheme_id, report_active.local_day, {REBUILT}, count(*) "
        "FROM report_active JOIN accounts ON accounts.id = report_active.account_id "
        "GROUP BY accounts.scheme_id, report_active.local_day"
    )
    # what left and entered each untracked (system) ledger account, per quarter hour of its entries
    entry_bucket = epoch_bucket_sql("journal_entries.created_at", BUCKET_SECONDS)
    sides = [
        f"SELECT postings.{column} AS ledger_account_id, {entry_bucket} AS bucket, {amounts} "
        "FROM postings JOIN journal_entries ON journal_entries.id = postings.entry_id "
        f"JOIN ledger_accounts ON ledger_accounts.id = postings.{column} WHERE NOT ledger_accounts.tracked"
        for column, amounts in (
            ("from_account_id", "postings.amount AS amount_out, 0 AS amount_in"),
            ("to_account_id", "0 AS amount_out, postings.amount AS amount_in"),
        )
    ]
    op.execute(
        "INSERT INTO report_flows (ledger_account_id, bucket, shard, amount_out, amount_in) "
        f"SELECT ledger_account_id, bucket, {REBUILT}, sum(amount_out), sum(amount_in) "
        f"FROM ({' UNION ALL '.join(sides)}) AS flows GROUP BY ledger_account_id, bucket"
    )
    # people registered and erased, per quarter hour and shard
    op.execute(
        "INSERT INTO report_accounts (scheme_id, bucket, shard, registered, erased) "
        "SELECT scheme_id, bucket, shard, sum(registered), sum(erased) FROM ("
        f"SELECT scheme_id, {epoch_bucket_sql('created_at', BUCKET_SECONDS)} AS bucket, id % {ACCOUNT_SHARDS} AS shard, "
        "1 AS registered, 0 AS erased FROM accounts WHERE kind = 'person' "
        "UNION ALL "
        f"SELECT scheme_id, {epoch_bucket_sql('erased_at', BUCKET_SECONDS)} AS bucket, id % {ACCOUNT_SHARDS} AS shard, "
        "0 AS registered, 1 AS erased FROM accounts WHERE kind = 'person' AND erased_at IS NOT NULL"
        ") AS people GROUP BY scheme_id, bucket, shard"
    )
