"""The demo catalog is believable (issue 17): a resident who opens the demo's market should not meet a 2 ml
thermos, 500 toothbrushes for 195 points, 30 ml shampoo dearer than 200 ml, or a rice cooker sold by a
bookshop. The rules are written here independently of the file, so a generated or hand-edited catalog that
breaks one fails."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tanhui.domain.market import KINDS
from tanhui.services import scheme_file

DEMO = Path(__file__).resolve().parents[2] / "src" / "tanhui" / "sim" / "luzhou.toml"

# What each merchant of the demo city would sell: categories (and so, what a bookshop may not sell).
MERCHANT_CATEGORIES: dict[str, set[str]] = {
    "川南超市": {"food", "daily", "cosmetics"},
    "泸州好物": {"food", "daily"},
    "龙马潭家电": {"appliance", "service"},
    "长江书局": {"culture", "donation"},
    "泸州老窖文创": {"culture"},
    "泸州公交": {"transport"},
    "酒城单车": {"transport"},
    "绿电充电": {"transport"},
    "江阳单车行": {"service"},
    "江阳区环保协会": {"donation", "service"},
    "江阳咖啡": {"food"},
    "酒城茶饮": {"food"},
    "南城面馆": {"food"},
    "龙马潭火锅": {"food"},
    "麦香烘焙": {"food"},
    "江阳影城": {"culture"},
    "泸州市健康管理中心": {"service"},
}

# The size or count in a title, with its unit, and the range a real product of that unit has.
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(ml|L|g|元|次|天|度|只装|支装|套|卷|件套|个|片装|棵|本|平方米|台|张)")
UNIT_RANGE: dict[str, tuple[Decimal, Decimal]] = {
    "ml": (Decimal(30), Decimal(2000)),  # a 2 ml thermos is not one
    "L": (Decimal("1.5"), Decimal(10)),
    "g": (Decimal(20), Decimal(2000)),
    "元": (Decimal(1), Decimal(500)),
    "度": (Decimal(1), Decimal(100)),
    "平方米": (Decimal(1), Decimal(100)),
}
COUNT_RANGE = (Decimal(1), Decimal(30))  # packs, rides, days, visits: nobody redeems 500 toothbrushes
POINTS_PER_YUAN = (15, 25)  # a ¥N voucher costs about 20 points per yuan


def _items() -> list[dict[str, Any]]:
    return list(scheme_file.validate(DEMO, scheme_file.load(DEMO))["items"])


def _size(title: str) -> tuple[str, Decimal, str] | None:
    """(family, amount, unit): the family is the title with its amount taken out."""
    found = SIZE.search(title)
    if found is None:
        return None
    family = title[: found.start(1)] + "#" + title[found.end(1) :]
    return family, Decimal(found.group(1)), found.group(2)


def test_the_demo_catalog_is_big_enough_to_browse_and_has_goods_the_demo_people_buy() -> None:
    items = _items()
    assert len(items) >= 100  # tests/api/test_market_http.py lists at least 100
    assert {i["kind"] for i in items} == set(KINDS)
    assert any(i["kind"] == "physical" and i["points_price"] < 400 for i in items)  # sim/demo.py shops under 400


def test_every_item_is_sold_by_a_merchant_that_would_sell_it() -> None:
    wrong = [
        (i["key"], i["merchant"], i["category"])
        for i in _items()
        if i["category"] not in MERCHANT_CATEGORIES.get(i["merchant"], set())
    ]
    assert wrong == []


def test_sizes_and_counts_are_ones_a_shop_sells() -> None:
    wrong = []
    for item in _items():
        sized = _size(item["title_zh"])
        if sized is None:
            continue
        _family, amount, unit = sized
        low, high = UNIT_RANGE.get(unit, COUNT_RANGE)
        if not low <= amount <= high:
            wrong.append((item["key"], item["title_zh"]))
    assert wrong == []


def test_within_a_product_family_bigger_costs_more_in_total_and_no_more_per_unit() -> None:
    families: dict[tuple[str, str], list[tuple[Decimal, int, str]]] = defaultdict(list)
    for item in _items():
        sized = _size(item["title_zh"])
        if sized is not None:
            families[(item["merchant"], sized[0])].append((sized[1], item["points_price"], item["key"]))
    assert sum(len(f) > 1 for f in families.values()) >= 20
    wrong = []
    for family, members in families.items():
        members.sort()
        for (small, small_price, a), (big, big_price, b) in zip(members, members[1:], strict=False):
            if not (small < big and small_price < big_price and big_price / big <= small_price / small):
                wrong.append((family, a, b))
    assert wrong == []


def test_vouchers_cost_about_twenty_points_per_yuan_of_face_value() -> None:
    wrong = []
    for item in _items():
        sized = _size(item["title_zh"])
        if item["kind"] == "coupon" and sized is not None and sized[2] == "元":
            per_yuan = item["points_price"] / sized[1]
            if not POINTS_PER_YUAN[0] <= per_yuan <= POINTS_PER_YUAN[1]:
                wrong.append((item["key"], item["points_price"], sized[1]))
    assert wrong == []


@pytest.mark.parametrize("kind, most_stock, most_limit", [("physical", 500, 3), ("service", 500, 3), ("coupon", 1000, 5)])
def test_stock_and_limits_are_what_a_city_programme_holds(kind: str, most_stock: int, most_limit: int) -> None:
    of_kind = [i for i in _items() if i["kind"] == kind]
    assert of_kind
    assert [i["key"] for i in of_kind if not 0 < i["stock"] <= most_stock] == []
    assert [i["key"] for i in of_kind if i["per_person_limit"] is not None and i["per_person_limit"] > most_limit] == []
    assert [i["key"] for i in of_kind if i["points_price"] < 40] == []
