"""Lists (issue 17, item 10): the operator's lists page by 50 with their totals ("显示 1–50，共 106 条"),
name partners, organisations, items and people instead of showing their ids or bare account numbers, and a
person's history keeps the behaviours of a day in time order. HTTP on both engines."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tanhui.services import audit, ingest, market, organisations
from tanhui.store import Store
from tests.web.helpers import build_city, web_login
from tests.web.reading import PageText
from tests.web.test_dashboard import busy, operator_client  # noqa: F401 (the fixture)

BASE = "/admin/schemes/luzhou"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _text(client: httpx.Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return PageText(response.text).text


def test_operator_lists_page_by_fifty_with_their_totals(busy: Any) -> None:  # noqa: F811
    live, store, _b = busy
    items = len(market.list_items(store, "luzhou"))
    entries = len(audit.list_entries(store, "luzhou", None, 1000))
    orgs = len(organisations.scheme_board(store, "luzhou"))
    assert items > 100
    with operator_client(live, "ops-dashboard") as ops:
        assert f"显示 1–50，共 {items} 条" in _text(ops, f"{BASE}/catalog")
        last = (items - 1) // 50 + 1
        assert f"显示 {(last - 1) * 50 + 1}–{items}，共 {items} 条" in _text(ops, f"{BASE}/catalog?page={last}")
        assert f"显示 1–{min(entries, 50)}，共 {entries} 条" in _text(ops, f"{BASE}/audit")
        assert f"显示 1–{orgs}，共 {orgs} 条" in _text(ops, f"{BASE}/organisations")
        assert ops.get(f"{BASE}/catalog?page=0").status_code == 422


def test_operator_pages_name_what_they_show(busy: Any) -> None:  # noqa: F811
    live, store, b = busy
    with operator_client(live, "ops-dashboard") as ops:
        pages = {path: _text(ops, f"{BASE}{path}") for path in ("", "/review", "/orders", "/audit", "/organisations")}
        org = organisations.scheme_board(store, "luzhou")[0].key
        members = _text(ops, f"{BASE}/organisations/{org}")
    for path, text in pages.items():
        assert "ptn_" not in text, path  # partners by name
    assert "泸州公交" in pages[""] and "健步走APP" in pages["/audit"]  # the scheme file's partners, named in its entry
    # people by name where they have one: the city's people gave one to their first partner
    assert "测试用户2" in pages["/review"] and "测试用户1" in pages["/orders"] and "测试用户0" in pages["/orders"]
    assert "测试用户" in members and "用户 #" not in members  # every member here gave a name


def test_a_persons_history_keeps_a_day_in_time_order(live: Any, tmp_path: Path) -> None:
    """Partners report in batches by kind: the evening's bus ride can arrive before the noon walk."""
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=1, days=1)
        person, ref = city.people[0], "luzhou-u0"
        day = datetime.now(UTC).astimezone(SHANGHAI).date() - timedelta(days=3)

        def at(hour: int) -> str:
            return datetime.combine(day, time(hour), SHANGHAI).isoformat()

        def event(name: str, scenario: str, hour: int, data: dict[str, Any]) -> dict[str, Any]:
            return {"event_id": name, "user_ref": ref, "scenario": scenario, "occurred_at": at(hour), "data": data}

        sent = [
            ("光盘餐厅联盟", event("h-plate", "clean_plate", 8, {"meal": "breakfast", "order_id": "h-1"})),
            ("泸州公交", event("h-bus", "bus_ride", 18, {"distance_km": "7", "trip_id": "h-2"})),
            ("健步走APP", event("h-walk", "walking", 12, {"steps": 9000})),
        ]
        for partner, event in sent:
            [result] = ingest.ingest_events(store, city.partners[partner], [event]).results
            assert result["status"] == "credited", result
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            client.get(web_login(store, person), follow_redirects=True)
            html = client.get("/me/history").text
            page_one = client.get("/me/history?cursor=" + re.findall(r"/me/events/(\d+)", html)[1]).text
    finally:
        store.dispose()
    shown = [datetime.fromisoformat(t) for t in re.findall(r'<time datetime="([^"]+)"', html)]
    assert shown == sorted(shown, reverse=True)  # newest first, and within the day by the time of day
    that_day = [t.hour for t in shown if t.date() == day]
    assert that_day == [18, 12, 8]
    after_second = [datetime.fromisoformat(t) for t in re.findall(r'<time datetime="([^"]+)"', page_one)]
    assert after_second == shown[2:]  # the cursor continues in the same order
