"""A delivery address is personal data (issue 17): kept beside the order, exported to the person, shown
to operators, and deleted with the account while the order and the ledger stay (verify still passes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tanhui.errors import InvalidInput
from tanhui.services import ledger, market, privacy
from tanhui.store import Store
from tests.web.helpers import build_city, fund

ADDRESS = {"method": "address", "recipient": "王小明", "phone": "13800001234", "place": "泸州市江阳区酒城大道 1 号"}


def _physical(store: Store, scheme_id: str) -> list[str]:
    items = [i for i in market.list_items(store, scheme_id, only_active=True) if i.kind == "physical" and i.stock > 0]
    return [i.public_id for i in sorted(items, key=lambda i: i.points_price)]


def test_the_address_goes_with_the_account_and_the_order_stays(store: Store, tmp_path: Path, scheme_id: str) -> None:
    city = build_city(store, tmp_path, scheme_id, people=2, days=1)
    me, other = city.people
    fund(store, scheme_id, me, 50_000)
    fund(store, scheme_id, other, 50_000)
    first, second = _physical(store, scheme_id)[:2]
    with pytest.raises(InvalidInput):  # refused before anything moves: no order, no points held
        market.place_order(store, me, first, 1, "bad-address", delivery={**ADDRESS, "phone": "x"})
    assert market.orders_of(store, me) == []
    _, shipped = market.place_order(store, me, first, 1, "to-ship", delivery=ADDRESS)
    market.ship_order(store, shipped["order_id"], actor="operator:test")
    _, theirs = market.place_order(store, other, second, 1, "theirs", delivery={**ADDRESS, "recipient": "李四"})
    assert market.deliveries(store, [shipped["order_id"]])[shipped["order_id"]] == ADDRESS
    exported = privacy.export_person(store, me)
    assert next(o for o in exported["orders"] if o["order_id"] == shipped["order_id"])["delivery"] == ADDRESS

    privacy.erase_person(store, me)
    assert market.deliveries(store, [shipped["order_id"]]) == {}  # the address and the phone are gone
    assert market.deliveries(store, [theirs["order_id"]])[theirs["order_id"]]["recipient"] == "李四"  # another's stays
    assert [o.public_id for o in market.scheme_orders(store, scheme_id) if o.public_id == shipped["order_id"]]  # the order stays
    with store.unit_of_work(write=False) as uow:
        mine = text("SELECT d.* FROM order_deliveries d JOIN orders o ON o.id = d.order_id WHERE o.scheme_id = :s")
        dump = " ".join(str(r) for r in uow.conn.execute(mine, {"s": scheme_id}))
    assert "13800001234" in dump and "王小明" not in dump  # only the other person's row is left
    assert ledger.verify(store, scheme_id).ok
