"""POST /v1/me/orders with where a physical good goes (issue 17): checked by the market's rules, every wrong
field named, nothing ordered until it is right; the person's export carries it (real HTTP, both engines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tanhui.services import identity, market
from tanhui.store import Store
from tests.web.helpers import build_city, fund


def test_an_app_sends_where_the_good_goes(live: Any, tmp_path: Path) -> None:
    store = Store(live.database_url)
    try:
        build_city(store, tmp_path, "luzhou", people=1, days=1)
        item = min(
            (i for i in market.list_items(store, "luzhou", only_active=True) if i.kind == "physical" and i.stock > 0),
            key=lambda i: i.points_price,
        )
        identity.register(store, "luzhou", "api-buyer", "correct-horse-9")
    finally:
        store.dispose()
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        token = http.post("/v1/auth/token", json={"username": "api-buyer", "password": "correct-horse-9"}).json()["token"]
        me = {"Authorization": f"Bearer {token}"}
        buyer = http.get("/v1/me", headers=me).json()["account_id"]
        setup = Store(live.database_url)
        try:
            fund(setup, "luzhou", int(buyer), 50_000)
        finally:
            setup.dispose()
        wrong = {"method": "pickup", "recipient": "", "phone": "13800001234", "place": "somewhere else"}
        refused = http.post(
            "/v1/me/orders", headers={**me, "Idempotency-Key": "d-1"}, json={"item_id": item.public_id, "delivery": wrong}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_delivery"
        assert set(refused.json()["error"]["details"]) == {"recipient", "place"}
        assert http.get("/v1/me/orders", headers=me).json()["orders"] == []
        sent = {"method": "address", "recipient": "王小明", "phone": "13800001234", "place": "泸州市江阳区酒城大道 1 号"}
        placed = http.post(
            "/v1/me/orders", headers={**me, "Idempotency-Key": "d-2"}, json={"item_id": item.public_id, "delivery": sent}
        )
        assert placed.status_code == 201, placed.text
        order = next(
            o for o in http.get("/v1/me/export", headers=me).json()["orders"] if o["order_id"] == placed.json()["order_id"]
        )
        assert order["delivery"] == sent
