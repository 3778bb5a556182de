"""The store's entry point: ``Store`` owns the engine and its dialect, and hands out units of work."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from sqlalchemy import inspect

from tanhui.config import Settings
from tanhui.errors import ServiceUnavailable, TanhuiError
from tanhui.store.dialect import SQLITE_CACHE_MB, dialect_for, normalise_url, parse_url, several_hosts
from tanhui.store.integrity import StructureCheck

if TYPE_CHECKING:
    from tanhui.store.uow import UnitOfWork

ISOLATION_LEVELS = (None, "repeatable_read")


class Store:
    """The engine plus the dialect (chosen once, from the URL); hands out units of work."""

    def __init__(self, url: str, *, sqlite_cache_mb: int = SQLITE_CACHE_MB) -> None:
        self.url = normalise_url(url)
        self.dialect = dialect_for(url)
        self.engine = self.dialect.create_engine(self.url, sqlite_cache_mb)
        self._probed = False

    def refine(self) -> None:
        """Once, on first use: the dialect for what the server is (a Citus coordinator: store/distribution.py)."""
        if not self._probed:
            self.dialect = self.dialect.refined(self.engine)
            self._probed = True

    @contextmanager
    def unit_of_work(self, write: bool = True, isolation: str | None = None) -> Iterator[UnitOfWork]:
        """One transaction, committed only if the ``with`` block completes.

        The rule: the transaction commits when the block's body runs to its end (or leaves it by
        ``return``/``break``); any exception raised in it, including ``BaseException`` such as
        ``KeyboardInterrupt`` or the ``GeneratorExit`` of an abandoned generator, rolls everything
        back, and nothing the block wrote is kept. A service that catches an error inside the block
        and carries on still commits what it wrote.

        ``write=False`` opens a read transaction (SQLite: a deferred BEGIN that takes no write lock).
        ``isolation="repeatable_read"`` gives one consistent snapshot for long reads (verifiers);
        the dialect sets it up where the engine needs it.
        """
        from tanhui.store.uow import UnitOfWork

        if isolation not in ISOLATION_LEVELS:
            raise ValueError(f"unknown isolation level {isolation!r}")
        self.refine()
        with self.engine.connect() as conn:
            conn.info["tanhui_write"] = write
            try:
                transaction = conn.begin()
                completed = False
                try:
                    if isolation == "repeatable_read":
                        self.dialect.begin_repeatable_read(conn)
                    if write:
                        self.dialect.begin_write(conn)
                    try:
                        yield UnitOfWork(conn, self.dialect)
                    except Exception as error:
                        # the hot path reads through the driver's own cursor, past the engine's translation
                        problem = self.dialect.damage(error)
                        if problem is not None:
                            raise ServiceUnavailable("database_damaged", problem=problem) from error
                        raise
                    completed = True  # reached only when the with-body finished without an exception
                finally:
                    if completed:
                        transaction.commit()
                    elif transaction.is_active:
                        transaction.rollback()
            finally:
                conn.info.pop("tanhui_write", None)

    def check_structure(self) -> StructureCheck:
        """The engine's own check that pages, indexes and tables agree (store/integrity.py). Reads the whole
        database; raises ``ServiceUnavailable("database_damaged")`` when the file cannot even be read as one."""
        self.refine()
        with self.engine.connect() as conn, conn.begin():
            return self.dialect.check_structure(conn)

    def quick_check(self) -> tuple[str, ...]:
        """What a cheaper structural check (readiness) found wrong; ``()`` when nothing, or on an engine without one."""
        self.refine()
        return self.dialect.quick_check(self.engine)

    def schema_objects(self) -> dict[str, str]:
        """The database's schema objects, "kind name" -> definition (compare with ``migrate.reference_objects``)."""
        self.refine()
        with self.engine.connect() as conn, conn.begin():
            return self.dialect.schema_objects(conn)

    def truncate_log(self) -> None:
        """After an erasure has committed: no old page image stays in the embedded engine's log."""
        self.dialect.truncate_log(self.engine)

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
    return parse_url(url).render_as_string(hide_password=True) if url else os.devnull


def server_address(url: str) -> str:
    """The URL as libpq tools (pg_dump, pg_restore) take it, without the password; several hosts are
    written libpq's way (``user@h1:5432,h2:5432/db``)."""
    parsed = parse_url(url).set(drivername="postgresql")
    hosts = several_hosts(parsed)
    if not hosts:
        return parsed.render_as_string(hide_password=True).replace(":***@", "@")
    rest = parsed.difference_update_query(["host"])
    user = quote(rest.username, safe="") + "@" if rest.username else ""
    query = urlencode([(k, v) for k, values in rest.query.items() for v in ((values,) if isinstance(values, str) else values)])
    return f"postgresql://{user}{','.join(hosts)}/{quote(rest.database or '', safe='')}" + (f"?{query}" if query else "")
