"""The federation fingerprint and the race rule (domain/federation.py, docs/interop.md "Claims").

Properties: the forms of one behaviour a careless partner may send (case, full width, invisible
characters, white space) give one fingerprint on every platform holding the key; another key, another
scenario or another id gives another; the race's winner does not depend on whose view it is computed from.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.domain import events as ev
from tanhui.domain import federation
from tests.unit.test_identifiers import plain_ids, variants

KEY = bytes(range(32))
keys = st.binary(min_size=32, max_size=32)


def test_the_recipe_is_hmac_sha256_over_the_canonical_identity() -> None:
    expected = hmac.new(KEY, b"tanhui-claim/1\x1fbus_ride\x1ftrip\x1ft-0001", hashlib.sha256).hexdigest()
    assert federation.fingerprint(KEY, "bus_ride", ("trip", "T-0001")) == expected
    assert len(expected) == 64 and expected == expected.lower()


def test_a_key_of_another_length_is_refused() -> None:
    with pytest.raises(ValueError):
        federation.fingerprint(b"short", "bus_ride", ("trip", "1"))


def test_only_global_identities_are_federated() -> None:
    assert federation.federated("global")
    assert not federation.federated("account")
    assert not federation.federated(None)


@given(variants(), keys)
def test_forms_of_one_id_give_one_fingerprint(pair: tuple[str, str], key: bytes) -> None:
    plain, variant = pair
    assert federation.fingerprint(key, "metro_ride", ("trip", variant)) == federation.fingerprint(
        key, "metro_ride", ("trip", plain)
    )


@given(plain_ids, keys, keys)
def test_another_key_gives_another_fingerprint(identity: str, one: bytes, other: bytes) -> None:
    if one != other:
        assert federation.fingerprint(one, "bus_ride", ("trip", identity)) != federation.fingerprint(
            other, "bus_ride", ("trip", identity)
        )


@given(plain_ids, plain_ids)
def test_other_ids_or_scenarios_give_other_fingerprints(a: str, b: str) -> None:
    if ev.fingerprint("bus_ride", "global", ("trip", a), None) != ev.fingerprint("bus_ride", "global", ("trip", b), None):
        assert federation.fingerprint(KEY, "bus_ride", ("trip", a)) != federation.fingerprint(KEY, "bus_ride", ("trip", b))
    assert federation.fingerprint(KEY, "bus_ride", ("trip", a)) != federation.fingerprint(KEY, "metro_ride", ("trip", a))


@given(variants())
def test_it_names_the_same_behaviours_as_the_local_fingerprint(pair: tuple[str, str]) -> None:
    """One behaviour here is one behaviour in the federation: same canonical parts."""
    plain, variant = pair
    same_here = ev.fingerprint("bus_ride", "global", ("trip", plain), None) == ev.fingerprint(
        "bus_ride", "global", ("trip", variant), None
    )
    same_there = federation.fingerprint(KEY, "bus_ride", ("trip", plain)) == federation.fingerprint(
        KEY, "bus_ride", ("trip", variant)
    )
    assert same_here == same_there


platform_ids = st.from_regex(r"[a-z][a-z0-9-]{1,10}[a-z0-9]", fullmatch=True)
moments = st.integers(0, 10).map(lambda s: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=s))


@given(st.lists(st.tuples(moments, platform_ids), min_size=1, max_size=5, unique_by=lambda c: c[1]), st.randoms())
def test_the_winner_is_the_same_from_every_view(claimants: list[tuple[datetime, str]], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(claimants)
    rnd.shuffle(shuffled)
    won = federation.winner(claimants)
    assert federation.winner(shuffled) == won
    at, who = next(c for c in claimants if c[1] == won)
    assert all((at, who) <= c for c in claimants)
