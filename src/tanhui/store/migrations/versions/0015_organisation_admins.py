"""organisation administrators: an operator user scoped to one organisation

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 15:00:00

Issue 17: a company, school or community manages its own invite code and members and reads its own
team's figures, boards and exports (docs/web.md, "Organisation administrators"). Such a manager is an
operator user with the role ``org_admin`` and the organisation it may see; every other operator has no
organisation. Their dashboard sessions carry the role like any other operator's.

PostgreSQL alters both tables in place. SQLite cannot change a CHECK constraint, so both tables are
rebuilt from the CREATE TABLE statements written out below, not with alembic's batch mode: its copy
orders the constraints differently from one process to another, and `tanhui verify` compares the
database's CREATE TABLE text with a reference built by these same migrations.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tanhui.store.migrations._frozen import on_postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('operator', 'viewer')"
ROLES_AFTER = "role IN ('operator', 'viewer', 'org_admin')"
ORG_ADMIN_HAS_ORGANISATION = "(role = 'org_admin') = (organisation_id IS NOT NULL)"
OPERATOR_COLUMNS = "id, username, password_hash, scheme_id, role, created_at"
TOKEN_COLUMNS = "token_hash, scheme_id, role, operator_id, kind, created_at, expires_at, revoked_at"


def _operators_sql(after: bool) -> str:
    """Before: the text 0006 created (the order of its constraints too), so a downgrade gives it back."""
    columns = (
        "id INTEGER NOT NULL, username VARCHAR(64) NOT NULL, password_hash VARCHAR(200) NOT NULL, "
        "scheme_id VARCHAR(32) NOT NULL, role VARCHAR(16) NOT NULL, created_at DATETIME NOT NULL"
    )
    if not after:
        return (
            f"CREATE TABLE operators ( {columns}, CONSTRAINT pk_operators PRIMARY KEY (id), "
            f"CONSTRAINT ck_operators_role CHECK ({ROLES_BEFORE}), "
            "CONSTRAINT fk_operators_scheme_id_schemes FOREIGN KEY(scheme_id) REFERENCES schemes (id), "
            "CONSTRAINT uq_operators_username UNIQUE (username) )"
        )
    return (
        f"CREATE TABLE operators ( {columns}, organisation_id INTEGER, CONSTRAINT pk_operators PRIMARY KEY (id), "
        f"CONSTRAINT ck_operators_role CHECK ({ROLES_AFTER}), "
        f"CONSTRAINT ck_operators_org_admin_has_organisation CHECK ({ORG_ADMIN_HAS_ORGANISATION}), "
        "CONSTRAINT fk_operators_scheme_id_schemes FOREIGN KEY(scheme_id) REFERENCES schemes (id), "
        "CONSTRAINT fk_operators_organisation_id_organisations FOREIGN KEY(organisation_id) REFERENCES organisations (id), "
        "CONSTRAINT uq_operators_username UNIQUE (username) )"
    )


def _operator_tokens_sql(after: bool) -> str:
    return (
        "CREATE TABLE operator_tokens ( token_hash VARCHAR(64) NOT NULL, scheme_id VARCHAR(32) NOT NULL, "
        "role VARCHAR(16) NOT NULL, operator_id INTEGER, kind VARCHAR(8) NOT NULL, created_at DATETIME NOT NULL, "
        "expires_at DATETIME, revoked_at DATETIME, CONSTRAINT pk_operator_tokens PRIMARY KEY (token_hash), "
        "CONSTRAINT ck_operator_tokens_kind CHECK (kind IN ('api', 'web')), "
        f"CONSTRAINT ck_operator_tokens_role CHECK ({ROLES_AFTER if after else ROLES_BEFORE}), "
        "CONSTRAINT fk_operator_tokens_operator_id_operators FOREIGN KEY(operator_id) REFERENCES operators (id), "
        "CONSTRAINT fk_operator_tokens_scheme_id_schemes FOREIGN KEY(scheme_id) REFERENCES schemes (id) )"
    )


def _rebuild_sqlite(after: bool) -> None:
    """Both tables set aside, made again, refilled: no table is renamed (its CREATE TABLE text stays as
    written) and no parent is dropped while rows point at it (SQLite cannot switch foreign keys off inside
    the migration's transaction)."""
    kept = (("operator_tokens", TOKEN_COLUMNS), ("operators", OPERATOR_COLUMNS))
    for table, columns in kept:
        op.execute(f"CREATE TABLE {table}_kept AS SELECT {columns} FROM {table}")
        op.execute(f"DROP TABLE {table}")
    op.execute(_operators_sql(after))
    op.execute(_operator_tokens_sql(after))
    for table, columns in reversed(kept):
        op.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_kept")
        op.execute(f"DROP TABLE {table}_kept")


def upgrade() -> None:
    if on_postgresql():
        op.add_column("operators", sa.Column("organisation_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(
            op.f("fk_operators_organisation_id_organisations"), "operators", "organisations", ["organisation_id"], ["id"]
        )
        for table in ("operators", "operator_tokens"):
            op.drop_constraint(op.f(f"ck_{table}_role"), table, type_="check")
            op.create_check_constraint(op.f(f"ck_{table}_role"), table, ROLES_AFTER)
        op.create_check_constraint(op.f("ck_operators_org_admin_has_organisation"), "operators", ORG_ADMIN_HAS_ORGANISATION)
        return
    _rebuild_sqlite(after=True)


def downgrade() -> None:
    op.execute("DELETE FROM operator_tokens WHERE role = 'org_admin'")
    op.execute("DELETE FROM operators WHERE role = 'org_admin'")
    if on_postgresql():
        op.drop_constraint(op.f("ck_operators_org_admin_has_organisation"), "operators", type_="check")
        for table in ("operators", "operator_tokens"):
            op.drop_constraint(op.f(f"ck_{table}_role"), table, type_="check")
            op.create_check_constraint(op.f(f"ck_{table}_role"), table, ROLES_BEFORE)
        op.drop_constraint(op.f("fk_operators_organisation_id_organisations"), "operators", type_="foreignkey")
        op.drop_column("operators", "organisation_id")
        return
    _rebuild_sqlite(after=False)
