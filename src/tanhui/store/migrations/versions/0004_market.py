"""points economy and marketplace: items, coupon codes, orders and their history, check-ins

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tanhui.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('market_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('scheme_id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('title_zh', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.Column('description_zh', sa.String(length=2000), nullable=False),
    sa.Column('description_en', sa.String(length=2000), nullable=False),
    sa.Column('points_price', sa.BigInteger(), nullable=False),
    sa.Column('stock', sa.BigInteger(), nullable=False),
    sa.Column('per_person_limit', sa.Integer(), nullable=True),
    sa.Column('sale_starts_at', tanhui.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sale_ends_at', tanhui.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('merchant', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('coupon', 'physical', 'service', 'donation')", name=op.f('ck_market_items_kind')),
    sa.CheckConstraint("status IN ('active', 'hidden')", name=op.f('ck_market_items_status')),
    sa.CheckConstraint('points_price > 0', name=op.f('ck_market_items_price_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_market_items_stock_non_negative')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_market_items_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_market_items')),
    sa.UniqueConstraint('public_id', name=op.f('uq_market_items_public_id')),
    sa.UniqueConstraint('scheme_id', 'key', name=op.f('uq_market_items_scheme_id_key'))
    )
    op.create_table('checkins',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('local_day', sa.Integer(), nullable=False),
    sa.Column('streak', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('bonus', sa.BigInteger(), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_checkins_account_id_accounts')),
    sa.PrimaryKeyConstraint('account_id', 'local_day', name=op.f('pk_checkins'))
    )
    op.create_table('coupon_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=128), nullable=False),
    sa.Column('imported_at', tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['market_items.id'], name=op.f('fk_coupon_codes_item_id_market_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_codes')),
    sa.UniqueConstraint('item_id', 'code', name=op.f('uq_coupon_codes_item_id_code'))
    )
    op.create_index('ix_coupon_codes_item_id_order_id', 'coupon_codes', ['item_id', 'order_id'], unique=False)
    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('scheme_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('hold_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('settle_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('coupon_codes', tanhui.store.types.JSONText(), nullable=True),
    sa.Column('created_at', tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'shipped', 'delivered', 'fulfilled', 'cancelled')", name=op.f('ck_orders_status')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_orders_quantity_positive')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_orders_account_id_accounts')),
    sa.ForeignKeyConstraint(['item_id'], ['market_items.id'], name=op.f('fk_orders_item_id_market_items')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_orders_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('account_id', 'idempotency_key', name=op.f('uq_orders_account_id_idempotency_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_orders_public_id'))
    )
    op.create_index('ix_orders_account_id', 'orders', ['account_id'], unique=False)
    op.create_index('ix_orders_item_id', 'orders', ['item_id'], unique=False)
    op.create_table('order_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', tanhui.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_history_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_history'))
    )
    op.create_index('ix_order_history_order_id', 'order_history', ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_order_history_order_id', table_name='order_history')
    op.drop_table('order_history')
    op.drop_index('ix_orders_item_id', table_name='orders')
    op.drop_index('ix_orders_account_id', table_name='orders')
    op.drop_table('orders')
    op.drop_index('ix_coupon_codes_item_id_order_id', table_name='coupon_codes')
    op.drop_table('coupon_codes')
    op.drop_table('checkins')
    op.drop_table('market_items')
