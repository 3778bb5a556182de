"""user tokens carry the partner whose session minted them (partner-scoped sessions)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:50:00

A token or login ticket minted by POST /v1/partner/accounts/{user_ref}/sessions names its partner:
it sees only that partner's data and is valid only while that partner's consent is active. NULL is
the person's own sign-in. Tokens minted before this migration have no partner and expire within
15 minutes (sessions, tickets) or 7 days (browser sessions made from them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_user_tokens_partner_pk_partners"), "partners", ["partner_pk"], ["pk"])


def downgrade() -> None:
    with op.batch_alter_table("user_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_user_tokens_partner_pk_partners"), type_="foreignkey")
        batch_op.drop_column("partner_pk")
