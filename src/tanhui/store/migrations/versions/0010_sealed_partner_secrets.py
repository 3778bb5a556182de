"""partner secrets sealed at rest: the id of the key that sealed each one

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00

`partner_secrets.secret` holds a partner's HMAC secret sealed with AES-256-GCM (tanhui.secretbox);
`key_id` names the key that sealed it, so a key rotation knows what to re-seal. The column grows to
255 characters for the sealed form. A migration does not read the key: rows written before this
revision keep their plaintext with `key_id` NULL until the service step that runs right after the
migrations (`tanhui db upgrade`, every `tanhui serve` start) seals them (docs/operations.md).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('partner_secrets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=32), nullable=True))
        batch_op.alter_column('secret', existing_type=sa.String(length=128), type_=sa.String(length=255), existing_nullable=False)


def downgrade() -> None:
    # Sealed rows cannot go back to plaintext without the key: a downgrade leaves them sealed, and
    # the older version cannot verify those partners' signatures until they get new secrets.
    with op.batch_alter_table('partner_secrets', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=255), type_=sa.String(length=128), existing_nullable=False)
        batch_op.drop_column('key_id')
