"""The shared request budget (services/rates.py) on both engines: a token bucket in the database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tanhui.errors import InvalidInput
from tanhui.services import rates
from tanhui.store import Store

T0 = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def test_a_burst_gets_the_burst_then_waits_for_the_refill(store: Store) -> None:
    rule = rates.RateRule(per_minute=60, burst=5)  # one a second, five at once
    waits = [rates.take(store, "partner:a", rule, T0) for _ in range(8)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert all(w == pytest.approx(1.0, abs=0.01) for w in waits[5:])
    assert rates.take(store, "partner:b", rule, T0) == 0  # another partner has its own bucket
    assert rates.take(store, "partner:a", rule, T0 + timedelta(milliseconds=500)) == pytest.approx(0.5, abs=0.01)
    assert rates.take(store, "partner:a", rule, T0 + timedelta(seconds=1)) == 0  # one refilled
    assert rates.take(store, "partner:a", rule, T0 + timedelta(seconds=1)) > 0
    assert [rates.take(store, "partner:a", rule, T0 + timedelta(hours=3)) for _ in range(6)] == [0] * 5 + [
        pytest.approx(1.0, abs=0.01)
    ]  # an idle bucket fills up to its burst, never beyond


def test_a_clock_that_steps_back_refills_nothing(store: Store) -> None:
    rule = rates.RateRule(per_minute=60, burst=1)
    assert rates.take(store, "partner:c", rule, T0) == 0
    assert rates.take(store, "partner:c", rule, T0 - timedelta(minutes=5)) > 0
    assert rates.take(store, "partner:c", rule, T0 + timedelta(milliseconds=999)) > 0  # the later clock still counts from T0
    assert rates.take(store, "partner:c", rule, T0 + timedelta(seconds=1)) == 0


def test_concurrent_takes_never_let_more_than_the_burst_through(store: Store) -> None:
    rule = rates.RateRule(per_minute=1, burst=25)  # nothing refills within the test
    with ThreadPoolExecutor(max_workers=8) as pool:
        waits = list(pool.map(lambda _: rates.take(store, "partner:d", rule, T0), range(100)))
    assert sum(1 for w in waits if w == 0) == 25


def test_a_rate_below_one_is_refused() -> None:
    with pytest.raises(InvalidInput):
        rates.RateRule.per_minute_with_default_burst(0)
    assert rates.RateRule.per_minute_with_default_burst(6000) == rates.RateRule(6000, 1000)
    assert rates.RateRule.per_minute_with_default_burst(3) == rates.RateRule(3, 1)
