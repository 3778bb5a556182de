"""Order fulfilment by an operator (issue 17, item 3): ship with a carrier and a tracking number, deliver,
cancel (the points return through the ledger), each audited; and erasure, which cancels the orders still
awaiting shipment and returns their points before anything else. Both engines."""

from __future__ import annotations

import pytest

from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_HELD, SYSTEM_REDEEMED
from tanhui.errors import InvalidInput, NotFound
from tanhui.services import audit, ledger, market, privacy
from tanhui.store import Store
from tests.market.helpers import item, open_shop

OPERATOR = "operator:fulfil"


def points_of(store: Store, account_id: int) -> int:
    return ledger.balance(store, ledger.holdings(store, account_id).points_account_id)


def system(store: Store, scheme_id: str, code: str) -> int:
    with store.unit_of_work(write=False) as uow:
        return uow.ledger.balance(uow.ledger.system_account(scheme_id, ASSET_POINTS, code).id)


def test_ship_with_carrier_and_tracking_then_deliver(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, people=1, points_each=1000)
    goods = item(store, scheme_id, kind="physical", points_price=300, merchant="泸州好物", title_zh="保温杯")
    _, order = market.place_order(store, shop.people[0], goods.public_id, 1, "cup")
    oid = order["order_id"]
    with pytest.raises(InvalidInput) as bad:
        market.ship_order(store, oid, actor=OPERATOR, carrier="顺丰速运", tracking="SF 12", scheme_id=scheme_id)
    assert bad.value.code == "invalid_shipment" and set(bad.value.details) == {"tracking"}
    with pytest.raises(NotFound):
        market.ship_order(store, oid, actor=OPERATOR, carrier="顺丰速运", tracking="SF1234567", scheme_id="elsewhere")
    assert market.orders_of(store, shop.people[0])[0]["status"] == "pending"
    assert not audit.list_entries(store, scheme_id, "market.ship")

    shipped = market.ship_order(store, oid, actor=OPERATOR, carrier=" 顺丰速运 ", tracking="sf1234567890", scheme_id=scheme_id)
    assert shipped["status"] == "shipped"
    [entry] = audit.list_entries(store, scheme_id, "market.ship")
    assert (entry.actor, entry.target, entry.details) == (
        OPERATOR,
        oid,
        {"was": "pending", "carrier": "顺丰速运", "tracking": "SF1234567890"},
    )
    parcel = market.shipments(store, scheme_id, [oid])[oid]
    assert (parcel.carrier, parcel.tracking) == ("顺丰速运", "SF1234567890")
    assert system(store, scheme_id, SYSTEM_HELD) == 300  # still held until it arrives

    market.deliver_order(store, oid, actor=OPERATOR, scheme_id=scheme_id)
    assert system(store, scheme_id, SYSTEM_HELD) == 0 and system(store, scheme_id, SYSTEM_REDEEMED) == 300
    assert [e.actor for e in audit.list_entries(store, scheme_id, "market.deliver")] == [OPERATOR]
    assert points_of(store, shop.people[0]) == 700
    assert ledger.verify(store, scheme_id).ok


def test_an_operator_cancels_and_the_points_and_stock_return(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, people=1, points_each=1000)
    goods = item(store, scheme_id, kind="physical", points_price=250, stock=3, title_zh="帆布袋")
    _, order = market.place_order(store, shop.people[0], goods.public_id, 2, "bags")
    assert points_of(store, shop.people[0]) == 500 and market.get_item(store, goods.public_id).stock == 1
    with pytest.raises(NotFound):
        market.cancel_order(store, order["order_id"], by="operator", actor=OPERATOR, scheme_id="elsewhere")
    done = market.cancel_order(store, order["order_id"], by="operator", actor=OPERATOR, scheme_id=scheme_id)
    assert done["status"] == "cancelled"
    assert points_of(store, shop.people[0]) == 1000 and market.get_item(store, goods.public_id).stock == 3
    [entry] = audit.list_entries(store, scheme_id, "market.cancel")
    assert (entry.actor, entry.target, entry.details) == (OPERATOR, order["order_id"], {"was": "pending"})
    assert ledger.verify(store, scheme_id).ok


def test_erasure_cancels_orders_awaiting_shipment_and_returns_their_points_first(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, people=2, points_each=1000)
    person = shop.people[0]
    goods = item(store, scheme_id, kind="physical", points_price=200, stock=5, title_zh="保温杯")
    coupon = item(store, scheme_id, points_price=100, title_zh="咖啡券")
    _, waiting = market.place_order(store, person, goods.public_id, 1, "waiting")
    _, on_its_way = market.place_order(store, person, goods.public_id, 1, "on-its-way")
    market.place_order(store, person, coupon.public_id, 1, "coffee")
    market.ship_order(store, on_its_way["order_id"], carrier="京东物流", tracking="JD0001", actor=OPERATOR)
    assert points_of(store, person) == 500

    told = privacy.before_erasure(store, person)
    assert [o.public_id for o in told["pending"]] == [waiting["order_id"]]
    assert [o.public_id for o in told["shipped"]] == [on_its_way["order_id"]]
    assert (told["points_returned"], told["points_balance"], told["points_forfeited"]) == (200, 500, 700)

    erased = privacy.erase_person(store, person)
    assert erased["orders_cancelled"] == [waiting["order_id"]] and erased["points_returned"] == 200
    statuses = {o["order_id"]: o["status"] for o in market.orders_of(store, person)}
    assert statuses[waiting["order_id"]] == "cancelled" and statuses[on_its_way["order_id"]] == "shipped"
    assert points_of(store, person) == 700  # returned through the ledger, then no longer spendable
    assert market.get_item(store, goods.public_id).stock == 4
    assert system(store, scheme_id, SYSTEM_HELD) == 200  # the shipped order's points wait for its delivery
    assert not audit.list_entries(store, scheme_id, "market.cancel")  # the person's own decision, not an operator's
    again = privacy.erase_person(store, person)
    assert again["status"] == "erased" and again["orders_cancelled"] == []
    assert ledger.verify(store, scheme_id).ok
