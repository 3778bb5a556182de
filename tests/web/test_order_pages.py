"""Order fulfilment on the dashboard and the delete page over HTTP, both engines (issue 17, item 3): ship with
a carrier and tracking number, deliver, cancel, as forms only an operator may send, each audited; the person
sees the tracking number; the delete page says what happens to pending orders and points before it happens."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tanhui.services import audit, ledger, market
from tanhui.store import Store
from tests.web.helpers import build_city, csrf_of, fund, operator, web_login
from tests.web.reading import PageText
from tests.web.test_dashboard import busy, operator_client  # noqa: F401 (the fixture)

BASE = "/admin/schemes/luzhou/orders"


def _pending(store: Any, account_id: int) -> str:
    return next(o["order_id"] for o in market.orders_of(store, account_id) if o["status"] == "pending")


def _orders_shown(html: str) -> list[str]:
    return re.findall(r'<li class="card" data-order="(ord_\w+)">', html)


def test_ship_deliver_and_cancel_from_the_dashboard(busy: Any) -> None:  # noqa: F811
    live, store, b = busy
    first, second = _pending(store, b.city.people[1]), _pending(store, b.city.people[0])
    with operator_client(live, "ops-dashboard") as ops:
        page = ops.get(BASE)
        assert page.status_code == 200 and set(_orders_shown(page.text)) >= {first, second}
        total = len(market.scheme_orders(store, "luzhou"))
        assert f"显示 1–{total}，共 {total} 条" in PageText(page.text).text
        csrf = csrf_of(page.text)
        refused = ops.post(f"{BASE}/{first}/ship", data={"csrf": csrf, "carrier": "顺丰速运", "tracking": "x", "back": BASE})
        assert refused.status_code == 422 and "请填写快递公司和运单号" in refused.text
        shipped = ops.post(
            f"{BASE}/{first}/ship", data={"csrf": csrf, "carrier": "顺丰速运", "tracking": "SF1002003004", "back": BASE}
        )
        assert shipped.status_code == 303 and "done=shipped" in shipped.headers["location"]
        shown = PageText(ops.get(shipped.headers["location"]).text).text
        assert f"订单 {first} 已发货。" in shown and "顺丰速运 承运 · 运单号 SF1002003004" in shown
        again = ops.post(f"{BASE}/{first}/ship", data={"csrf": csrf, "carrier": "顺丰速运", "tracking": "SF1002003004"})
        assert (
            again.status_code == 422 and "已发货" in again.text and "shipped" not in PageText(again.text).text
        )  # named, not a code
        assert ops.post(f"{BASE}/{first}/deliver", data={"csrf": csrf}).status_code == 303
        before = ledger.balance(store, ledger.holdings(store, b.city.people[0]).points_account_id)
        assert ops.post(f"{BASE}/{second}/cancel", data={"csrf": csrf, "back": f"{BASE}?status=pending"}).status_code == 303
        after = ledger.balance(store, ledger.holdings(store, b.city.people[0]).points_account_id)
        assert ops.post(f"{BASE}/{second}/cancel", data={"back": BASE}).status_code == 403  # no CSRF value
    statuses = {o.public_id: o.status for o in market.scheme_orders(store, "luzhou")}
    assert statuses[first] == "delivered" and statuses[second] == "cancelled"
    assert after - before == next(o.points for o in market.scheme_orders(store, "luzhou") if o.public_id == second)
    for action, target in (("market.ship", first), ("market.deliver", first), ("market.cancel", second)):
        assert [(e.actor, e.target) for e in audit.list_entries(store, "luzhou", action)] == [("operator:ops-dashboard", target)]
    # the person follows the parcel
    with httpx.Client(base_url=live.base_url, timeout=30) as person:
        person.get(web_login(store, b.city.people[1]), follow_redirects=True)
        mine = PageText(person.get("/me/orders").text).text
    assert "顺丰速运 承运 · 运单号 SF1002003004" in mine


def test_a_viewer_and_another_scheme_may_not_touch_an_order(busy: Any, tmp_path: Any) -> None:  # noqa: F811
    live, store, b = busy
    operator(store, "luzhou", "viewer-orders", role="viewer")
    operator(store, "harbin", "ops-harbin")
    order = _pending(store, b.city.people[1])
    with operator_client(live, "viewer-orders") as viewer:
        page = viewer.get(BASE)
        assert page.status_code == 200 and 'data-testid="ship"' not in page.text
        assert viewer.post(f"{BASE}/{order}/cancel", data={"csrf": csrf_of(page.text)}).status_code == 403
    with operator_client(live, "ops-harbin") as other:
        csrf = csrf_of(other.get("/admin/schemes/harbin/orders").text)
        answer = other.post(f"/admin/schemes/harbin/orders/{order}/cancel", data={"csrf": csrf})
        assert answer.status_code == 404
    assert _pending(store, b.city.people[1]) == order and not audit.list_entries(store, "luzhou", "market.cancel")


def test_the_delete_page_says_what_happens_to_orders_and_points(live: Any, tmp_path: Any) -> None:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=1, days=1)
        person = city.people[0]
        fund(store, "luzhou", person, 5000)
        goods = min(
            (i for i in market.list_items(store, "luzhou", only_active=True) if i.kind == "physical" and i.stock > 0),
            key=lambda i: i.points_price,
        )
        _, order = market.place_order(store, person, goods.public_id, 1, "before-delete")
        balance = ledger.balance(store, ledger.holdings(store, person).points_account_id)
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            client.get(web_login(store, person), follow_redirects=True)
            page = client.get("/me/delete")
            text = PageText(page.text).text
            assert page.status_code == 200
            assert "待发货的订单" in text and f"{goods.title_zh} × 1 · {order['points']:,} 积分" in text
            forfeited = balance + order["points"]
            assert f"注销后，你的 {forfeited:,} 积分（含取消订单退回的 {order['points']:,} 积分）将无法再使用。" in text
            done = client.post("/me/delete", data={"csrf": csrf_of(page.text), "confirm": "yes"})
            assert done.status_code == 303
        [after] = [o for o in market.orders_of(store, person) if o["order_id"] == order["order_id"]]
        assert after["status"] == "cancelled"
        assert ledger.balance(store, ledger.holdings(store, person).points_account_id) == forfeited
        assert ledger.verify(store, "luzhou").ok
    finally:
        store.dispose()
