"""The batch decision without a database (domain/ingest.py): one test per reason, their precedence,
caps across a batch, replays, and a batch decided whole against the same events one by one."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanhui.domain import events as ev
from tanhui.domain import ingest
from tanhui.domain.ingest import Decision, Facts, Recorded, Staged, carried_forward, decide_batch, fingerprint_for
from tanhui.domain.ledger import ASSET_CO2E, ASSET_POINTS, HOLDINGS, SYSTEM_ISSUANCE, LedgerAccount, Posting
from tanhui.domain.methodology import load_library
from tanhui.domain.points import rules_for_scheme
from tanhui.domain.schemes import Scheme

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
WHEN = NOW - timedelta(hours=1)
TODAY = WHEN.astimezone(timezone(timedelta(hours=8))).date()
LIBRARY = load_library(check_vectors=False)
SCHEME = Scheme("s1", "测试", "Asia/Shanghai", {})
ALLOWED = ("bus_ride", "walking", "teleport")  # not metro_ride; teleport is no scenario at all
BUS = LIBRARY.resolve("bus_ride", on=TODAY).ref
ISSUANCE = (
    LedgerAccount(901, "s1", ASSET_CO2E, SYSTEM_ISSUANCE, False, False),
    LedgerAccount(902, "s1", ASSET_POINTS, SYSTEM_ISSUANCE, False, False),
)
EXCLUSIVE = (("duplicate_event", "event_id_reused"), ("too_old", "in_future"))  # api-v1 lists each pair as "a/b"


@dataclass(frozen=True)
class Link:
    account_id: int
    consenting: bool


# u1, u2: consenting; u3: linked, consent withdrawn; u4: never linked
LINKS = {"u1": Link(1, True), "u2": Link(2, True), "u3": Link(3, False)}


def holdings(account_id: int) -> dict[str, LedgerAccount]:
    assets = (ASSET_CO2E, ASSET_POINTS)
    return {a: LedgerAccount(account_id * 10 + i, "s1", a, HOLDINGS, True, True, account_id) for i, a in enumerate(assets)}


def facts(**changes: Any) -> Facts:
    values: dict[str, Any] = {
        "scheme_id": "s1",
        "partner_id": "bus",
        "earlier": {},
        "links": LINKS,
        "claimed": frozenset(),
        "used_day": {},
        "used_month": {},
        "holdings": {a: holdings(a) for a in (1, 2, 3)},
        "issuance": ISSUANCE,
        "rules": rules_for_scheme({}),
    }
    values.update(changes)
    return Facts(**values)


def ride(
    event_id: str = "e1",
    user: str = "u1",
    trip: str | None = "T1",
    when: datetime = WHEN,
    scenario: str = "bus_ride",
    **data: Any,
) -> dict[str, Any]:
    body = {**({"trip_id": trip} if trip is not None else {}), **data}
    return {"event_id": event_id, "user_ref": user, "scenario": scenario, "occurred_at": when.isoformat(), "data": body}


def stage(*raws: Any) -> list[Staged]:
    return ingest.stage(raws, SCHEME, ALLOWED, LIBRARY, NOW, pins={}, region=None)


def decide(*raws: Any, **changes: Any) -> tuple[Decision, ...]:
    return decide_batch(stage(*raws), facts(**changes))


def outcome(decision: Decision) -> tuple[str, str | None]:
    return decision.status, decision.reason


def used(events: int, carbon_g: int = 0, points: int = 0, account_id: int = 1, scenario: str = "bus_ride") -> dict[Any, Any]:
    return {(account_id, scenario, TODAY.toordinal()): (events, carbon_g, points)}


# -- the order ------------------------------------------------------------------------------

API_V1 = Path(__file__).resolve().parents[2].parent / "shared" / "design" / "api-v1.md"
# api-v1.md "Behaviour events (partner side)", as written there (checked against the file when it is reachable)
DOCUMENTED = """- When several reasons apply, the first in this order is given: `duplicate_event`/`event_id_reused`,
  `unknown_scenario`, `scenario_not_allowed`, `invalid_data`, `no_consent`, `too_old`/`in_future`,
  `implausible`, `duplicate_behaviour`, `cap_reached`."""


def test_the_documented_order_is_reason_order() -> None:
    if API_V1.exists():
        assert DOCUMENTED in API_V1.read_text(encoding="utf-8"), "api-v1.md's sentence changed: copy it here"
    assert tuple(re.findall(r"`([a-z_]+)`", DOCUMENTED)) == ev.REASON_ORDER
    for a, b in EXCLUSIVE:  # "a/b": the two cannot both apply
        assert f"`{a}`/`{b}`" in DOCUMENTED


def test_one_check_per_reason() -> None:
    assert set(ingest.CHECKS) == set(ev.REASON_ORDER) and len(ev.REASON_ORDER) == len(set(ev.REASON_ORDER))
    assert set(ev.REASON_ORDER) >= ingest.STAGED_REASONS


# -- one test per reason (real events through the stage) -----------------------------------


def test_credited() -> None:
    (d,) = decide(ride())
    assert outcome(d) == ("credited", None) and (d.carbon_g, d.points, d.methodology) == (80, 10, BUS)
    assert d.stored and d.account_id == 1 and d.fingerprint is not None
    assert d.transfer is not None and d.transfer.postings == (Posting(901, 10, 80), Posting(902, 11, 10))
    assert d.transfer.memo == {"partner": "bus", "scenario": "bus_ride"}  # never the partner's event_id (issue 18)
    assert d.result() == {
        "event_id": "e1",
        "status": "credited",
        "reason": None,
        "carbon_g": 80,
        "points": 10,
        "methodology": BUS,
    }


def test_duplicate_event() -> None:
    raw = ride()
    (d,) = decide(raw, earlier={"e1": Recorded(ev.parse_event(raw).content_hash(), 80, 10, BUS)})
    assert outcome(d) == ("duplicate", "duplicate_event") and (d.carbon_g, d.points, d.methodology) == (80, 10, BUS)
    assert not d.stored and d.transfer is None


def test_event_id_reused() -> None:
    (d,) = decide(ride(), earlier={"e1": Recorded("another", 80, 10, BUS)})
    assert outcome(d) == ("rejected", "event_id_reused") and (d.carbon_g, d.points, d.methodology) == (0, 0, None)
    assert not d.stored


def test_unknown_scenario() -> None:
    (d,) = decide(ride(scenario="teleport"))
    assert outcome(d) == ("rejected", "unknown_scenario") and d.methodology is None and d.stored


def test_unknown_scenario_a_methodology_id_is_not_a_scenario() -> None:
    (d,) = decide(ride(scenario="bus-ride-cn"))
    assert outcome(d) == ("rejected", "unknown_scenario")


def test_scenario_not_allowed() -> None:
    (d,) = decide(ride(scenario="metro_ride"))
    assert outcome(d) == ("rejected", "scenario_not_allowed") and d.methodology is not None


def test_invalid_data() -> None:
    (d,) = decide(ride(distance_km=400))
    assert outcome(d) == ("rejected", "invalid_data") and d.details and "distance_km" in d.details
    assert d.stored and d.transfer is None and d.account_id == 1


def test_invalid_data_without_an_event_id_is_not_stored() -> None:
    event = ride(scenario="teleport")
    event["event_id"] = "x" * 200
    (d,) = decide(event)
    assert outcome(d) == ("rejected", "invalid_data") and d.details == {"event_id": "invalid"}
    assert d.event_id == "x" * 128 and not d.stored


def test_no_consent() -> None:
    withdrawn, never = decide(ride("e1", user="u3"), ride("e2", user="u4", trip="T2"))
    assert outcome(withdrawn) == outcome(never) == ("rejected", "no_consent")
    assert withdrawn.account_id == 3 and never.account_id is None


def test_too_old() -> None:
    (d,) = decide(ride(when=NOW - timedelta(days=8)))
    assert outcome(d) == ("rejected", "too_old")


def test_in_future() -> None:
    (d,) = decide(ride(when=NOW + timedelta(minutes=10)))
    assert outcome(d) == ("rejected", "in_future")


def test_implausible() -> None:
    (d,) = decide(ride(distance_km=200))
    assert outcome(d) == ("rejected", "implausible") and d.details


def test_duplicate_behaviour() -> None:
    (item,) = stage(ride())
    fp = fingerprint_for(item, 1)
    assert fp is not None
    (d,) = decide_batch([item], facts(claimed=frozenset({fp})))
    assert outcome(d) == ("rejected", "duplicate_behaviour") and d.fingerprint is None and d.transfer is None


def test_cap_reached() -> None:
    (d,) = decide(ride(), used_day=used(8, 640, 60))
    assert outcome(d) == ("rejected", "cap_reached") and d.stored and d.transfer is None


def test_the_stage_records_every_fault_it_finds() -> None:
    raw = {**ride(scenario="teleport", when=NOW - timedelta(days=30)), "user_ref": None}
    (item,) = stage(raw)
    assert set(item.faults) == {"unknown_scenario", "invalid_data", "too_old"}
    assert outcome(decide_batch([item], facts())[0]) == ("rejected", "unknown_scenario")
    (item,) = stage({**ride(scenario="metro_ride", when=NOW + timedelta(hours=1)), "user_ref": None})
    assert set(item.faults) == {"scenario_not_allowed", "invalid_data", "in_future"}
    (item,) = stage({**ride(when=NOW + timedelta(hours=1)), "scenario": None})  # no scenario: nothing else is judged
    assert item.faults == {"invalid_data": {"scenario": "missing"}} and item.day is None


# -- precedence: an event with two faults gets the reason ranked first ---------------------


def _faulty(reasons: tuple[str, ...]) -> tuple[Staged, Facts]:
    """A good ride for u1, given the faults named: as the stage would record them, or as facts."""
    (item,) = stage(ride())
    changes: dict[str, Any] = {}
    for reason in reasons:
        if reason == "duplicate_event":
            changes["earlier"] = {"e1": Recorded(item.content_hash, 80, 10, BUS)}
        elif reason == "event_id_reused":
            changes["earlier"] = {"e1": Recorded("another", 80, 10, BUS)}
        elif reason in ingest.STAGED_REASONS:
            item.faults[reason] = {"field": "bad"} if reason in ("invalid_data", "implausible") else None
        elif reason == "no_consent":
            changes["links"] = {**LINKS, "u1": Link(1, False)}  # still linked: later checks could fail too
        elif reason == "duplicate_behaviour":
            changes["claimed"] = frozenset({fingerprint_for(item, 1)})
        elif reason == "cap_reached":
            changes["used_day"] = used(8, 640, 60)
        else:
            raise AssertionError(reason)
    return item, facts(**changes)


PAIRS = [pair for pair in itertools.combinations(ev.REASON_ORDER, 2) if pair not in EXCLUSIVE]


@pytest.mark.parametrize("reason", ev.REASON_ORDER)
def test_each_fault_alone_gives_its_reason(reason: str) -> None:
    item, known = _faulty((reason,))
    assert decide_batch([item], known)[0].reason == reason


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}>{b}" for a, b in PAIRS])
def test_the_reason_ranked_first_wins(first: str, second: str) -> None:
    item, known = _faulty((first, second))
    assert decide_batch([item], known)[0].reason == first


def test_reason_order_drives_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ev, "REASON_ORDER", tuple(reversed(ev.REASON_ORDER)))
    for first, second in PAIRS:
        item, known = _faulty((first, second))
        assert decide_batch([item], known)[0].reason == second, (first, second)


# -- a batch -------------------------------------------------------------------------------


def test_events_of_one_batch_cap_each_other() -> None:
    # bus rides: at most 8 a day; 10 points a ride, at most 60 points a day
    decisions = decide(*(ride(f"e{i}", trip=f"T{i}") for i in range(10)))
    assert [outcome(d) for d in decisions] == [("credited", None)] * 8 + [("rejected", "cap_reached")] * 2
    assert [d.points for d in decisions] == [10] * 6 + [0] * 4
    assert [d.carbon_g for d in decisions] == [80] * 8 + [0] * 2
    assert all(d.transfer is not None for d in decisions[:8])
    assert decisions[7].transfer is not None and decisions[7].transfer.postings == (Posting(901, 10, 80),)  # grams, no points


def test_caps_count_what_the_store_had_and_each_person_apart() -> None:
    batch = [ride("a", trip="Ta"), ride("b", trip="Tb"), ride("c", trip="Tc"), ride("d", user="u2", trip="Td")]
    decisions = decide(*batch, used_day=used(6, 480, 60))
    assert [outcome(d) for d in decisions] == [("credited", None)] * 2 + [("rejected", "cap_reached"), ("credited", None)]
    assert [d.points for d in decisions] == [0, 0, 0, 10]


def test_a_grams_cap_credits_what_is_left() -> None:
    walk = ride(scenario="walking", trip=None, steps=10000)  # 164 g; at most 296 g a day
    (d,) = decide(walk, used_day=used(0, 200, 0, scenario="walking"))
    assert outcome(d) == ("credited", None) and d.carbon_g == 96
    assert d.explanation_json is not None and '"capped_carbon_g":96' in d.explanation_json


def test_the_same_behaviour_twice_in_a_batch() -> None:
    first, second = decide(ride("e1", trip="T1"), ride("e2", user="u2", trip="T1"))
    assert outcome(first) == ("credited", None) and outcome(second) == ("rejected", "duplicate_behaviour")


def test_a_capped_event_claims_no_behaviour() -> None:
    decisions = decide(*(ride(f"e{i}", trip=f"T{i}") for i in range(9)), ride("again", user="u2", trip="T8"))
    assert outcome(decisions[8]) == ("rejected", "cap_reached") and outcome(decisions[9]) == ("credited", None)


# -- replays -------------------------------------------------------------------------------


def test_a_replay_of_a_stored_event() -> None:
    raw = ride()
    known = {"e1": Recorded(ev.parse_event(raw).content_hash(), 80, 7, BUS)}
    same, changed = decide(raw, ride(trip="other"), earlier=known)
    assert same.result() == {
        "event_id": "e1",
        "status": "duplicate",
        "reason": "duplicate_event",
        "carbon_g": 80,
        "points": 7,
        "methodology": BUS,
    }
    assert changed.result() == {
        "event_id": "e1",
        "status": "rejected",
        "reason": "event_id_reused",
        "carbon_g": 0,
        "points": 0,
        "methodology": None,
    }
    assert not same.stored and not changed.stored


def test_a_replay_within_the_batch() -> None:
    first, same, changed = decide(ride(), ride(), ride(trip="other"))
    assert outcome(first) == ("credited", None) and first.stored
    assert outcome(same) == ("duplicate", "duplicate_event") and (same.carbon_g, same.points, same.methodology) == (80, 10, BUS)
    assert outcome(changed) == ("rejected", "event_id_reused")
    assert not same.stored and not changed.stored and same.transfer is None


def test_a_replay_of_a_rejected_event_within_the_batch() -> None:
    first, again = decide(ride(user="u4"), ride(user="u4"))
    assert outcome(first) == ("rejected", "no_consent")
    assert outcome(again) == ("duplicate", "duplicate_event") and (again.carbon_g, again.points, again.methodology) == (0, 0, BUS)


# -- whole or one by one -------------------------------------------------------------------


@st.composite
def raw_events(draw: st.DrawFn) -> dict[str, Any]:
    scenario = draw(st.sampled_from(["bus_ride", "bus_ride", "walking", "metro_ride", "teleport"]))
    when = NOW + timedelta(hours=draw(st.sampled_from([-24 * 9, -30, -12, -1, 0, 1])))
    if scenario == "walking":
        data: dict[str, Any] = {"steps": draw(st.sampled_from([3000, 10000, 20000, -5]))}
    else:
        data = {"trip_id": draw(st.sampled_from(["T1", "T2", "T3", "T4"]))}
        distance = draw(st.sampled_from([None, 5, 200, 400]))
        if distance is not None:
            data["distance_km"] = distance
    return {
        "event_id": draw(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"])),
        "user_ref": draw(st.sampled_from(["u1", "u1", "u2", "u3", "u4"])),
        "scenario": scenario,
        "occurred_at": when.isoformat(),
        "data": data,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(raw_events(), min_size=1, max_size=14),
    rides_today=st.integers(0, 8),
    stored_before=st.sampled_from([None, "same", "changed"]),
)
def test_a_batch_decided_whole_or_event_by_event(
    batch: list[dict[str, Any]], rides_today: int, stored_before: str | None
) -> None:
    earlier = {}
    if stored_before is not None:
        earlier["a"] = Recorded(ev.parse_event(batch[0]).content_hash() if stored_before == "same" else "another", 80, 10, BUS)
    known = facts(earlier=earlier, used_day=used(rides_today, 80 * rides_today, min(60, 10 * rides_today)))
    staged = stage(*batch)
    whole = decide_batch(staged, known)

    one_by_one = []
    for item in staged:
        (decision,) = decide_batch([item], known)
        known = carried_forward(known, [item], [decision])
        one_by_one.append(decision)
    assert whole == tuple(one_by_one)
    assert [d.index for d in whole] == list(range(len(batch)))


# -- a federation's claims (issue 16 part 2) --------------------------------------------------


def federated(*raws: Any) -> list[Staged]:
    """Staged as the ingest service stages them in a federation: global identities get a federation fingerprint."""
    from tanhui.domain import federation

    staged = stage(*raws)
    for item in staged:
        if item.identity is not None and federation.federated(item.identity_scope):
            assert item.event.scenario is not None
            item.federation_fingerprint = federation.fingerprint(bytes(32), item.event.scenario, item.identity)
    return staged


def test_a_behaviour_a_peer_claimed_is_refused_with_claimed_by() -> None:
    staged = federated(
        ride("e1", trip="T1"),
        ride("e2", trip="T2"),
        ride("e3", trip="t1"),
        ride("e4", user="u2", steps=5000, trip=None, scenario="walking"),
    )
    claimed_fp = staged[0].federation_fingerprint
    assert claimed_fp is not None and staged[3].federation_fingerprint is None  # a day's steps: an account identity
    decisions = decide_batch(staged, facts(peer_claims={claimed_fp: "cn-b"}))
    assert [outcome(d) for d in decisions] == [
        ("rejected", "duplicate_behaviour"),
        ("credited", None),
        ("rejected", "duplicate_behaviour"),
        ("credited", None),
    ]
    assert decisions[0].details == {"claimed_by": "cn-b"} and decisions[0].result()["details"] == {"claimed_by": "cn-b"}
    assert decisions[2].details == {"claimed_by": "cn-b"}  # the same trip in another case: the same claim
    assert decisions[1].federation_fingerprint == staged[1].federation_fingerprint and decisions[3].federation_fingerprint is None


def test_a_behaviour_credited_here_is_refused_without_details_and_earlier_reasons_win() -> None:
    staged = federated(ride("e1", trip="T1"), ride("e2", user="u4", trip="T1"))
    fp = staged[0].federation_fingerprint
    local = fingerprint_for(staged[0], 1)
    assert local is not None and fp is not None
    decisions = decide_batch(staged, facts(claimed=frozenset({local}), peer_claims={fp: "cn-b"}))
    assert [(outcome(d), d.details) for d in decisions] == [
        (("rejected", "duplicate_behaviour"), None),  # credited here first: this platform's own duplicate
        (("rejected", "no_consent"), None),  # no_consent ranks before duplicate_behaviour
    ]


@given(st.lists(st.sampled_from(["T1", "T2", "T3", "t2"]), min_size=1, max_size=6), st.sets(st.sampled_from(["T1", "T2", "T3"])))
@settings(max_examples=40, deadline=None)
def test_peer_claims_carry_forward_like_any_fact(trips: list[str], peers: set[str]) -> None:
    """Deciding a batch whole equals deciding it event by event with the facts carried forward, peers' claims included."""
    from tanhui.domain import federation

    raws = [ride(f"e{i}", trip=t) for i, t in enumerate(trips)]
    claims = {federation.fingerprint(bytes(32), "bus_ride", ("trip", t)): "cn-b" for t in peers}
    whole = decide_batch(federated(*raws), facts(peer_claims=claims))
    known = facts(peer_claims=claims)
    one_by_one = []
    for raw in raws:
        staged = federated(raw)
        [decision] = decide_batch(staged, known)
        one_by_one.append(decision)
        known = carried_forward(known, staged, [decision])
    assert [(d.status, d.reason, d.details) for d in whole] == [(d.status, d.reason, d.details) for d in one_by_one]
    assert sum(d.status == "credited" for d in whole) == len({t.lower() for t in trips} - {p.lower() for p in peers})
