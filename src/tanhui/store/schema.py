"""The tables. Alembic migrations (store/migrations) create them; `alembic check` keeps both equal.

Design notes:
* Integer surrogate keys everywhere on hot paths (text keys cost a multiple on insert).
* The ledger is append-only: ``journal_entries`` and ``postings`` are never updated or deleted.
  ``ledger_accounts.balance`` is a projection, rebuilt and checked by ``tanhui verify``; system
  accounts (issuance, redeemed) keep no materialised balance, so no row is hot on the ingest path.
* Personal data lives in ``account_profiles`` only, so it can be erased without touching the ledger.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from tanhui.store.types import JSONText, UTCDateTime

# BIGINT on PostgreSQL, INTEGER (the rowid alias, autoincrementing) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

schemes = Table(
    "schemes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("settings", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("erased_at", UTCDateTime, nullable=True),
    CheckConstraint("kind IN ('person', 'organisation', 'system')", name="kind"),
)
Index("ix_accounts_scheme_id", accounts.c.scheme_id)

account_profiles = Table(
    "account_profiles",
    metadata,
    Column("account_id", BigId, ForeignKey("accounts.id"), primary_key=True),
    Column("display_name", String(200), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("username", String(64), nullable=True, unique=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("code", String(32), nullable=False),
    Column("owner_account_id", BigId, ForeignKey("accounts.id"), nullable=True),
    Column("non_negative", Boolean, nullable=False),
    Column("tracked", Boolean, nullable=False),
    Column("balance", BigInteger, nullable=True),
    CheckConstraint("NOT non_negative OR balance >= 0", name="non_negative_balance"),
    CheckConstraint("tracked = (balance IS NOT NULL)", name="tracked_has_balance"),
    CheckConstraint("asset IN ('CO2E', 'POINTS')", name="asset"),
    UniqueConstraint("owner_account_id", "asset", "code"),
)
Index(
    "uq_ledger_accounts_system",
    ledger_accounts.c.scheme_id,
    ledger_accounts.c.asset,
    ledger_accounts.c.code,
    unique=True,
    sqlite_where=ledger_accounts.c.owner_account_id.is_(None),
    postgresql_where=ledger_accounts.c.owner_account_id.is_(None),
)

journal_chains = Table(
    "journal_chains",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("chain_id", String(48), ForeignKey("journal_chains.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("content_hash", String(64), nullable=False),
    Column("memo", JSONText, nullable=False),
    Column("reverses_entry_id", BigId, ForeignKey("journal_entries.id"), nullable=True, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    UniqueConstraint("chain_id", "seq"),
    UniqueConstraint("scheme_id", "idempotency_key"),
)

postings = Table(
    "postings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("entry_id", BigId, ForeignKey("journal_entries.id"), nullable=False),
    Column("from_account_id", BigId, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("to_account_id", BigId, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("from_balance_after", BigInteger, nullable=True),
    Column("to_balance_after", BigInteger, nullable=True),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("from_account_id <> to_account_id", name="distinct_accounts"),
)
Index("ix_postings_entry_id", postings.c.entry_id)
Index("ix_postings_from_account_id", postings.c.from_account_id)
Index("ix_postings_to_account_id", postings.c.to_account_id)
