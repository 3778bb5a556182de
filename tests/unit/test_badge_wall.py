"""The badge wall (issue 17): every badge, earned or locked, with progress in the figure's own unit."""

from __future__ import annotations

from tanhui.domain.engagement import BADGES, AccountStats, badge_wall, badges_for
from tanhui.web.pages.badges import progress_words


def test_the_wall_holds_every_badge_with_its_progress() -> None:
    stats = AccountStats(carbon_g=450, events_by_scenario={"bus_ride": 2, "clean_plate": 3}, best_streak=5)
    wall = {p.badge.code: p for p in badge_wall(stats)}
    assert set(wall) == {b.code for b in BADGES}
    assert wall["first_bus_ride"].earned and wall["first_bus_ride"].percent == 100
    assert not wall["clean_plate_10"].earned and wall["clean_plate_10"].percent == 30
    assert wall["reduction_1kg"].percent == 45 and wall["first_metro_ride"].percent == 0
    assert wall["streak_7"].percent == 71 and wall["streak_30"].current == 5
    assert {p.badge.code for p in wall.values() if p.earned} == {b.code for b in badges_for(stats)}


def test_almost_is_not_earned() -> None:
    wall = {p.badge.code: p for p in badge_wall(AccountStats(999, {}, 0))}
    assert not wall["reduction_1kg"].earned and wall["reduction_1kg"].percent == 99
    assert wall["reduction_100kg"].current == 999  # capped at the target only once past it


def test_progress_reads_in_the_figures_unit() -> None:
    wall = {p.badge.code: p for p in badge_wall(AccountStats(450, {"clean_plate": 3}, 5))}
    assert progress_words(wall["reduction_1kg"], "en") == "0.450 / 1.000 kg"
    assert progress_words(wall["clean_plate_10"], "zh-CN") == "3 / 10 次"
    assert progress_words(wall["streak_7"], "en") == "5 / 7 days"
