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
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
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
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("display_name", String(200), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("username", String(64), nullable=True, unique=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
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
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
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
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
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

# The ingest path's foreign keys (postings', journal_entries', events' and event_claims') are checked per
# statement on plain PostgreSQL (migration 0021; PostgresDialect.statement_checked_foreign_keys).

# Verification checkpoints (append-only, hash-chained per scheme): "the journal up to these chain heads
# verified"; `tanhui verify --incremental` starts from the last one, so a daily run costs the day.
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("heads", JSONText, nullable=False),  # {chain_id: [seq, entry_hash]}
    Column("entries", BigInteger, nullable=False),  # entries verified from genesis up to the heads
    Column("created_at", UTCDateTime, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("checkpoint_hash", String(64), nullable=False),
    UniqueConstraint("scheme_id", "seq"),
)

# -- partners, consent and sessions ---------------------------------------------------------

partners = Table(
    "partners",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),  # public id, e.g. ptn_3f9a...
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("scenarios", JSONText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('active', 'disabled')", name="status"),
)

partner_secrets = Table(
    "partner_secrets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("partner_pk", BigId, ForeignKey("partners.pk"), nullable=False),
    Column("secret", String(255), nullable=False),  # sealed (tanhui.secretbox); plaintext only while key_id is NULL
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime, nullable=True),
    Column("key_id", String(32), nullable=True),  # the key that sealed it; NULL: written before 0010, sealed at start-up
)
Index("ix_partner_secrets_partner_pk", partner_secrets.c.partner_pk)

partner_nonces = Table(
    "partner_nonces",
    metadata,
    Column("partner_pk", BigId, primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)
Index("ix_partner_nonces_seen_at", partner_nonces.c.seen_at)

# -- claims: uniqueness that is not per person (store/distribution.py) --------------------------
# Each is written in the transaction that writes what it claims; a second claim is a unique-key
# violation on every engine (on Citus too: a claim table is distributed by the claimed value).

event_claims = Table(  # a partner's event id, once
    "event_claims",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("partner_pk", BigId, ForeignKey("partners.pk"), primary_key=True),
)

behaviour_claims = Table(  # a behaviour (its fingerprint), credited once across partners and schemes
    "behaviour_claims",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
)

ledger_keys = Table(  # a ledger idempotency key, once per scheme
    "ledger_keys",
    metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("scheme_id", String(32), ForeignKey("schemes.id"), primary_key=True),
)

username_claims = Table(  # a person's sign-in name, once; names the account (a sign-in reads one node)
    "username_claims",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("account_id", BigId, nullable=False),
)

partner_refs = Table(  # a partner's user_ref names one person; deleted with the link's user_ref (erasure)
    "partner_refs",
    metadata,
    Column("user_ref", String(128), primary_key=True),
    Column("partner_pk", BigId, ForeignKey("partners.pk"), primary_key=True),
)

# Request budgets shared by every server process (a token bucket per key, e.g. "partner:ptn_…"):
# one UPSERT per request decides it, so N processes or hosts allow the configured rate in total.
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("bucket", String(96), primary_key=True),
    Column("tokens", BigInteger, nullable=False),  # millionths of a request
    Column("updated_ms", BigInteger, nullable=False),  # Unix time in ms of the last refill
)

partner_links = Table(
    "partner_links",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("partner_pk", BigId, ForeignKey("partners.pk"), nullable=False),
    Column("user_ref", String(128), nullable=True),  # NULL once the person is erased (unlinked)
    Column("account_id", BigId, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("partner_pk", "user_ref"),
)
Index("ix_partner_links_account_id", partner_links.c.account_id)

consents = Table(
    "consents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("public_id", String(40), nullable=False, unique=True),
    Column("link_id", BigId, ForeignKey("partner_links.id"), nullable=False),
    Column("scopes", JSONText, nullable=False),
    Column("purpose", String(200), nullable=False),
    Column("granted_at", UTCDateTime, nullable=False),  # when the person authorised the partner
    Column("recorded_at", UTCDateTime, nullable=False),  # when Tanhui recorded it
    Column("granted_via", String(32), nullable=False),  # partner_api, binding_code, person_web
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoked_by", String(16), nullable=True),  # partner, person
)
Index(
    "uq_consents_active_link",
    consents.c.link_id,
    unique=True,
    sqlite_where=consents.c.revoked_at.is_(None),
    postgresql_where=consents.c.revoked_at.is_(None),
)

binding_codes = Table(
    "binding_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("account_id", BigId, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

user_tokens = Table(
    "user_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # only the SHA-256 of a token is kept
    Column("account_id", BigId, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # session, login_ticket, web, password_reset (services/password_reset.py)
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    # the partner whose session (POST /v1/partner/accounts/{user_ref}/sessions) minted the token: the
    # token sees only that partner's data, and only while its consent is active; NULL: the person's own sign-in
    Column("partner_pk", BigId, ForeignKey("partners.pk"), nullable=True),
)
Index("ix_user_tokens_account_id", user_tokens.c.account_id)

# -- behaviour events ------------------------------------------------------------------------

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("scheme_id", String(32), nullable=False),
    Column("partner_pk", BigId, ForeignKey("partners.pk"), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("user_ref", String(128), nullable=True),
    Column("account_id", BigId, nullable=True),
    Column("scenario", String(64), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("local_day", Integer, nullable=True),  # date.toordinal() of the scheme-local day
    Column("status", String(12), nullable=False),
    Column("reason", String(32), nullable=True),
    Column("carbon_g", BigInteger, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("methodology", String(80), nullable=True),
    Column("content_hash", String(64), nullable=False),
    Column("fingerprint", String(32), nullable=True),  # the behaviour's identity, credited events only
    Column("entry_id", BigId, nullable=True),
    Column("data", JSONText, nullable=True),
    Column("explanation", JSONText, nullable=True),
    Column("details", JSONText, nullable=True),
    CheckConstraint("status IN ('credited', 'rejected')", name="status"),
    UniqueConstraint("partner_pk", "event_id"),
)
Index("ix_events_account_id_local_day", events.c.account_id, events.c.local_day)
# A behaviour is credited once: behaviour_claims holds the rule (0018 dropped the events' own copy of it).

# -- organisations (enterprises, schools, communities: members, team totals, credit holders) ------

organisations = Table(
    "organisations",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("public_id", String(40), nullable=False, unique=True),  # org_...
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("invite_code", String(32), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('company', 'school', 'community', 'government', 'group')", name="kind"),
)
Index("ix_organisations_scheme_id", organisations.c.scheme_id)

memberships = Table(
    "memberships",
    metadata,
    Column("organisation_id", BigId, ForeignKey("organisations.id"), primary_key=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("account_id", BigId, ForeignKey("accounts.id"), primary_key=True),
    Column("joined_at", UTCDateTime, nullable=False),
)
Index("ix_memberships_account_id", memberships.c.account_id)

# -- points economy and marketplace ------------------------------------------------------------

market_items = Table(
    "market_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("public_id", String(40), nullable=False, unique=True),  # itm_...
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("key", String(64), nullable=False),  # the operator's own name for it (scheme files)
    Column("kind", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("title_zh", String(200), nullable=False),
    Column("title_en", String(200), nullable=False),
    Column("description_zh", String(2000), nullable=False),
    Column("description_en", String(2000), nullable=False),
    Column("points_price", BigInteger, nullable=False),
    Column("stock", BigInteger, nullable=False),
    Column("per_person_limit", Integer, nullable=True),
    Column("sale_starts_at", UTCDateTime, nullable=True),
    Column("sale_ends_at", UTCDateTime, nullable=True),
    Column("merchant", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("stock >= 0", name="stock_non_negative"),
    CheckConstraint("points_price > 0", name="price_positive"),
    CheckConstraint("kind IN ('coupon', 'physical', 'service', 'donation')", name="kind"),
    CheckConstraint("status IN ('active', 'hidden')", name="status"),
    UniqueConstraint("scheme_id", "key"),
)

coupon_codes = Table(
    "coupon_codes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("item_id", BigId, ForeignKey("market_items.id"), nullable=False),
    Column("code", String(128), nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("order_id", BigId, nullable=True),
    UniqueConstraint("item_id", "code"),
)
Index("ix_coupon_codes_item_id_order_id", coupon_codes.c.item_id, coupon_codes.c.order_id)

orders = Table(
    "orders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("public_id", String(40), nullable=False, unique=True),  # ord_...
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("account_id", BigId, ForeignKey("accounts.id"), nullable=False),
    Column("item_id", BigId, ForeignKey("market_items.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("hold_entry_id", BigId, nullable=False),
    Column("settle_entry_id", BigId, nullable=True),  # the post (fulfilled/delivered) or the void (cancelled)
    Column("coupon_codes", JSONText, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("status IN ('pending', 'shipped', 'delivered', 'fulfilled', 'cancelled')", name="status"),
    UniqueConstraint("account_id", "idempotency_key"),
)
Index("ix_orders_account_id", orders.c.account_id)
Index("ix_orders_item_id", orders.c.item_id)

order_history = Table(
    "order_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(64), nullable=False),  # person, operator, system
)
Index("ix_order_history_order_id", order_history.c.order_id)

# Where a physical good goes (issue 17): personal data, kept apart from the order and the ledger so that
# erasure deletes this row and nothing the ledger or the order's history depends on.
order_deliveries = Table(
    "order_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False, unique=True),
    Column("method", String(16), nullable=False),  # address (sent to it) or pickup (collected at a point)
    Column("recipient", String(100), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("place", String(300), nullable=False),  # the street address, or the pick-up point chosen
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("method IN ('address', 'pickup')", name="method"),
)

checkins = Table(
    "checkins",
    metadata,
    Column("account_id", BigId, ForeignKey("accounts.id"), primary_key=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("local_day", Integer, primary_key=True),  # date.toordinal() in the scheme's time zone
    Column("streak", Integer, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("bonus", BigInteger, nullable=False),
    Column("entry_id", BigId, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# -- the credit registry (docs/registry.md): batches, blocks, movements, retirements ------------
# Append-only except the per-scheme head row (next serial, log head), which writers lock first.

credit_registry_heads = Table(
    "credit_registry_heads",
    metadata,
    Column("scheme_id", String(32), ForeignKey("schemes.id"), primary_key=True),
    Column("next_serial", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

credit_movements = Table(
    "credit_movements",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("from_org_id", BigId, ForeignKey("organisations.id"), nullable=True),
    Column("to_org_id", BigId, ForeignKey("organisations.id"), nullable=True),
    Column("quantity", BigInteger, nullable=False),
    Column("memo", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
    CheckConstraint(
        "kind IN ('issue', 'transfer', 'retire', 'transfer_out', 'transfer_settle', 'transfer_cancel', 'transfer_in')",
        name="kind",
    ),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    UniqueConstraint("scheme_id", "seq"),
    UniqueConstraint("scheme_id", "idempotency_key"),
)

credit_batches = Table(
    "credit_batches",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("public_id", String(200), nullable=False, unique=True),  # TH-{scheme}-{vintage}-{methodology}-{first}-{last}
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("vintage", Integer, nullable=False),
    Column("methodology", String(80), nullable=False),
    Column("serial_first", BigInteger, nullable=False),
    Column("serial_last", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("event_count", BigInteger, nullable=False),
    Column("consumed_g", BigInteger, nullable=False),
    Column("carried_in_g", BigInteger, nullable=False),
    Column("carried_out_g", BigInteger, nullable=False),
    Column("previous_batch_id", BigId, ForeignKey("credit_batches.id"), nullable=True, unique=True),
    Column("merkle_root", String(64), nullable=False),
    Column("as_of_day", Integer, nullable=False),
    Column("movement_id", BigId, ForeignKey("credit_movements.id"), nullable=False, unique=True),
    Column("issued_at", UTCDateTime, nullable=False),
    CheckConstraint("quantity > 0 AND serial_last - serial_first + 1 = quantity", name="serials"),
    CheckConstraint("carried_in_g + consumed_g - carried_out_g = quantity * 1000000", name="grams"),
    CheckConstraint("carried_in_g >= 0 AND carried_out_g >= 0", name="carried"),
    UniqueConstraint("scheme_id", "serial_first"),
)
Index("ix_credit_batches_scheme_id_vintage", credit_batches.c.scheme_id, credit_batches.c.vintage)

credit_batch_events = Table(
    "credit_batch_events",
    metadata,
    Column("event_id", BigId, ForeignKey("events.id"), primary_key=True),  # no event in two batches
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("batch_id", BigId, ForeignKey("credit_batches.id"), nullable=False),
    Column("position", Integer, nullable=False),  # the leaf's index in the batch's Merkle tree
    Column("leaf_hash", String(64), nullable=False),
    UniqueConstraint("batch_id", "position"),
)

credit_blocks = Table(
    "credit_blocks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("batch_id", BigId, ForeignKey("credit_batches.id"), nullable=False),
    Column("serial_first", BigInteger, nullable=False),
    Column("serial_last", BigInteger, nullable=False),
    Column("holder_org_id", BigId, ForeignKey("organisations.id"), nullable=True),  # NULL: the scheme
    Column("status", String(12), nullable=False),
    Column("movement_id", BigId, ForeignKey("credit_movements.id"), nullable=False),
    CheckConstraint("serial_last >= serial_first", name="serials"),
    CheckConstraint("status IN ('held', 'retired', 'escrow', 'transferred')", name="status"),
)
Index("ix_credit_blocks_batch_id", credit_blocks.c.batch_id)
Index("ix_credit_blocks_scheme_id_holder_org_id", credit_blocks.c.scheme_id, credit_blocks.c.holder_org_id)

credit_block_spends = Table(
    "credit_block_spends",
    metadata,
    Column("block_id", BigId, ForeignKey("credit_blocks.id"), primary_key=True),  # a block is spent once
    Column("movement_id", BigId, ForeignKey("credit_movements.id"), nullable=False),
)
Index("ix_credit_block_spends_movement_id", credit_block_spends.c.movement_id)

credit_retirements = Table(
    "credit_retirements",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("public_id", String(64), nullable=False, unique=True),  # RET-{scheme}-{n:06d}
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("movement_id", BigId, ForeignKey("credit_movements.id"), nullable=False, unique=True),
    Column("holder_org_id", BigId, ForeignKey("organisations.id"), nullable=True),
    Column("quantity", BigInteger, nullable=False),
    Column("beneficiary", String(200), nullable=False),
    Column("purpose", String(500), nullable=False),
    Column("details", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_credit_retirements_scheme_id", credit_retirements.c.scheme_id)

# -- credits moved between registries (issue 16 part 4, docs/interop.md "Credit transfer") -----------
# One row per transfer, out (this platform is the origin) or in (the destination), with the signed
# offer; its end (completed or cancelled, with the destination's signed receipt) is one row of
# credit_transfer_outcomes, written once: a transfer without one is pending. Both append-only.

credit_transfers = Table(
    "credit_transfers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("transfer_id", String(100), nullable=False),  # the origin's id, unique per origin platform
    Column("direction", String(3), nullable=False),
    Column("origin_platform", String(64), nullable=False),
    Column("peer_platform", String(64), nullable=False),  # the other side: destination (out) or origin (in)
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=True),  # NULL: refused, no scheme here
    Column("org_id", BigId, ForeignKey("organisations.id"), nullable=True),  # the sender (out), the receiver (in)
    Column("quantity", BigInteger, nullable=False),
    Column("idempotency_key", String(200), nullable=True),  # the operator's key (out)
    Column("request_hash", String(64), nullable=False),
    Column("offer", JSONText, nullable=False),
    Column("offer_signature", String(100), nullable=False),
    Column("movement_id", BigId, ForeignKey("credit_movements.id"), nullable=True),  # the escrow movement (out)
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("direction IN ('out', 'in')", name="direction"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    UniqueConstraint("origin_platform", "transfer_id"),
    UniqueConstraint("scheme_id", "idempotency_key"),
)

credit_transfer_outcomes = Table(
    "credit_transfer_outcomes",
    metadata,
    Column("transfer_pk", BigId, ForeignKey("credit_transfers.id"), primary_key=True),  # a transfer ends once
    Column("state", String(10), nullable=False),
    Column("receipt", JSONText, nullable=False),
    Column("receipt_signature", String(100), nullable=False),
    Column("movement_id", BigId, ForeignKey("credit_movements.id"), nullable=True),  # settle/cancel (out), first mint (in)
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("state IN ('completed', 'cancelled')", name="state"),
)

# -- the web application (docs/web.md): sign-in for people and operators ----------------------
# Usernames and password hashes are personal data: kept here, never in the ledger, erased with
# the person (services/privacy.py).

credentials = Table(
    "credentials",
    metadata,
    Column("account_id", BigId, ForeignKey("accounts.id"), primary_key=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),  # argon2id, the whole encoded string
    Column("created_at", UTCDateTime, nullable=False),
)

operators = Table(
    "operators",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # an organisation administrator (role org_admin) sees this organisation only (migration 0015)
    Column("organisation_id", BigId, ForeignKey("organisations.id"), nullable=True),
    CheckConstraint("role IN ('operator', 'viewer', 'org_admin')", name="role"),
    CheckConstraint("(role = 'org_admin') = (organisation_id IS NOT NULL)", name="org_admin_has_organisation"),
)

operator_tokens = Table(
    "operator_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # only the SHA-256 of a token is kept
    Column("scheme_id", String(32), ForeignKey("schemes.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("operator_id", BigId, ForeignKey("operators.id"), nullable=True),  # NULL: issued by the CLI
    Column("kind", String(8), nullable=False),  # api (bearer), web (dashboard session)
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    CheckConstraint("role IN ('operator', 'viewer', 'org_admin')", name="role"),
    CheckConstraint("kind IN ('api', 'web')", name="kind"),
)

# A scheme's events by local day: credit issuance picks its period's events with it.
Index("ix_events_scheme_id_local_day", events.c.scheme_id, events.c.local_day)
# The operators' review list (rejected events, newest first): only the rejected few are indexed.
Index(
    "ix_events_rejected",
    events.c.scheme_id,
    events.c.id,
    sqlite_where=events.c.status == "rejected",
    postgresql_where=events.c.status == "rejected",
)

# -- operator report projections (services/reports.py, docs/web.md "Reports") -------------------
# Counters kept in the same transaction as what they count, so the operator stats read a few
# hundred rows instead of every event (8 s -> milliseconds at 3 million events). Like ledger
# balances they are projections: `tanhui verify` rebuilds them from the events, check-ins and
# postings and compares, and `tanhui db rebuild-reports` rewrites them. Each counter row is only
# ever touched by writers that already queue on the same ledger chain (the ``shard``), so they add
# no new lock contention on PostgreSQL.

report_facts = Table(  # events per scheme-local day, scenario, partner, status and reason
    "report_facts",
    metadata,
    Column("scheme_id", String(32), primary_key=True),
    Column("local_day", Integer, primary_key=True),
    Column("scenario", String(64), primary_key=True),
    Column("partner_pk", BigInteger, primary_key=True),
    Column("status", String(12), primary_key=True),
    Column("reason", String(32), primary_key=True),  # '' for credited events
    Column("events", BigInteger, nullable=False),
    Column("carbon_g", BigInteger, nullable=False),
    Column("points", BigInteger, nullable=False),
)

report_active = Table(  # who was active on which local day (a credited event or a check-in)
    "report_active",
    metadata,
    Column("account_id", BigInteger, primary_key=True),
    Column("pkey", Integer, nullable=False),  # the person key (store/distribution.py)
    Column("local_day", Integer, primary_key=True),
    sqlite_with_rowid=False,
)

report_days = Table(  # distinct active people per scheme-local day, one counter per shard
    "report_days",
    metadata,
    Column("scheme_id", String(32), primary_key=True),
    Column("local_day", Integer, primary_key=True),
    Column("shard", String(48), primary_key=True),
    Column("active_users", BigInteger, nullable=False),
)

report_flows = Table(  # what left and entered each untracked (system) ledger account per quarter hour
    "report_flows",
    metadata,
    Column("ledger_account_id", BigInteger, primary_key=True),
    Column("bucket", Integer, primary_key=True),  # UTC seconds // 900: every time zone's midnight is a bucket edge
    Column("shard", String(48), primary_key=True),
    Column("amount_out", BigInteger, nullable=False),
    Column("amount_in", BigInteger, nullable=False),
)

report_accounts = Table(  # people registered and erased per quarter hour
    "report_accounts",
    metadata,
    Column("scheme_id", String(32), primary_key=True),
    Column("bucket", Integer, primary_key=True),
    Column("shard", Integer, primary_key=True),  # account id % 16: concurrent sign-ups do not queue
    Column("registered", BigInteger, nullable=False),
    Column("erased", BigInteger, nullable=False),
)

# -- the operator audit log (docs/reliability.md): who did what, written in the same transaction ----
# Append-only (database triggers refuse UPDATE and DELETE, as for the journal).

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scheme_id", String(32), nullable=True),  # NULL: an action outside any one scheme
    Column("actor", String(128), nullable=False),  # e.g. operator:alice, cli:root, token:viewer
    Column("action", String(64), nullable=False),  # e.g. partner.create, market.ship, credits.retire
    Column("target", String(200), nullable=True),
    Column("details", JSONText, nullable=True),  # never secrets, tokens or passwords
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_audit_log_scheme_id_id", audit_log.c.scheme_id, audit_log.c.id)

# -- interconnection between deployments (docs/interop.md) ----------------------------------------
# This platform's identity (one row) and the peers the operator configured. The private key and
# the federation key are sealed (tanhui.secretbox), never stored in the clear.

interop_platform = Table(
    "interop_platform",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1: one identity per deployment
    Column("platform_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("public_key", String(64), nullable=False),  # base64url of the 32-byte Ed25519 public key
    Column("private_key", String(255), nullable=False),  # sealed seed
    Column("private_key_id", String(32), nullable=False),  # the secret key that sealed it
    Column("federation_key", String(255), nullable=False),  # sealed, shared by the federation's members
    Column("federation_key_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("id = 1", name="single"),
)

interop_peers = Table(
    "interop_peers",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("platform_id", String(64), nullable=False, unique=True),
    Column("url", String(500), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime, nullable=True),
    CheckConstraint("status IN ('active', 'removed')", name="status"),
)

interop_peer_nonces = Table(  # like partner_nonces: one row per signed request, kept for the replay window
    "interop_peer_nonces",
    metadata,
    Column("peer_pk", BigId, primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)
Index("ix_interop_peer_nonces_seen_at", interop_peer_nonces.c.seen_at)

# -- the federation's claims (issue 16 part 2, docs/interop.md "Claims") ----------------------------
# A behaviour with a global identity credited here is claimed in this platform's claims log, an
# append-only Merkle log (RFC 9162 hashing) with signed tree heads that peers pull. Claims name the
# behaviour by its federation fingerprint (HMAC-SHA256 under the federation key): no personal data.
# Ingest writes ``interop_claims`` (seq NULL); a race lost writes ``interop_withdrawals`` (seq NULL);
# the sequencer, one at a time, gives both their place in ``interop_log`` and signs a new head.

interop_claims = Table(  # this platform's claims: one per federation fingerprint it credited
    "interop_claims",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("scenario", String(64), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),  # as the log publishes it (the race rule compares it)
    Column("pkey", Integer, nullable=False),  # where the credit is: the person key, account and event row
    Column("account_id", BigId, nullable=False),
    Column("event_pk", BigId, nullable=False),
    Column("seq", BigInteger, nullable=True),  # its place in interop_log once sequenced
)
Index("ix_interop_claims_unsequenced", interop_claims.c.seq, interop_claims.c.recorded_at)

interop_withdrawals = Table(  # a claim this platform withdrew: the race was lost to a peer
    "interop_withdrawals",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("claimed_by", String(64), nullable=False),  # the winner's platform id
    Column("pkey", Integer, nullable=False),
    Column("account_id", BigId, nullable=False),
    Column("event_pk", BigId, nullable=False),
    Column("reversal_entry_id", BigId, nullable=True),  # the reversing ledger entry (none when nothing was credited)
    Column("shortfall_g", BigInteger, nullable=False),  # what the reversal could not take back (already spent)
    Column("shortfall_points", BigInteger, nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=False),
    Column("seq", BigInteger, nullable=True),  # the withdrawal's place in interop_log once sequenced
)
Index("ix_interop_withdrawals_account_id", interop_withdrawals.c.account_id)

interop_log = Table(  # this platform's claims log, append-only; leaf index = seq - 1
    "interop_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # 1, 2, 3, ...
    Column("kind", String(12), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("scenario", String(64), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("leaf_hash", String(64), nullable=False),
    CheckConstraint("kind IN ('claim', 'withdrawal')", name="kind"),
)

interop_log_heads = Table(  # every signed tree head this platform issued (the newest answers /head)
    "interop_log_heads",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    Column("timestamp", BigInteger, nullable=False),  # Unix seconds
    Column("signature", String(100), nullable=False),  # base64url Ed25519
    Column("frontier", JSONText, nullable=False),  # the perfect subtrees' roots, largest first (appends are O(log n))
)

interop_peer_logs = Table(  # what this platform verified of each peer's log, and whether it still trusts it
    "interop_peer_logs",
    metadata,
    Column("peer_pk", BigId, primary_key=True, autoincrement=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", String(64), nullable=False),
    Column("head_timestamp", BigInteger, nullable=False),
    Column("head_signature", String(100), nullable=True),
    Column("frontier", JSONText, nullable=False),
    Column("trust", String(12), nullable=False),
    Column("untrusted_reason", String(64), nullable=True),
    Column("untrusted_at", UTCDateTime, nullable=True),
    Column("synced_at", UTCDateTime, nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("syncs_ok", BigInteger, nullable=False, server_default="0"),  # rounds that verified (the /metrics counter)
    Column("syncs_failed", BigInteger, nullable=False, server_default="0"),  # rounds unreachable or refused
    CheckConstraint("trust IN ('trusted', 'untrusted')", name="trust"),
)

interop_peer_claims = Table(  # the entries pulled from peers' logs, kept after their head verified
    "interop_peer_claims",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("peer_pk", BigId, primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(12), nullable=False),
    Column("scenario", String(64), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('claim', 'withdrawal')", name="kind"),
)
