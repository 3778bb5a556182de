"""Marketplace races on a real PostgreSQL server: no double spend, no oversold stock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tanhui.errors import TanhuiError
from tanhui.services import ledger, market
from tanhui.store import Store
from tests.market.helpers import item, open_shop

pytestmark = pytest.mark.postgres


def outcome(call) -> str:  # type: ignore[no-untyped-def]
    try:
        call()
        return "ok"
    except TanhuiError as error:
        return error.code


def test_fifty_buyers_race_for_ten_in_stock(pg_shared_store: Store, scheme_id: str) -> None:
    store = pg_shared_store
    shop = open_shop(store, scheme_id, people=50, points_each=100)
    scarce = item(store, scheme_id, kind="physical", points_price=100, stock=10)
    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(
            pool.map(
                lambda i: outcome(lambda: market.place_order(store, shop.people[i], scarce.public_id, 1, f"race-{i}")), range(50)
            )
        )
    assert results.count("ok") == 10 and results.count("out_of_stock") == 40
    assert market.get_item(store, scarce.public_id).stock == 0
    balances = [ledger.balance(store, a) for a in shop.points_accounts]
    assert sorted(balances) == [0] * 10 + [100] * 40  # exactly the ten buyers paid
    assert len(market.scheme_orders(store, scheme_id)) == 10
    assert ledger.verify(store, scheme_id).ok


def test_one_person_thirty_orders_covering_three(pg_shared_store: Store, scheme_id: str) -> None:
    store = pg_shared_store
    shop = open_shop(store, scheme_id, people=1, points_each=300)
    items = [item(store, scheme_id, kind="physical", points_price=100, stock=50, key=f"k{i}") for i in range(3)]
    with ThreadPoolExecutor(max_workers=15) as pool:
        results = list(
            pool.map(
                lambda i: outcome(lambda: market.place_order(store, shop.people[0], items[i % 3].public_id, 1, f"mine-{i}")),
                range(30),
            )
        )
    assert results.count("ok") == 3 and results.count("insufficient_points") == 27
    assert ledger.balance(store, shop.points_accounts[0]) == 0
    assert sum(50 - market.get_item(store, i.public_id).stock for i in items) == 3
    assert ledger.verify(store, scheme_id).ok


def test_the_same_idempotency_key_raced_makes_one_order(pg_shared_store: Store, scheme_id: str) -> None:
    store = pg_shared_store
    shop = open_shop(store, scheme_id, people=1, points_each=1000)
    coffee = item(store, scheme_id, points_price=100, stock=50)
    with ThreadPoolExecutor(max_workers=10) as pool:
        orders = list(
            pool.map(
                lambda _: market.place_order(store, shop.people[0], coffee.public_id, 1, "same-key")[1]["order_id"], range(10)
            )
        )
    assert len(set(orders)) == 1
    assert ledger.balance(store, shop.points_accounts[0]) == 900
