"""Event parsing, time windows, fingerprints, caps, points and signing: pure rules."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.domain import events as ev
from tanhui.domain import signing
from tanhui.domain.points import DEFAULT_RULES, FALLBACK_RULE, PointsRule, rule_for, rules_for_scheme
from tanhui.errors import InvalidInput

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def good(**overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_id": "e1",
        "user_ref": "u1",
        "scenario": "bus_ride",
        "occurred_at": "2026-11-25T08:00:00+08:00",
        "data": {},
    }
    event.update(overrides)
    return event


def test_parse_a_good_event() -> None:
    event = ev.parse_event(good())
    assert not event.problems
    assert event.occurred_at == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"event_id": ""}, "event_id", "invalid"),
        ({"event_id": "x" * 129}, "event_id", "invalid"),
        ({"event_id": 5}, "event_id", "invalid"),
        ({"event_id": "a\x00b"}, "event_id", "invalid"),  # NUL: no engine keeps it (schemathesis found it)
        ({"user_ref": "u\x00"}, "user_ref", "invalid"),
        ({"user_ref": None}, "user_ref", "missing"),
        ({"occurred_at": "2026-11-25T08:00:00"}, "occurred_at", "invalid"),  # no offset
        ({"occurred_at": "2026-11-25"}, "occurred_at", "invalid"),
        ({"occurred_at": "yesterday"}, "occurred_at", "invalid"),
        ({"data": [1, 2]}, "data", "invalid"),
    ],
)
def test_malformed_fields_are_named(overrides: dict[str, object], field: str, problem: str) -> None:
    assert ev.parse_event(good(**overrides)).problems[field] == problem


def test_not_an_object() -> None:
    assert ev.parse_event([1]).problems == {"event": "not_an_object"}


def test_content_hash_ignores_key_order_but_not_values() -> None:
    a = ev.parse_event(good(data={"a": 1, "b": "2"}))
    b = ev.parse_event({"data": {"b": "2", "a": 1}, **{k: v for k, v in good().items() if k != "data"}})
    assert a.content_hash() == b.content_hash()
    assert a.content_hash() != ev.parse_event(good(data={"a": 2, "b": "2"})).content_hash()


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(minutes=4), None),
        (timedelta(minutes=6), "in_future"),
        (-timedelta(days=6, hours=23), None),
        (-timedelta(days=7, seconds=1), "too_old"),
    ],
)
def test_time_window(delta: timedelta, expected: str | None) -> None:
    assert ev.time_window_reason(NOW + delta, NOW, 7) == expected


def test_fingerprints() -> None:
    trip = ev.fingerprint("bus_ride", "global", ("trip", "T1"), 1)
    assert trip == ev.fingerprint("bus_ride", "global", ("trip", "T1"), 2)  # any person, any partner
    assert trip != ev.fingerprint("metro_ride", "global", ("trip", "T1"), 1)
    day = ev.fingerprint("walking", "account", ("day", "2026-11-25"), 1)
    assert day != ev.fingerprint("walking", "account", ("day", "2026-11-25"), 2)  # per person
    assert len(trip) == 32
    # parts are separated, so ("a", "bc") and ("ab", "c") differ
    assert ev.fingerprint("s", "global", ("a", "bc"), None) != ev.fingerprint("s", "global", ("ab", "c"), None)


def test_caps() -> None:
    used = ev.Usage(events=2, carbon_g=300, points=0)
    assert ev.cap_allows(3, None, used, 80) == (True, 80)
    assert ev.cap_allows(2, None, used, 80) == (False, 0)
    assert ev.cap_allows(None, 350, used, 80) == (True, 50)  # grams cap: what is left
    assert ev.cap_allows(None, 300, used, 80) == (False, 0)


def test_month_bounds() -> None:
    assert ev.month_bounds(date(2026, 2, 10)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert ev.month_bounds(date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))


def test_summary_counts_new_credits_only() -> None:
    results = [
        ev.result("a", ev.CREDITED, None, 80, 10, "m@1"),
        ev.result("b", ev.DUPLICATE, "duplicate_event", 80, 10, "m@1"),
        ev.result("c", ev.REJECTED, "no_consent"),
    ]
    assert ev.summarise(results) == {"credited": 1, "duplicate": 1, "rejected": 1, "carbon_g": 80, "points": 10}


def test_points_defaults_follow_the_brief() -> None:
    assert DEFAULT_RULES["clean_plate"].points_for(144) == 5
    assert DEFAULT_RULES["bus_ride"].points_for(80) == 10
    assert FALLBACK_RULE.points_for(99) == 9
    assert PointsRule(per_event=10).points_for(0) == 0  # nothing credited, nothing earned
    assert PointsRule(per_event=10, daily_cap=25).capped(10, 20) == 5
    assert PointsRule(per_event=10, daily_cap=25).capped(10, 30) == 0


def test_points_rules_from_settings() -> None:
    rules = rules_for_scheme({"points_rules": {"walking": {"per_grams": 2, "daily_cap": 50}}})
    assert rule_for(rules, "walking").points_for(164) == 82
    assert rule_for(rules, "unknown") == FALLBACK_RULE
    for bad in ({"per_event": 1, "per_grams": 2}, {}, {"per_grams": 0}, {"per_event": -1}, {"per_event": 1.5}, {"bonus": 1}):
        with pytest.raises(InvalidInput):
            rules_for_scheme({"points_rules": {"walking": bad}})


@given(st.integers(0, 10**6), st.integers(1, 1000), st.integers(0, 500), st.integers(0, 1000))
def test_points_never_exceed_the_daily_cap(carbon_g: int, per_grams: int, cap: int, earned: int) -> None:
    rule = PointsRule(per_grams=per_grams, daily_cap=cap)
    assert 0 <= rule.capped(rule.points_for(carbon_g), earned) <= max(0, cap - earned)


def test_signature_matches_an_independent_hmac() -> None:
    body = b'{"events":[]}'
    expected_message = "1764000000\nnonce-0123456789abcdef\nPOST\n/v1/partner/events?x=1\n" + hashlib.sha256(body).hexdigest()
    expected = "v1=" + hmac.new(b"sk_test", expected_message.encode(), hashlib.sha256).hexdigest()
    assert signing.sign("sk_test", "1764000000", "nonce-0123456789abcdef", "post", "/v1/partner/events?x=1", body) == expected
    assert signing.signature_matches(
        ["old", "sk_test"], expected, "1764000000", "nonce-0123456789abcdef", "POST", "/v1/partner/events?x=1", body
    )
    assert not signing.signature_matches(
        ["old"], expected, "1764000000", "nonce-0123456789abcdef", "POST", "/v1/partner/events?x=1", body
    )
    assert not signing.signature_matches(
        ["sk_test"], expected, "1764000000", "nonce-0123456789abcdef", "POST", "/v1/partner/events?x=2", body
    )
    assert not signing.signature_matches(["sk_test"], "v1=ünicode", "1", "n" * 16, "POST", "/", b"")


@pytest.mark.parametrize(
    ("nonce", "ok"),
    [
        ("a" * 16, True),
        ("a" * 15, False),
        ("a" * 64, True),
        ("a" * 65, False),
        ("abc def ghi jkl mn", False),
        ("Az09_-Az09_-Az09", True),
    ],
)
def test_nonce_format(nonce: str, ok: bool) -> None:
    assert signing.valid_nonce(nonce) is ok


def test_timestamp_freshness() -> None:
    assert signing.parse_timestamp("1764000000") == 1764000000
    assert (
        signing.parse_timestamp("-5") is None
        and signing.parse_timestamp("1e9") is None
        and signing.parse_timestamp("１２") is None
    )
    assert signing.is_fresh(1000, 1300) and not signing.is_fresh(1000, 1301)
