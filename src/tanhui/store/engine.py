"""Engine set-up: SQLite pragmas and immediate write transactions; PostgreSQL via psycopg 3."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tanhui.config import Settings
from tanhui.errors import InvalidInput, TanhuiError
from tanhui.store.dialect import Dialect

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and route them through psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


SQLITE_CACHE_MB = 200  # page cache per connection: hot indexes stay in memory


def _make_engine(url: str, sqlite_cache_mb: int = SQLITE_CACHE_MB) -> Engine:
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise InvalidInput("invalid_database_url", url=url) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine, sqlite_cache_mb)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # prepare_threshold=None: every statement is planned with its real values; a cached generic
        # plan for "event_id IN (...)" chose a sequential scan as the table grew.
        return create_engine(
            parsed, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args={"prepare_threshold": None}
        )
    raise InvalidInput("invalid_database_url", url=url)


def _configure_sqlite(engine: Engine, cache_mb: int) -> None:
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


class Store:
    """The engine plus the dialect; hands out units of work."""

    def __init__(self, url: str, *, sqlite_cache_mb: int = SQLITE_CACHE_MB) -> None:
        self.url = normalise_url(url)
        self.engine = _make_engine(url, sqlite_cache_mb)
        self.dialect = Dialect(self.engine.dialect.name)

    @contextmanager
    def unit_of_work(self, write: bool = True, isolation: str | None = None) -> Iterator["UnitOfWork"]:
        """One transaction. ``isolation="repeatable_read"`` gives one consistent snapshot for long
        reads (verifiers) on PostgreSQL; SQLite's transactions are already serialisable snapshots."""
        from tanhui.store.uow import UnitOfWork

        if isolation not in (None, "repeatable_read"):
            raise ValueError(f"unknown isolation level {isolation!r}")
        with self.engine.connect() as conn:
            conn.info["tanhui_write"] = write
            try:
                with conn.begin():
                    if isolation == "repeatable_read" and self.dialect.is_postgresql:
                        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    yield UnitOfWork(conn, self.dialect)
            finally:
                conn.info.pop("tanhui_write", None)

    def is_initialised(self) -> bool:
        return inspect(self.engine).has_table("journal_entries")

    def require_initialised(self) -> None:
        if not self.is_initialised():
            raise TanhuiError("database_not_initialised")

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None) -> Store:
    return Store(url or Settings.from_env().database_url)


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True) if url else os.devnull
