"""one index entry fewer per credited event: the claim alone carries a behaviour's uniqueness

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 15:10:00

Issue 15, single-node throughput (docs/benchmarks.md). Every credited event wrote an entry into the
events' unique fingerprint index, whose rule behaviour_claims (filled by 0014, written in the same
transaction) already holds on every engine; the ingest path now reads the claims. The index goes.
On a Citus coordinator the plan had made it a plain index of the same name: it goes there too.
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('DROP INDEX "uq_events_fingerprint"')


def downgrade() -> None:
    op.execute('CREATE UNIQUE INDEX "uq_events_fingerprint" ON events (fingerprint) WHERE fingerprint IS NOT NULL')
