"""Points policy: points are not proportional to grams (brief: 144 g -> 5 points, 80 g -> 10 points).

A scheme declares, per scenario, points per event or points per N grams, and a daily cap per
person. Campaigns, check-ins and points expiry (domain/engagement.py) come on top of this rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tanhui.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class PointsRule:
    per_event: int | None = None  # fixed points for each credited event
    per_grams: int | None = None  # or: one point for every `per_grams` grams (rounded down)
    daily_cap: int | None = None  # most points a person earns from the scenario in a local day

    def points_for(self, carbon_g: int) -> int:
        if self.per_event is not None:
            return self.per_event if carbon_g > 0 else 0
        if self.per_grams:
            return carbon_g // self.per_grams
        return 0

    def capped(self, points: int, earned_today: int) -> int:
        if self.daily_cap is None:
            return points
        return max(0, min(points, self.daily_cap - earned_today))


# The brief's numbers where it has them; one point per 10 g elsewhere, 100 points a day at most.
DEFAULT_RULES: dict[str, PointsRule] = {
    "clean_plate": PointsRule(per_event=5, daily_cap=15),
    "bus_ride": PointsRule(per_event=10, daily_cap=60),
    "metro_ride": PointsRule(per_event=10, daily_cap=60),
}
FALLBACK_RULE = PointsRule(per_grams=10, daily_cap=100)


def rule_from_settings(value: Mapping[str, Any]) -> PointsRule:
    allowed = {"per_event", "per_grams", "daily_cap"}
    unknown = set(value) - allowed
    if unknown:
        raise InvalidInput("invalid_points_rule", field=", ".join(sorted(unknown)))
    for key in allowed & set(value):
        if type(value[key]) is not int or value[key] < 0 or (key == "per_grams" and value[key] == 0):
            raise InvalidInput("invalid_points_rule", field=key)
    if ("per_event" in value) == ("per_grams" in value):
        raise InvalidInput("invalid_points_rule", field="per_event|per_grams")
    return PointsRule(value.get("per_event"), value.get("per_grams"), value.get("daily_cap"))


def rules_for_scheme(settings: Mapping[str, Any]) -> dict[str, PointsRule]:
    """The scheme's `points_rules` setting over the defaults."""
    rules = dict(DEFAULT_RULES)
    for scenario, value in (settings.get("points_rules") or {}).items():
        rules[scenario] = rule_from_settings(value)
    return rules


def rule_for(rules: Mapping[str, PointsRule], scenario: str) -> PointsRule:
    return rules.get(scenario, FALLBACK_RULE)
