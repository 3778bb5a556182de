"""The federation's ingest and race suites (issue 16 part 2) on Citus: each test a distributed
database of its own (a deployment has one identity), the same test functions as on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.citus.conftest import adopt
from tests.interop import test_federation_ingest, test_federation_races

pytestmark = pytest.mark.slow


@pytest.fixture
def fresh_store_url(citus_url: str) -> str:
    return citus_url


adopt(globals(), test_federation_ingest, test_federation_races)
