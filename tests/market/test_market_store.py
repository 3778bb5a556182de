"""Orders, coupons, check-ins and expiry through the real store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tanhui.errors import BusinessRuleViolation, Conflict, NotFound
from tanhui.services import engagement, ledger, market
from tanhui.store import Store
from tests.market.helpers import item, open_shop


def balance(store: Store, account: int) -> int:
    return ledger.balance(store, account)


def test_coupon_order_is_fulfilled_at_once_with_a_pooled_code(store: Store, scheme_id: str, tmp_path: Path) -> None:
    shop = open_shop(store, scheme_id)
    coffee = item(store, scheme_id, stock=0)
    imported = market.import_codes(store, coffee.public_id, ["C-1", "C-2", "C-2", "C-3"])
    assert imported == {"added": 3, "skipped": 1, "unused": 3}
    assert market.get_item(store, coffee.public_id).stock == 3
    created, order = market.place_order(store, shop.people[0], coffee.public_id, 2, "key-1")
    assert created and order["status"] == "fulfilled" and order["coupon_codes"] == ["C-1", "C-2"] and order["points"] == 200
    assert balance(store, shop.points_accounts[0]) == 800
    again_created, again = market.place_order(store, shop.people[0], coffee.public_id, 2, "key-1")
    assert not again_created and again["order_id"] == order["order_id"]
    with pytest.raises(Conflict):
        market.place_order(store, shop.people[0], coffee.public_id, 1, "key-1")
    with pytest.raises(BusinessRuleViolation) as caught:
        market.place_order(store, shop.people[1], coffee.public_id, 2, "key-2")
    assert caught.value.code == "out_of_stock"
    with pytest.raises(BusinessRuleViolation) as not_cancellable:
        market.cancel_order(store, order["order_id"], account_id=shop.people[0])
    assert not_cancellable.value.code == "not_cancellable"
    assert ledger.verify(store, scheme_id).ok


def test_physical_order_life_cycle(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id)
    kettle = item(store, scheme_id, kind="physical", points_price=300, stock=2)
    _, first = market.place_order(store, shop.people[0], kettle.public_id, 1, "a")
    assert first["status"] == "pending" and balance(store, shop.points_accounts[0]) == 700
    cancelled = market.cancel_order(store, first["order_id"], account_id=shop.people[0])
    assert cancelled["status"] == "cancelled" and balance(store, shop.points_accounts[0]) == 1000
    assert market.get_item(store, kettle.public_id).stock == 2
    assert market.cancel_order(store, first["order_id"], account_id=shop.people[0])["status"] == "cancelled"  # twice: harmless

    _, second = market.place_order(store, shop.people[0], kettle.public_id, 1, "b")
    with pytest.raises(NotFound):
        market.cancel_order(store, second["order_id"], account_id=shop.people[1])  # not yours
    assert market.ship_order(store, second["order_id"])["status"] == "shipped"
    with pytest.raises(BusinessRuleViolation):
        market.cancel_order(store, second["order_id"], account_id=shop.people[0])
    with pytest.raises(BusinessRuleViolation):
        market.ship_order(store, second["order_id"])
    assert market.deliver_order(store, second["order_id"])["status"] == "delivered"
    with pytest.raises(BusinessRuleViolation):
        market.deliver_order(store, second["order_id"])  # posted once only
    assert balance(store, shop.points_accounts[0]) == 700
    with store.unit_of_work(write=False) as uow:
        from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_HELD, SYSTEM_REDEEMED

        assert uow.ledger.balance(uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_HELD).id) == 0
        assert uow.ledger.balance(uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id) == 300
    assert ledger.verify(store, scheme_id).ok


def test_refusals(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, points_each=150)
    dear = item(store, scheme_id, points_price=100, per_person_limit=1, stock=5)
    market.place_order(store, shop.people[0], dear.public_id, 1, "x1")
    with pytest.raises(BusinessRuleViolation) as limit:
        market.place_order(store, shop.people[0], dear.public_id, 1, "x2")
    assert limit.value.code == "limit_reached"
    pricey = item(store, scheme_id, points_price=100, stock=5)
    with pytest.raises(BusinessRuleViolation) as poor:
        market.place_order(store, shop.people[0], pricey.public_id, 1, "x3")
    assert poor.value.code == "insufficient_points" and poor.value.params == {"points": 100, "balance": 50}
    later = item(store, scheme_id, sale_starts_at=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(BusinessRuleViolation) as early:
        market.place_order(store, shop.people[1], later.public_id, 1, "x4")
    assert early.value.code == "not_on_sale"
    with pytest.raises(NotFound):
        market.place_order(store, shop.people[1], "itm_nope", 1, "x5")
    other = open_shop(store, scheme_id + "o", people=1)
    with pytest.raises(NotFound):  # an item of another scheme is invisible
        market.place_order(store, other.people[0], pricey.public_id, 1, "x6")
    assert market.get_item(store, pricey.public_id).stock == 5  # nothing half-written


def test_platform_codes_when_a_coupon_has_no_merchant_pool(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id)
    voucher = item(store, scheme_id, stock=3)
    _, order = market.place_order(store, shop.people[0], voucher.public_id, 2, "k")
    assert len(order["coupon_codes"]) == 2 and all(c.startswith("TH-") for c in order["coupon_codes"])
    assert len(set(order["coupon_codes"])) == 2


def test_checkin_once_per_local_day_around_midnight(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, points_each=0, settings={"checkin": {"points": 2, "streak_days": 3, "streak_bonus": 10}})
    person, points = shop.people[0], shop.points_accounts[0]
    # 2026-11-25 23:59:30 in Shanghai is 15:59:30 UTC; 00:00:30 the next day is 16:00:30 UTC
    late = datetime(2026, 11, 25, 15, 59, 30, tzinfo=UTC)
    created, first = engagement.checkin(store, person, now=late)
    assert created and first == {"date": "2026-11-25", "streak": 1, "points": 2, "bonus": 0}
    created, again = engagement.checkin(store, person, now=late + timedelta(seconds=20))
    assert not created and again == first
    created, next_day = engagement.checkin(store, person, now=late + timedelta(minutes=1))
    assert created and next_day["date"] == "2026-11-26" and next_day["streak"] == 2
    # the same Shanghai day, though the UTC date changed: still one check-in
    created, same = engagement.checkin(store, person, now=datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    assert not created and same == next_day
    created, third = engagement.checkin(store, person, now=datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
    assert third["streak"] == 3 and third["bonus"] == 10
    assert balance(store, points) == 2 + 2 + 2 + 10
    created, broken = engagement.checkin(store, person, now=datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    assert broken["streak"] == 1
    assert ledger.verify(store, scheme_id).ok


def test_expiry_fifo_and_idempotent(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, people=3, points_each=0)
    earn_2025 = datetime(2025, 6, 1, tzinfo=UTC)
    earn_2026 = datetime(2026, 6, 1, tzinfo=UTC)
    a, b, c = shop.points_accounts
    ledger.transfer(store, scheme_id, [(shop.issuance, a, 500)], kind="reward", idempotency_key="a25", now=earn_2025)
    ledger.transfer(store, scheme_id, [(shop.issuance, a, 300)], kind="reward", idempotency_key="a26", now=earn_2026)
    ledger.transfer(store, scheme_id, [(shop.issuance, b, 400)], kind="reward", idempotency_key="b25", now=earn_2025)
    coffee = item(store, scheme_id, points_price=150, stock=10)
    market.place_order(store, shop.people[1], coffee.public_id, 1, "b-spend", now=earn_2026)  # spends old points first
    ledger.transfer(store, scheme_id, [(shop.issuance, c, 100)], kind="reward", idempotency_key="c26", now=earn_2026)
    as_of = date(2027, 1, 1)
    now = datetime(2027, 1, 1, 2, tzinfo=UTC)
    notices = engagement.expire_points(store, scheme_id, as_of, now=now)
    expired = {n.account_id: n.amount for n in notices}
    assert expired == {shop.people[0]: 500, shop.people[1]: 250}
    assert (balance(store, a), balance(store, b), balance(store, c)) == (300, 0, 100)
    assert engagement.expire_points(store, scheme_id, as_of, now=now + timedelta(hours=1)) == []
    assert (balance(store, a), balance(store, b), balance(store, c)) == (300, 0, 100)
    assert engagement.expire_points(store, scheme_id, date(2026, 12, 31), now=now) == []  # 2025's points live until then
    assert ledger.verify(store, scheme_id).ok


def test_scheme_file_applies_rules_partners_and_a_catalog(store: Store, scheme_id: str, tmp_path: Path) -> None:
    from tanhui.services import partners, scheme_file

    demo = Path(__file__).resolve().parents[2] / "src" / "tanhui" / "sim" / "luzhou.toml"
    mine = tmp_path / "scheme.toml"  # the demo file under this test's own scheme id
    mine.write_text(demo.read_text(encoding="utf-8").replace('id = "luzhou"', f'id = "{scheme_id}"', 1), encoding="utf-8")
    first = scheme_file.apply(store, mine)
    assert first.scheme_created and first.items_created >= 100 and len(first.partners_created) >= 6
    second = scheme_file.apply(store, mine)
    assert not second.settings_changed and second.items_created == 0 and second.items_updated == 0 and not second.partners_created
    assert len(market.list_items(store, scheme_id)) == first.items_created
    assert {p.name for p in partners.list_partners(store, scheme_id)} >= {"泸州公交", "光盘餐厅联盟"}
    changed = tmp_path / "changed.toml"
    changed.write_text(mine.read_text(encoding="utf-8").replace("per_event = 5", "per_event = 6", 1), encoding="utf-8")
    third = scheme_file.apply(store, changed)
    assert third.settings_changed and third.items_updated == 0


def test_scheme_file_errors_name_the_field(store: Store, tmp_path: Path) -> None:
    from tanhui.errors import InvalidInput
    from tanhui.services import scheme_file

    bad = tmp_path / "bad.toml"
    for text, fragment in [
        ('[scheme]\nid = "x1"\n', "[scheme] needs id and name"),
        ('[scheme]\nid = "x1"\nname = "n"\n[settings]\ncolour = "red"\n', "unknown settings: colour"),
        ('[scheme]\nid = "x1"\nname = "n"\n[[items]]\nkey = "a"\npoints = 0\ntitle = "t"\n', "items[0] (a)"),
        ('[scheme]\nid = "x1"\nname = "n"\n[[partners]]\nname = "p"\nscenarios = ["teleport"]\n', "unknown scenarios teleport"),
        ("[scheme\n", "TOML"),
    ]:
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(InvalidInput) as caught:
            scheme_file.apply(store, bad)
        assert fragment in caught.value.message("en") and str(bad) in caught.value.message("en")
