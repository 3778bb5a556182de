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
    "append_only_function",
    "append_only_triggers",
    "drop_append_only_function",
    "drop_append_only_triggers",
    "epoch_bucket_sql",
    "on_postgresql",
]


def on_postgresql() -> bool:
    """Whether the migration runs on PostgreSQL (else SQLite)."""
    return bool(op.get_context().dialect.name == "postgresql")


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


def epoch_bucket_sql(column: str, seconds: int) -> str:
    """SQL for ``floor(epoch seconds of a UTC timestamp column / seconds)`` (0008's backfill).

    SQLite keeps the timestamps as naive UTC text; PostgreSQL as ``timestamptz``.
    """
    if on_postgresql():
        return f"CAST(floor(extract(epoch FROM {column}) / {seconds}) AS BIGINT)"
    return f"CAST(strftime('%s', {column}) AS INTEGER) / {seconds}"
