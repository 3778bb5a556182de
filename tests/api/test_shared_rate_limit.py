"""Two `tanhui serve` processes on one database share a partner's request budget (issue 15)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.live import create_partner

pytestmark = pytest.mark.slow  # two live servers


def test_a_burst_over_two_servers_gets_the_configured_budget_in_total(live_server_factory: Any, fresh_store_url: str) -> None:
    env = {"TANHUI_PARTNER_RATE_PER_MINUTE": "60"}  # one a second, bursts of 10
    first = live_server_factory(fresh_store_url, env=env)
    second = live_server_factory(fresh_store_url, env=env, migrate_first=False)
    first.tanhui("scheme", "create", "city", "--name", "城市")
    on_first = create_partner(first, "city", "公交", "bus_ride")
    on_second = type(on_first)(second.base_url, on_first.partner_id, on_first.secret)
    started = time.monotonic()
    statuses = [(on_first if i % 2 == 0 else on_second).request("GET", "/v1/partner/accounts/u1").status_code for i in range(40)]
    elapsed = time.monotonic() - started
    allowed = sum(1 for s in statuses if s != 429)
    assert set(statuses) <= {404, 429}, statuses  # u1 has no link: 404 once past the limit
    # 10 at once plus one a second refilled while the burst was sent; per-process buckets allowed 20 or more.
    assert 10 <= allowed <= 10 + int(elapsed) + 1, (allowed, elapsed, statuses)
    assert statuses[-1] == 429
    by_server = {server: sum(1 for i, s in enumerate(statuses) if s != 429 and i % 2 == server) for server in (0, 1)}
    assert by_server[0] > 0 and by_server[1] > 0  # both processes spent from the one budget
    on_first.close()
    on_second.close()
