"""A person earns, checks in, orders, cancels and sees it all through the API (real HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.live import LiveServer, Partner, own_binding_code

DEMO = Path(__file__).resolve().parents[2] / "src" / "tanhui" / "sim" / "luzhou.toml"


def test_earn_check_in_order_cancel(live: LiveServer) -> None:
    report = json.loads(live.tanhui("scheme", "apply", str(DEMO), "--json").stdout)
    assert report["items_created"] >= 100
    plates = next(p for p in report["partners_created"] if p["name"] == "光盘餐厅联盟")
    bus = next(p for p in report["partners_created"] if p["name"] == "泸州公交")
    restaurant = Partner(live.base_url, plates["partner_id"], plates["secret"])
    buses = Partner(live.base_url, bus["partner_id"], bus["secret"])
    assert restaurant.consent("diner-1").status_code == 201
    token = restaurant.request("POST", "/v1/partner/accounts/diner-1/sessions").json()["token"]
    me = {"Authorization": f"Bearer {token}"}
    account_id = httpx.get(live.base_url + "/v1/me", headers=me).json()["account_id"]
    code = own_binding_code(live.database_url, account_id)
    assert buses.consent("rider-1", binding_code=code).status_code == 201

    now = datetime.now(UTC)
    meals = [
        {
            "event_id": f"m{i}",
            "user_ref": "diner-1",
            "scenario": "clean_plate",
            "occurred_at": (now - timedelta(days=i, hours=1)).isoformat(),
            "data": {"meal": "lunch"},
        }
        for i in range(3)
    ]
    rides = [
        {
            "event_id": f"r{i}",
            "user_ref": "rider-1",
            "scenario": "bus_ride",
            "occurred_at": (now - timedelta(days=i, hours=2)).isoformat(),
            "data": {"trip_id": f"T{i}"},
        }
        for i in range(6)
    ]
    assert restaurant.events(meals).json()["summary"]["points"] == 15
    assert buses.events(rides).json()["summary"]["points"] == 60

    recycle = next(p for p in report["partners_created"] if p["name"] == "再生资源回收站")
    station = Partner(live.base_url, recycle["partner_id"], recycle["secret"])
    code = own_binding_code(live.database_url, account_id)
    assert station.consent("bin-1", binding_code=code).status_code == 201
    clothes = {
        "event_id": "c1",
        "user_ref": "bin-1",
        "scenario": "recycling",
        "occurred_at": (now - timedelta(hours=3)).isoformat(),
        "data": {"material": "clothing", "weight_kg": "10"},
    }
    yesterday = {**clothes, "event_id": "c0", "occurred_at": (now - timedelta(days=1, hours=3)).isoformat()}
    sorted_out = station.events([clothes, yesterday]).json()["results"]
    assert [r["points"] for r in sorted_out] == [100, 100]  # 12,800 g / 50, capped at 100 a day

    checked = httpx.post(live.base_url + "/v1/me/checkins", headers=me)
    assert checked.status_code == 201 and checked.json()["streak"] == 1 and checked.json()["points"] == 2
    assert httpx.post(live.base_url + "/v1/me/checkins", headers=me).status_code == 200  # once per day
    balance = 15 + 60 + 200 + 2  # enough for the catalog's cheapest coupon and cheapest good together
    summary = httpx.get(live.base_url + "/v1/me", headers=me).json()
    assert summary["points_balance"] == balance and summary["streak"] == 1
    assert {"first_bus_ride", "reduction_1kg", "reduction_10kg"} <= {b["code"] for b in summary["badges"]}

    items = httpx.get(live.base_url + "/v1/market/items", headers=me).json()["items"]
    assert len(items) >= 100 and {"id", "title", "kind", "points_price", "stock"} <= set(items[0])
    english = httpx.get(live.base_url + "/v1/market/items", headers={**me, "Accept-Language": "en"}).json()["items"]
    assert english[0]["title"] == english[0]["title_en"]
    coupon = min((i for i in items if i["kind"] == "coupon"), key=lambda i: i["points_price"])
    good = min((i for i in items if i["kind"] == "physical"), key=lambda i: i["points_price"])
    assert coupon["points_price"] + good["points_price"] <= balance

    def order(item: dict[str, Any], key: str) -> httpx.Response:
        return httpx.post(
            live.base_url + "/v1/me/orders", headers={**me, "Idempotency-Key": key}, json={"item_id": item["id"], "quantity": 1}
        )

    no_key = httpx.post(live.base_url + "/v1/me/orders", headers=me, json={"item_id": coupon["id"]})
    assert no_key.status_code == 422 and no_key.json()["error"]["code"] == "invalid_request"
    bought = order(coupon, "k-1")
    assert bought.status_code == 201, bought.text
    assert bought.json()["status"] == "fulfilled" and bought.json()["coupon_code"]
    retry = order(coupon, "k-1")
    assert retry.status_code == 200 and retry.json()["order_id"] == bought.json()["order_id"]
    balance -= coupon["points_price"]
    pending = order(good, "k-2")
    assert pending.status_code == 201 and pending.json()["status"] == "pending"
    assert httpx.get(live.base_url + "/v1/me", headers=me).json()["points_balance"] == balance - good["points_price"]
    too_dear = max(items, key=lambda i: i["points_price"])
    refused = order(too_dear, "k-3")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "insufficient_points"
    cancelled = httpx.post(live.base_url + f"/v1/me/orders/{pending.json()['order_id']}/cancel", headers=me)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    listed = httpx.get(live.base_url + "/v1/me/orders", headers=me).json()["orders"]
    assert [o["status"] for o in listed] == ["cancelled", "fulfilled"]
    assert httpx.get(live.base_url + "/v1/me", headers=me).json()["points_balance"] == balance
    station.close()
    missing = httpx.post(live.base_url + "/v1/me/orders/ord_nope/cancel", headers=me)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "order_not_found"
    assert live.tanhui("verify").returncode == 0
    restaurant.close()
    buses.close()
