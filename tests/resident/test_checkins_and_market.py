"""Check-in feedback and calendar, and what the market says a person can afford: the pure rules, and
the services through the real store on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tanhui.domain import engagement as rules
from tanhui.domain import market as market_rules
from tanhui.services import engagement, market
from tanhui.store import Store
from tests.market.helpers import item, open_shop


def test_days_to_the_next_bonus_and_a_living_streak() -> None:
    policy = rules.CheckinPolicy(points=2, streak_days=7, streak_bonus=10)
    assert [rules.days_to_bonus(policy, s) for s in (1, 6, 7, 8)] == [6, 1, 7, 6]
    assert rules.days_to_bonus(rules.CheckinPolicy(streak_bonus=0), 3) is None
    today = date(2026, 3, 10)
    assert rules.streak_alive(date(2026, 3, 10), 4, today) == 4
    assert rules.streak_alive(date(2026, 3, 9), 4, today) == 4  # today's check-in may still come
    assert rules.streak_alive(date(2026, 3, 8), 4, today) == 0
    assert rules.streak_alive(None, 0, today) == 0


def test_the_first_reason_an_order_would_be_refused() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    base = market_rules.Item(1, "itm_x", "s", "k", "physical", "home", "壶", "Flask", "", "", 300, 5, 2, None, None, "", "active")
    assert market_rules.obstacle(base, 1, now, 0, 300) is None
    assert market_rules.obstacle(base, 1, now, 0, 299) == "insufficient_points"
    assert market_rules.obstacle(base, 1, now, 2, 10_000) == "limit_reached"
    assert market_rules.obstacle(base.__class__(**{**_fields(base), "stock": 0}), 1, now, 0, 10_000) == "out_of_stock"
    later = base.__class__(**{**_fields(base), "sale_starts_at": now + timedelta(days=1)})
    assert market_rules.obstacle(later, 1, now, 0, 10_000) == "not_on_sale"
    assert market_rules.obstacle(base, 11, now, 0, 10_000) == "invalid_quantity"
    assert market_rules.most_affordable(base, 0, 700) == 2  # 700 buys two, the limit allows two
    assert market_rules.most_affordable(base, 1, 10_000) == 1 and market_rules.most_affordable(base, 0, 299) == 0


def _fields(i: market_rules.Item) -> dict[str, object]:
    return {name: getattr(i, name) for name in market_rules.Item.__slots__}


def test_a_month_of_check_ins_and_todays_words(store: Store, scheme_id: str) -> None:
    shop = open_shop(
        store, scheme_id, people=1, points_each=0, settings={"checkin": {"points": 2, "streak_days": 3, "streak_bonus": 5}}
    )
    person = shop.people[0]
    start = datetime(2026, 2, 26, 2, tzinfo=UTC)  # Shanghai 10:00, 26 Feb
    for d in range(5):  # 26, 27, 28 Feb (bonus on the third), 1, 2 Mar
        engagement.checkin(store, person, now=start + timedelta(days=d))
    march_2 = start + timedelta(days=4, hours=1)
    feb = engagement.checkin_month(store, person, date(2026, 2, 1), now=march_2)
    assert sorted(d.day for d in feb.days) == [26, 27, 28] and feb.points == 2 + 2 + 7
    assert feb.first == date(2026, 2, 1) and feb.today == date(2026, 3, 2) and feb.streak == 5 and feb.best_streak == 5
    march = engagement.checkin_month(store, person, now=march_2)
    assert march.first == date(2026, 3, 1) and len(march.days) == 2
    today, policy = engagement.checkin_today(store, person, now=march_2)
    assert today is not None and (today.streak, today.points, today.bonus) == (5, 2, 0) and policy.streak_bonus == 5
    assert engagement.checkin_today(store, person, now=march_2 + timedelta(days=1))[0] is None
    broken = engagement.checkin_month(store, person, now=march_2 + timedelta(days=2))
    assert broken.streak == 0 and broken.best_streak == 5


def test_redeemability_reads_the_balance_and_what_was_ordered(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, people=1, points_each=500)
    person = shop.people[0]
    flask = item(store, scheme_id, kind="physical", title_zh="保温壶", points_price=200, stock=5, per_person_limit=2)
    can = market.redeemability(store, person, flask)
    assert can == {"balance": 500, "obstacle": None, "most": 2, "short": 0}
    assert market.redeemability(store, person, flask, 3)["obstacle"] == "limit_reached"
    market.place_order(store, person, flask.public_id, 2, "two")
    after = market.redeemability(store, person, flask)
    assert after["balance"] == 100 and after["obstacle"] == "limit_reached" and after["most"] == 0
    dear = item(store, scheme_id, title_zh="贵", points_price=900)
    assert market.redeemability(store, person, dear) == {
        "balance": 100,
        "obstacle": "insufficient_points",
        "most": 0,
        "short": 800,
    }
