"""Chart gridlines of counts and grams are whole numbers (issue 17: a newcomer's chart read 0.2, 0.5, 0.8)."""

from __future__ import annotations

import re

from tanhui.web import charts


def _ticks(svg: str) -> list[str]:
    return [t.split()[0] for t in re.findall(r'class="tick">([^<]+)</text>', svg) if re.match(r"^[\d.]", t)]


def test_whole_charts_have_whole_ticks() -> None:
    for top in (0, 1, 3, 5, 7, 13, 99, 560):
        svg = charts.line_chart([("11-01", 0), ("11-02", top)], label="people", whole=True)
        ticks = _ticks(svg)[:5]
        assert len(ticks) == 5 and all(t.isdigit() for t in ticks), (top, ticks)
        assert int(ticks[-1]) >= top
    assert _ticks(charts.line_chart([("a", 0), ("b", 0)], label="new", whole=True))[:5] == ["0", "1", "2", "3", "4"]


def test_fractions_are_shown_exactly() -> None:
    assert charts.compact(0.25) == "0.25" and charts.compact(0.75) == "0.75" and charts.compact(2.5) == "2.5"
    assert _ticks(charts.line_chart([("a", 0), ("b", 0.9)], label="kg"))[:5] == ["0", "0.25", "0.5", "0.75", "1"]
