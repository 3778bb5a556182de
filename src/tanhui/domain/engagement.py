"""Check-ins, streaks, campaigns and badges: what brings people back, as pure rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from tanhui.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class CheckinPolicy:
    points: int = 1
    streak_days: int = 7  # every this many days in a row ...
    streak_bonus: int = 5  # ... earn this bonus on top


def checkin_policy(settings: Mapping[str, Any]) -> CheckinPolicy:
    raw = settings.get("checkin") or {}
    policy = CheckinPolicy(
        points=raw.get("points", 1), streak_days=raw.get("streak_days", 7), streak_bonus=raw.get("streak_bonus", 5)
    )
    for name in ("points", "streak_days", "streak_bonus"):
        value = getattr(policy, name)
        if type(value) is not int or value < 0 or (name == "streak_days" and value == 0):
            raise InvalidInput("invalid_settings", details={f"checkin.{name}": "a non-negative integer"}, field=f"checkin.{name}")
    return policy


def streak_after(previous_day: date | None, previous_streak: int, today: date) -> int:
    """Days in a row including today: yesterday's streak plus one, or a fresh start."""
    if previous_day is not None and (today - previous_day).days == 1:
        return previous_streak + 1
    return 1


def checkin_points(policy: CheckinPolicy, streak: int) -> tuple[int, int]:
    """(points for the check-in, streak bonus earned today)."""
    bonus = policy.streak_bonus if policy.streak_days and streak % policy.streak_days == 0 else 0
    return policy.points, bonus


def days_to_bonus(policy: CheckinPolicy, streak: int) -> int | None:
    """Check-ins still needed (counting the next one) for the next streak bonus; None when there is none."""
    if not policy.streak_days or not policy.streak_bonus:
        return None
    return policy.streak_days - streak % policy.streak_days


def streak_alive(last_day: date | None, last_streak: int, today: date) -> int:
    """The streak as it stands today: the last one's, while it was today or yesterday; 0 once broken."""
    if last_day is None or (today - last_day).days > 1:
        return 0
    return last_streak


@dataclass(frozen=True, slots=True)
class Campaign:
    """E.g. "低碳日 double points": a multiplier and/or a bonus for scenarios within dates (local)."""

    id: str
    title_zh: str
    title_en: str
    scenarios: tuple[str, ...]
    starts: date
    ends: date  # inclusive
    multiplier: Decimal = Decimal(1)
    bonus: int = 0

    def applies(self, scenario: str, day: date) -> bool:
        return self.starts <= day <= self.ends and (not self.scenarios or scenario in self.scenarios)


def campaigns_from_settings(settings: Mapping[str, Any]) -> tuple[Campaign, ...]:
    found = []
    for index, raw in enumerate(settings.get("campaigns") or ()):
        try:
            starts, ends = date.fromisoformat(str(raw["starts"])), date.fromisoformat(str(raw["ends"]))
            multiplier = Decimal(str(raw.get("multiplier", "1")))
            bonus = int(raw.get("bonus", 0))
            title = raw.get("title") or {}
            campaign = Campaign(
                id=str(raw["id"]),
                title_zh=str(title.get("zh-CN", raw["id"])),
                title_en=str(title.get("en", raw["id"])),
                scenarios=tuple(raw.get("scenarios") or ()),
                starts=starts,
                ends=ends,
                multiplier=multiplier,
                bonus=bonus,
            )
        except (KeyError, ValueError, ArithmeticError, TypeError):
            raise InvalidInput(
                "invalid_settings",
                details={f"campaigns[{index}]": "id, starts, ends (dates), multiplier, bonus"},
                field=f"campaigns[{index}]",
            ) from None
        if ends < starts or multiplier < 0 or bonus < 0:
            raise InvalidInput(
                "invalid_settings",
                details={f"campaigns[{index}]": "ends >= starts; multiplier, bonus >= 0"},
                field=f"campaigns[{index}]",
            )
        found.append(campaign)
    return tuple(found)


def campaign_points(campaigns: tuple[Campaign, ...], scenario: str, day: date, points: int) -> tuple[int, list[str]]:
    """Points after every campaign that applies (multipliers, then bonuses), rounded down once."""
    applied = [c for c in campaigns if c.applies(scenario, day)]
    if not applied or points <= 0:
        return points, []
    value = Decimal(points)
    for c in applied:
        value *= c.multiplier
    total = int(value.to_integral_value(rounding=ROUND_FLOOR)) + sum(c.bonus for c in applied)
    return total, [c.id for c in applied]


@dataclass(frozen=True, slots=True)
class Badge:
    code: str
    title_zh: str
    title_en: str
    measure: str = "carbon_g"  # what counts: "carbon_g", "best_streak", or a scenario's events ("events:bus_ride")
    target: int = 1


@dataclass(frozen=True, slots=True)
class AccountStats:
    carbon_g: int
    events_by_scenario: Mapping[str, int]
    best_streak: int


BADGES: tuple[Badge, ...] = (
    Badge("first_bus_ride", "首次公交出行", "First bus ride", "events:bus_ride", 1),
    Badge("first_metro_ride", "首次地铁出行", "First metro ride", "events:metro_ride", 1),
    Badge("clean_plate_10", "光盘达人（10 次）", "Clean plate ×10", "events:clean_plate", 10),
    Badge("reduction_1kg", "减排 1 千克", "1 kg CO₂e reduced", "carbon_g", 1_000),
    Badge("reduction_10kg", "减排 10 千克", "10 kg CO₂e reduced", "carbon_g", 10_000),
    Badge("reduction_100kg", "减排 100 千克", "100 kg CO₂e reduced", "carbon_g", 100_000),
    Badge("streak_7", "连续签到 7 天", "7-day check-in streak", "best_streak", 7),
    Badge("streak_30", "连续签到 30 天", "30-day check-in streak", "best_streak", 30),
)


def measured(stats: AccountStats, measure: str) -> int:
    """The account's figure a badge counts (grams, days or events)."""
    if measure.startswith("events:"):
        return stats.events_by_scenario.get(measure.partition(":")[2], 0)
    return int(getattr(stats, measure))


def badges_for(stats: AccountStats) -> list[Badge]:
    """Milestones are derived from the account's own figures, so they can never disagree with them."""
    return [badge for badge in BADGES if measured(stats, badge.measure) >= badge.target]


@dataclass(frozen=True, slots=True)
class BadgeProgress:
    badge: Badge
    current: int  # the figure now, never above the target
    earned: bool

    @property
    def percent(self) -> int:
        """Whole percent towards the target, rounded down (99 until it is really earned)."""
        return 100 if self.earned else min(99, self.current * 100 // self.badge.target)


def badge_wall(stats: AccountStats) -> list[BadgeProgress]:
    """Every badge, earned or still locked, with how far the account is on the way to it."""
    out = []
    for badge in BADGES:
        figure = measured(stats, badge.measure)
        out.append(BadgeProgress(badge, min(figure, badge.target), figure >= badge.target))
    return out


def expiry_cutoff_year(as_of: date) -> int:
    """Policy "points earned in a year expire at the end of the next year": on `as_of`, every point
    earned in this year or earlier has expired (so a point earned in 2025 lives until 2026-12-31)."""
    return as_of.year - 2


def amount_to_expire(earned_through_cutoff: int, spent_net: int) -> int:
    """First in, first out: spending (and earlier expiry) uses the oldest points first."""
    return max(0, earned_through_cutoff - spent_net)


EXPIRY_DEFAULT_POLICY = "end_of_next_year"


def expiry_policy(settings: Mapping[str, Any]) -> str:
    """The scheme's expiry policy: "end_of_next_year" (the default) or "never"."""
    return str((settings.get("points_expiry") or {}).get("policy", EXPIRY_DEFAULT_POLICY))


def last_day_to_use(earned_year: int) -> date:
    """Under "end_of_next_year", a point earned in `earned_year` can be spent until this day (local)."""
    return date(earned_year + 1, 12, 31)


def remaining_by_year(earned_through: Mapping[int, int], spent_net: int) -> dict[int, int]:
    """What is left of each year's points after spending, first in, first out — the rule
    `amount_to_expire` applies, so the points a run would expire are the sum up to its cut-off.

    `earned_through[Y]` is everything earned in year Y or before (cumulative, not decreasing);
    `spent_net` everything paid out (orders, expiry, corrections) less what escrow returned.
    Years with nothing left are left out.
    """
    left: dict[int, int] = {}
    left_before = 0
    for year in sorted(earned_through):
        left_through = amount_to_expire(earned_through[year], spent_net)  # of years up to this one
        if left_through > left_before:
            left[year] = left_through - left_before
        left_before = left_through
    return left


def longest_run(days: Iterable[int]) -> int:
    """The most consecutive days (ordinals) among `days`: a best streak counted inside a period."""
    best = run = 0
    previous = None
    for day in sorted(set(days)):
        run = run + 1 if previous is not None and day == previous + 1 else 1
        best = max(best, run)
        previous = day
    return best
