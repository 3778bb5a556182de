"""Ingest in a federation (issue 16 part 2, docs/interop.md "At ingest and after a race"), on SQLite
and PostgreSQL, each test a database of its own (a deployment has one identity): a behaviour a trusted
peer claimed is refused with ``claimed_by``; claims of removed or untrusted peers, and claims their
peer withdrew, count for nothing; credited global behaviours are claimed here, account-scoped ones not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tanhui.services import federation, interop
from tanhui.store import Store
from tanhui.store.schema import interop_claims
from tests.interop.federation_helpers import (
    NOW,
    Platform,
    bus_event,
    key_file,
    platform,
    walk_event,
)


@pytest.fixture
def city(store: Store, tmp_path: Path) -> Platform:
    found = platform(store)
    found.join(key_file(tmp_path / "federation.key"))
    found.add_peer("cn-b")
    found.add_peer("cn-c")
    return found


def _claims(store: Store) -> list[tuple]:  # type: ignore[type-arg]
    with store.engine.connect() as conn:
        c = interop_claims.c
        return [
            tuple(r)
            for r in conn.execute(
                select(c.fingerprint, c.scenario, c.recorded_at, c.account_id, c.event_pk, c.seq).order_by(c.event_pk)
            )
        ]


def test_a_behaviour_a_trusted_peer_claimed_is_refused_with_claimed_by(city: Platform) -> None:
    city.pulled("cn-b", "claim", city.fingerprint("T-100"), NOW - timedelta(minutes=5))
    # the partner sends the trip in another case and width: the same behaviour
    refused = city.bus("u1", "ｔ-100")
    assert (refused["status"], refused["reason"], refused["details"]) == (
        "rejected",
        "duplicate_behaviour",
        {"claimed_by": "cn-b"},
    )
    assert city.bus("u1", "T-101")["status"] == "credited"
    assert [c[1] for c in _claims(city.store)] == ["bus_ride"]


def test_the_earliest_peer_claim_names_who_claimed_it(city: Platform) -> None:
    fp = city.fingerprint("T-7")
    city.pulled("cn-c", "claim", fp, NOW - timedelta(minutes=9))
    city.pulled("cn-b", "claim", fp, NOW - timedelta(minutes=3))
    assert city.bus("u1", "T-7")["details"] == {"claimed_by": "cn-c"}


def test_removed_and_untrusted_peers_and_withdrawn_claims_count_for_nothing(city: Platform) -> None:
    city.pulled("cn-b", "claim", city.fingerprint("T-1"), NOW - timedelta(minutes=5))
    city.pulled("cn-c", "claim", city.fingerprint("T-2"), NOW - timedelta(minutes=5))
    city.pulled("cn-b", "claim", city.fingerprint("T-3"), NOW - timedelta(minutes=5))
    city.pulled("cn-b", "withdrawal", city.fingerprint("T-3"), NOW - timedelta(minutes=4))
    interop.remove_peer(city.store, "cn-b")
    city.distrust("cn-c")
    results = city.report([bus_event("u1", "T-1"), bus_event("u1", "T-2"), bus_event("u2", "T-3")])
    assert [r["status"] for r in results] == ["credited"] * 3
    assert len(_claims(city.store)) == 3


def test_credited_global_behaviours_are_claimed_and_account_ones_not(city: Platform) -> None:
    results = city.report([bus_event("u1", "T-9"), walk_event("u1"), bus_event("u2", "T-9", "again")])
    assert [r["status"] for r in results] == ["credited", "credited", "rejected"]
    assert results[2]["reason"] == "duplicate_behaviour" and "details" not in results[2]  # credited here, not by a peer
    [(fp, scenario, recorded_at, account_id, event_pk, seq)] = _claims(city.store)
    assert (fp, scenario, recorded_at, seq) == (city.fingerprint("T-9"), "bus_ride", NOW, None)
    with city.store.unit_of_work(write=False) as uow:
        row = uow.interop_claims.credited_event(event_pk, account_id)
    assert row is not None and row.status == "credited" and row.carbon_g == results[0]["carbon_g"]


def test_nothing_is_claimed_before_the_platform_joins(store: Store, tmp_path: Path) -> None:
    alone = platform(store)
    assert alone.bus("u1", "T-1")["status"] == "credited"
    assert _claims(store) == []
    alone.join(key_file(tmp_path / "federation.key"))  # init forgets this process's cached "not a member"
    assert alone.bus("u1", "T-2")["status"] == "credited"
    assert [c[0] for c in _claims(store)] == [alone.fingerprint("T-2")]
    assert federation.member_of(store) is not None


def test_a_batch_is_decided_alike_in_one_process_or_the_bulk_importer(city: Platform) -> None:
    """The importer's processes call the same ingest: a peer's claim refuses there too."""
    from tanhui.services import bulk

    city.pulled("cn-b", "claim", city.fingerprint("T-5"), NOW - timedelta(minutes=5))
    city.consent("u1")
    [results] = list(
        bulk.import_batches(city.store.url, city.partner.id, [[bus_event("u1", "T-5"), bus_event("u1", "T-6")]], workers=1)
    )
    assert [(r["status"], r.get("details")) for r in results] == [("rejected", {"claimed_by": "cn-b"}), ("credited", None)]
    assert [c[0] for c in _claims(city.store)] == [city.fingerprint("T-6")]
