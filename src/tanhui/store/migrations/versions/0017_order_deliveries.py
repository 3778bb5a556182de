"""where a physical good goes: the delivery address or pick-up point of an order (order_deliveries)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 15:20:00

Issue 17: redeeming a physical good asks for an address or a pick-up point, the operator reads it on
the order, and erasure deletes it. Personal data, so it lives in its own table beside the order, never
in the ledger or the order's history: erasing it leaves both unchanged. Owned by the buyer, so the row
carries the person key and is distributed with the order (store/distribution.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("pkey", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("method IN ('address', 'pickup')", name=op.f("ck_order_deliveries_method")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_deliveries_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_deliveries")),
        sa.UniqueConstraint("order_id", name=op.f("uq_order_deliveries_order_id")),
    )


def downgrade() -> None:
    op.drop_table("order_deliveries")
