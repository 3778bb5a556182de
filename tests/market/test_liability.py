"""The points liability on the dashboard (issue 17): what people hold, what is held for open orders (by
merchant), and what will expire soon — the same amounts `tanhui points expire` then expires. Both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tanhui.domain.ledger import ASSET_POINTS
from tanhui.services import engagement, ledger, liability, market
from tanhui.store import Store
from tests.market.helpers import item, open_shop


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def people_hold(store: Store, scheme_id: str) -> int:
    with store.unit_of_work(write=False) as uow:
        return sum(uow.ledger.people_balances(scheme_id, ASSET_POINTS))


def test_liability_is_what_people_hold_what_orders_hold_and_what_expire_will_take(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, people=3, points_each=0)
    a, b, c = shop.people
    ledger.transfer(
        store, scheme_id, [(shop.issuance, shop.points_accounts[0], 1000)], kind="reward", now=at("2024-06-01T04:00:00")
    )
    ledger.transfer(
        store, scheme_id, [(shop.issuance, shop.points_accounts[1], 500)], kind="reward", now=at("2025-03-01T04:00:00")
    )
    ledger.transfer(
        store, scheme_id, [(shop.issuance, shop.points_accounts[2], 80)], kind="reward", now=at("2024-12-30T04:00:00")
    )
    goods = item(store, scheme_id, kind="physical", points_price=300, merchant="泸州好物", title_zh="保温杯")
    own = item(store, scheme_id, kind="physical", points_price=50, title_zh="帆布袋")
    coupon = item(store, scheme_id, points_price=100, merchant="咖啡馆")
    market.place_order(store, a, goods.public_id, 1, "a-goods", now=at("2025-02-01T04:00:00"))
    market.place_order(store, c, own.public_id, 1, "c-bag", now=at("2025-02-02T04:00:00"))
    market.place_order(store, b, coupon.public_id, 1, "b-coupon", now=at("2025-04-01T04:00:00"))

    june = liability.points_liability(store, scheme_id, now=at("2025-06-01T04:00:00"))
    assert june.outstanding == 700 + 400 + 30 == people_hold(store, scheme_id)
    assert june.held == 350
    assert [(m.merchant, m.orders, m.points) for m in june.held_by_merchant] == [("泸州好物", 1, 300), ("", 1, 50)]
    assert [(e.days, e.by, e.points) for e in june.expiring] == [(30, date(2025, 7, 1), 0), (90, date(2025, 8, 30), 0)]

    december = liability.points_liability(store, scheme_id, now=at("2025-12-10T04:00:00"))
    # points earned in 2024 live until the end of 2025; the oldest are spent first
    assert [(e.days, e.earned_through, e.points, e.people) for e in december.expiring] == [
        (30, 2024, 700 + 30, 2),
        (90, 2024, 730, 2),
    ]
    run = engagement.expire_points(store, scheme_id, date(2026, 1, 1), now=at("2026-01-01T04:00:00"))
    assert sorted((n.account_id, n.amount) for n in run) == sorted([(a, 700), (c, 30)])
    after = liability.points_liability(store, scheme_id, now=at("2026-01-01T04:00:00"))
    assert after.outstanding == 400 == people_hold(store, scheme_id)
    assert [e.points for e in after.expiring] == [0, 0]  # the run took them; a rerun would take nothing
    market.cancel_order(store, [o for o in market.orders_of(store, a) if o["status"] == "pending"][0]["order_id"], account_id=a)
    assert (
        liability.points_liability(store, scheme_id, now=at("2026-01-02T04:00:00")).outstanding
        == 700
        == people_hold(store, scheme_id)
    )


def test_a_scheme_whose_points_never_expire_says_so(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, people=1, points_each=250, settings={"points_expiry": {"policy": "never"}})
    owed = liability.points_liability(store, scheme_id)
    assert owed.policy == "never" and owed.expiring == []
    assert owed.outstanding == 250 and owed.held == 0 and owed.held_by_merchant == []
    assert shop.people
