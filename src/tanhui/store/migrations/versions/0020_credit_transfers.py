"""credits moved between registries: transfers with their signed offers and receipts, the movement
kinds and block states they use (issue 16 part 4, docs/interop.md "Credit transfer")

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tanhui.store.types
from tanhui.store.migrations._frozen import append_only_triggers, drop_append_only_triggers, widen_check_0020

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = tanhui.store.types.UTCDateTime(timezone=True)
Json = tanhui.store.types.JSONText()
APPEND_ONLY = ("credit_transfers", "credit_transfer_outcomes")

KINDS_0005 = "kind IN ('issue', 'transfer', 'retire')"
KINDS_0020 = "kind IN ('issue', 'transfer', 'retire', 'transfer_out', 'transfer_settle', 'transfer_cancel', 'transfer_in')"
STATUS_0005 = "status IN ('held', 'retired')"
STATUS_0020 = "status IN ('held', 'retired', 'escrow', 'transferred')"


def upgrade() -> None:
    widen_check_0020("credit_movements", "ck_credit_movements_kind", KINDS_0005, KINDS_0020)
    widen_check_0020(
        "credit_blocks", "ck_credit_blocks_status", STATUS_0005, STATUS_0020, ("status", "VARCHAR(8)", "VARCHAR(12)")
    )
    op.create_table(
        "credit_transfers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("transfer_id", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("origin_platform", sa.String(length=64), nullable=False),
        sa.Column("peer_platform", sa.String(length=64), nullable=False),
        sa.Column("scheme_id", sa.String(length=32), nullable=True),
        sa.Column("org_id", BigId, nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("offer", Json, nullable=False),
        sa.Column("offer_signature", sa.String(length=100), nullable=False),
        sa.Column("movement_id", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.CheckConstraint("direction IN ('out', 'in')", name=op.f("ck_credit_transfers_direction")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_credit_transfers_quantity_positive")),
        sa.ForeignKeyConstraint(["movement_id"], ["credit_movements.id"], name=op.f("fk_credit_transfers_movement_id_credit_movements")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_credit_transfers_org_id_organisations")),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name=op.f("fk_credit_transfers_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_transfers")),
        sa.UniqueConstraint("origin_platform", "transfer_id", name=op.f("uq_credit_transfers_origin_platform_transfer_id")),
        sa.UniqueConstraint("scheme_id", "idempotency_key", name=op.f("uq_credit_transfers_scheme_id_idempotency_key")),
    )
    op.create_table(
        "credit_transfer_outcomes",
        sa.Column("transfer_pk", BigId, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("receipt", Json, nullable=False),
        sa.Column("receipt_signature", sa.String(length=100), nullable=False),
        sa.Column("movement_id", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.CheckConstraint("state IN ('completed', 'cancelled')", name=op.f("ck_credit_transfer_outcomes_state")),
        sa.ForeignKeyConstraint(
            ["movement_id"], ["credit_movements.id"], name=op.f("fk_credit_transfer_outcomes_movement_id_credit_movements")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_pk"], ["credit_transfers.id"], name=op.f("fk_credit_transfer_outcomes_transfer_pk_credit_transfers")
        ),
        sa.PrimaryKeyConstraint("transfer_pk", name=op.f("pk_credit_transfer_outcomes")),
    )
    append_only_triggers(APPEND_ONLY)  # PostgreSQL: tanhui_append_only() from 0001


def downgrade() -> None:
    drop_append_only_triggers(APPEND_ONLY)
    op.drop_table("credit_transfer_outcomes")
    op.drop_table("credit_transfers")
    widen_check_0020(
        "credit_blocks", "ck_credit_blocks_status", STATUS_0020, STATUS_0005, ("status", "VARCHAR(12)", "VARCHAR(8)")
    )
    widen_check_0020("credit_movements", "ck_credit_movements_kind", KINDS_0020, KINDS_0005)
