"""The black-box partner and market flows, unchanged, against a Citus coordinator (issue 15).

The same test functions as tests/api run here with `live` bound to a server on a Citus database:
`tanhui db upgrade` on the coordinator, partner signing, consent, batches, replays, sessions, a second
partner, check-in, order and cancel, then `tanhui verify`. What Citus changes must not change what a
partner or a person sees.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from tanhui.store import Store
from tests.api.test_ingestion_http import (  # noqa: F401 - collected here with this module's `live`
    test_security_answers_and_nothing_written,
    test_sessions_binding_codes_and_a_second_partner,
    test_the_whole_flow,
)
from tests.api.test_market_http import test_earn_check_in_order_cancel  # noqa: F401
from tests.live import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture
def live(live_server_factory: Any, citus_url: str) -> LiveServer:
    server: LiveServer = live_server_factory(citus_url)
    return server


def test_the_database_is_a_citus_coordinator_with_workers(live: LiveServer) -> None:
    store = Store(live.database_url)
    try:
        with store.engine.connect() as conn:
            version = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'citus'")).scalar_one()
            workers = conn.execute(text("SELECT count(*) FROM pg_dist_node WHERE groupid > 0")).scalar_one()
    finally:
        store.dispose()
    assert version.startswith("13.") and workers >= 2
    assert json.loads(live.tanhui("verify", "--json").stdout)["ok"] is True
