"""DDL and SQL shared by migrations, frozen.

NEVER CHANGE A FUNCTION HERE once a migration calls it. A released migration must build the same
database today as on the day it was written; it depends on nothing but alembic, SQLAlchemy and
this module (never on ``tanhui.store.schema``, the repositories or ``tanhui.store.dialect``, which
follow today's code). A new shape of trigger or query means a new function (with a new name), used
by the new migration; old functions stay as they are, even when nothing new calls them.

The engine is asked here, through alembic's migration context, and in no migration file.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

__all__ = [
    "PKEY_VALUES_0014",
    "add_person_keys",
    "create_pkey_map",
    "drop_pkey_map",
    "append_only_function",
    "append_only_triggers",
    "drop_append_only_function",
    "drop_append_only_triggers",
    "epoch_bucket_sql",
    "on_plain_postgresql",
    "on_postgresql",
    "widen_check_0020",
]


def on_postgresql() -> bool:
    """Whether the migration runs on PostgreSQL (else SQLite)."""
    return bool(op.get_context().dialect.name == "postgresql")


def on_plain_postgresql() -> bool:
    """Whether the migration runs on PostgreSQL without the Citus extension in the database (0021)."""
    if not on_postgresql():
        return False
    return not op.get_bind().exec_driver_sql("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')").scalar_one()


def append_only_function() -> None:
    """PostgreSQL: the trigger function ``tanhui_append_only()`` that refuses the row's change
    (used by 0001). SQLite needs no function."""
    if on_postgresql():
        op.execute(
            """
            CREATE FUNCTION tanhui_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'tanhui: % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
            END $$;
            """
        )


def drop_append_only_function() -> None:
    if on_postgresql():
        op.execute("DROP FUNCTION IF EXISTS tanhui_append_only()")


def append_only_triggers(tables: Iterable[str]) -> None:
    """Defence in depth: the database itself refuses to update or delete rows of ``tables``.

    PostgreSQL: one trigger ``{table}_append_only`` calling ``tanhui_append_only()`` (created by
    ``append_only_function`` in 0001). SQLite: ``{table}_no_update`` and ``{table}_no_delete``.
    """
    if on_postgresql():
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION tanhui_append_only()"
            )
    else:
        for table in tables:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'tanhui: {table} is append-only'); END"
                )


def drop_append_only_triggers(tables: Iterable[str]) -> None:
    if on_postgresql():
        for table in tables:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    else:
        for table in tables:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def widen_check_0020(table: str, name: str, old: str, new: str, column: tuple[str, str, str] | None = None) -> None:
    """Replace the CHECK constraint ``name`` of ``table`` (text ``old``) by one that admits more
    (text ``new``), and widen a VARCHAR column ``(name, old type, new type)`` (0020).

    PostgreSQL: ALTER TABLE. SQLite cannot alter a constraint, and rebuilding a table that other tables
    reference breaks their foreign keys inside the migration's transaction; SQLite's documented
    procedure for changing a CHECK constraint edits the table's stored definition instead
    (sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes"). Widening only:
    every stored row satisfied the old check, so it satisfies the new one. SQLite does not enforce a
    VARCHAR length; the column's declared type is edited with it, for the record.
    """
    if on_postgresql():
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" CHECK ({new})')
        if column is not None:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column[0]} TYPE {column[2]}")
        return
    bind = op.get_bind()
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar_one()
    before = f"CONSTRAINT {name} CHECK ({old})"
    if before not in sql:
        raise RuntimeError(f"{table}: constraint {name} is not {old}")
    sql = sql.replace(before, f"CONSTRAINT {name} CHECK ({new})")
    if column is not None:
        sql = sql.replace(f"\t{column[0]} {column[1]} ", f"\t{column[0]} {column[2]} ")
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table))
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def epoch_bucket_sql(column: str, seconds: int) -> str:
    """SQL for ``floor(epoch seconds of a UTC timestamp column / seconds)`` (0008's backfill).

    SQLite keeps the timestamps as naive UTC text; PostgreSQL as ``timestamptz``.
    """
    if on_postgresql():
        return f"CAST(floor(extract(epoch FROM {column}) / {seconds}) AS BIGINT)"
    return f"CAST(strftime('%s', {column}) AS INTEGER) / {seconds}"


# The person keys of migration 0014 (store/distribution.py PKEY_VALUES, frozen here: a released
# migration must compute the keys it computed when it was written).
PKEY_VALUES_0014: tuple[int, ...] = (
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


def add_person_keys(table: str, backfill_sql: str) -> None:
    """Add ``pkey`` (NOT NULL) to ``table`` and fill it with ``backfill_sql``, an expression over the
    table's row and the temporary ``pkey_map(bucket, pkey)`` of PKEY_VALUES_0014.

    PostgreSQL: added nullable, filled, then NOT NULL (no default: a writer that forgets the key
    fails). SQLite cannot add a NOT NULL column without a default, so there it defaults to 0, which
    no person key is (``tanhui verify`` would name such a row).
    """
    if on_postgresql():
        op.execute(f"ALTER TABLE {table} ADD COLUMN pkey INTEGER")
        op.execute(f"UPDATE {table} SET pkey = {backfill_sql}")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN pkey SET NOT NULL")
    else:
        op.execute(f"ALTER TABLE {table} ADD COLUMN pkey INTEGER NOT NULL DEFAULT 0")
        op.execute(f"UPDATE {table} SET pkey = {backfill_sql}")


def create_pkey_map() -> None:
    op.execute("CREATE TABLE pkey_map (bucket INTEGER PRIMARY KEY, pkey INTEGER NOT NULL)")
    values = ", ".join(f"({bucket}, {value})" for bucket, value in enumerate(PKEY_VALUES_0014))
    op.execute(f"INSERT INTO pkey_map (bucket, pkey) VALUES {values}")


def drop_pkey_map() -> None:
    op.execute("DROP TABLE pkey_map")
