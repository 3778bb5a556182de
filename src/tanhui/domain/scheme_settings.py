"""Every scheme setting checked against its type and range before a scheme is written (pure).

A setting that passes here can be used by every reader (ingestion, points, check-ins, campaigns,
expiry, the credit registry, retention) without failing: `acceptance_window_days = "seven"` or
`100000000`, negative holding periods and `ledger_chains = 100000` are refused with one line that
names the field and what is allowed (issue 18, finding 5). Used by `new_scheme` (so `tanhui scheme
create` and `tanhui scheme apply` check the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tanhui.errors import InvalidInput

# name: (low, high) for whole numbers
ACCEPTANCE_WINDOW_DAYS = (1, 366)
LEDGER_CHAINS = (1, 64)
HOLDING_DAYS = (0, 3650)
RAW_PAYLOAD_DAYS = (0, 3650)
POINTS = (0, 100_000)  # per event, per check-in, a bonus
DAILY_CAP = (0, 1_000_000)
PER_GRAMS = (1, 1_000_000_000)
STREAK_DAYS = (1, 366)
MULTIPLIER_MAX = Decimal(100)
TEXT_LEN_MAX = 200
LIST_LEN_MAX = 200
NESTING_MAX = 8  # tables and arrays inside [settings]

SETTINGS_KEYS = (
    "acceptance_window_days", "default_region", "ledger_chains", "points_rules", "checkin", "campaigns",
    "points_expiry", "methodology_pins", "registry", "retention", "coupon_valid_days",
    "pickup_points",
)  # fmt: skip
COUPON_VALID_DAYS = (1, 3650)
EXPIRY_POLICIES = ("end_of_next_year", "never")


def refuse(field: str, allowed: str) -> InvalidInput:
    return InvalidInput("invalid_setting", details={field: allowed}, field=field, allowed=allowed)


def nesting_depth(value: Any) -> int:
    """How deep tables and arrays nest (iteratively: a hostile file cannot exhaust the stack)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _whole(value: Any, field: str, bounds: tuple[int, int], unit: str = "") -> int:
    low, high = bounds
    if type(value) is not int or not low <= value <= high:
        raise refuse(field, f"a whole number{unit} from {low:,} to {high:,}")
    return value


def _text(value: Any, field: str, max_len: int = TEXT_LEN_MAX) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len or any(ord(c) < 32 for c in value):
        raise refuse(field, f"a text of 1 to {max_len} characters")
    return value


def _table(value: Any, field: str, keys: tuple[str, ...] | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise refuse(field, "a table")
    if keys is not None:
        unknown = sorted(str(k) for k in value if k not in keys)
        if unknown:
            raise refuse(f"{field}.{unknown[0]}", f"one of {', '.join(keys)}")
    return value


def _texts(value: Any, field: str) -> list[str]:
    if not isinstance(value, list | tuple) or len(value) > LIST_LEN_MAX:
        raise refuse(field, f"a list of at most {LIST_LEN_MAX} texts")
    return [_text(v, f"{field}[{i}]") for i, v in enumerate(value)]


def _day(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise refuse(field, "a date (YYYY-MM-DD)")


def _points_rules(value: Any) -> None:
    for scenario, rule in _table(value, "points_rules").items():
        field = f"points_rules.{_text(scenario, 'points_rules')}"
        rule = _table(rule, field, ("per_event", "per_grams", "daily_cap"))
        if ("per_event" in rule) == ("per_grams" in rule):
            raise refuse(field, "per_event or per_grams (one of them)")
        if "per_event" in rule:
            _whole(rule["per_event"], f"{field}.per_event", POINTS, " of points")
        if "per_grams" in rule:
            _whole(rule["per_grams"], f"{field}.per_grams", PER_GRAMS, " of grams")
        if "daily_cap" in rule:
            _whole(rule["daily_cap"], f"{field}.daily_cap", DAILY_CAP, " of points")


def _checkin(value: Any) -> None:
    table = _table(value, "checkin", ("points", "streak_days", "streak_bonus"))
    if "points" in table:
        _whole(table["points"], "checkin.points", POINTS, " of points")
    if "streak_days" in table:
        _whole(table["streak_days"], "checkin.streak_days", STREAK_DAYS, " of days")
    if "streak_bonus" in table:
        _whole(table["streak_bonus"], "checkin.streak_bonus", POINTS, " of points")


def _campaigns(value: Any) -> None:
    if not isinstance(value, list | tuple) or len(value) > LIST_LEN_MAX:
        raise refuse("campaigns", f"a list of at most {LIST_LEN_MAX} campaigns")
    for index, raw in enumerate(value):
        field = f"campaigns[{index}]"
        table = _table(raw, field, ("id", "title", "scenarios", "starts", "ends", "multiplier", "bonus"))
        if "id" not in table or "starts" not in table or "ends" not in table:
            raise refuse(field, "id, starts and ends")
        _text(table["id"], f"{field}.id", 64)
        title = table.get("title", {})
        if isinstance(title, Mapping):
            for lang, text in _table(title, f"{field}.title", ("zh-CN", "en")).items():
                _text(text, f"{field}.title.{lang}")
        else:
            _text(title, f"{field}.title")
        _texts(table.get("scenarios", []), f"{field}.scenarios")
        if _day(table["ends"], f"{field}.ends") < _day(table["starts"], f"{field}.starts"):
            raise refuse(f"{field}.ends", "a date on or after starts")
        multiplier = table.get("multiplier", "1")
        try:
            number = (
                Decimal(str(multiplier)) if isinstance(multiplier, str | int | float) and type(multiplier) is not bool else None
            )
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or not 0 <= number <= MULTIPLIER_MAX:
            raise refuse(f"{field}.multiplier", f'a number from 0 to {MULTIPLIER_MAX} (e.g. "2")')
        if "bonus" in table:
            _whole(table["bonus"], f"{field}.bonus", POINTS, " of points")


def validate_settings(settings: Any) -> dict[str, Any]:
    """The settings, unchanged, once every one is of its type and in its range; else InvalidInput."""
    table = _table(settings, "settings", SETTINGS_KEYS)
    if nesting_depth(table) > NESTING_MAX:
        raise refuse("settings", f"tables and lists nested at most {NESTING_MAX} deep")
    if "acceptance_window_days" in table:
        _whole(table["acceptance_window_days"], "acceptance_window_days", ACCEPTANCE_WINDOW_DAYS, " of days")
    if "pickup_points" in table:
        _texts(table["pickup_points"], "pickup_points")
    if "coupon_valid_days" in table:
        _whole(table["coupon_valid_days"], "coupon_valid_days", COUPON_VALID_DAYS, " of days")
    if "ledger_chains" in table:
        _whole(table["ledger_chains"], "ledger_chains", LEDGER_CHAINS)
    if "default_region" in table:
        _text(table["default_region"], "default_region", 64)
    if "points_rules" in table:
        _points_rules(table["points_rules"])
    if "checkin" in table:
        _checkin(table["checkin"])
    if "campaigns" in table:
        _campaigns(table["campaigns"])
    if "points_expiry" in table:
        policy = _table(table["points_expiry"], "points_expiry", ("policy",)).get("policy", EXPIRY_POLICIES[0])
        if policy not in EXPIRY_POLICIES:
            raise refuse("points_expiry.policy", " or ".join(EXPIRY_POLICIES))
    if "methodology_pins" in table:
        for scenario, ref in _table(table["methodology_pins"], "methodology_pins").items():
            _text(ref, f"methodology_pins.{_text(scenario, 'methodology_pins', 64)}")
    if "registry" in table:
        registry = _table(table["registry"], "registry", ("holding_days", "issuable"))
        if "holding_days" in registry:
            _whole(registry["holding_days"], "registry.holding_days", HOLDING_DAYS, " of days")
        if "issuable" in registry:
            _texts(registry["issuable"], "registry.issuable")
    if "retention" in table:
        retention = _table(table["retention"], "retention", ("raw_payload_days",))
        if "raw_payload_days" in retention:
            _whole(retention["raw_payload_days"], "retention.raw_payload_days", RAW_PAYLOAD_DAYS, " of days")
    return dict(table)
