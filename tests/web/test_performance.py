"""Pages render well under 200 ms at the demo's size: 2,000 people and ~100,000 events, populated
through the real services (scheme file, partner, consents, the ingest pipeline).

Timed over HTTP against a live server on SQLite: p95 of 20 requests per page below the bound (a page
over it is timed once more and keeps the better p95: the test suite's other worker shares the cores).
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tanhui.services import consent, engagement, ingest, organisations, partners
from tanhui.store import Store
from tests.web.helpers import build_city, csrf_of, fund, operator, web_login

PEOPLE = 2000
EVENTS_PER_PERSON = 50  # 100,000 events
P95_MAX_MS = 200.0
IMAGE_P95_MAX_MS = 500.0  # the annual report's poster: ~30 lines of CJK text rasterised and a PNG encoded
REQUESTS = 20
pytestmark = pytest.mark.slow


def populate(store: Store, tmp: Path) -> tuple[list[int], list[str]]:
    city = build_city(store, tmp, "luzhou", people=1, days=1)
    partner = partners.create_partner(
        store, "luzhou", "城市出行一卡通", ["bus_ride", "metro_ride", "walking", "clean_plate", "cycling"]
    )
    row = partner.partner
    now = datetime.now(UTC)
    accounts: list[int] = []
    for i in range(PEOPLE):
        _, view = consent.grant(
            store,
            row,
            f"perf-consent-{i:06d}",
            {
                "user_ref": f"p{i}",
                "scopes": ["behaviour:report"],
                "granted_at": (now - timedelta(days=8)).isoformat(),
                "display_name": f"居民{i}",
            },
        )
        accounts.append(int(view["account_id"]))
    scenarios = [
        ("bus_ride", lambda i, d, k: {"distance_km": "5", "trip_id": f"b{i}-{d}-{k}"}),
        ("metro_ride", lambda i, d, k: {"distance_km": "9", "trip_id": f"m{i}-{d}-{k}"}),
        ("clean_plate", lambda i, d, k: {"meal": ("breakfast", "lunch", "dinner")[k % 3], "order_id": f"c{i}-{d}-{k}"}),
        ("cycling", lambda i, d, k: {"distance_km": "3.2", "trip_id": f"y{i}-{d}-{k}"}),
        ("walking", lambda i, d, k: {"steps": 6000 + i % 5000}),
    ]
    batch: list[dict[str, Any]] = []
    for i in range(PEOPLE):
        n = 0
        for d in range(7):
            when = (now - timedelta(days=d, hours=2)).isoformat()
            for s, (scenario, data) in enumerate(scenarios):
                for k in range(2 if scenario != "walking" else 1):
                    if n >= EVENTS_PER_PERSON:
                        break
                    batch.append(
                        {
                            "event_id": f"e{i}-{d}-{s}-{k}",
                            "user_ref": f"p{i}",
                            "scenario": scenario,
                            "occurred_at": when,
                            "data": data(i, d, k),
                        }
                    )
                    n += 1
            if len(batch) >= 1000:
                ingest.ingest_events(store, row, batch)
                batch = []
    if batch:
        ingest.ingest_events(store, row, batch)
    engagement.checkin_many(store, [(a, now) for a in accounts[:500]])
    for n, account_id in enumerate(accounts):
        organisations.join(store, account_id, city.orgs[n % 2].invite_code)
    return accounts, [o.public_id for o in city.orgs]


def p95_ms(client: httpx.Client, path: str) -> float:
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.quantiles(times, n=20)[-1]


def test_main_pages_are_fast_at_the_demos_size(
    live_server_factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'perf.db'}"
    live = live_server_factory(url)
    store = Store(url)
    try:
        people, orgs = populate(store, tmp_path)
        with store.unit_of_work(write=False) as uow:
            from sqlalchemy import func, select

            from tanhui.store.schema import events

            assert uow.conn.execute(select(func.count()).select_from(events)).scalar_one() >= 100_000
        someone = people[123]
        fund(store, "luzhou", someone, 2000)
        operator(store, "luzhou", "ops-perf")
        person = httpx.Client(base_url=live.base_url, timeout=60)
        ops = httpx.Client(base_url=live.base_url, timeout=60)
        try:
            person.get(web_login(store, someone), follow_redirects=True)
            event = re.findall(r'href="/me/events/(\d+)"', person.get("/me").text)[0]
            ops.post(
                "/admin/login",
                data={"csrf": csrf_of(ops.get("/admin/login").text), "username": "ops-perf", "password": "correct-horse-9"},
            )
            pages = {
                "/me": person,
                "/me/history": person,
                f"/me/events/{event}": person,
                "/market": person,
                "/me/orders": person,
                "/me/points": person,
                "/me/checkins": person,
                "/me/report": person,
                "/orgs": person,
                f"/orgs/{orgs[0]}": person,
                "/admin/schemes/luzhou": ops,
                "/admin/schemes/luzhou/review": ops,
                "/admin/schemes/luzhou/catalog": ops,
                "/admin/schemes/luzhou/orders": ops,
                "/admin/schemes/luzhou/organisations": ops,
            }
            measured = {path: p95_ms(client, path) for path, client in pages.items()}
            # the suite's other worker shares the two cores: a page over the bound is timed once more and
            # keeps its better p95 (a page that is slow stays over it; one that met a neighbour's burst does not)
            again = {path: p95_ms(pages[path], path) for path, ms in measured.items() if ms >= P95_MAX_MS}
            measured.update({path: min(ms, measured[path]) for path, ms in again.items()})
            poster = f"/me/report/{datetime.now(UTC).year}.png"  # a picture drawn with Pillow: its own bound
            poster_ms = p95_ms(person, poster)
        finally:
            person.close()
            ops.close()
    finally:
        store.dispose()
    with capsys.disabled():
        print("\npage p95 (ms) at 2,000 people / 100,000 events, SQLite:")
        for path, ms in measured.items():
            print(f"  {ms:7.1f}  {path}")
        print(f"  {poster_ms:7.1f}  {poster} (bound {IMAGE_P95_MAX_MS:.0f} ms)")
    assert poster_ms < IMAGE_P95_MAX_MS, f"the share image took {poster_ms:.1f} ms at p95"
    slow = {p: round(ms, 1) for p, ms in measured.items() if ms >= P95_MAX_MS}
    assert not slow, f"pages slower than {P95_MAX_MS} ms at p95: {slow}"
