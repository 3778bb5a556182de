"""Model-based test: earn / order / cancel / ship / deliver / expire keep every invariant.

Invariants after every step: points are conserved per scheme (the ledger's zero sum, checked by
verify), no negative balance, every hold is resolved at most once and the order's status agrees
with the ledger, stock never goes negative and stock + quantity of open or settled orders equals
what was put on the shelf.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_EXPIRED, SYSTEM_HELD, SYSTEM_REDEEMED
from tanhui.errors import TanhuiError
from tanhui.services import engagement, ledger, market
from tanhui.store import Store
from tests.market.helpers import item, open_shop

PEOPLE = 3
SHELF = 4


def make_machine(store: Store) -> type[RuleBasedStateMachine]:
    class Market(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            self.scheme_id = f"mk{uuid.uuid4().hex[:10]}"
            self.shop = open_shop(store, self.scheme_id, people=PEOPLE, points_each=0)
            self.items = [
                item(store, self.scheme_id, kind="physical", points_price=40, stock=SHELF, key="phys"),
                item(store, self.scheme_id, kind="coupon", points_price=25, stock=SHELF, key="coupon", per_person_limit=2),
            ]
            self.orders: dict[str, tuple[int, int, str]] = {}  # order -> (person, item index, status)
            self.earned = [0] * PEOPLE
            self.day = datetime(2025, 3, 1, tzinfo=UTC)
            self.n = 0

        def _tick(self) -> datetime:
            self.day += timedelta(days=37)  # 25 steps span ~2.5 years, so points do expire
            return self.day

        @rule(person=st.integers(0, PEOPLE - 1), amount=st.integers(1, 120))
        def earn(self, person: int, amount: int) -> None:
            self.n += 1
            ledger.transfer(
                store,
                self.scheme_id,
                [(self.shop.issuance, self.shop.points_accounts[person], amount)],
                kind="reward",
                idempotency_key=f"e{self.n}",
                now=self._tick(),
            )

        @rule(person=st.integers(0, PEOPLE - 1), which=st.integers(0, 1), quantity=st.integers(1, 2))
        def order(self, person: int, which: int, quantity: int) -> None:
            self.n += 1
            try:
                _, placed = market.place_order(
                    store, self.shop.people[person], self.items[which].public_id, quantity, f"o{self.n}", now=self._tick()
                )
            except TanhuiError as error:
                assert error.code in ("insufficient_points", "out_of_stock", "limit_reached")
                return
            self.orders[placed["order_id"]] = (person, which, placed["status"])

        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            if not self.orders:
                return
            order_id = data.draw(st.sampled_from(sorted(self.orders)))
            person, which, status = self.orders[order_id]
            try:
                result = market.cancel_order(store, order_id, account_id=self.shop.people[person], now=self._tick())
            except TanhuiError as error:
                assert error.code == "not_cancellable" and status not in ("pending", "cancelled")
                return
            assert status in ("pending", "cancelled")
            self.orders[order_id] = (person, which, result["status"])

        @rule(data=st.data(), deliver=st.booleans())
        def fulfil(self, data: st.DataObject, deliver: bool) -> None:
            if not self.orders:
                return
            order_id = data.draw(st.sampled_from(sorted(self.orders)))
            person, which, status = self.orders[order_id]
            try:
                result = (market.deliver_order if deliver else market.ship_order)(store, order_id, now=self._tick())
            except TanhuiError as error:
                assert error.code == "order_transition"
                return
            self.orders[order_id] = (person, which, result["status"])

        @rule()
        def expire(self) -> None:
            as_of = self._tick().date()
            engagement.expire_points(store, self.scheme_id, as_of, now=self.day)
            assert engagement.expire_points(store, self.scheme_id, as_of, now=self.day) == []  # a rerun changes nothing

        @invariant()
        def holds_points_and_stock_agree(self) -> None:
            if not hasattr(self, "shop"):
                return
            report = ledger.verify(store, self.scheme_id)
            assert report.ok, report.problems  # includes: zero sum per asset, no negative person
            with store.unit_of_work(write=False) as uow:
                held = uow.ledger.balance(uow.ledger.system_account(self.scheme_id, ASSET_POINTS, SYSTEM_HELD).id)
                redeemed = uow.ledger.balance(uow.ledger.system_account(self.scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id)
                expired = uow.ledger.balance(uow.ledger.system_account(self.scheme_id, ASSET_POINTS, SYSTEM_EXPIRED).id)
            stored = {o.public_id: o for o in market.scheme_orders(store, self.scheme_id)}
            assert set(stored) == set(self.orders)
            assert held == sum(o.points for o in stored.values() if o.status in ("pending", "shipped"))
            assert redeemed == sum(o.points for o in stored.values() if o.status in ("fulfilled", "delivered"))
            assert held >= 0 and redeemed >= 0 and expired >= 0
            for o in stored.values():
                assert (o.settle_entry_id is None) == (o.status in ("pending", "shipped"))
            for shelf_item in self.items:
                stock = market.get_item(store, shelf_item.public_id).stock
                taken = sum(o.quantity for o in stored.values() if o.item_id == shelf_item.id and o.status != "cancelled")
                assert stock >= 0 and stock + taken == SHELF

    return Market


@pytest.mark.slow
def test_market_state_machine(store: Store) -> None:
    machine = make_machine(store)
    machine.TestCase.settings = settings(
        max_examples=3 if store.dialect.distributed else 15 if store.dialect.name == "postgresql" else 25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine.TestCase().runTest()
