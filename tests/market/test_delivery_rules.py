"""Where a physical good goes (issue 17): an address or a pick-up point, every problem named at once."""

from __future__ import annotations

import pytest

from tanhui.domain.market import Delivery, check_delivery, pickup_points
from tanhui.domain.scheme_settings import validate_settings
from tanhui.errors import InvalidInput

POINTS = ("江阳区政务服务中心", "龙马潭区图书馆")


def test_an_address_or_an_offered_pick_up_point() -> None:
    sent = {"method": "address", "recipient": " 王 小明 ", "phone": "138 0000 1234", "place": "泸州市江阳区  酒城大道 1 号"}
    assert check_delivery(sent, POINTS) == Delivery("address", "王 小明", "138 0000 1234", "泸州市江阳区 酒城大道 1 号")
    picked = check_delivery({"method": "pickup", "recipient": "Li", "phone": "+86-138-0000-1234", "place": POINTS[1]}, POINTS)
    assert picked.method == "pickup" and picked.place == POINTS[1]


def test_every_problem_is_named() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_delivery({"method": "pickup", "recipient": "", "phone": "call me", "place": "my house"}, POINTS)
    assert refused.value.code == "invalid_delivery" and set(refused.value.details) == {"recipient", "phone", "place"}
    with pytest.raises(InvalidInput) as refused:
        check_delivery({"method": "drone", "recipient": "Li", "phone": "13800001234", "place": "x"}, POINTS)
    assert set(refused.value.details) == {"method"}
    with pytest.raises(InvalidInput) as refused:
        check_delivery({"method": "address", "recipient": "Li", "phone": "13800001234", "place": "家"}, POINTS)
    assert set(refused.value.details) == {"place"}  # too short to find


def test_pick_up_points_are_the_schemes_else_the_merchants_shop() -> None:
    assert pickup_points({"pickup_points": list(POINTS)}, "泸州好物") == POINTS
    assert pickup_points({}, "泸州好物") == ("泸州好物",) and pickup_points({}, "") == ()
    assert validate_settings({"pickup_points": list(POINTS)})["pickup_points"] == list(POINTS)
    with pytest.raises(InvalidInput):
        validate_settings({"pickup_points": "江阳区"})
