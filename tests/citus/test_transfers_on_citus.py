"""Credit transfer between two registries with both on Citus (issue 15's distributed store): the
services suite of tests/interop/test_transfers_services.py, unchanged, on two distributed databases
(the transfer tables are reference tables, like the rest of the registry)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tanhui.store import Store, migrate
from tests.interop import test_transfers_services as suite
from tests.interop.test_transfers_services import Pair, build_pair

test_transfer_escrows_mints_once_and_settles = suite.test_transfer_escrows_mints_once_and_settles
# (the refusal and forgery tests exercise the same tables on SQLite and PostgreSQL; two distributed
# databases per test cost ~20 s here)


@pytest.fixture
def pair(citus_databases: Any, tmp_path: Path) -> Iterator[Pair]:
    urls = [citus_databases.create(), citus_databases.create()]
    stores = [Store(u) for u in urls]
    try:
        for s in stores:
            migrate.upgrade(s)
        yield build_pair(stores[0], stores[1], tmp_path)
    finally:
        for s in stores:
            s.dispose()
        for u in urls:
            for attempt in range(5):  # Citus's maintenance daemon may still hold a session for a moment
                try:
                    citus_databases.drop(u)
                    break
                except Exception:
                    if attempt == 4:
                        raise
                    time.sleep(1)
