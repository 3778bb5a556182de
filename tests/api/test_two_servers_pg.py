"""Two server processes on one PostgreSQL database: a batch sent to both is credited once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tanhui.store import Store
from tests.live import create_partner, own_binding_code

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # two live servers racing, like tests/reliability/test_races.py
WHEN = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


@pytest.fixture
def pg_url(pg_databases: Any) -> Any:
    url = pg_databases.create()
    yield url
    pg_databases.drop(url)


def test_the_same_batch_sent_to_two_servers_is_credited_once(pg_url: str, live_server_factory: Any) -> None:
    first = live_server_factory(pg_url)
    second = live_server_factory(pg_url, migrate_first=False)
    first.tanhui("scheme", "create", "city", "--name", "城市")
    on_first = create_partner(first, "city", "公交", "bus_ride")
    on_second = type(on_first)(second.base_url, on_first.partner_id, on_first.secret)
    for i in range(200):  # 5 rides each: under the bus cap of 8 a day
        assert on_first.consent(f"u{i}").status_code == 201
    batch = [
        {
            "event_id": f"e{i}",
            "user_ref": f"u{i % 200}",
            "scenario": "bus_ride",
            "occurred_at": WHEN,
            "data": {"trip_id": f"T{i}"},
        }
        for i in range(1000)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda p: p.events(batch), [on_first, on_second, on_first, on_second]))
    assert all(r.status_code == 200 for r in responses), [r.text[:300] for r in responses]
    credited = sum(r.json()["summary"]["credited"] for r in responses)
    duplicates = sum(r.json()["summary"]["duplicate"] for r in responses)
    assert credited == 1000 and duplicates == 3000
    store = Store(pg_url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 1000
            total = conn.execute(text("SELECT sum(balance) FROM ledger_accounts WHERE asset = 'CO2E' AND tracked")).scalar_one()
            assert total == 1000 * 80
    finally:
        store.dispose()
    assert first.tanhui("verify").returncode == 0
    on_first.close()
    on_second.close()


def test_two_partners_racing_on_the_same_trips_credit_each_trip_once(pg_url: str, live_server_factory: Any) -> None:
    first = live_server_factory(pg_url)
    second = live_server_factory(pg_url, migrate_first=False)
    first.tanhui("scheme", "create", "city", "--name", "城市")
    bus = create_partner(first, "city", "公交", "bus_ride")
    card = create_partner(first, "city", "交通卡", "bus_ride")
    card = type(card)(second.base_url, card.partner_id, card.secret)
    assert bus.consent("u1").status_code == 201
    token = bus.request("POST", "/v1/partner/accounts/u1/sessions").json()["token"]
    account_id = httpx.get(first.base_url + "/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["account_id"]
    code = own_binding_code(pg_url, account_id)
    assert card.consent("card-1", binding_code=code).status_code == 201

    # 40 rides over 5 days: 8 a day, just within the bus cap
    def batch(prefix: str, user_ref: str) -> list[dict[str, Any]]:
        return [
            {
                "event_id": f"{prefix}{i}",
                "user_ref": user_ref,
                "scenario": "bus_ride",
                "occurred_at": (datetime.now(UTC) - timedelta(days=i // 8, minutes=5 + i)).isoformat(),
                "data": {"trip_id": f"SHARED-{i}"},
            }
            for i in range(40)
        ]

    for round_ in range(3):  # several rounds: the race goes either way
        with ThreadPoolExecutor(max_workers=2) as pool:
            a, b = pool.map(
                lambda args: args[0].events(args[1]),
                [(bus, batch(f"b{round_}-", "u1")), (card, batch(f"c{round_}-", "card-1"))],
            )
        assert a.status_code == 200 and b.status_code == 200, (a.text[:300], b.text[:300])
        outcomes = [r["reason"] or r["status"] for r in a.json()["results"] + b.json()["results"]]
        if round_ == 0:
            assert outcomes.count("credited") == 40 and outcomes.count("duplicate_behaviour") == 40, outcomes
        else:
            assert outcomes.count("duplicate_behaviour") == 80, outcomes
    summary = bus.request("GET", "/v1/partner/accounts/u1").json()
    assert summary["carbon_g_total"] == 40 * 80 and summary["events_credited"] == 40
    assert first.tanhui("verify").returncode == 0
    bus.close()
    card.close()
