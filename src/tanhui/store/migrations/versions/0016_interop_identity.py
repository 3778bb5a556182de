"""this platform's interconnection identity and its configured peers (issue 16, docs/interop.md)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 15:20:00

One row of identity (platform id, name, Ed25519 public key, the sealed private key and federation
key), the peers the operator configured, and the peers' nonces for the replay window. The sealed
values are written by `tanhui interop init`, never by a migration (a migration cannot read the key).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tanhui.store.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "interop_platform",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.String(length=255), nullable=False),
        sa.Column("private_key_id", sa.String(length=32), nullable=False),
        sa.Column("federation_key", sa.String(length=255), nullable=False),
        sa.Column("federation_key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_interop_platform_single")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interop_platform")),
        sa.UniqueConstraint("platform_id", name=op.f("uq_interop_platform_platform_id")),
    )
    op.create_table(
        "interop_peers",
        sa.Column("pk", BigId, autoincrement=True, nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("added_at", tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", tanhui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'removed')", name=op.f("ck_interop_peers_status")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_interop_peers")),
        sa.UniqueConstraint("platform_id", name=op.f("uq_interop_peers_platform_id")),
    )
    op.create_table(
        "interop_peer_nonces",
        sa.Column("peer_pk", BigId, nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("peer_pk", "nonce", name=op.f("pk_interop_peer_nonces")),
    )
    op.create_index("ix_interop_peer_nonces_seen_at", "interop_peer_nonces", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_interop_peer_nonces_seen_at", table_name="interop_peer_nonces")
    op.drop_table("interop_peer_nonces")
    op.drop_table("interop_peers")
    op.drop_table("interop_platform")
