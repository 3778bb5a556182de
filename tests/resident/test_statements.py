"""The points statement (积分明细) through the real store, on SQLite and PostgreSQL: its totals are the
ledger's balance, its pages hold every posting once, its lines name their causes, and "expiring soon"
is what `tanhui points expire` then posts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tanhui.domain import engagement as rules
from tanhui.services import engagement, ledger, market, statements
from tanhui.services.principal import Principal
from tanhui.store import Store
from tests.market.helpers import item, open_shop
from tests.web.helpers import build_city

T0 = datetime(2025, 3, 2, 2, 0, tzinfo=UTC)


def _all_lines(store: Store, account_id: int, limit: int, now: datetime) -> list[statements.Line]:
    lines: list[statements.Line] = []
    cursor = None
    while True:
        page = statements.statement(store, account_id, cursor, limit, now=now)
        assert page.first == len(lines) + 1
        lines += page.lines
        if page.next_cursor is None:
            return lines
        cursor = page.next_cursor


def _busy_person(store: Store, scheme_id: str) -> tuple[object, int]:
    """Rewards in two years, check-ins, a coupon, a pending and a delivered and a cancelled parcel,
    a correction, a gift to another person, and an expiry run."""
    shop = open_shop(store, scheme_id, people=2, points_each=0, settings={"checkin": {"points": 2}})
    person, points = shop.people[0], shop.points_accounts[0]
    first = ledger.transfer(store, scheme_id, [(shop.issuance, points, 900)], kind="reward", idempotency_key="r1", now=T0)
    ledger.transfer(store, scheme_id, [(shop.issuance, points, 40)], kind="reward", idempotency_key="r2", now=T0)
    assert first.entry is not None and first.entry.id is not None
    ledger.reverse(store, scheme_id, first.entry.id, now=T0 + timedelta(hours=1))  # the 900 was a mistake
    ledger.transfer(store, scheme_id, [(shop.issuance, points, 700)], kind="reward", idempotency_key="r3", now=T0)
    for d in range(3):
        engagement.checkin(store, person, now=T0 + timedelta(days=d))
    later = datetime(2026, 5, 4, 3, tzinfo=UTC)
    ledger.transfer(store, scheme_id, [(shop.issuance, points, 500)], kind="reward", idempotency_key="r4", now=later)
    coffee = item(store, scheme_id, points_price=60)
    kettle = item(store, scheme_id, kind="physical", title_zh="保温壶", title_en="Flask", points_price=150, stock=5)
    market.place_order(store, person, coffee.public_id, 1, "o1", now=later)
    _c, pending = market.place_order(store, person, kettle.public_id, 1, "o2", now=later)
    _c, delivered = market.place_order(store, person, kettle.public_id, 1, "o3", now=later)
    _c, cancelled = market.place_order(store, person, kettle.public_id, 1, "o4", now=later)
    market.ship_order(store, delivered["order_id"], now=later)
    market.deliver_order(store, delivered["order_id"], now=later)
    market.cancel_order(store, cancelled["order_id"], account_id=person, now=later)
    other = shop.points_accounts[1]
    ledger.transfer(store, scheme_id, [(points, other, 25)], kind="gift", idempotency_key="g1", now=later)
    assert pending["status"] == "pending"
    return shop, person


def test_totals_are_the_ledger_balance_and_pages_hold_every_posting_once(store: Store, scheme_id: str) -> None:
    shop, person = _busy_person(store, scheme_id)
    now = datetime(2026, 6, 1, 4, tzinfo=UTC)
    page = statements.statement(store, person, now=now)
    t = page.totals
    assert t.balance == ledger.balance(store, shop.points_accounts[0])  # type: ignore[attr-defined]
    assert t.identity() == t.balance
    assert t.corrected == 900 and t.earned == 900 + 40 + 700 + 500 + 2 * 3 and t.earned_checkins == 6
    assert t.earned_other == 900 + 40 + 700 + 500 and t.earned_behaviours == 0
    orders = market.orders_of(store, person)
    assert t.held == sum(o["points"] for o in orders if o["status"] in ("pending", "shipped")) == 150
    assert t.redeemed == sum(o["points"] for o in orders if o["status"] in ("fulfilled", "delivered")) == 60 + 150
    assert t.other == -25 and t.expired == 0
    lines = _all_lines(store, person, 4, now)
    assert len(lines) == t.postings == len({x.posting_id for x in lines})
    assert [x.posting_id for x in lines] == sorted((x.posting_id for x in lines), reverse=True)
    assert sum(x.amount for x in lines) == t.balance and lines[0].balance_after == t.balance
    for newer, older in zip(lines, lines[1:], strict=False):  # a bank statement's running balance
        assert older.balance_after + newer.amount == newer.balance_after
    causes = [x.cause for x in lines]
    assert causes.count("checkin") == 3 and causes.count("order_hold") == 4 and causes.count("order_void") == 1
    assert causes.count("correction") == 1 and causes.count("reward") == 4 and causes.count("other") == 1
    holds = {x.ref["order"]: x.ref for x in lines if x.cause == "order_hold"}
    assert {r["status"] for r in holds.values()} == {"fulfilled", "pending", "delivered", "cancelled"}
    assert {r["title_en"] for r in holds.values()} == {"Coffee voucher", "Flask"}
    checkin = next(x for x in lines if x.cause == "checkin")
    assert checkin.ref["day"] == "2025-03-04" and checkin.ref["streak"] == 3
    assert ledger.verify(store, scheme_id).ok


def test_expiring_soon_is_what_the_expiry_run_then_posts(store: Store, scheme_id: str) -> None:
    shop, person = _busy_person(store, scheme_id)
    # 2025's points (900 + 40 + 700 + 6 check-in points, the 900 taken back) live until 2026-12-31; 2026's
    # orders and the gift spent 60 + 150 + 150 + 25 of them first (the cancelled parcel's 150 came back):
    # 746 - 385 = 361 remain.
    autumn = datetime(2026, 11, 20, 4, tzinfo=UTC)
    page = statements.statement(store, person, now=autumn)
    assert page.expiry.policy == "end_of_next_year"
    assert page.expiry.soon == {30: 0, 90: 361}
    assert page.expiry.schedule == [(2025, date(2026, 12, 31), 361), (2026, date(2027, 12, 31), 500)]
    assert sum(points for _y, _d, points in page.expiry.schedule) == page.totals.balance
    in_90 = autumn + timedelta(days=90)
    notices = engagement.expire_points(store, scheme_id, in_90.date(), now=in_90)
    assert {n.account_id: n.amount for n in notices} == {person: page.expiry.soon[90]}
    after = statements.statement(store, person, now=in_90)
    assert after.totals.expired == 361 and after.totals.identity() == after.totals.balance == 500
    assert after.lines[0].cause == "expiry" and after.lines[0].ref["cutoff_year"] == 2025
    december = statements.statement(store, person, now=datetime(2027, 12, 10, 4, tzinfo=UTC))
    assert december.expiry.soon == {30: 500, 90: 500} and december.expiry.overdue == 0
    overdue = statements.statement(store, person, now=datetime(2028, 1, 3, 4, tzinfo=UTC))
    assert overdue.expiry.overdue == 500  # no run yet for 2026's points: shown as past their day


def test_a_scheme_whose_points_never_expire(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, people=1, points_each=300, settings={"points_expiry": {"policy": "never"}})
    page = statements.statement(store, shop.people[0], now=datetime(2099, 12, 20, tzinfo=UTC))
    assert page.expiry.policy == "never" and page.expiry.soon == {30: 0, 90: 0} and page.expiry.schedule == []


def test_behaviour_lines_name_their_event(store: Store, scheme_id: str, tmp_path: Path) -> None:
    city = build_city(store, tmp_path, scheme_id, people=1, days=2)
    person = city.people[0]
    page = statements.statement(store, person)
    behaviours = [x for x in page.lines if x.cause == "behaviour"]
    assert behaviours and all(x.ref["event"] for x in behaviours)
    assert {x.ref["scenario"] for x in behaviours} == {"bus_ride", "walking", "clean_plate"}
    assert page.totals.earned_behaviours == sum(x.amount for x in behaviours) > 0
    assert page.totals.identity() == page.totals.balance
    # a bus company's session: every point is there, but only the bus rides say what they were
    bus = Principal(person, partner_pk=city.partners["泸州公交"].pk)
    scoped = statements.statement(store, bus)
    assert scoped.totals == page.totals and len(scoped.lines) == len(page.lines)
    seen = [x.ref for x in scoped.lines if x.cause == "behaviour"]
    assert {r["scenario"] for r in seen} == {"bus_ride", None}
    assert all(r["event"] is None for r in seen if r["scenario"] is None)


def test_fifo_remaining_by_year_matches_the_expiry_rule() -> None:
    # earned 100 in 2024, 50 in 2025, 30 in 2026; spent 120: 2024 is used up, 30 of 2025 remain
    left = rules.remaining_by_year({2024: 100, 2025: 150, 2026: 180}, 120)
    assert left == {2025: 30, 2026: 30}
    for cutoff in (2024, 2025, 2026):
        earned = {2024: 100, 2025: 150, 2026: 180}[cutoff]
        assert sum(v for y, v in left.items() if y <= cutoff) == rules.amount_to_expire(earned, 120)
    assert rules.remaining_by_year({2025: 10}, 40) == {}
