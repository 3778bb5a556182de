"""Where each table lives on distributed PostgreSQL (Citus), declared once, beside the schema.

On SQLite and plain PostgreSQL this module changes nothing but two things every engine shares: the
**person key** (`pkey`) that every row a person owns carries, and the **claim tables** that hold
uniqueness which is not per person (a partner's event id, a behaviour's fingerprint, a ledger
idempotency key, a username, a partner's user_ref). On a Citus coordinator, `tanhui db upgrade`
applies `PLAN` (store/citus.py): reference tables are copied to every node, the person group is
distributed by `pkey` and co-located, each claim table is distributed by its own key.

Why a person key and not the account id: 256 fixed values, one per equal slice of PostgreSQL's
int4 hash space (`hashint4`), so Citus's hash ranges hold exactly as many people's keys as each
other at 32, 64, 128 or 256 shards; and the scheme's shared (system) ledger accounts, which are never
written, can live at one key. A city of 10 million people spreads evenly over every worker.

Why claims: Citus enforces a unique key only when it contains the distribution column. A claim
table is distributed by the unique value itself, so the database still refuses a second claim.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

PKEY_BUCKETS = 256
# The smallest positive int4 whose hashint4 falls in each 1/256 of the hash space, in slice order
# (derived on PostgreSQL 15; tests/store/test_distribution_plan.py derives them again).
PKEY_VALUES: tuple[int, ...] = (
    354,
    298,
    60,
    146,
    443,
    8,
    132,
    20,
    230,
    303,
    259,
    82,
    118,
    205,
    1,
    15,
    291,
    155,
    344,
    31,
    119,
    88,
    311,
    458,
    412,
    148,
    79,
    94,
    26,
    33,
    340,
    24,
    520,
    35,
    157,
    10,
    115,
    129,
    598,
    92,
    104,
    198,
    579,
    48,
    109,
    234,
    466,
    516,
    5,
    53,
    208,
    652,
    290,
    323,
    928,
    112,
    196,
    50,
    77,
    200,
    166,
    178,
    504,
    632,
    61,
    912,
    93,
    4,
    141,
    7,
    215,
    228,
    368,
    17,
    416,
    51,
    729,
    172,
    689,
    287,
    133,
    162,
    16,
    187,
    111,
    295,
    747,
    96,
    564,
    269,
    170,
    492,
    217,
    324,
    375,
    85,
    302,
    36,
    202,
    191,
    89,
    1487,
    271,
    619,
    110,
    174,
    453,
    19,
    106,
    55,
    64,
    317,
    37,
    40,
    262,
    65,
    45,
    633,
    264,
    103,
    656,
    158,
    101,
    261,
    117,
    121,
    3,
    439,
    161,
    293,
    232,
    113,
    406,
    366,
    57,
    52,
    160,
    62,
    501,
    353,
    99,
    422,
    480,
    367,
    522,
    165,
    731,
    136,
    525,
    168,
    645,
    509,
    102,
    357,
    413,
    46,
    140,
    28,
    186,
    154,
    86,
    6,
    73,
    192,
    144,
    66,
    71,
    356,
    1512,
    335,
    70,
    184,
    21,
    278,
    477,
    34,
    749,
    83,
    194,
    124,
    49,
    265,
    39,
    574,
    43,
    56,
    167,
    249,
    454,
    371,
    126,
    13,
    387,
    47,
    308,
    2,
    426,
    382,
    388,
    351,
    349,
    27,
    199,
    846,
    95,
    300,
    114,
    552,
    1101,
    333,
    134,
    58,
    314,
    149,
    481,
    1004,
    307,
    41,
    490,
    219,
    224,
    631,
    179,
    185,
    479,
    131,
    30,
    9,
    116,
    80,
    81,
    90,
    59,
    515,
    72,
    128,
    260,
    190,
    22,
    233,
    381,
    29,
    517,
    12,
    275,
    78,
    195,
    11,
    67,
    726,
    169,
    44,
    240,
    107,
    75,
    18,
)
SYSTEM_PKEY = PKEY_VALUES[0]  # the scheme's system ledger accounts, and chains written before keys existed


def pkey_of(account_id: int) -> int:
    """The person key of an account: everything the person owns carries it."""
    return PKEY_VALUES[account_id % PKEY_BUCKETS]


def pkey_of_text(text: str) -> int:
    """A key for a row that belongs to no known person (a rejected event of an unknown user_ref)."""
    return PKEY_VALUES[zlib.crc32(text.encode("utf-8")) % PKEY_BUCKETS]


# -- the plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reference:
    """Copied to every node: small, read on every path, written rarely (by operators)."""


@dataclass(frozen=True, slots=True)
class Local:
    """Stays on the coordinator: operator records and counters no shard joins with."""

    why: str


@dataclass(frozen=True, slots=True)
class Distributed:
    """Hash-distributed by `column`; tables of one `group` are co-located (their rows of one key
    live on one node, so joins and foreign keys between them stay on that node).

    On Citus the primary key becomes `key` (default: the column first, then today's key), and every
    unique key that lacks the column is either `prefixed` (the column added: a reason says why that
    is the same rule or why it is enough) or `claimed` by a claim table that carries the rule.
    Foreign keys to the same group gain the column on both sides; `dropped_fks` (by referencing
    columns) are checked by the services and `tanhui verify` instead.
    """

    column: str
    group: str
    key: tuple[str, ...] | None = None
    prefixed: dict[str, str] = field(default_factory=dict)  # unique constraint/index name -> why
    claimed: dict[str, str] = field(default_factory=dict)  # unique constraint/index name -> claim table
    dropped_fks: dict[tuple[str, ...], str] = field(default_factory=dict)  # referencing columns -> why


Placement = Reference | Local | Distributed

PERSON = "person"
ANCHOR = {PERSON: "accounts", "interop_fingerprints": "interop_claims"}  # the table each group is co-located with

_ACCOUNT_ONLY = "the account determines the key, so the rule is unchanged"
_RANDOM = "random 128-bit public ids: unique by construction; lookups name the person"

PLAN: dict[str, Placement] = {
    # scheme-wide facts
    "schemes": Reference(),
    "partners": Reference(),
    "partner_secrets": Reference(),
    "organisations": Reference(),
    "market_items": Reference(),
    "coupon_codes": Reference(),
    "operators": Reference(),
    "operator_tokens": Reference(),
    "credit_registry_heads": Reference(),
    "credit_movements": Reference(),
    "credit_batches": Reference(),
    "credit_blocks": Reference(),
    "credit_block_spends": Reference(),
    "credit_retirements": Reference(),
    "credit_transfers": Reference(),
    "credit_transfer_outcomes": Reference(),
    "interop_platform": Reference(),
    "interop_peers": Reference(),
    # the person group
    "accounts": Distributed("pkey", PERSON),
    "account_profiles": Distributed(
        "pkey", PERSON, prefixed={"uq_account_profiles_username": "never written (usernames are in credentials)"}
    ),
    "credentials": Distributed("pkey", PERSON, claimed={"uq_credentials_username": "username_claims"}),
    "ledger_accounts": Distributed(
        "pkey",
        PERSON,
        prefixed={
            "uq_ledger_accounts_owner_account_id_asset_code": _ACCOUNT_ONLY,
            "uq_ledger_accounts_system": "system accounts all live at SYSTEM_PKEY",
        },
    ),
    "journal_chains": Distributed("pkey", PERSON),
    "journal_entries": Distributed(
        "pkey",
        PERSON,
        prefixed={
            "uq_journal_entries_chain_id_seq": "a chain is written at one key (chains from before person keys take no new entries)",
            "uq_journal_entries_reverses_entry_id": "a reversal is written on its original's chain",
        },
        claimed={"uq_journal_entries_scheme_id_idempotency_key": "ledger_keys"},
        dropped_fks={("chain_id",): "chains written before person keys mix people; verify checks every link and head"},
    ),
    "postings": Distributed(
        "pkey",
        PERSON,
        dropped_fks={
            ("from_account_id",): "system accounts and a second person live at other keys; verify checks every account",
            ("to_account_id",): "system accounts and a second person live at other keys; verify checks every account",
        },
    ),
    "events": Distributed(
        "pkey",
        PERSON,
        claimed={"uq_events_partner_pk_event_id": "event_claims"},  # and a behaviour's fingerprint: behaviour_claims only
    ),
    "partner_links": Distributed("pkey", PERSON, claimed={"uq_partner_links_partner_pk_user_ref": "partner_refs"}),
    "consents": Distributed(
        "pkey", PERSON, prefixed={"uq_consents_public_id": _RANDOM, "uq_consents_active_link": "a link determines the key"}
    ),
    "checkins": Distributed("pkey", PERSON),
    "orders": Distributed(
        "pkey", PERSON, prefixed={"uq_orders_account_id_idempotency_key": _ACCOUNT_ONLY, "uq_orders_public_id": _RANDOM}
    ),
    "order_history": Distributed("pkey", PERSON),
    "order_deliveries": Distributed("pkey", PERSON, prefixed={"uq_order_deliveries_order_id": "an order determines the key"}),
    "memberships": Distributed("pkey", PERSON),
    "report_active": Distributed("pkey", PERSON),
    "credit_batch_events": Distributed(
        "pkey",
        PERSON,
        prefixed={"uq_credit_batch_events_batch_id_position": "positions are rebuilt and checked by `tanhui credits verify`"},
    ),
    # looked up by a secret's hash only
    "user_tokens": Distributed("token_hash", "user_tokens", dropped_fks={("account_id",): "the account lives at another key"}),
    "binding_codes": Distributed("code_hash", "binding_codes", dropped_fks={("account_id",): "the account lives at another key"}),
    # claims: uniqueness that is not per person, each distributed by its own value
    "event_claims": Distributed("event_id", "event_claims"),
    "behaviour_claims": Distributed("fingerprint", "behaviour_claims"),
    "ledger_keys": Distributed("idempotency_key", "ledger_keys"),
    "username_claims": Distributed("username", "username_claims"),
    "partner_refs": Distributed("user_ref", "partner_refs"),
    # the federation's claims (issue 16): looked up by a behaviour's federation fingerprint at ingest
    "interop_claims": Distributed("fingerprint", "interop_fingerprints"),
    "interop_withdrawals": Distributed("fingerprint", "interop_fingerprints"),
    "interop_peer_claims": Distributed("fingerprint", "interop_fingerprints"),
    # on the coordinator
    "partner_nonces": Local("written once per signed request, read by the next with the same nonce"),
    "interop_log": Local("one writer (the sequencer, under a lock); peers read it in order of seq"),
    "interop_log_heads": Local("one row per signed tree head, written by the sequencer"),
    "interop_peer_logs": Local("one row per peer, written by its sync"),
    "interop_peer_nonces": Local("written once per signed peer request, read by the next with the same nonce"),
    "rate_buckets": Local("one row per partner, read and written per request"),
    "report_facts": Local("operator counters per scheme, day, scenario and partner"),
    "report_days": Local("operator counters per scheme, day and lane"),
    "report_flows": Local("operator counters per system account and quarter hour"),
    "report_accounts": Local("operator counters per scheme and quarter hour"),
    "audit_log": Local("operator actions, append-only"),
    "ledger_checkpoints": Local("a few verification checkpoints per scheme and day"),
}
