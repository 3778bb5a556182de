"""the federation's claims log: own claims, withdrawals, the Merkle log and its signed heads, and what
was pulled from peers (issue 16 part 2, docs/interop.md)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tanhui.store.types

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = tanhui.store.types.UTCDateTime(timezone=True)
Json = tanhui.store.types.JSONText()


def upgrade() -> None:
    op.create_table(
        "interop_claims",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("scenario", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", When, nullable=False),
        sa.Column("pkey", sa.Integer(), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("event_pk", BigId, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_interop_claims")),
    )
    op.create_index("ix_interop_claims_unsequenced", "interop_claims", ["seq", "recorded_at"], unique=False)
    op.create_table(
        "interop_withdrawals",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("pkey", sa.Integer(), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("event_pk", BigId, nullable=False),
        sa.Column("reversal_entry_id", BigId, nullable=True),
        sa.Column("shortfall_g", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_points", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at", When, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_interop_withdrawals")),
    )
    op.create_index("ix_interop_withdrawals_account_id", "interop_withdrawals", ["account_id"], unique=False)
    op.create_table(
        "interop_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("scenario", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", When, nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("kind IN ('claim', 'withdrawal')", name=op.f("ck_interop_log_kind")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_interop_log")),
    )
    op.create_table(
        "interop_log_heads",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("frontier", Json, nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_interop_log_heads")),
    )
    op.create_table(
        "interop_peer_logs",
        sa.Column("peer_pk", BigId, autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("head_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("head_signature", sa.String(length=100), nullable=True),
        sa.Column("frontier", Json, nullable=False),
        sa.Column("trust", sa.String(length=12), nullable=False),
        sa.Column("untrusted_reason", sa.String(length=64), nullable=True),
        sa.Column("untrusted_at", When, nullable=True),
        sa.Column("synced_at", When, nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("syncs_ok", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("syncs_failed", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("trust IN ('trusted', 'untrusted')", name=op.f("ck_interop_peer_logs_trust")),
        sa.PrimaryKeyConstraint("peer_pk", name=op.f("pk_interop_peer_logs")),
    )
    op.create_table(
        "interop_peer_claims",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("peer_pk", BigId, nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("scenario", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", When, nullable=False),
        sa.CheckConstraint("kind IN ('claim', 'withdrawal')", name=op.f("ck_interop_peer_claims_kind")),
        sa.PrimaryKeyConstraint("fingerprint", "peer_pk", "seq", name=op.f("pk_interop_peer_claims")),
    )


def downgrade() -> None:
    op.drop_table("interop_peer_claims")
    op.drop_table("interop_peer_logs")
    op.drop_table("interop_log_heads")
    op.drop_table("interop_log")
    op.drop_index("ix_interop_withdrawals_account_id", table_name="interop_withdrawals")
    op.drop_table("interop_withdrawals")
    op.drop_index("ix_interop_claims_unsequenced", table_name="interop_claims")
    op.drop_table("interop_claims")
