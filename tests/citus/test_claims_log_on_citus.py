"""The claims log's services on Citus: the log and the peers' log state on the coordinator, the claims
distributed by fingerprint (issue 16 part 2). Two of tests/interop/test_claims_log_services.py's
tests, unchanged: catch-up across pages, and concurrent sequencers (the coordinator's lock). Each makes
two distributed databases; the rest of that suite runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.interop.test_claims_log_services import (  # noqa: F401 - collected here with this module's `new_url`
    Platform,
    platforms,
    test_a_peer_is_pulled_caught_up_and_never_doubled,
    test_concurrent_sequencers_give_one_gapless_log,
)

pytestmark = pytest.mark.slow


@pytest.fixture(params=["citus"])
def new_url(citus_databases: Any) -> Iterator[Callable[[str], str]]:
    made: list[str] = []

    def make(name: str) -> str:
        url: str = citus_databases.create()
        made.append(url)
        return url

    yield make
    for url in made:
        citus_databases.drop(url)
