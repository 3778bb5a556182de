"""organisation administrators: an operator user scoped to one organisation

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 15:00:00

Issue 17: a company, school or community manages its own invite code and members and reads its own
team's figures, boards and exports (docs/web.md, "Organisation administrators"). Such a manager is an
operator user with the role ``org_admin`` and the organisation it may see; every other operator has no
organisation. Their dashboard sessions carry the role like any other operator's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('operator', 'viewer')"
ROLES_AFTER = "role IN ('operator', 'viewer', 'org_admin')"
ORG_ADMIN_HAS_ORGANISATION = "(role = 'org_admin') = (organisation_id IS NOT NULL)"


def upgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_operators_organisation_id_organisations"), "organisations", ["organisation_id"], ["id"]
        )
        batch_op.drop_constraint(op.f("ck_operators_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_operators_role"), ROLES_AFTER)
        batch_op.create_check_constraint(op.f("ck_operators_org_admin_has_organisation"), ORG_ADMIN_HAS_ORGANISATION)
    with op.batch_alter_table("operator_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_operator_tokens_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_operator_tokens_role"), ROLES_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM operator_tokens WHERE role = 'org_admin'")
    op.execute("DELETE FROM operators WHERE role = 'org_admin'")
    with op.batch_alter_table("operator_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_operator_tokens_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_operator_tokens_role"), ROLES_BEFORE)
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_operators_org_admin_has_organisation"), type_="check")
        batch_op.drop_constraint(op.f("ck_operators_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_operators_role"), ROLES_BEFORE)
        batch_op.drop_constraint(op.f("fk_operators_organisation_id_organisations"), type_="foreignkey")
        batch_op.drop_column("organisation_id")
