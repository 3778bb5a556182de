"""PostgreSQL: the ingest path's foreign keys checked once per statement, not once per row

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 02:10:00

Issue 15, single-node throughput (docs/benchmarks.md). A credited event inserts an entry (3 foreign
keys), two postings (3 each), an event and an event claim (the partner): ~10 row-level checks, each a
query through SPI that also locks the referenced row FOR KEY SHARE. The scheme's pool account, the
partner and the scheme are referenced by every event of every concurrent batch, so the locks of two
import workers on one row become multixacts. Those checks were the larger part of PostgreSQL's time per
event (20,000 postings: 1,314 ms with the keys, 372 ms without).

Here each of those keys becomes one AFTER INSERT trigger per statement over its transition table: one
anti-join of the statement's distinct keys with the referenced table's primary key (nested loops over
the index: the function turns hash and merge joins off, so a batch costs its own rows, not the
referenced table's size). A missing key raises foreign_key_violation (SQLSTATE 23503) under the
constraint's old name, so callers see what they saw before.

A foreign key also refuses to delete (or re-key) a referenced row; the statement checks do not. The
referenced tables keep that half: journal_entries is append-only already (0001); schemes, partners,
ledger_accounts and journal_chains now refuse DELETE and any change of their key (the platform never
deletes them: a partner is disabled, a ledger account lives as long as the ledger). The referencing
tables are append-only or never re-keyed (events' partner_pk, event_claims' partner_pk are never updated).

Citus (the extension installed in the database) keeps real foreign keys: store/citus.py makes them
co-located from the metadata, and Citus runs them on each shard; nothing changes there. SQLite keeps
its own (in-process, cheap) foreign keys.
"""

from __future__ import annotations

from alembic import op

from tanhui.store.migrations._frozen import on_plain_postgresql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# the row-level keys replaced: (table, constraint, column, referenced table, its key)
DROPPED = (
    ("postings", "fk_postings_entry_id_journal_entries", "entry_id", "journal_entries", "id"),
    ("postings", "fk_postings_from_account_id_ledger_accounts", "from_account_id", "ledger_accounts", "id"),
    ("postings", "fk_postings_to_account_id_ledger_accounts", "to_account_id", "ledger_accounts", "id"),
    ("journal_entries", "fk_journal_entries_scheme_id_schemes", "scheme_id", "schemes", "id"),
    ("journal_entries", "fk_journal_entries_chain_id_journal_chains", "chain_id", "journal_chains", "id"),
    ("journal_entries", "fk_journal_entries_reverses_entry_id_journal_entries", "reverses_entry_id", "journal_entries", "id"),
    ("events", "fk_events_partner_pk_partners", "partner_pk", "partners", "pk"),
    ("event_claims", "fk_event_claims_partner_pk_partners", "partner_pk", "partners", "pk"),
)
TABLES = ("postings", "journal_entries", "events", "event_claims")
KEPT = (("schemes", "id"), ("partners", "pk"), ("ledger_accounts", "id"), ("journal_chains", "id"))


def _check(table: str, constraint: str, column: str, target: str, key: str) -> str:
    """PL/pgSQL: raise foreign_key_violation when a new row's key is not in ``target`` (each distinct key
    probed once: the scheme's pool account is in half a batch's postings)."""
    return f"""
  SELECT n.k::text INTO missing FROM (SELECT DISTINCT {column} AS k FROM new_rows WHERE {column} IS NOT NULL) n
    WHERE NOT EXISTS (SELECT 1 FROM {target} r WHERE r.{key} = n.k) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'insert or update on table "{table}" violates foreign key constraint "{constraint}"'
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{constraint}', TABLE = '{table}',
            DETAIL = format('Key ({column})=(%s) is not present in table "{target}".', missing);
  END IF;"""


def upgrade() -> None:
    if not on_plain_postgresql():  # SQLite keeps its keys, and so does a database with Citus installed
        return
    for table, constraint, _column, _target, _key in DROPPED:
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"')
    for table in TABLES:
        body = "".join(_check(*check) for check in DROPPED if check[0] == table)
        op.execute(
            f"CREATE FUNCTION tanhui_{table}_references() RETURNS trigger LANGUAGE plpgsql"
            " SET enable_hashjoin = off SET enable_mergejoin = off AS $$\nDECLARE missing text;\nBEGIN"
            f"{body}\n  RETURN NULL;\nEND $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_references AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows"
            f" FOR EACH STATEMENT EXECUTE FUNCTION tanhui_{table}_references()"
        )
    op.execute(
        """
        CREATE FUNCTION tanhui_referenced_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'tanhui: % rows are kept for the ledger (% of a row or its key refused)', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'foreign_key_violation';
        END $$
        """
    )
    for table, key in KEPT:
        op.execute(f"CREATE TRIGGER {table}_kept BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION tanhui_referenced_kept()")
        op.execute(
            f"CREATE TRIGGER {table}_key_kept BEFORE UPDATE OF {key} ON {table} FOR EACH ROW"
            f" WHEN (OLD.{key} IS DISTINCT FROM NEW.{key}) EXECUTE FUNCTION tanhui_referenced_kept()"
        )


def downgrade() -> None:
    if not on_plain_postgresql():  # SQLite keeps its keys, and so does a database with Citus installed
        return
    for table, _key in KEPT:
        op.execute(f"DROP TRIGGER {table}_kept ON {table}")
        op.execute(f"DROP TRIGGER {table}_key_kept ON {table}")
    op.execute("DROP FUNCTION tanhui_referenced_kept()")
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_references ON {table}")
        op.execute(f"DROP FUNCTION tanhui_{table}_references()")
    for table, constraint, column, target, key in DROPPED:
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" FOREIGN KEY ({column}) REFERENCES {target} ({key})')
