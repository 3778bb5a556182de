"""Where a physical good goes, over HTTP (issue 17): the operator reads the address on the dashboard's
orders and in the orders export, a viewer does not (personal data), and the buyer reads it on the order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tanhui.services import market
from tanhui.store import Store
from tests.web.helpers import build_city, fund, operator, web_login
from tests.web.reading import PageText
from tests.web.test_dashboard import operator_client

PICKUP = {"method": "pickup", "recipient": "王小明", "phone": "13800001234"}


def test_operators_read_where_it_goes_viewers_do_not(live: Any, tmp_path: Path) -> None:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=1, days=1)
        person = city.people[0]
        fund(store, "luzhou", person, 50_000)
        item = min(
            (i for i in market.list_items(store, "luzhou", only_active=True) if i.kind == "physical" and i.stock > 0),
            key=lambda i: i.points_price,
        )
        _, order = market.place_order(store, person, item.public_id, 1, "to-collect", delivery={**PICKUP, "place": item.merchant})
        operator(store, "luzhou", "ops-where")
        operator(store, "luzhou", "viewer-where", role="viewer")
        with operator_client(live, "ops-where") as ops:
            shown = PageText(ops.get("/admin/schemes/luzhou/orders?status=pending").text).text
            exported = ops.get("/admin/schemes/luzhou/export/orders.csv").text  # to ship in bulk
        assert "自提点" in shown and item.merchant in shown and "王小明" in shown and "13800001234" in shown
        assert "delivery_place" in exported.splitlines()[0] and f"pickup,王小明,13800001234,{item.merchant}" in exported
        with operator_client(live, "viewer-where") as viewer:
            shown = PageText(viewer.get("/admin/schemes/luzhou/orders?status=pending").text).text
        assert "王小明" not in shown and "13800001234" not in shown and "收货信息仅运营者可见" in shown
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            assert client.get(web_login(store, person), follow_redirects=True).status_code == 200
            mine = PageText(client.get(f"/me/orders/{order['order_id']}").text).text
        assert "自提点" in mine and item.merchant in mine and "13800001234" in mine
    finally:
        store.dispose()
