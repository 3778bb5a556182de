"""Leaderboards (issue 17): the top places, my place below them when I am outside, no place for nothing."""

from __future__ import annotations

from datetime import date

import pytest

from tanhui.domain.leaderboard import board, board_from_top, check_period, period_days
from tanhui.errors import InvalidInput


def test_i_am_shown_below_the_top_when_outside_it() -> None:
    totals = [(str(i), f"p{i}", 1000 - i) for i in range(1, 31)]  # 30 people, 999 g down to 970 g
    found = board(totals, "21", 20)
    assert [line.place for line in found.top] == list(range(1, 21)) and not any(line.me for line in found.top)
    assert found.mine is not None and found.mine.place == 21 and found.mine.me and found.my_place == 21
    inside = board(totals, "3", 20)
    assert inside.mine is None and inside.my_place == 3 and [line.me for line in inside.top].index(True) == 2


def test_equal_totals_share_a_place_and_nothing_has_no_place() -> None:
    found = board([("a", None, 5), ("b", None, 9), ("c", None, 5), ("d", None, 1), ("new", None, 0)], "new", 20)
    assert [(line.key, line.place) for line in found.top] == [("b", 1), ("a", 2), ("c", 2), ("d", 4)]
    assert found.my_place is None and found.mine is None and found.ranked == 4  # not "5 of 5"


def test_periods_are_this_week_and_this_month_up_to_today() -> None:
    today = date(2026, 11, 26)  # a Thursday
    assert period_days("week", today) == (date(2026, 11, 23).toordinal(), today.toordinal())
    assert period_days("month", today) == (date(2026, 11, 1).toordinal(), today.toordinal())
    assert period_days("all", today) is None
    assert check_period(None) == "week" and check_period("month") == "month"
    with pytest.raises(InvalidInput):
        check_period("year")


def test_a_schemes_board_from_its_top_and_my_counted_place() -> None:
    top = [(str(i), None, 100 - i) for i in range(1, 21)]
    below = board_from_top(top, "me", 50, 34, 600, 20)
    assert [line.place for line in below.top] == list(range(1, 21)) and below.ranked == 600
    assert below.mine is not None and below.mine.place == 34 and below.mine.carbon_g == 50 and below.my_place == 34
    inside = board_from_top(top, "5", 95, 5, 600, 20)
    assert inside.mine is None and inside.my_place == 5 and inside.top[4].me
    newcomer = board_from_top(top, "new", 0, 601, 600, 20)
    assert newcomer.mine is None and newcomer.my_place is None  # nothing yet: no place, not "601 of 600"
