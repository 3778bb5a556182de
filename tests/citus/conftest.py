"""Databases on a Citus cluster (issue 15), when `TANHUI_TEST_CITUS_URL` names its coordinator.

Citus keeps its metadata per database, so each test gets a database of its own on every node, with
the extension created and the workers added; it is dropped afterwards. Without the variable the tests
skip with that reason (`./run test` sets it where Citus is installed and starts a local cluster).

Distributing the schema (`tanhui db upgrade`: ~45 tables, 32 shards each by default) takes ~20 s a database here,
so a test that only needs a migrated cluster gets a copy of one migrated per test process
(`CREATE DATABASE … TEMPLATE` on every node, under a second): the coordinator's metadata, the workers'
shards and the reference tables' copies are each copied on their own node, and shard names are per
database, so the copy is a cluster of its own. The upgrade itself is still tested on a fresh database
(test_distribution_on_citus.py), as are clusters of one worker (the rebalance).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

CITUS_URL = os.environ.get("TANHUI_TEST_CITUS_URL", "")
# Shards per distributed table in the tests' databases (Citus's default, and a deployment's, is 32). Routing,
# co-location, multi-shard statements and moving shards are the same code with 4; with 32, every
# statement over a scheme is 32 tasks and a database holds ~1,400 shards, which is most of a test's time.
SHARDS = 4


class CitusDatabases:
    def __init__(self, coordinator_url: str) -> None:
        self.coordinator = make_url(coordinator_url).set(drivername="postgresql+psycopg")
        admin = create_engine(self.coordinator, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            self.workers = [
                (str(h), int(p))
                for h, p in conn.execute(text("SELECT nodename, nodeport FROM pg_dist_node WHERE groupid > 0 ORDER BY nodeport"))
            ]
        admin.dispose()
        if not self.workers:
            raise RuntimeError(f"the coordinator at {coordinator_url} has no workers (citus_add_node)")
        self._template: str | None = None

    def _node(self, host: str, port: int, database: str) -> URL:
        return self.coordinator.set(host=host, port=port, database=database)

    def _run(self, url: URL, *statements: str) -> None:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for statement in statements:
                    conn.execute(text(statement))
        finally:
            engine.dispose()

    def _nodes(self) -> list[tuple[str, int]]:
        """The coordinator first: its sessions hold connections to the workers' copies."""
        return [(self.coordinator.host or "127.0.0.1", self.coordinator.port or 5432), *self.workers]

    def create(self, workers: int | None = None, *, migrated: bool = False, plain: bool = False) -> str:
        """A database on every node; the first ``workers`` of them (all by default) added to it.
        ``migrated``: a copy of this process's migrated, distributed template (all workers).
        ``plain``: the coordinator's database without the extension (a plain PostgreSQL database; the
        workers' have it), which ``add_citus`` makes a cluster later."""
        if migrated:
            assert workers is None, "the template has every worker"
            return self._copy(self._migrated_template())
        name = f"tanhui_citus_{uuid.uuid4().hex[:12]}"
        host, port = self._nodes()[0]
        for node_host, node_port in self._nodes():
            self._run(self._node(node_host, node_port, self.coordinator.database or "postgres"), f'CREATE DATABASE "{name}"')
            if not (plain and (node_host, node_port) == (host, port)):
                self._run(self._node(node_host, node_port, name), "CREATE EXTENSION IF NOT EXISTS citus")
        self._run(
            self._node(host, port, self.coordinator.database or "postgres"),
            f'ALTER DATABASE "{name}" SET citus.shard_count = {SHARDS}',
        )
        url = self._node(host, port, name).render_as_string(hide_password=False)
        return url if plain else self.add_citus(url, workers)

    def add_citus(self, url: str, workers: int | None = None) -> str:
        """The extension on the coordinator's database (if not there yet), the coordinator named and the
        first ``workers`` workers (all by default) added."""
        host, port = self._nodes()[0]
        coordinator = self._node(host, port, make_url(url).database or "")
        self._run(
            coordinator,
            "CREATE EXTENSION IF NOT EXISTS citus",
            f"SELECT citus_set_coordinator_host('{host}', {port})",
            *[f"SELECT citus_add_node('{h}', {p})" for h, p in self.workers[:workers]],
        )
        return coordinator.render_as_string(hide_password=False)

    def _migrated_template(self) -> str:
        if self._template is None:
            from tanhui.store import Store, migrate

            url = self.create()
            store = Store(url)
            migrate.upgrade(store)
            store.dispose()
            self._template = make_url(url).database
        return self._template

    def _copy(self, template: str) -> str:
        name = f"tanhui_citus_{uuid.uuid4().hex[:12]}"
        for host, port in self._nodes():
            admin = self._node(host, port, self.coordinator.database or "postgres")
            for attempt in range(20):
                # no session may be connected to a template: Citus's maintenance daemon and the coordinator's
                # cached connections to the workers are ended, and no new one may start meanwhile
                self._run(
                    admin,
                    f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS false',
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{template}'",
                )
                try:
                    self._run(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                    break
                except Exception as error:
                    if "being accessed by other users" not in str(error) or attempt == 19:
                        raise
                    time.sleep(0.2)
        host, port = self._nodes()[0]
        return self._node(host, port, name).render_as_string(hide_password=False)

    def close(self) -> None:
        if self._template is not None:
            self.drop(self._node(*self._nodes()[0], self._template).render_as_string(hide_password=False))

    def drop(self, url: str) -> None:
        name = make_url(url).database
        for node_host, node_port in reversed(self._nodes()):  # the workers first, the coordinator last
            self._run(
                self._node(node_host, node_port, self.coordinator.database or "postgres"),
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            )


@pytest.fixture(scope="session")
def citus_databases() -> Iterator[CitusDatabases]:
    if not CITUS_URL:
        pytest.skip(
            "TANHUI_TEST_CITUS_URL is not set: no Citus coordinator to test against (./run test starts one where Citus is installed)"
        )
    databases = CitusDatabases(CITUS_URL)
    yield databases
    databases.close()


@pytest.fixture
def citus_url(citus_databases: CitusDatabases) -> Iterator[str]:
    """A migrated, distributed database of the test's own."""
    url = citus_databases.create(migrated=True)
    yield url
    citus_databases.drop(url)


@pytest.fixture(scope="session")
def citus_shared_store(citus_databases: CitusDatabases) -> Iterator[Any]:
    """One migrated, distributed database for the session, as `pg_shared_store` is on PostgreSQL: the
    suites run here keep apart by unique scheme ids, so one plan application serves them all."""
    from tanhui.store import Store, migrate

    url = citus_databases.create(migrated=True)
    store = Store(url)
    assert migrate.upgrade(store) == []  # the copy is of a migrated, distributed database
    yield store
    store.dispose()
    citus_databases.drop(url)


def adopt(namespace: dict[str, Any], *modules: ModuleType) -> None:
    """Collect other suites' test functions into a module of tests/citus, where that module's fixtures
    (`store`, `pg_shared_store`, `fresh_store_url`) bind them to the cluster: the same tests, unchanged,
    on a third engine. Names get the source module's as a prefix, so two suites' tests cannot collide."""
    for module in modules:
        short = module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
        for name, value in vars(module).items():
            if name.startswith("test_") and callable(value) and getattr(value, "__module__", "") == module.__name__:
                namespace[f"test_{short}__{name.removeprefix('test_')}"] = value
            elif type(value).__name__ == "FixtureFunctionDefinition" and name not in namespace:
                namespace[name] = value  # the suite's own fixtures (its builders), bound to this module's store
