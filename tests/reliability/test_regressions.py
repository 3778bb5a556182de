"""Bugs the whole-service model found, pinned as plain tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tanhui.services import engagement, market
from tanhui.store import Store
from tests.market.helpers import item, open_shop


def test_expiry_rerun_after_an_escrow_return_changes_nothing(store: Store, scheme_id: str) -> None:
    """Found by tests/reliability/test_service_model.py: expiry ran, then an order placed before it was
    cancelled (its points came back from escrow); running the expiry again for the same date raised
    idempotency_conflict for the whole scheme instead of changing nothing."""
    shop = open_shop(store, scheme_id, people=1, points_each=100)
    lamp = item(store, scheme_id, kind="physical", points_price=40, stock=5)
    placed_at = datetime(2026, 3, 1, tzinfo=UTC)
    _, order = market.place_order(store, shop.people[0], lamp.public_id, 1, "k1", now=placed_at)
    as_of = date(2028, 1, 1)
    run_at = datetime(2028, 1, 1, 12, tzinfo=UTC)  # an "as of" later than the run's today is refused
    [notice] = engagement.expire_points(store, scheme_id, as_of, now=run_at)
    assert notice.amount == 60
    market.cancel_order(store, order["order_id"], account_id=shop.people[0], now=placed_at)
    assert engagement.expire_points(store, scheme_id, as_of, now=run_at) == []
