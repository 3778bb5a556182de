"""Backup and restore of the embedded SQLite database (PostgreSQL: pg_dump / pg_restore, see docs).

Backup uses SQLite's online backup API in one step: it reads one consistent snapshot while the
server keeps writing (WAL mode lets writers go on), into a temporary file beside the target that is
renamed into place only when complete.

Restore never touches the live file until the copy has passed every check: it is an SQLite file,
it carries Tanhui's schema at a revision this version knows, ``PRAGMA integrity_check`` is clean,
its schema objects (tables, indexes, triggers, views) are exactly those the migrations create at
that revision (a trigger slipped into a backup would otherwise run in production: issue 18, finding
8), older revisions are then upgraded on the copy, and the ledger verifies (hash chains, balances,
zero sums). Then the copy replaces the configured file with one atomic ``os.replace``.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tanhui.errors import ServiceUnavailable, TanhuiError
from tanhui.store import Store, embedded_file, migrate, server_address

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30


@dataclass(frozen=True, slots=True)
class DatabaseSummary:
    path: str
    size_bytes: int
    tables: int
    journal_entries: int
    events: int
    revision: str | None


@dataclass(frozen=True, slots=True)
class RestoreReport:
    summary: DatabaseSummary
    upgraded_from: str | None
    chains: int
    entries: int
    postings: int


def sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite URL; None for any other engine."""
    database = embedded_file(url)
    if database is None:
        return None
    if not database or database == ":memory:":
        raise TanhuiError("backup_source_missing", path=database or ":memory:")
    return Path(database)


def pg_dump_command(url: str, out: str) -> str:
    """The documented pg_dump invocation for this database (the password is never printed)."""
    return f"pg_dump --format=custom --no-owner --file={shlex.quote(out)} {shlex.quote(server_address(url))}"


def pg_restore_command(url: str, dump: str) -> str:
    target = server_address(url)
    return f"pg_restore --no-owner --clean --if-exists --exit-on-error --dbname={shlex.quote(target)} {shlex.quote(dump)}"


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def summarise(path: Path) -> DatabaseSummary:
    with _connect(path) as conn:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchone()[
            0
        ]
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        entries = conn.execute("SELECT count(*) FROM journal_entries").fetchone()[0] if "journal_entries" in names else 0
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0] if "events" in names else 0
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] if "alembic_version" in names else None
    return DatabaseSummary(str(path), path.stat().st_size, int(tables), int(entries), int(events), revision)


def _fsync_dir(directory: Path) -> None:
    with suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _copy(source: Path, directory: Path, prefix: str) -> Path:
    """An online backup of `source` into a new temporary file in `directory` (one snapshot, one file)."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    os.close(fd)
    temp = Path(name)
    try:
        with _connect(source) as src, _connect(temp) as dst:
            src.backup(dst)  # pages=-1: the whole database in one step, from one read snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file: no -wal beside it
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        return temp
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def backup(database_url: str, out: Path, force: bool = False) -> DatabaseSummary:
    source = sqlite_path(database_url)
    if source is None:
        raise TanhuiError("backup_needs_sqlite")
    if not source.is_file():
        raise TanhuiError("backup_source_missing", path=str(source))
    out = out.resolve()
    if out.exists() and not force:
        raise TanhuiError("backup_target_exists", path=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = _copy(source, out.parent, f".{out.name}.")
    try:
        os.replace(temp, out)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(out.parent)
    return summarise(out)


def _check_backup(path: Path) -> str | None:
    """The schema revision of a file that looks like a Tanhui database; raises otherwise."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise TanhuiError("restore_not_tanhui", path=str(path), reason=error.strerror or "unreadable") from None
    if magic != SQLITE_MAGIC:
        raise TanhuiError("restore_not_tanhui", path=str(path), reason="not an SQLite file")
    try:
        with _connect(path) as conn:
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = sorted({"alembic_version", "journal_entries", "postings", "ledger_accounts"} - names)
            if missing:
                raise TanhuiError("restore_not_tanhui", path=str(path), reason="no table " + ", ".join(missing))
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as error:
        raise TanhuiError("restore_not_tanhui", path=str(path), reason=str(error)) from None
    return str(row[0]) if row else None


def restore(database_url: str, source: Path, force: bool = False) -> RestoreReport:
    from tanhui.services import ledger as ledger_service

    target = sqlite_path(database_url)
    if target is None:
        raise TanhuiError("restore_needs_sqlite")
    source = source.resolve()
    if not source.is_file():
        raise TanhuiError("restore_not_tanhui", path=str(source), reason="no such file")
    target = target.resolve()
    if target.exists() and not force:
        raise TanhuiError("restore_target_exists", path=str(target))
    revision = _check_backup(source)
    if revision is None or not migrate.known_revision(revision):
        raise TanhuiError("restore_unknown_revision", path=str(source), revision=revision)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _copy(source, target.parent, f".{target.name}.restore.")
    try:
        store = Store(f"sqlite:///{temp}")
        try:
            _check_copy(store, revision)
            upgraded_from = None
            if migrate.current(store) != migrate.head():
                upgraded_from = revision
                migrate.upgrade(store)
            report = ledger_service.verify(store)
            if not report.ok:
                raise TanhuiError("restore_verify_failed", problem=report.problems[0])
        finally:
            store.dispose()
        with _connect(temp) as conn:  # the checks ran in WAL mode: fold it back into one file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        if target.exists():
            _quiesce(target)
        os.replace(temp, target)
        for suffix in ("-wal", "-shm", "-journal"):  # the old file's side files would be replayed onto the new one
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        _fsync_dir(target.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{temp}{suffix}").unlink(missing_ok=True)
        raise
    return RestoreReport(summarise(target), upgraded_from, report.chains, report.entries, report.postings)


def _check_copy(store: Store, revision: str) -> None:
    """The copy's pages, indexes and tables agree, and its schema objects are the migrations' at its own
    revision (before any upgrade runs on it): else one line naming the first problem."""
    try:
        structure = store.check_structure()
    except ServiceUnavailable as error:
        raise TanhuiError("restore_verify_failed", problem=f"integrity_check: {error.params.get('problem')}") from None
    if not structure.ok:
        raise TanhuiError("restore_verify_failed", problem=f"integrity_check: {structure.problems[0]}")
    differences, skipped = migrate.schema_differences(store, revision)
    if skipped is not None:  # a backup that cannot be compared is not restored
        raise TanhuiError("restore_verify_failed", problem=skipped)
    if differences:
        more = f"; {len(differences) - 1} more" if len(differences) > 1 else ""
        problem = f"schema object {differences[0]} is not as the migrations create it at revision {revision}{more}"
        raise TanhuiError("restore_verify_failed", problem=problem)


def _quiesce(target: Path) -> None:
    """Fold the old file's WAL into it and make sure nobody is writing (else refuse)."""
    try:
        with _connect(target) as conn:
            conn.execute("PRAGMA busy_timeout=2000")
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                raise TanhuiError("restore_target_busy", path=str(target))
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("ROLLBACK")
    except sqlite3.OperationalError:
        raise TanhuiError("restore_target_busy", path=str(target)) from None
    except sqlite3.DatabaseError:
        return  # the old file is not a database at all: nothing to fold in, replace it
