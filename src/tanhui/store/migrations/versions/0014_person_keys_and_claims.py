"""person keys on everything a person owns, and claim tables for uniqueness that is not per person

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 13:00:00

Issue 15 (store/distribution.py). Every row a person owns gets ``pkey``, the person key of its
account, so a distributed engine (Citus) can keep a person's rows on one node and spread a scheme's
people over all of them. Rows of no person: the scheme's system ledger accounts, and the journal
chains written before this migration (each mixes many people), with their entries and postings,
get the first key; an event of no known person gets it too. An entry (and its postings) gets the
key of the first person whose holdings it moves, as new entries do; the chains written before this
migration mix people, so on a distributed engine their links are checked by `tanhui verify` rather
than by a foreign key. New entries are chained per (scheme, person key, lane) from now on.

The claim tables take over the uniqueness a distributed engine can enforce only by the claimed value
itself: a partner's event ids, behaviour fingerprints, ledger idempotency keys, usernames and
partner user_refs, filled here from the rows that hold them. On SQLite and plain PostgreSQL the old
unique constraints stay as well.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tanhui.store.migrations._frozen import (
    PKEY_VALUES_0014,
    add_person_keys,
    append_only_triggers,
    create_pkey_map,
    drop_append_only_triggers,
    drop_pkey_map,
)

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SYSTEM = str(PKEY_VALUES_0014[0])
BY_ACCOUNT = "(SELECT pkey FROM pkey_map WHERE bucket = account_id % 256)"
# An entry lives with the first person whose holdings it moves (in posting order, the paying side
# first), as the ledger writes new ones; an entry of system accounts only, at the system key.
FIRST_PERSON = (
    "COALESCE((SELECT m.pkey FROM postings p"
    " JOIN ledger_accounts a ON a.id = p.from_account_id OR a.id = p.to_account_id"
    " JOIN pkey_map m ON m.bucket = a.owner_account_id % 256"
    " WHERE p.entry_id = journal_entries.id AND a.owner_account_id IS NOT NULL"
    f" ORDER BY p.id, CASE WHEN a.id = p.from_account_id THEN 0 ELSE 1 END LIMIT 1), {SYSTEM})"
)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

PERSON_TABLES = (  # table, its key
    ("accounts", "(SELECT pkey FROM pkey_map WHERE bucket = id % 256)"),
    ("account_profiles", BY_ACCOUNT),
    ("credentials", BY_ACCOUNT),
    ("ledger_accounts", f"COALESCE((SELECT pkey FROM pkey_map WHERE bucket = owner_account_id % 256), {SYSTEM})"),
    ("journal_chains", SYSTEM),
    ("journal_entries", FIRST_PERSON),
    ("postings", "(SELECT e.pkey FROM journal_entries e WHERE e.id = postings.entry_id)"),
    ("events", f"COALESCE({BY_ACCOUNT}, {SYSTEM})"),
    ("partner_links", BY_ACCOUNT),
    ("consents", "(SELECT l.pkey FROM partner_links l WHERE l.id = consents.link_id)"),
    ("checkins", BY_ACCOUNT),
    ("orders", BY_ACCOUNT),
    ("order_history", "(SELECT o.pkey FROM orders o WHERE o.id = order_history.order_id)"),
    ("memberships", BY_ACCOUNT),
    ("report_active", BY_ACCOUNT),
    ("credit_batch_events", "(SELECT e.pkey FROM events e WHERE e.id = credit_batch_events.event_id)"),
)
APPEND_ONLY = ("journal_entries", "postings")


def upgrade() -> None:
    create_pkey_map()
    drop_append_only_triggers(APPEND_ONLY)  # the backfill writes the new column once
    for table, key in PERSON_TABLES:
        add_person_keys(table, key)
    append_only_triggers(APPEND_ONLY)
    drop_pkey_map()

    op.create_table(
        "event_claims",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("partner_pk", BigId, nullable=False),
        sa.ForeignKeyConstraint(["partner_pk"], ["partners.pk"], name=op.f("fk_event_claims_partner_pk_partners")),
        sa.PrimaryKeyConstraint("event_id", "partner_pk", name=op.f("pk_event_claims")),
    )
    op.create_table(
        "behaviour_claims",
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_behaviour_claims")),
    )
    op.create_table(
        "ledger_keys",
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("scheme_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name=op.f("fk_ledger_keys_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("idempotency_key", "scheme_id", name=op.f("pk_ledger_keys")),
    )
    op.create_table(
        "username_claims",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_username_claims")),
    )
    op.create_table(
        "partner_refs",
        sa.Column("user_ref", sa.String(length=128), nullable=False),
        sa.Column("partner_pk", BigId, nullable=False),
        sa.ForeignKeyConstraint(["partner_pk"], ["partners.pk"], name=op.f("fk_partner_refs_partner_pk_partners")),
        sa.PrimaryKeyConstraint("user_ref", "partner_pk", name=op.f("pk_partner_refs")),
    )
    op.execute("INSERT INTO event_claims (event_id, partner_pk) SELECT event_id, partner_pk FROM events")
    op.execute("INSERT INTO behaviour_claims (fingerprint) SELECT fingerprint FROM events WHERE fingerprint IS NOT NULL")
    op.execute(
        "INSERT INTO ledger_keys (idempotency_key, scheme_id)"
        " SELECT idempotency_key, scheme_id FROM journal_entries WHERE idempotency_key IS NOT NULL"
    )
    op.execute("INSERT INTO username_claims (username, account_id) SELECT username, account_id FROM credentials")
    op.execute("INSERT INTO partner_refs (user_ref, partner_pk) SELECT user_ref, partner_pk FROM partner_links WHERE user_ref IS NOT NULL")


def downgrade() -> None:
    for table in ("partner_refs", "username_claims", "ledger_keys", "behaviour_claims", "event_claims"):
        op.drop_table(table)
    drop_append_only_triggers(APPEND_ONLY)
    for table, _key in reversed(PERSON_TABLES):
        op.execute(f"ALTER TABLE {table} DROP COLUMN pkey")  # SQLite 3.35+: no table rebuild
    append_only_triggers(APPEND_ONLY)
