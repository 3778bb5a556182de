"""Shared fixtures: a fresh store on SQLite and on a real PostgreSQL server.

PostgreSQL tests create their own database and drop it afterwards. Where no server answers, they
skip with the reason, except in CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tanhui.store import Store, migrate


def _suite_secret_key() -> None:
    """One key file for the run (tanhui.secretbox): a PostgreSQL database has no default key, and every
    process of a test (this one, `tanhui serve`, the CLI) must seal and open with the same key.
    Tests of the key handling itself set or clear these variables for their own processes."""
    if os.environ.get("TANHUI_SECRET_KEY") or os.environ.get("TANHUI_SECRET_KEY_FILE"):
        return
    from tanhui import secretbox

    folder = Path(tempfile.mkdtemp(prefix="tanhui-test-key-"))
    atexit.register(shutil.rmtree, folder, True)
    secretbox.write_key_file(folder / "secret.key", [secretbox.new_key_text()], replace=False)
    os.environ["TANHUI_SECRET_KEY_FILE"] = str(folder / "secret.key")


_suite_secret_key()

PG_ADMIN_URL = os.environ.get("TANHUI_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
_pg_problem: list[str] = []


def _pg_reachable() -> str | None:
    """None when the server answers, else why not (remembered for the session)."""
    if _pg_problem:
        return _pg_problem[0] or None
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        _pg_problem.append("")
    except Exception as error:  # any failure to connect means "no server here"
        _pg_problem.append(
            f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(error).__name__}); "
            "set TANHUI_TEST_PG_ADMIN_URL to run these tests"
        )
    return _pg_problem[0] or None


def require_postgres() -> None:
    problem = _pg_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)


class PgDatabases:
    """Creates throw-away databases on the server and drops them with FORCE at the end."""

    def __init__(self) -> None:
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []
        self._template: str | None = None

    def create(self) -> str:
        name = f"tanhui_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def create_from(self, url: str) -> str:
        """A copy of the database at ``url``, made file by file from disk (STRATEGY FILE_COPY), not through the
        server's buffers: a test that changed a file on disk reads its change in the copy."""
        name = f"tanhui_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(url).database}" STRATEGY FILE_COPY'))
        self.created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def migrated_template(self) -> str:
        """A database this process migrated once and never connects to again: the template of `replace_with_migrated`."""
        if self._template is None:
            url = self.create()
            template = Store(url)
            migrate.upgrade(template)
            template.dispose()
            self._template = make_url(url).database
        return self._template

    def replace_with_migrated(self, url: str) -> None:
        """The empty database at ``url`` made again, under its name, as a copy of the migrated template
        (a fraction of a second; running the migrations takes seconds here)."""
        name, template = make_url(url).database, self.migrated_template()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    require_postgres()
    databases = PgDatabases()
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def pg_shared_store(pg_databases: PgDatabases) -> Iterator[Store]:
    """One migrated PostgreSQL database for the session; tests keep apart by unique scheme ids."""
    store = Store(pg_databases.create())
    migrate.upgrade(store)
    yield store
    store.dispose()


_MIGRATED_SQLITE: list[Path] = []


def new_sqlite_store(path: Path) -> Store:
    """A migrated SQLite database at ``path``: a copy of one this process migrated once (the migrations
    take ~0.6 s of CPU, and a few hundred tests each want a fresh file; the copy is byte for byte what
    the migrations wrote, with the engine's connections closed so nothing is left in a -wal file)."""
    if not _MIGRATED_SQLITE:
        folder = Path(tempfile.mkdtemp(prefix="tanhui-test-sqlite-"))
        atexit.register(shutil.rmtree, folder, True)
        template = Store(f"sqlite:///{folder / 'migrated.db'}")
        migrate.upgrade(template)
        template.dispose()
        _MIGRATED_SQLITE.append(folder / "migrated.db")
    shutil.copyfile(_MIGRATED_SQLITE[0], path)
    return Store(f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on each engine. SQLite: a fresh file; PostgreSQL: the session database."""
    if request.param == "sqlite":
        store = new_sqlite_store(tmp_path / "tanhui.db")
        yield store
        store.dispose()
    else:
        yield request.getfixturevalue("pg_shared_store")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of its own (for CLI runs and tests that damage the database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tanhui.db'}"
    else:
        databases: PgDatabases = request.getfixturevalue("pg_databases")
        url = databases.create()
        yield url
        databases.drop(url)


@pytest.fixture
def scheme_id() -> str:
    """A scheme id no other test uses (the PostgreSQL database is shared within a session)."""
    return f"s{uuid.uuid4().hex[:12]}"


def _migrate_fast(request: pytest.FixtureRequest, database_url: str) -> bool:
    """Make an empty test database migrated without running the migrations again, where that is
    possible: a SQLite file that does not exist yet becomes a copy of this process's migrated file, an
    empty database of this run's PostgreSQL server a copy of its migrated template. Each copy is what
    `tanhui db upgrade` writes (the upgrade itself is tested on empty databases in tests/cli); the
    command costs seconds a server here, the copy a fraction of one. False: not such a database."""
    try:
        url = make_url(database_url)
    except ValueError:  # a URL SQLAlchemy cannot read, such as libpq's several hosts (the failover test)
        return False
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or path.exists():
            return False
        new_sqlite_store(path).dispose()
        return True
    admin = make_url(PG_ADMIN_URL)
    if (
        url.get_backend_name() != "postgresql"
        or (url.host, url.port) != (admin.host, admin.port)
        or not (url.database or "").startswith("tanhui_test_")
    ):
        return False
    engine = create_engine(url.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            empty = not conn.execute(
                text("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")
            ).scalar()
    finally:
        engine.dispose()
    if empty:
        request.getfixturevalue("pg_databases").replace_with_migrated(database_url)
    return empty


@pytest.fixture
def live_server_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Start real servers (separate processes) on a database URL; all stopped at teardown."""
    from tests.live import LiveServer, cli

    started: list[LiveServer] = []

    def start(database_url: str, *, migrate_first: bool = True, **options: Any) -> LiveServer:
        if migrate_first and not _migrate_fast(request, database_url):
            cli(database_url, "db", "upgrade")
        server = LiveServer(database_url, tmp_path / f"server-{len(started)}.log", **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live(live_server_factory: Any, fresh_store_url: str) -> Any:
    """A real server on a fresh database of each engine."""
    return live_server_factory(fresh_store_url)
