"""The operator dashboard (issue 17, item 2): it opens on the last 30 complete days, shows today apart as
not complete, says what each figure covers, and has headline figures for check-ins, orders and
organisations and the points the scheme owes.

The figures on the page are compared with the same figures computed here straight from the source
rows (events, check-ins, orders, postings, accounts) with SQL of the test's own, not from the report
counters the dashboard reads, on both engines.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ISSUANCE, SYSTEM_REDEEMED
from tanhui.services import consent, engagement, ingest, ledger, market
from tanhui.store import Store
from tanhui.web import charts
from tests.web.helpers import build_city, csrf_of, fund, operator

SHANGHAI = ZoneInfo("Asia/Shanghai")
KPI = re.compile(r'data-kpi="([a-z_0-9]+)" data-value="([^"]*)"')


@dataclass
class Busy:
    city: Any
    now: datetime
    today: date


@pytest.fixture
def busy(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, Busy]]:
    """A city with behaviours today and on the days before, check-ins, orders and rewards in the
    period and today, and a person who registered ten days ago."""
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=3, days=5)
        build_city(store, tmp_path, "harbin", people=1, days=2, name="冰城碳惠")
        now = datetime.now(UTC)
        today = now.astimezone(SHANGHAI).date()
        bus = city.partners["泸州公交"]
        early = now - timedelta(days=10)
        _, view = consent.grant(
            store,
            bus,
            "n-dashboard-early",
            {"user_ref": "early-bird", "scopes": ["behaviour:report"], "granted_at": early.isoformat()},
            now=early,
        )
        city.people.append(int(view["account_id"]))
        ingest.ingest_events(
            store,
            bus,
            [
                {
                    "event_id": "today-now",
                    "user_ref": "luzhou-u0",
                    "scenario": "bus_ride",
                    "occurred_at": now.isoformat(),
                    "data": {"distance_km": "9.5", "trip_id": "today-now"},
                }
            ],
        )
        walk = city.partners["健步走APP"]
        steps = [("lonely-huge-walk", now - timedelta(days=6), 250_000)]  # no other walk that day: acceptable
        steps += [(f"flood-{k}", now - timedelta(hours=3, minutes=k), 300_000 + k) for k in range(45)]  # a page and more
        ingest.ingest_events(
            store,
            walk,
            [
                {
                    "event_id": e,
                    "user_ref": "luzhou-u2",
                    "scenario": "walking",
                    "occurred_at": t.isoformat(),
                    "data": {"steps": n},
                }
                for e, t, n in steps
            ],
        )
        for days_ago in (6, 2, 1, 0):
            for person in city.people[:2]:
                engagement.checkin(store, person, now=now - timedelta(days=days_ago))
        with store.unit_of_work(write=False) as uow:
            issuance = uow.ledger.system_account("luzhou", ASSET_POINTS, SYSTEM_ISSUANCE).id
        mine = ledger.holdings(store, city.people[1]).points_account_id
        ledger.transfer(
            store, "luzhou", [(issuance, mine, 4000)], kind="reward", idempotency_key="dash-reward", now=now - timedelta(days=3)
        )
        fund(store, "luzhou", city.people[0], 5000)
        items = market.list_items(store, "luzhou", only_active=True)
        physical = sorted((i for i in items if i.kind == "physical" and i.stock > 0), key=lambda i: i.points_price)
        coupon = min((i for i in items if i.kind == "coupon" and i.stock > 0), key=lambda i: i.points_price)
        market.place_order(store, city.people[1], coupon.public_id, 1, "dash-coupon-past", now=now - timedelta(days=2))
        market.place_order(store, city.people[1], physical[0].public_id, 1, "dash-pending-past", now=now - timedelta(days=2))
        market.place_order(store, city.people[0], physical[1].public_id, 1, "dash-pending-today")
        market.place_order(store, city.people[0], coupon.public_id, 1, "dash-coupon-today")
        operator(store, "luzhou", "ops-dashboard")
        yield live, store, Busy(city, now, today)
    finally:
        store.dispose()


@contextmanager
def operator_client(live: Any, username: str, lang: str = "zh-CN") -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30, cookies={"lang": lang}) as client:
        csrf = csrf_of(client.get("/admin/login").text)
        done = client.post("/admin/login", data={"csrf": csrf, "username": username, "password": "correct-horse-9"})
        assert done.status_code == 303, done.text
        yield client


def figures_in(html: str, testid: str) -> dict[str, str]:
    """The data-kpi figures inside the element marked data-testid=`testid`."""
    start = html.index(f'data-testid="{testid}"')
    end = html.index("</section>", start)
    return dict(KPI.findall(html[start:end]))


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI).astimezone(UTC)


def from_the_store(store: Store, scheme_id: str, first: date, last: date) -> dict[str, int | float]:
    """The period's figures from the source rows, by the definitions the page states."""
    t0, t1 = _utc(first), _utc(last + timedelta(days=1))
    lo, hi = first.toordinal(), last.toordinal()
    with store.unit_of_work(write=False) as uow:
        issuance = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_ISSUANCE).id
        redeemed = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id
    window = {"s": scheme_id, "lo": lo, "hi": hi, "t0": t0, "t1": t1}
    with store.engine.connect() as conn:

        def one(sql: str, **params: Any) -> Any:
            return conn.execute(text(sql), {**window, **params}).one()

        events, carbon, earned = one(
            "SELECT count(*), coalesce(sum(carbon_g), 0), coalesce(sum(points), 0) FROM events "
            "WHERE scheme_id = :s AND status = 'credited' AND local_day BETWEEN :lo AND :hi"
        )
        active_days = one(
            "SELECT count(*) FROM (SELECT account_id, local_day FROM events WHERE scheme_id = :s AND status = 'credited' "
            "AND local_day BETWEEN :lo AND :hi UNION SELECT c.account_id, c.local_day FROM checkins c "
            "JOIN accounts a ON a.id = c.account_id AND a.pkey = c.pkey WHERE a.scheme_id = :s AND c.local_day BETWEEN :lo AND :hi) x"
        )[0]

        def moved(account: int) -> int:
            into, out = one(
                "SELECT coalesce(sum(CASE WHEN p.to_account_id = :a THEN p.amount ELSE 0 END), 0), "
                "coalesce(sum(CASE WHEN p.from_account_id = :a THEN p.amount ELSE 0 END), 0) "
                "FROM postings p JOIN journal_entries j ON j.id = p.entry_id AND j.pkey = p.pkey "
                "WHERE (p.to_account_id = :a OR p.from_account_id = :a) AND j.created_at >= :t0 AND j.created_at < :t1",
                a=account,
            )
            return int(into) - int(out)

        checkins = one(
            "SELECT count(*) FROM checkins c JOIN accounts a ON a.id = c.account_id AND a.pkey = c.pkey "
            "WHERE a.scheme_id = :s AND c.local_day BETWEEN :lo AND :hi"
        )[0]
        orders = one("SELECT count(*) FROM orders WHERE scheme_id = :s AND created_at >= :t0 AND created_at < :t1")[0]
        registered = one(
            "SELECT count(*) FROM accounts WHERE scheme_id = :s AND kind = 'person' AND created_at < :t1 "
            "AND (erased_at IS NULL OR erased_at >= :t1)"
        )[0]
        organisations = one("SELECT count(*) FROM organisations WHERE scheme_id = :s")[0]
        issued, spent = -moved(issuance), moved(redeemed)
    days = hi - lo + 1
    return {
        "events_credited": int(events),
        "carbon_g": int(carbon),
        "points_earned": int(earned),
        "active_per_day": round(int(active_days) / days, 1),
        "points_issued": issued,
        "points_redeemed": spent,
        "checkins": int(checkins),
        "orders": int(orders),
        "registered": int(registered),
        "organisations": int(organisations),
    }


def owed_from_the_store(store: Store, scheme_id: str) -> dict[str, int]:
    with store.engine.connect() as conn:
        people = conn.execute(
            text(
                "SELECT coalesce(sum(balance), 0) FROM ledger_accounts "
                "WHERE scheme_id = :s AND asset = 'POINTS' AND owner_account_id IS NOT NULL"
            ),
            {"s": scheme_id},
        ).scalar_one()
        held = conn.execute(
            text("SELECT coalesce(sum(points), 0) FROM orders WHERE scheme_id = :s AND status IN ('pending', 'shipped')"),
            {"s": scheme_id},
        ).scalar_one()
    return {"outstanding": int(people), "held": int(held)}


def _numbers(found: dict[str, str]) -> dict[str, int | float]:
    return {k: float(v) if "." in v else int(v) for k, v in found.items()}


def test_the_default_dashboard_is_the_last_30_complete_days_and_equals_the_store(busy: Any) -> None:
    live, store, b = busy
    first, last = b.today - timedelta(days=30), b.today - timedelta(days=1)
    with operator_client(live, "ops-dashboard") as ops:
        page = ops.get("/admin/schemes/luzhou")
        assert page.status_code == 200
        html = page.text
    assert "最近 30 个完整日" in html and 'data-testid="partial"' not in html
    assert f'<input id="from" name="from" type="date" value="{first.isoformat()}">' in html
    assert f'<input id="to" name="to" type="date" value="{last.isoformat()}">' in html
    shown = _numbers(figures_in(html, "headline"))
    expected = from_the_store(store, "luzhou", first, last)
    assert shown == expected
    # the test would catch a period ending today: today has behaviours, check-ins and orders of its own
    today = from_the_store(store, "luzhou", b.today, b.today)
    assert today["events_credited"] and today["checkins"] and today["orders"]
    shown_today = _numbers(figures_in(html, "today"))
    assert {k: shown_today[k] for k in ("events_credited", "carbon_g", "points_issued", "checkins", "orders")} == {
        k: today[k] for k in ("events_credited", "carbon_g", "points_issued", "checkins", "orders")
    }
    assert "今天截至目前" in html and "尚未结束" in html
    assert expected["registered"] == 1  # the early bird; the others registered today, after the period
    owed = _numbers(figures_in(html, "liability"))
    assert {k: owed[k] for k in ("outstanding", "held")} == owed_from_the_store(store, "luzhou")
    assert owed["held"] > 0 and "按商户的冻结积分" in html


def test_a_chosen_period_says_what_its_figures_cover(busy: Any) -> None:
    live, store, b = busy
    first, last = b.today - timedelta(days=3), b.today
    with operator_client(live, "ops-dashboard", "en") as ops:
        html = ops.get(f"/admin/schemes/luzhou?from={first.isoformat()}&to={last.isoformat()}").text
    assert "The period" in html and "The last 30 complete days" not in html
    assert 'data-testid="partial"' in html  # it reaches today, which is still counting
    assert "Registered people at the end of the period" in html and "new in the period" in html
    assert "Total reduction" not in html  # no lifetime label over a period's sum
    assert _numbers(figures_in(html, "headline")) == from_the_store(store, "luzhou", first, last)


def test_the_last_axis_label_is_inside_the_chart(busy: Any) -> None:
    live, _store, b = busy
    with operator_client(live, "ops-dashboard") as ops:
        html = ops.get("/admin/schemes/luzhou").text
    chart = html[html.index('<svg class="chart"') :]
    chart = chart[: chart.index("</svg>", chart.index("</svg>") + 1)]  # the plot is an svg inside the chart's
    labels = re.findall(r'<text x="([\d.]+%?)" y="[\d.]+" text-anchor="(\w+)" class="tick">(\d\d-\d\d)</text>', chart)
    assert labels[0][2] == (b.today - timedelta(days=30)).isoformat()[5:] and labels[0][1] == "start"
    assert labels[-1][2] == (b.today - timedelta(days=1)).isoformat()[5:] and labels[-1][1] == "end"


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.slow  # builds a small demo city through the HTTP API
def test_the_demo_opens_on_a_dashboard_of_its_own_figures(live: Any) -> None:
    """`tanhui demo` simulates the days before today: its dashboard's default period holds all of them,
    and its headline figures are the builder's own counts (what the demo prints when it is built)."""
    from rich.console import Console

    from tanhui.sim import demo

    result = demo.build(
        live.database_url, people_count=60, days=5, seed=11, base_url=live.base_url, console=Console(file=io.StringIO())
    )
    store = Store(live.database_url)
    try:
        operator(store, "luzhou", "ops-demo")
    finally:
        store.dispose()
    with operator_client(live, "ops-demo") as ops:
        html = ops.get("/admin/schemes/luzhou").text
    shown = _numbers(figures_in(html, "headline"))
    assert result.summary["credited"] > 0 and result.checkins > 0 and result.orders > 0
    assert {k: shown[k] for k in ("events_credited", "carbon_g", "points_earned", "checkins", "orders", "registered")} == {
        "events_credited": result.summary["credited"],
        "carbon_g": result.summary["carbon_g"],
        "points_earned": result.summary["points"],
        "checkins": result.checkins,
        "orders": result.orders,
        "registered": result.people,
    }
    assert shown["active_per_day"] > 0
    today = _numbers(figures_in(html, "today"))
    assert today["events_credited"] == today["checkins"] == today["orders"] == 0  # the demo's days have all ended


def test_axis_labels_keep_both_ends_inside_the_chart() -> None:
    """31 days once put the last date's label centred on the chart's right edge, half of it cut off."""
    for n in (2, 7, 8, 30, 31, 32, 60):
        svg = charts.line_chart([(f"d{i:02d}", i) for i in range(n)], label="x")
        ticks = re.findall(r'<text x="([\d.]+)%" y="[\d.]+" text-anchor="(\w+)" class="tick">(d\d\d)</text>', svg)
        assert ticks[0][1:] == ("start", "d00") and ticks[-1][1:] == ("end", f"d{n - 1:02d}"), (n, ticks)
        positions = [float(x) for x, _a, _t in ticks]  # per cent of the width
        assert all(b - a >= 6 for a, b in zip(positions, positions[1:], strict=False)), (n, positions)  # no overlap
        assert len(ticks) <= 7
