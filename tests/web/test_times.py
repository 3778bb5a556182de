"""The one time rule (issue 17, item 1): every time a person or an operator reads is the stored instant in
the scheme's time zone, written for the language, marked `<time datetime="…">`; exports carry ISO 8601
with the scheme's offset.

Two schemes in two zones (Luzhou, Asia/Shanghai +08:00; Urumqi, Asia/Urumqi +06:00) so a page that
formats in UTC, or in a fixed zone, fails. Each page's times are compared with the instants in the store.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tanhui.services import accounts, audit, market, reports
from tanhui.services.principal import Principal
from tanhui.store import Store
from tests.web.helpers import build_city, csrf_of, fund, operator, web_login
from tests.web.reading import PageText, instants, time_problems

ZONES = {"luzhou": "Asia/Shanghai", "urumqi": "Asia/Urumqi"}


def _seconds(moment: datetime | str) -> datetime:
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value.replace(microsecond=0)


def _orders_for(store: Store, scheme_id: str, account_id: int) -> None:
    """A coupon (fulfilled at once) and a physical item, shipped: an order of each kind and an audit entry."""
    fund(store, scheme_id, account_id, 5000)
    items = market.list_items(store, scheme_id, only_active=True)
    coupon = min((i for i in items if i.kind == "coupon" and i.stock > 0), key=lambda i: i.points_price)
    physical = min((i for i in items if i.kind == "physical" and i.stock > 0), key=lambda i: i.points_price)
    market.place_order(store, account_id, coupon.public_id, 1, f"t-{scheme_id}-coupon")
    _, order = market.place_order(store, account_id, physical.public_id, 1, f"t-{scheme_id}-physical")
    market.ship_order(store, order["order_id"], actor="operator:test")


@pytest.fixture
def zoned(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, dict[str, Any]]]:
    store = Store(live.database_url)
    try:
        cities = {
            "luzhou": build_city(store, tmp_path, "luzhou", people=2, days=2),
            "urumqi": build_city(store, tmp_path, "urumqi", people=1, days=2, name="天山碳惠", timezone="Asia/Urumqi"),
        }
        for scheme_id, city in cities.items():
            _orders_for(store, scheme_id, city.people[0])
            operator(store, scheme_id, f"ops-{scheme_id}")
        yield live, store, cities
    finally:
        store.dispose()


@contextmanager
def _person(live: Any, store: Store, account_id: int, lang: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30, cookies={"lang": lang}) as client:
        assert client.get(web_login(store, account_id), follow_redirects=True).status_code == 200
        yield client


@contextmanager
def _operator(live: Any, scheme_id: str, lang: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30, cookies={"lang": lang}) as client:
        csrf = csrf_of(client.get("/admin/login").text)
        done = client.post("/admin/login", data={"csrf": csrf, "username": f"ops-{scheme_id}", "password": "correct-horse-9"})
        assert done.status_code == 303, done.text
        yield client


def _read(client: httpx.Client, path: str, zone: ZoneInfo, lang: str, problems: list[str]) -> PageText:
    response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    page = PageText(response.text)
    problems += time_problems(page.times, page.text, zone, lang, f"{lang} {path}")
    return page


def expected_instants(store: Store, scheme_id: str, account_id: int) -> dict[str, set[datetime]]:
    """What the store holds, per page, to the second (pages show no finer)."""
    history = accounts.history(store, Principal(account_id), None, 50)["events"]
    return {
        "/me/orders": {_seconds(o["created_at"]) for o in market.orders_of(store, account_id)},
        "/me/history": {_seconds(e["occurred_at"] or e["received_at"]) for e in history},
        # the operator's orders: when each was placed and, once shipped, when it left
        "orders": {_seconds(o.created_at) for o in market.scheme_orders(store, scheme_id)}
        | {_seconds(e.created_at) for e in audit.list_entries(store, scheme_id, "market.ship", 200)},
        "audit": {_seconds(e.created_at) for e in audit.list_entries(store, scheme_id, None, 200)},
        # the review queue shows when each report's behaviour happened and when it arrived
        "review": {
            _seconds(r[k])
            for r in reports.review(store, scheme_id, None, limit=50)
            for k in ("received_at", "occurred_at")
            if r[k]
        },
    }


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_time_on_the_main_pages_is_the_stored_instant_in_the_schemes_zone(zoned: Any, lang: str) -> None:
    live, store, cities = zoned
    problems: list[str] = []
    for scheme_id, city in cities.items():
        zone = ZoneInfo(ZONES[scheme_id])
        account_id = city.people[0]
        stored = expected_instants(store, scheme_id, account_id)
        assert all(stored.values()), {k: len(v) for k, v in stored.items()}  # every page has something to show
        with _person(live, store, account_id, lang) as person:
            me = _read(person, "/me", zone, lang, problems)
            assert me.times, "the account page shows its behaviours' times"
            assert instants(_read(person, "/me/history", zone, lang, problems).times) == stored["/me/history"]
            assert instants(_read(person, "/me/orders", zone, lang, problems).times) == stored["/me/orders"]
            for order in market.orders_of(store, account_id):
                one = _read(person, f"/me/orders/{order['order_id']}", zone, lang, problems)
                assert instants(one.times) == {_seconds(order["created_at"])}
            event = accounts.history(store, Principal(account_id), None, 1)["events"][0]
            calc = _read(person, f"/me/events/{event['id']}", zone, lang, problems)
            assert instants(calc.times) == {_seconds(event["occurred_at"] or event["received_at"])}
        with _operator(live, scheme_id, lang) as ops:
            base = f"/admin/schemes/{scheme_id}"
            _read(ops, base, zone, lang, problems)
            for name in ("orders", "audit", "review"):
                assert instants(_read(ops, f"{base}/{name}", zone, lang, problems).times) == stored[name], name
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_exports_carry_iso_8601_with_the_schemes_offset(zoned: Any) -> None:
    live, store, cities = zoned
    for scheme_id in cities:
        zone = ZoneInfo(ZONES[scheme_id])
        with _operator(live, scheme_id, "zh-CN") as ops:
            for table, columns in (("orders", ("created_at",)), ("review", ("received_at", "occurred_at"))):
                response = ops.get(f"/admin/schemes/{scheme_id}/export/{table}.csv")
                assert response.status_code == 200
                rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
                assert rows, table
                for row in rows:
                    for column in columns:
                        moment = datetime.fromisoformat(row[column])
                        assert moment.utcoffset() == moment.astimezone(zone).utcoffset(), (table, column, row[column])
