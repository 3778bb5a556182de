"""Marketplace and engagement rules as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tanhui.domain import engagement as eng
from tanhui.domain import market as m
from tanhui.errors import BusinessRuleViolation, InvalidInput

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def item(**overrides: object) -> m.Item:
    fields: dict[str, object] = dict(
        id=1,
        public_id="itm_1",
        scheme_id="city",
        key="k",
        kind="coupon",
        category="food",
        title_zh="券",
        title_en="",
        description_zh="",
        description_en="",
        points_price=100,
        stock=5,
        per_person_limit=None,
        sale_starts_at=None,
        sale_ends_at=None,
        merchant="",
        status="active",
    )
    fields.update(overrides)
    return m.Item(**fields)  # type: ignore[arg-type]


def test_order_costs_price_times_quantity() -> None:
    assert m.check_order(item(), 3, NOW, 0) == 300


@pytest.mark.parametrize(
    ("overrides", "quantity", "already", "code"),
    [
        ({"stock": 2}, 3, 0, "out_of_stock"),
        ({"per_person_limit": 2}, 1, 2, "limit_reached"),
        ({"status": "hidden"}, 1, 0, "not_on_sale"),
        ({"sale_starts_at": NOW + timedelta(days=1)}, 1, 0, "not_on_sale"),
        ({"sale_ends_at": NOW}, 1, 0, "not_on_sale"),
    ],
)
def test_order_refusals(overrides: dict[str, object], quantity: int, already: int, code: str) -> None:
    with pytest.raises(BusinessRuleViolation) as caught:
        m.check_order(item(**overrides), quantity, NOW, already)
    assert caught.value.code == code


@pytest.mark.parametrize("quantity", [0, -1, 11, "2", 1.0, True])
def test_bad_quantities(quantity: object) -> None:
    with pytest.raises(InvalidInput):
        m.check_order(item(), quantity, NOW, 0)  # type: ignore[arg-type]


def test_transitions() -> None:
    assert m.next_status(m.PENDING, m.SHIPPED, "o") == m.SHIPPED
    assert m.next_status(m.SHIPPED, m.DELIVERED, "o") == m.DELIVERED
    for current, wanted in [
        (m.SHIPPED, m.CANCELLED),
        (m.DELIVERED, m.CANCELLED),
        (m.CANCELLED, m.DELIVERED),
        (m.FULFILLED, m.CANCELLED),
        (m.PENDING, m.DELIVERED),
    ]:
        with pytest.raises(BusinessRuleViolation):
            m.next_status(current, wanted, "o")


def test_item_validation_names_the_fields() -> None:
    with pytest.raises(InvalidInput) as caught:
        m.validate_item_fields({"kind": "car", "title_zh": "", "points_price": 0, "stock": -1})
    assert set(caught.value.details) == {"kind", "title", "points_price", "stock"}


def test_streaks_and_bonus() -> None:
    assert eng.streak_after(None, 0, date(2026, 11, 25)) == 1
    assert eng.streak_after(date(2026, 11, 24), 6, date(2026, 11, 25)) == 7
    assert eng.streak_after(date(2026, 11, 23), 6, date(2026, 11, 25)) == 1
    policy = eng.CheckinPolicy(points=2, streak_days=7, streak_bonus=10)
    assert eng.checkin_points(policy, 7) == (2, 10)
    assert eng.checkin_points(policy, 8) == (2, 0)
    assert eng.checkin_points(policy, 14) == (2, 10)


def test_campaigns() -> None:
    campaigns = eng.campaigns_from_settings(
        {
            "campaigns": [
                {"id": "double", "scenarios": ["bus_ride"], "starts": "2026-06-15", "ends": "2026-06-15", "multiplier": "2"},
                {"id": "bonus", "starts": "2026-06-10", "ends": "2026-06-20", "bonus": 3},
            ]
        }
    )
    assert eng.campaign_points(campaigns, "bus_ride", date(2026, 6, 15), 10) == (23, ["double", "bonus"])
    assert eng.campaign_points(campaigns, "walking", date(2026, 6, 15), 10) == (13, ["bonus"])
    assert eng.campaign_points(campaigns, "bus_ride", date(2026, 6, 21), 10) == (10, [])
    assert eng.campaign_points(campaigns, "bus_ride", date(2026, 6, 15), 0) == (0, [])  # nothing earned, no bonus
    half = eng.campaigns_from_settings(
        {"campaigns": [{"id": "h", "starts": "2026-01-01", "ends": "2026-12-31", "multiplier": "1.5"}]}
    )
    assert eng.campaign_points(half, "x", date(2026, 3, 1), 5) == (7, ["h"])  # rounded down once
    for bad in (
        {"id": "x", "starts": "2026-02-01", "ends": "2026-01-01"},
        {"id": "x", "starts": "nope", "ends": "2026-01-01"},
        {"starts": "2026-01-01", "ends": "2026-01-02"},
    ):
        with pytest.raises(InvalidInput):
            eng.campaigns_from_settings({"campaigns": [bad]})
    assert eng.Campaign("a", "", "", (), date(2026, 1, 1), date(2026, 1, 1), Decimal(2)).applies("any", date(2026, 1, 1))


def test_badges() -> None:
    assert [b.code for b in eng.badges_for(eng.AccountStats(0, {}, 0))] == []
    codes = [b.code for b in eng.badges_for(eng.AccountStats(10_000, {"bus_ride": 1, "clean_plate": 10}, 30))]
    assert codes == ["first_bus_ride", "clean_plate_10", "reduction_1kg", "reduction_10kg", "streak_7", "streak_30"]


def test_expiry_rules() -> None:
    assert eng.expiry_cutoff_year(date(2027, 12, 31)) == 2025
    assert eng.expiry_cutoff_year(date(2027, 1, 1)) == 2025
    assert eng.amount_to_expire(500, 200) == 300
    assert eng.amount_to_expire(500, 800) == 0
