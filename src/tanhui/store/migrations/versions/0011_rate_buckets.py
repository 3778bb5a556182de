"""request budgets shared by every server process (rate_buckets)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 12:20:00

The partner rate limit was a token bucket in each server process, so N processes allowed N times the
configured rate. The bucket now lives in the database: one UPSERT per request decides it for all.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("bucket", sa.String(length=96), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
