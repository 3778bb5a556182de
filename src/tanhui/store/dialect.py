"""The only place that knows which engine it talks to: statements that differ per dialect.

Everything else in the store writes portable SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import Connection, Select, String, Table, any_, bindparam, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError


class Dialect:
    def __init__(self, name: str) -> None:
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database engine {name!r}")
        self.name = name
        self._last: tuple[datetime | None, str] = (None, "")

    @property
    def is_postgresql(self) -> bool:
        return self.name == "postgresql"

    def for_update(self, query: Select[Any]) -> Select[Any]:
        """Row locks on PostgreSQL; SQLite writers already hold the database lock (BEGIN IMMEDIATE)."""
        return query.with_for_update() if self.is_postgresql else query

    def in_values(self, column: Any, values: Sequence[Any]) -> Any:
        """``column IN (values)`` with the whole list in one bound parameter.

        SQLAlchemy's expanding IN renders (and SQLite re-prepares) a new statement for every list
        length: a tenth of the ingest path's time. One array (PostgreSQL) or one JSON text (SQLite,
        json_each) keeps the statement the same for every batch.
        """
        if self.is_postgresql:
            return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        if any(isinstance(v, str) and "\x00" in v for v in values):
            return column.in_(list(values))  # json_each would end such a string at the NUL
        listed = bindparam(None, orjson.dumps(list(values)).decode(), type_=String())
        return column.in_(select(literal_column("value")).select_from(func.json_each(listed)))

    # -- the hot path's reads: the driver's own cursor, plain tuples -----------------------------

    def fetch(self, conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` (``?`` placeholders, ``{IN}``-free) on the unit of work's own connection and
        return the driver's tuples, without SQLAlchemy's per-row work (a batch reads thousands)."""
        raw = conn.connection.driver_connection
        if self.is_postgresql:
            with raw.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), tuple(params))
                return cursor.fetchall()
        return raw.execute(sql, tuple(params)).fetchall()

    def fetch_in(self, conn: Connection, sql: str, values: Sequence[Any], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """``fetch`` for a statement with one list: ``{IN}`` in ``sql`` stands for ``IN (values)``,
        bound as one parameter (see ``in_values``). ``{IN}`` comes before every other ``?``, whose
        values are ``params``."""
        if not values:
            return []
        if self.is_postgresql:
            return self.fetch(conn, sql.replace("{IN}", "= ANY(?)"), (list(values), *params))
        if any(isinstance(v, str) and "\x00" in v for v in values):
            found: list[tuple[Any, ...]] = []
            for start in range(0, len(values), 900):  # json_each would end such a string at the NUL
                part = list(values[start : start + 900])
                found.extend(self.fetch(conn, sql.replace("{IN}", f"IN ({', '.join(['?'] * len(part))})"), (*part, *params)))
            return found
        return self.fetch(conn, sql.replace("{IN}", "IN (SELECT value FROM json_each(?))"), (orjson.dumps(list(values)).decode(), *params))

    def insert_ignore(self, table: Table, index_elements: list[str]) -> Any:
        """INSERT ... ON CONFLICT (cols) DO NOTHING."""
        maker = pg_insert if self.is_postgresql else sqlite_insert
        return maker(table).on_conflict_do_nothing(index_elements=index_elements)

    # -- the hot path: plain DBAPI executemany, values already in the driver's form ------------

    def bind_time(self, moment: datetime | None) -> Any:
        """What UTCDateTime would bind: naive UTC text on SQLite, the aware datetime on PostgreSQL."""
        if moment is None or self.is_postgresql:
            return moment
        last = self._last  # one tuple, swapped whole: threads sharing the store never see a torn pair
        if last[0] is moment:  # a batch binds its received_at / created_at once per row
            return last[1]
        text_form = moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
        self._last = (moment, text_form)
        return text_form

    def insert_rows(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """INSERT many rows (SQLite: the driver's executemany; PostgreSQL: COPY), skipping per-row
        SQLAlchemy work.

        Callers pass values exactly as the column types would bind them (see ``bind_time`` and
        ``canonical_json``); this is used only where a batch writes thousands of rows.
        """
        if not rows:
            return
        if self.is_postgresql:
            # COPY: one round trip for the whole batch, in the unit of work's own transaction.
            import psycopg

            raw = conn.connection.driver_connection
            statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            try:
                with raw.cursor() as cursor, cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
            except psycopg.IntegrityError as error:
                # The raw cursor bypasses SQLAlchemy's wrapping: callers retry a unique-key race on
                # sqlalchemy.exc.IntegrityError (two servers crediting one trip), so raise that.
                raise IntegrityError(statement, None, error) from error
            return
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(['?'] * len(columns))})"
        conn.exec_driver_sql(sql, list(rows))

    def update_rows(self, conn: Connection, table: Table, set_column: str, key_column: str, rows: Sequence[tuple[Any, Any]]) -> None:
        """UPDATE table SET set_column = value WHERE key_column = key, for many (value, key) pairs."""
        if not rows:
            return
        if self.is_postgresql:
            # One statement over two arrays: an executemany costs PostgreSQL a statement per row.
            # Keys are unique; callers lock the rows (in key order) before they update them.
            conn.exec_driver_sql(
                f"UPDATE {table.name} SET {set_column} = v.value FROM unnest(%s::{_pg_type(table, set_column)}[], "
                f"%s::{_pg_type(table, key_column)}[]) AS v(value, key) WHERE {table.name}.{key_column} = v.key",
                ([r[0] for r in rows], [r[1] for r in rows]),
            )
            return
        conn.exec_driver_sql(f"UPDATE {table.name} SET {set_column} = ? WHERE {key_column} = ?", list(rows))

    def add_counts(self, conn: Connection, table: Table, keys: Sequence[str], counters: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """INSERT the rows, or add their counters to the row already there (report projections).

        Each row is the key values followed by the counter values, in the order given.
        """
        if not rows:
            return
        mark = "%s" if self.is_postgresql else "?"
        columns = [*keys, *counters]
        added = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in counters)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}",
            [tuple(r) for r in rows],
        )

    def insert_new(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], returning: str) -> list[Any]:
        """INSERT the rows that are not there yet (by primary key); ``returning`` of those inserted."""
        found: list[Any] = []
        if not rows:
            return found
        if self.is_postgresql:
            # one array per column (in the rows' order): two parameters, not two per row
            arrays = ", ".join(f"%s::{_pg_type(table, c)}[]" for c in columns)
            result = conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT DO NOTHING RETURNING {returning}",
                tuple([row[i] for row in rows] for i in range(len(columns))),
            )
            return [r[0] for r in result]
        mark = "?"
        one = f"({', '.join([mark] * len(columns))})"
        size = max(1, 900 // len(columns))
        for start in range(0, len(rows), size):
            part = rows[start : start + size]
            result = conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {', '.join([one] * len(part))} "
                f"ON CONFLICT DO NOTHING RETURNING {returning}",
                tuple(v for row in part for v in row),
            )
            found.extend(r[0] for r in result)
        return found

    def epoch_bucket(self, column: Any, seconds: int) -> Any:
        """SQL for ``floor(epoch seconds of a UTCDateTime column / seconds)``."""
        if self.is_postgresql:
            return literal_column(f"CAST(floor(extract(epoch FROM {column}) / {seconds}) AS BIGINT)")
        return literal_column(f"CAST(strftime('%s', {column}) AS INTEGER) / {seconds}")

    def allocate_ids(self, conn: Connection, table: Table, count: int) -> list[int]:
        """Primary keys for rows about to be inserted by ``insert_rows``, in ascending order.

        PostgreSQL draws them from the column's sequence; SQLite writers hold the database lock
        (BEGIN IMMEDIATE), so the next ids after the current maximum are theirs.
        """
        if count <= 0:
            return []
        if self.is_postgresql:
            rows = conn.execute(
                text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)"),
                {"n": count},
            )
            return sorted(int(r[0]) for r in rows)
        start = int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table.name}")).scalar_one()) + 1
        return list(range(start, start + count))


def _pg_type(table: Table, column: str) -> str:
    """The column's PostgreSQL type, as written in a cast (``BIGINT``, ``VARCHAR(48)``)."""
    from sqlalchemy.dialects import postgresql

    return str(table.c[column].type.compile(dialect=postgresql.dialect()))
