"""fewer index entries per credited event: the claims alone carry a behaviour's uniqueness, and the
journal's idempotency-key and reversal keys are partial

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 15:10:00

Issue 15, single-node throughput (docs/benchmarks.md). Every credited event wrote an entry into
three indexes it never needs: the events' unique fingerprint (behaviour_claims, filled by 0014 and
written in the same transaction, holds that rule, and the ingest path reads it there), and the
journal's unique (scheme, idempotency key) and unique reversal, whose columns are NULL for every
behaviour credit. The latter two become partial unique indexes of the same names over the non-NULL
rows only: the same rule, since NULLs never conflicted.

SQLite keeps inline unique constraints in the table's definition, so the journal is copied into a
new table (alembic's batch mode) with its append-only triggers dropped for the copy and made again;
postings keep referring to it by name (deferred foreign keys while the table is swapped).

On a Citus coordinator whose tables are already distributed, the plan (store/distribution.py) had
made both keys plain or prefixed indexes of the same names; they are made again in that shape, partial.
"""

from __future__ import annotations

from alembic import op

from tanhui.store.migrations._frozen import append_only_triggers, drop_append_only_triggers, on_postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

KEY = "uq_journal_entries_scheme_id_idempotency_key"
REVERSAL = "uq_journal_entries_reverses_entry_id"


def _distributed(table: str) -> bool:
    """Whether ``table`` is already a Citus distributed table (its unique keys were reshaped)."""
    if not on_postgresql():
        return False
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT to_regclass('pg_dist_partition') IS NOT NULL").scalar() is not True:
        return False
    found = bind.exec_driver_sql(
        "SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass(%s) AND partmethod = 'h'", (table,)
    ).first()
    return found is not None


def upgrade() -> None:
    op.drop_index("uq_events_fingerprint", table_name="events")
    if _distributed("journal_entries"):
        op.execute(f'DROP INDEX "{KEY}"')
        op.execute(f'DROP INDEX "{REVERSAL}"')
        op.execute(f'CREATE INDEX "{KEY}" ON journal_entries (scheme_id, idempotency_key) WHERE idempotency_key IS NOT NULL')
        op.execute(
            f'CREATE UNIQUE INDEX "{REVERSAL}" ON journal_entries (pkey, reverses_entry_id) WHERE reverses_entry_id IS NOT NULL'
        )
        return
    if on_postgresql():
        op.drop_constraint(KEY, "journal_entries", type_="unique")
        op.drop_constraint(REVERSAL, "journal_entries", type_="unique")
    else:
        _sqlite_without_unique_constraints()
    op.execute(f'CREATE UNIQUE INDEX "{KEY}" ON journal_entries (scheme_id, idempotency_key) WHERE idempotency_key IS NOT NULL')
    op.execute(f'CREATE UNIQUE INDEX "{REVERSAL}" ON journal_entries (reverses_entry_id) WHERE reverses_entry_id IS NOT NULL')


def _sqlite_without_unique_constraints() -> None:
    op.execute("PRAGMA defer_foreign_keys = ON")  # postings refer to the journal while it is swapped
    drop_append_only_triggers(["journal_entries"])
    with op.batch_alter_table("journal_entries", recreate="always") as batch_op:
        batch_op.drop_constraint(KEY, type_="unique")
        batch_op.drop_constraint(REVERSAL, type_="unique")
    append_only_triggers(["journal_entries"])


def downgrade() -> None:
    op.execute(f'DROP INDEX "{KEY}"')
    op.execute(f'DROP INDEX "{REVERSAL}"')
    if on_postgresql():
        op.create_unique_constraint(KEY, "journal_entries", ["scheme_id", "idempotency_key"])
        op.create_unique_constraint(REVERSAL, "journal_entries", ["reverses_entry_id"])
    else:
        op.execute("PRAGMA defer_foreign_keys = ON")
        drop_append_only_triggers(["journal_entries"])
        with op.batch_alter_table("journal_entries", recreate="always") as batch_op:
            batch_op.create_unique_constraint(KEY, ["scheme_id", "idempotency_key"])
            batch_op.create_unique_constraint(REVERSAL, ["reverses_entry_id"])
        append_only_triggers(["journal_entries"])
    op.create_index(
        "uq_events_fingerprint",
        "events",
        ["fingerprint"],
        unique=True,
        postgresql_where="fingerprint IS NOT NULL",
        sqlite_where="fingerprint IS NOT NULL",
    )
