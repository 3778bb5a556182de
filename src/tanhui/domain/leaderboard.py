"""A leaderboard as a person reads it: the top places, and their own place even when it is below them.

Places are "competition" places (equal totals share a place, the next place skips: 1, 2, 2, 4), the same
rule as the scheme rank (services/ranking.py: 1 + the number with a larger total). A person with nothing
in the period has no place: a board that said "601 of 601" to a newcomer reads as a verdict, not a fact.
Periods are scheme-local days (date.toordinal(), as events.local_day stores them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tanhui.errors import InvalidInput

PERIODS = ("week", "month", "all")


@dataclass(frozen=True, slots=True)
class Line:
    place: int
    key: str
    name: str | None
    carbon_g: int
    me: bool


@dataclass(frozen=True, slots=True)
class Board:
    top: tuple[Line, ...]
    mine: Line | None  # the person's own line when it is not among the top (shown below them)
    my_place: int | None  # None: nothing in the period yet, so no place
    ranked: int  # people with a place (anything in the period)


def check_period(text: str | None) -> str:
    if text is None or text == "":
        return "week"
    if text not in PERIODS:
        raise InvalidInput("invalid_request", details={"period": " or ".join(PERIODS)})
    return text


def period_days(period: str, today: date) -> tuple[int, int] | None:
    """[first, last] local day of this week (from Monday) or month, up to today; None for all time."""
    if period == "week":
        return (today - timedelta(days=today.weekday())).toordinal(), today.toordinal()
    if period == "month":
        return today.replace(day=1).toordinal(), today.toordinal()
    return None


def board(totals: Sequence[tuple[str, str | None, int]], me: str, size: int) -> Board:
    """(key, name, grams) of everyone, in any order, as the board shows them: the largest `size` with a
    total above zero, then the person's line if it is further down."""
    ranked = sorted((t for t in totals if t[2] > 0), key=lambda t: (-t[2], t[0]))
    lines: list[Line] = []
    for i, (key, name, grams) in enumerate(ranked):
        place = lines[-1].place if lines and lines[-1].carbon_g == grams else i + 1
        lines.append(Line(place, key, name, grams, key == me))
    mine = next((line for line in lines if line.me), None)
    top = tuple(lines[:size])
    return Board(top, mine if mine is not None and mine not in top else None, mine.place if mine else None, len(lines))


def board_from_top(
    top: Sequence[tuple[str, str | None, int]], me: str, my_grams: int, my_place: int | None, ranked: int, size: int
) -> Board:
    """A board of a whole scheme, where reading everyone's totals per request is too much: the largest
    `size` (largest first, as the store gives them), my own total and my place counted elsewhere (from a
    snapshot of everyone's totals: 1 + those with more), and how many have a place."""
    lines: list[Line] = []
    for i, (key, name, grams) in enumerate(top[:size]):
        place = lines[-1].place if lines and lines[-1].carbon_g == grams else i + 1
        lines.append(Line(place, key, name, grams, key == me))
    inside = any(line.me for line in lines)
    found = next((line.place for line in lines if line.me), my_place if my_grams > 0 else None)
    mine = None if inside or found is None else Line(found, me, None, my_grams, True)
    return Board(tuple(lines), mine, found, max(ranked, len(lines)))
