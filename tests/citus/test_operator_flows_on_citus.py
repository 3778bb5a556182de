"""The operator's side of issue 17 on a Citus coordinator: the dashboard's figures against the source rows,
the review queue (accepting an implausible report credits it through the ledger; a rejection confirmed),
order fulfilment and erasure with an order awaiting shipment, and a person's history in time order. The
same test functions as tests/web, with `live` bound to a server on a Citus database."""

from __future__ import annotations

from typing import Any

import pytest

from tests.live import LiveServer
from tests.web.test_dashboard import (  # noqa: F401 - collected here with this module's `live`
    busy,
    test_a_chosen_period_says_what_its_figures_cover,
    test_the_default_dashboard_is_the_last_30_complete_days_and_equals_the_store,
)
from tests.web.test_lists import test_a_persons_history_keeps_a_day_in_time_order  # noqa: F401
from tests.web.test_order_pages import (  # noqa: F401
    test_ship_deliver_and_cancel_from_the_dashboard,
    test_the_delete_page_says_what_happens_to_orders_and_points,
)
from tests.web.test_review_pages import (  # noqa: F401
    test_an_operator_accepts_and_confirms_and_the_audit_log_names_them,
    test_the_queue_pages_by_fifty_with_its_total,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def live(live_server_factory: Any, citus_url: str) -> LiveServer:
    server: LiveServer = live_server_factory(citus_url)
    return server


def test_verify_after_the_operators_flows(live: LiveServer, busy: Any) -> None:  # noqa: F811
    """The review and fulfilment flows above leave a ledger and counters `tanhui verify` accepts."""
    import json

    from tests.web.test_review_pages import test_an_operator_accepts_and_confirms_and_the_audit_log_names_them as flow

    flow(busy)
    assert json.loads(live.tanhui("verify", "--json").stdout)["ok"] is True
