"""The only place that knows which engine it talks to.

``Dialect`` is the interface: everything that differs between SQLite and PostgreSQL is one of its
methods, implemented by ``SqliteDialect`` and ``PostgresDialect``. ``dialect_for(url)`` picks one,
once, when a ``Store`` opens; repositories, services, migrations and the CLI call its methods and
never ask which engine they have. Everything else in the store writes portable SQLAlchemy Core.
"""

from __future__ import annotations

import secrets
import sqlite3
import tempfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import quote

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    String,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError

from tanhui.errors import InvalidInput, ServiceUnavailable
from tanhui.store import integrity
from tanhui.store.integrity import StructureCheck

if TYPE_CHECKING:
    import psycopg

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10  # per host; a URL's own connect_timeout wins
SQLITE_CACHE_MB = 200  # page cache per connection: hot indexes stay in memory
# Bound parameters per IN (...) list: well below SQLite's 32,766 and PostgreSQL's 65,535.
IN_CHUNK = 900


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and route them through psycopg 3; accept libpq's several hosts.

    A primary and its standbys are named the way libpq names them,
    ``postgresql://user@10.0.0.1:5432,10.0.0.2:5432/tanhui?target_session_attrs=read-write``;
    SQLAlchemy takes several hosts only as repeated ``host=`` parameters, so that is what this becomes.
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return _hosts_as_parameters(url)


def _hosts_as_parameters(url: str) -> str:
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme.startswith("postgresql"):
        return url
    authority, _, tail = rest.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if "," not in hosts:
        return url
    path, _, query = tail.partition("?")
    listed = "&".join("host=" + quote(host, safe=":[]") for host in hosts.split(",") if host)
    return f"{scheme}://{userinfo}{at}/{path}?{listed}" + (f"&{query}" if query else "")


def several_hosts(url: URL) -> list[str]:
    """The ``host:port`` entries of a URL that names several servers ([] for one)."""
    hosts = url.query.get("host")
    if isinstance(hosts, tuple):
        return list(hosts)
    return hosts.split(",") if hosts and "," in hosts else []


def parse_url(url: str) -> URL:
    try:
        return make_url(normalise_url(url))
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise InvalidInput("invalid_database_url", url=url) from None


def dialect_for(url: str) -> Dialect:
    """The dialect of a database URL (``invalid_database_url`` for an engine Tanhui does not run on)."""
    backend = parse_url(url).get_backend_name()
    for kind in (SqliteDialect, PostgresDialect):
        if kind.name == backend:
            return kind()
    raise InvalidInput("invalid_database_url", url=url)


def embedded_file(url: str) -> str | None:
    """The database file behind an embedded-engine URL ('' or ':memory:' when it has none); None
    for a database server (backups of those are the server's tools: pg_dump)."""
    return dialect_for(url).embedded_file(parse_url(url))


def stores_naive_utc(sa_dialect: Any) -> bool:
    """Whether the engine keeps datetimes without an offset (column types then bind naive UTC).

    Asked by ``types.UTCDateTime`` with SQLAlchemy's own dialect object, which is all it is given.
    """
    return bool(sa_dialect.name == SqliteDialect.name)


class Dialect(ABC):
    """What differs between the engines; one instance per ``Store``.

    ``name`` is for messages and logs only: code that behaves differently per engine adds a method
    here instead of comparing names.
    """

    name: ClassVar[str]
    batch_migrations: ClassVar[bool] = False  # alembic's render_as_batch (ALTER by copying tables)
    row_lock: ClassVar[str] = ""  # appended to a raw SELECT that must lock the rows it reads
    placeholder: ClassVar[str] = "?"  # the driver's parameter mark in exec_driver_sql
    distributed: ClassVar[bool] = False  # a Citus coordinator: the distribution plan applies (store/citus.py)
    # foreign keys of schema.py this engine checks per statement instead (migration 0021): `alembic check` skips them
    statement_checked_foreign_keys: ClassVar[frozenset[str]] = frozenset()

    # -- connections -------------------------------------------------------------------------

    @abstractmethod
    def create_engine(self, url: str, cache_mb: int = SQLITE_CACHE_MB) -> Engine:
        """The engine for ``url``, set up for Tanhui (``cache_mb``: the embedded engine's page cache)."""

    def begin_repeatable_read(self, conn: Connection) -> None:  # noqa: B027 - a hook that does nothing unless an engine needs it
        """Called first in a transaction that must read one consistent snapshot."""

    def begin_write(self, conn: Connection) -> None:  # noqa: B027 - a hook that does nothing unless an engine needs it
        """Called first in a transaction that may write."""

    def refined(self, engine: Engine) -> Dialect:
        """The dialect for what the server turns out to be (asked once, on first use)."""
        return self

    def overwrite_freed(self, conn: Connection, on: bool) -> None:  # noqa: B027 - a hook that does nothing unless an engine needs it
        """While on, what this connection deletes or overwrites is zeroed in the file (erasure); the server
        engine keeps old row versions until VACUUM instead (docs/operations.md)."""

    def truncate_log(self, engine: Engine) -> None:  # noqa: B027 - a hook that does nothing unless an engine needs it
        """After an erasure: the embedded engine copies its write-ahead log into the file and empties it, so
        no old page image survives there; nothing on the server engine."""

    def lock_in(
        self,
        conn: Connection,
        table: str,
        columns: str,
        where: str,
        values: Sequence[Any],
        params: Sequence[Any] = (),
        *,
        touch: str,
    ) -> list[tuple[Any, ...]]:
        """Read rows and hold them locked to the end of the transaction. ``where`` has one ``{IN}``
        (bound to ``values``) and ``?`` for ``params``; rows are locked in the order of ``columns``'
        first column, the order every writer uses. ``touch`` names a column the distributed engine may
        rewrite to itself to take the locks (it cannot lock rows on many shards with FOR UPDATE)."""
        first = columns.split(",")[0].strip()
        return self.fetch_in(conn, f"SELECT {columns} FROM {table} WHERE {where} ORDER BY {first}{self.row_lock}", values, params)

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """``column`` is one of ``values``, as raw SQL with ``?`` and its parameters (a second list
        beside a statement's ``{IN}``)."""
        return f"{column} IN ({', '.join(['?'] * len(values))})", tuple(values)

    def lock_key(self, conn: Connection, key: str) -> None:  # noqa: B027 - a hook that does nothing unless an engine needs it
        """Hold a named lock until the transaction ends (writers queue on it); the embedded engine's
        writers already hold the database lock (BEGIN IMMEDIATE)."""

    # -- integrity (store/integrity.py: issue 18, findings 8 and 9) -------------------------------

    def damage(self, error: BaseException) -> str | None:
        """The engine's words when ``error`` says the database file or its pages are damaged, else None."""
        return None

    def check_structure(self, conn: Connection) -> StructureCheck:
        """The engine's own check that pages, indexes and tables agree (slow: reads everything)."""
        return StructureCheck("none", skipped="this engine has no structural check")

    def quick_check(self, engine: Engine) -> tuple[str, ...]:
        """A cheaper structural check for readiness probes: what it found wrong (nothing: ``()``)."""
        return ()

    @abstractmethod
    def schema_objects(self, conn: Connection) -> dict[str, str]:
        """Every schema object: "kind name" -> its definition, in a form that compares across databases."""

    @abstractmethod
    def reference_objects(self, engine: Engine, migrate: Callable[[Connection], None]) -> dict[str, str]:
        """``schema_objects`` of a database that ``migrate`` (the migrations, run on a connection) has just
        built from nothing, and that is gone afterwards; ``integrity.NoReference`` when none can be built."""

    def _translate_damage(self, engine: Engine) -> None:
        """Errors that say the file is damaged reach callers as ``ServiceUnavailable("database_damaged")``: one
        line from the CLI, a 503 from the API (issue 18, finding 9)."""

        @event.listens_for(engine, "handle_error")
        def _damaged(context: Any) -> BaseException | None:
            problem = self.damage(context.original_exception)
            return None if problem is None else ServiceUnavailable("database_damaged", problem=problem)

    def embedded_file(self, url: URL) -> str | None:
        return None

    # -- statements --------------------------------------------------------------------------

    def for_update(self, query: Select[Any], of: Any = None) -> Select[Any]:
        """Lock the selected rows until the transaction ends (``of``: only that table's rows)."""
        return query

    @abstractmethod
    def in_values(self, column: Any, values: Sequence[Any]) -> Any:
        """``column IN (values)`` with the whole list in one bound parameter.

        SQLAlchemy's expanding IN renders (and SQLite re-prepares) a new statement for every list
        length: a tenth of the ingest path's time. One array (PostgreSQL) or one JSON text (SQLite,
        json_each) keeps the statement the same for every batch.
        """

    @abstractmethod
    def insert_ignore(self, table: Table, index_elements: list[str] | None = None) -> Any:
        """INSERT ... ON CONFLICT (cols) DO NOTHING; without cols, on any conflict (a distributed
        engine's keys carry the distribution column too)."""

    @abstractmethod
    def epoch_bucket(self, column: Any, seconds: int) -> Any:
        """SQL for ``floor(epoch seconds of a UTCDateTime column / seconds)``."""

    # -- the hot path's reads: the driver's own cursor, plain tuples -----------------------------

    @abstractmethod
    def fetch(self, conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` (``?`` placeholders, ``{IN}``-free) on the unit of work's own connection and
        return the driver's tuples, without SQLAlchemy's per-row work (a batch reads thousands)."""

    @abstractmethod
    def fetch_in(self, conn: Connection, sql: str, values: Sequence[Any], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """``fetch`` for a statement with one list: ``{IN}`` in ``sql`` stands for ``IN (values)``,
        bound as one parameter (see ``in_values``). ``{IN}`` comes before every other ``?``, whose
        values are ``params``."""

    # -- the hot path's writes: plain DBAPI, values already in the driver's form ----------------

    def bind_time(self, moment: datetime | None) -> Any:
        """What UTCDateTime would bind for ``moment``."""
        return moment

    @abstractmethod
    def insert_rows(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """INSERT many rows, skipping per-row SQLAlchemy work.

        Callers pass values exactly as the column types would bind them (see ``bind_time`` and
        ``canonical_json``); this is used only where a batch writes thousands of rows.
        """

    @abstractmethod
    def update_rows(
        self,
        conn: Connection,
        table: Table,
        set_columns: Sequence[str],
        key_columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """UPDATE table SET each set column WHERE each key column matches, for many rows, each the set
        values followed by the key values. A distributed engine routes by a key that includes the
        distribution column (e.g. ``("pkey", "id")``)."""

    def add_counts(
        self, conn: Connection, table: Table, keys: Sequence[str], counters: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """INSERT the rows, or add their counters to the row already there (report projections).

        Each row is the key values followed by the counter values, in the order given.
        """
        if not rows:
            return
        columns = [*keys, *counters]
        added = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in counters)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([self.placeholder] * len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}",
            [tuple(r) for r in rows],
        )

    @abstractmethod
    def insert_new(
        self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], returning: str
    ) -> list[Any]:
        """INSERT the rows that are not there yet (by primary key); ``returning`` of those inserted."""

    @abstractmethod
    def allocate_ids(self, conn: Connection, table: Table, count: int) -> list[int]:
        """Primary keys for rows about to be inserted by ``insert_rows``, in ascending order."""


class SqliteDialect(Dialect):
    """The embedded engine: one file, one writer at a time (BEGIN IMMEDIATE), WAL for readers."""

    name = "sqlite"
    batch_migrations = True

    def __init__(self) -> None:
        self._last: tuple[datetime | None, str] = (None, "")

    def create_engine(self, url: str, cache_mb: int = SQLITE_CACHE_MB) -> Engine:
        parsed = parse_url(url)
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can take the lock up front.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA cache_size=-{cache_mb * 1000}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("tanhui_write") else "BEGIN")

        self._translate_damage(engine)
        return engine

    # SQLite's transactions are already serialisable snapshots: begin_repeatable_read has nothing to do.

    def overwrite_freed(self, conn: Connection, on: bool) -> None:
        conn.exec_driver_sql(f"PRAGMA secure_delete = {'ON' if on else 'OFF'}")

    def truncate_log(self, engine: Engine) -> None:
        raw = engine.raw_connection()  # outside any transaction; waits up to the busy timeout for readers
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.fetchall()
            cursor.close()
        finally:
            raw.close()

    def damage(self, error: BaseException) -> str | None:
        """SQLITE_CORRUPT ("database disk image is malformed") and SQLITE_NOTADB ("file is not a database")."""
        original = getattr(error, "orig", None) or error
        if (
            isinstance(original, sqlite3.DatabaseError)
            and ((getattr(original, "sqlite_errorcode", 0) or 0) & 0xFF) in integrity.SQLITE_DAMAGE
        ):
            return integrity.first_line(original)
        return None

    def check_structure(self, conn: Connection) -> StructureCheck:
        return integrity.sqlite_structure(conn)

    def quick_check(self, engine: Engine) -> tuple[str, ...]:
        database = engine.url.database
        if not database or database == ":memory:":
            return ()  # nothing on disk to check
        return integrity.sqlite_quick(database, SQLITE_BUSY_TIMEOUT_MS / 1000)

    def schema_objects(self, conn: Connection) -> dict[str, str]:
        return integrity.sqlite_objects(conn)

    def reference_objects(self, engine: Engine, migrate: Callable[[Connection], None]) -> dict[str, str]:
        """A new file in a temporary directory, deleted afterwards."""
        with tempfile.TemporaryDirectory(prefix="tanhui-reference-") as directory:
            reference = self.create_engine(f"sqlite:///{directory}/reference.db", cache_mb=8)
            try:
                with reference.connect() as conn:
                    migrate(conn)
                    return integrity.sqlite_objects(conn)
            finally:
                reference.dispose()

    def embedded_file(self, url: URL) -> str | None:
        return url.database or ""

    # Writers already hold the database lock (BEGIN IMMEDIATE): for_update and row_lock add nothing.

    def in_values(self, column: Any, values: Sequence[Any]) -> Any:
        if any(isinstance(v, str) and "\x00" in v for v in values):
            return column.in_(list(values))  # json_each would end such a string at the NUL
        listed = bindparam(None, orjson.dumps(list(values)).decode(), type_=String())
        return column.in_(select(literal_column("value")).select_from(func.json_each(listed)))

    def insert_ignore(self, table: Table, index_elements: list[str] | None = None) -> Any:
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=index_elements)

    def epoch_bucket(self, column: Any, seconds: int) -> Any:
        return literal_column(f"CAST(strftime('%s', {column}) AS INTEGER) / {seconds}")

    def fetch(self, conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return _sqlite_driver(conn).execute(sql, tuple(params)).fetchall()

    def fetch_in(self, conn: Connection, sql: str, values: Sequence[Any], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if not values:
            return []
        if any(isinstance(v, str) and "\x00" in v for v in values):
            found: list[tuple[Any, ...]] = []
            for start in range(0, len(values), IN_CHUNK):  # json_each would end such a string at the NUL
                part = list(values[start : start + IN_CHUNK])
                found.extend(self.fetch(conn, sql.replace("{IN}", f"IN ({', '.join(['?'] * len(part))})"), (*part, *params)))
            return found
        return self.fetch(
            conn, sql.replace("{IN}", "IN (SELECT value FROM json_each(?))"), (orjson.dumps(list(values)).decode(), *params)
        )

    def bind_time(self, moment: datetime | None) -> Any:
        """Naive UTC text, as UTCDateTime binds it."""
        if moment is None:
            return moment
        last = self._last  # one tuple, swapped whole: threads sharing the store never see a torn pair
        if last[0] is moment:  # a batch binds its received_at / created_at once per row
            return last[1]
        text_form = moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        self._last = (moment, text_form)
        return text_form

    def insert_rows(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """The driver's executemany."""
        if not rows:
            return
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(['?'] * len(columns))})"
        conn.exec_driver_sql(sql, list(rows))

    def update_rows(
        self,
        conn: Connection,
        table: Table,
        set_columns: Sequence[str],
        key_columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        if not rows:
            return
        assigned = ", ".join(f"{c} = ?" for c in set_columns)
        matched = " AND ".join(f"{c} = ?" for c in key_columns)
        result = conn.exec_driver_sql(f"UPDATE {table.name} SET {assigned} WHERE {matched}", [tuple(r) for r in rows])
        _all_updated(table, result.rowcount, rows)

    def insert_new(
        self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], returning: str
    ) -> list[Any]:
        found: list[Any] = []
        if not rows:
            return found
        one = f"({', '.join(['?'] * len(columns))})"
        size = max(1, IN_CHUNK // len(columns))
        for start in range(0, len(rows), size):
            part = rows[start : start + size]
            result = conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {', '.join([one] * len(part))} "
                f"ON CONFLICT DO NOTHING RETURNING {returning}",
                tuple(v for row in part for v in row),
            )
            found.extend(r[0] for r in result)
        return found

    def allocate_ids(self, conn: Connection, table: Table, count: int) -> list[int]:
        """Writers hold the database lock (BEGIN IMMEDIATE), so the next ids after the current
        maximum are theirs."""
        if count <= 0:
            return []
        start = int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table.name}")).scalar_one()) + 1
        return list(range(start, start + count))


class PostgresDialect(Dialect):
    """The server engine (psycopg 3): row locks, arrays as parameters, COPY for bulk inserts."""

    name = "postgresql"
    row_lock = " FOR UPDATE"
    placeholder = "%s"
    # The ingest path's foreign keys: migration 0021 checks them once per INSERT statement (a trigger over
    # the statement's new rows, SQLSTATE 23503 under these names), and the referenced tables refuse DELETE
    # and re-keying; SQLite and Citus keep them as constraints (docs/architecture.md "Store").
    statement_checked_foreign_keys = frozenset(
        {
            "fk_postings_entry_id_journal_entries",
            "fk_postings_from_account_id_ledger_accounts",
            "fk_postings_to_account_id_ledger_accounts",
            "fk_journal_entries_scheme_id_schemes",
            "fk_journal_entries_chain_id_journal_chains",
            "fk_journal_entries_reverses_entry_id_journal_entries",
            "fk_events_partner_pk_partners",
            "fk_event_claims_partner_pk_partners",
        }
    )

    def create_engine(self, url: str, cache_mb: int = SQLITE_CACHE_MB) -> Engine:
        # prepare_threshold=None: every statement is planned with its real values; a cached generic
        # plan for "event_id IN (...)" chose a sequential scan as the table grew.
        parsed = parse_url(url)
        connect_args: dict[str, Any] = {"prepare_threshold": None}
        if "connect_timeout" not in parsed.query:
            # a server that is gone without refusing (a dead machine) must not hold a request for
            # ever: after this many seconds libpq tries the next host of a multi-host URL
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
        engine = create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=connect_args)
        self._translate_damage(engine)
        return engine

    def damage(self, error: BaseException) -> str | None:
        """SQLSTATE XX001 (data_corrupted) and XX002 (index_corrupted)."""
        original = getattr(error, "orig", None) or error
        if getattr(original, "sqlstate", None) in ("XX001", "XX002"):
            return integrity.first_line(original)
        return None

    def check_structure(self, conn: Connection) -> StructureCheck:
        return integrity.postgres_structure(conn)

    def schema_objects(self, conn: Connection) -> dict[str, str]:
        return integrity.postgres_objects(conn)

    def reference_objects(self, engine: Engine, migrate: Callable[[Connection], None]) -> dict[str, str]:
        """A new schema in the same database, inside one transaction that is rolled back: nothing stays.
        Needs CREATE on the database; a role without it (or migrations that cannot run in a scratch schema)
        gives ``NoReference`` with the server's words, and the caller says the comparison was skipped."""
        schema = f"tanhui_reference_{secrets.token_hex(6)}"
        with engine.connect() as conn:
            conn.info["tanhui_write"] = True
            transaction = conn.begin()
            try:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
                conn.exec_driver_sql(f"SET LOCAL search_path TO {schema}")
                migrate(conn)
                self._shape_reference(conn)
                return integrity.postgres_objects(conn, database_wide=False)
            except DBAPIError as error:
                raise integrity.NoReference(integrity.first_line(error)) from None
            finally:
                transaction.rollback()

    def _shape_reference(self, conn: Connection) -> None:  # noqa: B027 - a hook that does nothing unless an engine needs it
        """What this engine does to the migrated tables beyond the migrations (the reference schema gets it too)."""

    def begin_repeatable_read(self, conn: Connection) -> None:
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def refined(self, engine: Engine) -> Dialect:
        """A Citus coordinator (the extension installed) gets the Citus dialect (store/distribution.py)."""
        with engine.connect() as conn:
            citus = conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'citus'").first() is not None
        return CitusDialect() if citus else self

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        return f"{column} = ANY(%b)", (list(values),)  # binary, as fetch_in

    def lock_key(self, conn: Connection, key: str) -> None:
        # A transaction-level advisory lock: no row is written, nothing reaches the WAL.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(key.encode("utf-8")),))

    def for_update(self, query: Select[Any], of: Any = None) -> Select[Any]:
        return query.with_for_update() if of is None else query.with_for_update(of=of)

    def in_values(self, column: Any, values: Sequence[Any]) -> Any:
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))

    def insert_ignore(self, table: Table, index_elements: list[str] | None = None) -> Any:
        return pg_insert(table).on_conflict_do_nothing(index_elements=index_elements)

    def epoch_bucket(self, column: Any, seconds: int) -> Any:
        return literal_column(f"CAST(floor(extract(epoch FROM {column}) / {seconds}) AS BIGINT)")

    def fetch(self, conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with _pg_driver(conn).cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), tuple(params))
            return cursor.fetchall()

    def fetch_in(self, conn: Connection, sql: str, values: Sequence[Any], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if not values:
            return []
        # the list in binary (%b): psycopg's text form quotes each element through a regex, ~1 µs an
        # element, and a batch's turn sends ~15 elements per event (docs/benchmarks.md)
        return self.fetch(conn, sql.replace("{IN}", "= ANY(%b)"), (list(values), *params))

    def insert_rows(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """COPY: one round trip for the whole batch, in the unit of work's own transaction."""
        if not rows:
            return
        import psycopg

        raw = _pg_driver(conn)
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        try:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.IntegrityError as error:
            # The raw cursor bypasses SQLAlchemy's wrapping: callers retry a unique-key race on
            # the store's UniqueViolation (two servers crediting one trip), so raise that.
            raise IntegrityError(statement, None, error) from error
        except psycopg.errors.InternalError_ as error:
            # Citus's COPY reports a shard's constraint violation as XX000 with the original message.
            if "violates" in str(error) and "constraint" in str(error):
                raise IntegrityError(statement, None, error) from error
            raise

    def update_rows(
        self,
        conn: Connection,
        table: Table,
        set_columns: Sequence[str],
        key_columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        if not rows:
            return
        # One statement over one array per column: an executemany costs PostgreSQL a statement per row.
        # Keys are unique; callers lock the rows (in key order) before they update them.
        columns = [*set_columns, *key_columns]
        arrays = ", ".join(f"%b::{_pg_type(table, c)}[]" for c in columns)  # binary: as fetch_in
        names = ", ".join(f"v{i}" for i in range(len(columns)))
        assigned = ", ".join(f"{c} = v{i}" for i, c in enumerate(set_columns))
        matched = " AND ".join(f"{table.name}.{c} = v{len(set_columns) + i}" for i, c in enumerate(key_columns))
        # the first key column once more as a plain list: a distributed engine prunes to its shards
        first = key_columns[0]
        values = tuple([row[i] for row in rows] for i in range(len(columns)))
        result = conn.exec_driver_sql(
            f"UPDATE {table.name} SET {assigned} FROM unnest({arrays}) AS v({names}) WHERE {matched}"
            f" AND {table.name}.{first} = ANY(%b::{_pg_type(table, first)}[])",
            (*values, sorted(set(values[len(set_columns)]))),
        )
        _all_updated(table, result.rowcount, rows)

    def insert_new(
        self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], returning: str
    ) -> list[Any]:
        if not rows:
            return []
        # one array per column (in the rows' order): two parameters, not two per row; binary, as fetch_in
        arrays = ", ".join(f"%b::{_pg_type(table, c)}[]" for c in columns)
        result = conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT DO NOTHING RETURNING {returning}",
            tuple([row[i] for row in rows] for i in range(len(columns))),
        )
        return [r[0] for r in result]

    def allocate_ids(self, conn: Connection, table: Table, count: int) -> list[int]:
        """Drawn from the column's sequence."""
        if count <= 0:
            return []
        # through the driver: a batch draws ~1,000 ids, and SQLAlchemy's result rows cost more than the draw
        rows = self.fetch(
            conn, f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, ?)", (count,)
        )
        return sorted(int(r[0]) for r in rows)


def _all_updated(table: Table, rowcount: int, rows: Sequence[Sequence[Any]]) -> None:
    """A row the keys did not find (say a wrong person key) is a bug, never a silent no-op: a balance or a
    chain head would stay behind its postings."""
    if rowcount != len(rows):
        raise LookupError(f"{table.name}: {len(rows)} rows to update, {rowcount} found by their keys")


def _driver(conn: Connection) -> Any:
    """The driver's own connection (sqlite3 or psycopg) under the unit of work's connection."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection was closed")
    return raw


def _sqlite_driver(conn: Connection) -> sqlite3.Connection:
    # SQLAlchemy's sqlite backend runs on the standard library's sqlite3 driver (pysqlite)
    return cast("sqlite3.Connection", _driver(conn))


def _pg_driver(conn: Connection) -> psycopg.Connection[tuple[Any, ...]]:
    # parse_url routes every postgresql URL through psycopg 3, whose default rows are tuples
    return cast("psycopg.Connection[tuple[Any, ...]]", _driver(conn))


def _pg_type(table: Table, column: str) -> str:
    """The column's PostgreSQL type, as written in a cast (``BIGINT``, ``VARCHAR(48)``)."""
    from sqlalchemy.dialects import postgresql

    return str(table.c[column].type.compile(dialect=postgresql.dialect()))


class CitusDialect(PostgresDialect):
    """PostgreSQL with the Citus extension (store/distribution.py, store/citus.py): the same SQL, but
    rows on many shards are locked by an UPDATE that rewrites a column to itself (Citus refuses
    FOR UPDATE across shards), and a shard's constraint violation in COPY is still a UniqueViolation."""

    distributed = True
    statement_checked_foreign_keys = frozenset()  # Citus keeps them as constraints, co-located (store/citus.py)

    def _shape_reference(self, conn: Connection) -> None:
        """The keys the distribution plan reshapes (store/citus.py), without distributing anything."""
        from tanhui.store import citus  # citus imports the engine, which imports this module

        citus.reshape_for_reference(conn)

    def begin_write(self, conn: Connection) -> None:
        # A reference table (the catalog's stock, the registry) may be written after a statement on
        # many shards in the same transaction only when the shards are written over one connection
        # per node (Citus: "cannot modify table ... because there was a parallel operation").
        conn.exec_driver_sql("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")

    def lock_in(
        self,
        conn: Connection,
        table: str,
        columns: str,
        where: str,
        values: Sequence[Any],
        params: Sequence[Any] = (),
        *,
        touch: str,
    ) -> list[tuple[Any, ...]]:
        rows = self.fetch_in(conn, f"UPDATE {table} SET {touch} = {touch} WHERE {where} RETURNING {columns}", values, params)
        return sorted(rows, key=lambda r: r[0])
