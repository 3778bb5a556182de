"""verification checkpoints for incremental `tanhui verify` (ledger_checkpoints)

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-30 12:40:00

A checkpoint records the chain heads up to which the journal verified, hash-chained to the scheme's
previous checkpoint. Append-only, like the journal.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tanhui.store.migrations._frozen import append_only_triggers, drop_append_only_triggers

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("scheme_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("heads", sa.Text(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name=op.f("fk_ledger_checkpoints_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
        sa.UniqueConstraint("scheme_id", "seq", name=op.f("uq_ledger_checkpoints_scheme_id_seq")),
    )
    append_only_triggers(["ledger_checkpoints"])


def downgrade() -> None:
    drop_append_only_triggers(["ledger_checkpoints"])
    op.drop_table("ledger_checkpoints")
