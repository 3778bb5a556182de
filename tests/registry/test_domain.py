"""The registry's pure rules: Merkle trees and proofs, serial blocks, the remainder rule."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.domain.canonical import canonical_bytes
from tanhui.domain.registry import (
    TONNE_G,
    Block,
    Candidate,
    RegistrySettings,
    SerialRange,
    block_id,
    covers_exactly,
    credits_for_emission,
    leaf_hash,
    leaf_record,
    merkle_proof,
    merkle_root,
    overlapping,
    parse_block_id,
    plan_move,
    plan_pool,
    verify_proof,
)
from tanhui.domain.registry.merkle import EMPTY_ROOT, node_hash
from tanhui.errors import BusinessRuleViolation, InvalidInput


def leaves(n: int) -> list[str]:
    return [leaf_hash({"i": i}) for i in range(n)]


def test_leaf_and_node_hashing_by_hand() -> None:
    record = leaf_record(
        scheme_id="city",
        partner_id="ptn_1",
        event_id="e-1",
        fingerprint="ab",
        carbon_g=80,
        methodology="bus-ride-cn@1",
        local_day=date(2026, 3, 1).toordinal(),
    )
    assert record == {
        "scheme": "city",
        "event": "ptn_1/e-1",
        "fingerprint": "ab",
        "carbon_g": 80,
        "methodology": "bus-ride-cn@1",
        "local_day": "2026-03-01",
    }
    text = b'{"carbon_g":80,"event":"ptn_1/e-1","fingerprint":"ab","local_day":"2026-03-01","methodology":"bus-ride-cn@1","scheme":"city"}'
    assert canonical_bytes(record) == text
    assert leaf_hash(record) == hashlib.sha256(b"\x00" + text).hexdigest()
    a, b, c = leaves(3)
    ab = hashlib.sha256(b"\x01" + bytes.fromhex(a) + bytes.fromhex(b)).hexdigest()
    assert merkle_root([a, b]) == ab == node_hash(a, b)
    assert merkle_root([a, b, c]) == node_hash(ab, c)  # the odd node is carried up, not duplicated
    assert merkle_root([a]) == a and merkle_root([]) == EMPTY_ROOT


@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_included_leaf_proves_and_no_other_does(n: int, data: st.DataObject) -> None:
    ls = leaves(n)
    root = merkle_root(ls)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = merkle_proof(ls, i)
    assert proof.root == root and verify_proof(ls[i], proof.steps, root)
    outsider = leaf_hash({"i": n + 1})
    assert not verify_proof(outsider, proof.steps, root)
    if n > 1:
        j = (i + 1) % n
        assert not verify_proof(ls[j], proof.steps, root)
        tampered = list(proof.steps)
        side, sibling = tampered[0]
        tampered[0] = (side, "00" * 32)
        assert not verify_proof(ls[i], tampered, root)


def test_duplicating_the_last_leaf_changes_the_root() -> None:
    a, b, c = leaves(3)
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])
    assert not verify_proof("zz", [("R", a)], merkle_root([a, b]))
    assert not verify_proof(a, [("X", b)], merkle_root([a, b]))


def test_serial_ranges_split_and_name_blocks() -> None:
    r = SerialRange(1, 10)
    head, tail = r.split(3)
    assert (head, tail) == (SerialRange(1, 3), SerialRange(4, 10))
    assert r.split(10) == (r, None)
    with pytest.raises(InvalidInput):
        r.split(11)
    with pytest.raises(InvalidInput):
        SerialRange(5, 4)
    bid = block_id("my-city", 2026, "bus-ride-cn@1", SerialRange(1, 12))
    assert bid == "TH-my-city-2026-bus-ride-cn@1-00000001-00000012"
    assert parse_block_id(bid) == ("TH-my-city-2026-bus-ride-cn@1", SerialRange(1, 12))
    with pytest.raises(InvalidInput):
        parse_block_id("nonsense")
    assert overlapping([SerialRange(1, 3), SerialRange(4, 6), SerialRange(6, 9)]) == [(SerialRange(4, 6), SerialRange(6, 9))]
    assert covers_exactly(SerialRange(1, 6), [SerialRange(4, 6), SerialRange(1, 3)])
    assert not covers_exactly(SerialRange(1, 6), [SerialRange(1, 3), SerialRange(5, 6)])
    assert not covers_exactly(SerialRange(1, 6), [SerialRange(1, 4), SerialRange(4, 6)])


def test_moving_splits_the_last_block_and_never_takes_retired_ones() -> None:
    blocks = [
        Block(1, 1, SerialRange(1, 3), None),
        Block(2, 1, SerialRange(4, 4), None, "retired"),
        Block(3, 2, SerialRange(10, 19), None),
    ]
    move = plan_move(blocks, 5)
    assert [b.id for b in move.spent] == [1, 3]
    assert move.moved == ((1, SerialRange(1, 3)), (2, SerialRange(10, 11)))
    assert move.change == ((2, SerialRange(12, 19)),)
    with pytest.raises(BusinessRuleViolation) as error:
        plan_move(blocks, 14)
    assert error.value.code == "insufficient_credits"
    with pytest.raises(InvalidInput):
        plan_move(blocks, 0)


def test_the_remainder_rule() -> None:
    events = [Candidate(i, g) for i, g in enumerate([400_000, 400_000, 300_000, 500_000, 100], start=1)]
    plan = plan_pool(0, events)
    # 1,200,100 g pooled: 1 t; events consumed whole until 1 t is reached (1,100,000 g), 100,000 g carried
    assert plan.quantity == 1 and [c.event_pk for c in plan.consumed] == [1, 2, 3]
    assert plan.carried_out_g == 100_000 and plan.consumed_g - plan.carried_out_g == TONNE_G
    # the next issuance starts from the carry; event 4 and 5 stay eligible
    nxt = plan_pool(plan.carried_out_g, events[3:])
    assert nxt.quantity == 0 and nxt.carried_out_g == 100_000 and not nxt.consumed
    more = plan_pool(100_000, events[3:] + [Candidate(9, 450_000)])
    assert more.quantity == 1 and [c.event_pk for c in more.consumed] == [4, 5, 9] and more.carried_out_g == 50_100
    assert plan_pool(0, []).quantity == 0
    with pytest.raises(InvalidInput):
        plan_pool(0, [Candidate(1, 0)])


@given(st.integers(min_value=0, max_value=999_999), st.lists(st.integers(min_value=1, max_value=2_500_000), max_size=30))
def test_remainder_rule_never_issues_a_gram_twice(carried: int, grams: list[int]) -> None:
    cands = [Candidate(i, g) for i, g in enumerate(grams)]
    plan = plan_pool(carried, cands)
    total = carried + sum(grams)
    assert plan.quantity == total // TONNE_G
    assert plan.carried_in_g + plan.consumed_g - plan.carried_out_g == plan.issued_g
    assert plan.carried_out_g >= 0
    if plan.quantity:
        assert plan.carried_out_g < plan.consumed[-1].carbon_g
        assert plan.carried_out_g < TONNE_G
    assert len({c.event_pk for c in plan.consumed}) == len(plan.consumed)


def test_settings_and_emissions() -> None:
    default = RegistrySettings.from_scheme({})
    assert default.holding_days == 30 and default.issuable is None and default.allows("bus_ride", "bus-ride-cn@1")
    assert default.last_eligible_day(date(2026, 3, 31)) == date(2026, 3, 1)
    only = RegistrySettings.from_scheme({"registry": {"holding_days": 7, "issuable": ["bus-ride-cn@1", "walking"]}})
    assert only.allows("bus_ride", "bus-ride-cn@1") and only.allows("walking", "walking-cn@1")
    assert not only.allows("bus_ride", "bus-ride-wuhan@1") and not only.allows("metro_ride", "metro-ride-cn@1")
    for bad in ({"registry": {"holding_days": -1}}, {"registry": {"issuable": "all"}}, {"registry": 3}):
        with pytest.raises(InvalidInput):
            RegistrySettings.from_scheme(bad)
    assert credits_for_emission("12.01") == 13 and credits_for_emission(3) == 3 and credits_for_emission("0.2") == 1
    for bad_t in ("0", "-1", "abc", "NaN"):
        with pytest.raises(InvalidInput):
            credits_for_emission(bad_t)
