"""The interconnection suites' store: a deployment of its own, migrated, on SQLite and on PostgreSQL
(a platform has one identity, so the shared PostgreSQL store of tests/conftest.py cannot serve)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tanhui.store import Store, migrate


@pytest.fixture
def store(fresh_store_url: str) -> Iterator[Store]:
    store = Store(fresh_store_url)
    migrate.upgrade(store)
    yield store
    store.dispose()
