"""Three Tanhui deployments (three `tanhui serve` processes, three SQLite databases) on loopback, all
peers of each other under one federation key; partners report through real HTTP with the SDK
(tanhui.client.PartnerClient) and each platform syncs only when the test runs `tanhui interop sync`
(TANHUI_INTEROP_SYNC_SECONDS=0). Issue 16's required tests:

- the same bus trip credited on A, then refused by B after B synced: `duplicate_behaviour` with
  details.claimed_by = cn-a; credited once in the federation;
- a race: one trip credited on C and then on A before either synced; after syncs both name C (the
  earlier recorded_at beats A's smaller id), A reverses its credit (the person's balance shows it, the
  event shows as withdrawn, claimed by cn-c, in GET /v1/me/events), C keeps it, B sees exactly one
  standing claim (cn-c's) and refuses the trip naming cn-c; `tanhui verify` clean on all three.

The servers start once for the module (the CI budget); each scenario uses trips and people of its own.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tanhui import secretbox
from tanhui.client import PartnerClient
from tanhui.domain import federation as fed
from tanhui.services import interop, interop_sync, partners, schemes
from tanhui.store import Store, migrate
from tests.live import LiveServer, free_port

pytestmark = pytest.mark.slow
IDS = ("cn-a", "cn-b", "cn-c")


@dataclass
class City:
    server: LiveServer
    platform_id: str
    partner: PartnerClient
    store: Store

    def sync(self) -> dict[str, Any]:
        """One sync round over real HTTP (what `tanhui interop sync` runs; in-process to spare the CI
        a Python start per round)."""
        peers = {p.platform_id: p.to_dict() for p in interop_sync.sync(self.store)}
        assert set(peers) == set(IDS) - {self.platform_id}
        assert all(p["trust"] == "trusted" and p["error"] is None for p in peers.values()), peers
        return peers

    def ride(self, user_ref: str, trip: str) -> dict[str, Any]:
        self.partner.grant_consent(user_ref)
        when = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        event = {
            "event_id": f"{self.platform_id}-{trip}-{user_ref}",
            "user_ref": user_ref,
            "scenario": "bus_ride",
            "occurred_at": when,
            "data": {"trip_id": trip},
        }
        [result] = self.partner.send_events([event], keep_results=True).results or []
        return result

    def points(self, user_ref: str) -> int:
        return int(self.partner.account(user_ref)["points_balance"])

    def events(self, user_ref: str) -> dict[str, Any]:
        token = self.partner.session(user_ref)["token"]
        answer = httpx.get(self.server.base_url + "/v1/me/events", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        return {e["event_id"]: e for e in answer.json()["events"]}

    def standing(self, trip: str) -> list[tuple[datetime, str]]:
        """The peers' claims of the trip that stand in this platform's store (what ingest and the race
        rule count)."""
        fp = fed.fingerprint(interop.federation_key(self.store), "bus_ride", ("trip", trip))
        with self.store.unit_of_work(write=False) as uow:
            repo = uow.interop_claims
            entries = repo.peer_entries([fp])
            found = fed.standing_claims(
                ((e.fingerprint, e.peer_pk, e.seq, e.kind, e.recorded_at) for e in entries), repo.trusted_peers()
            )
        return found.get(fp, [])


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, City]]:
    """Set up in-process (identity, peers, scheme, partner: the CLI's own services), then the three
    servers started side by side."""
    folder = tmp_path_factory.mktemp("three")
    key = folder / "federation.key"
    secretbox.write_key_file(key, [secretbox.new_key_text()], replace=False)
    ports = {pid: free_port() for pid in IDS}
    urls = {pid: f"sqlite:///{folder / (pid + '.db')}" for pid in IDS}
    stores = {pid: Store(url) for pid, url in urls.items()}
    made, secrets = {}, {}
    for pid, store in stores.items():
        migrate.upgrade(store)
        made[pid] = interop.init_platform(store, pid, pid, key)
        schemes.create_scheme(store, "city", f"{pid} 城")
        secrets[pid] = partners.create_partner(store, "city", "公交", ["bus_ride"])
    for pid, store in stores.items():
        for other in IDS:
            if other != pid:
                interop.add_peer(store, other, f"http://127.0.0.1:{ports[other]}", made[other]["public_key"])
    servers: dict[str, LiveServer] = {}
    env = {"TANHUI_INTEROP_SYNC_SECONDS": "0"}

    def start(pid: str) -> None:
        servers[pid] = LiveServer(urls[pid], folder / f"{pid}.log", env=env, port=ports[pid])

    threads = [threading.Thread(target=start, args=(pid,)) for pid in IDS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = {}
    try:
        assert set(servers) == set(IDS), "a server did not start"
        for pid in IDS:
            created = secrets[pid]
            client = PartnerClient(servers[pid].base_url, created.partner.id, created.secret, lang="en")
            found[pid] = City(servers[pid], pid, client, stores[pid])
        yield found
    finally:
        for city in found.values():
            city.partner.close()
        for server in servers.values():
            server.stop()
        for store in stores.values():
            store.dispose()
        for server in servers.values():
            assert "Traceback" not in server.log(), server.log()[-3000:]


def test_a_trip_credited_on_a_is_refused_by_b_after_b_synced(cities: dict[str, City]) -> None:
    a, b, c = cities["cn-a"], cities["cn-b"], cities["cn-c"]
    trip = f"T-{uuid.uuid4().hex[:8]}"
    first = a.ride("ua", trip)
    assert first["status"] == "credited" and first["points"] > 0
    assert b.sync()["cn-a"]["new_entries"] >= 1
    second = b.ride("ub", trip.lower())  # another partner, another person, the same trip (any case)
    assert second["status"] == "rejected" and second["reason"] == "duplicate_behaviour", second
    assert second["details"] == {"claimed_by": "cn-a"}
    assert b.points("ub") == 0 and a.points("ua") == first["points"]
    # credited once in the federation: C, once synced, refuses it too, and no one claims it but A
    c.sync()
    third = c.ride("uc", trip)
    assert third["reason"] == "duplicate_behaviour" and third["details"] == {"claimed_by": "cn-a"}
    b.sync()
    c.sync()
    assert [who for _, who in b.standing(trip)] == [who for _, who in c.standing(trip)] == ["cn-a"]


def test_a_race_before_sync_is_decided_alike_and_the_loser_reverses(cities: dict[str, City]) -> None:
    a, b, c = cities["cn-a"], cities["cn-b"], cities["cn-c"]
    trip = f"R-{uuid.uuid4().hex[:8]}"
    keep = f"K-{uuid.uuid4().hex[:8]}"
    on_c = c.ride("rc", trip)  # C received it first: C wins though "cn-a" < "cn-c"
    assert a.ride("ra", keep)["status"] == "credited"  # a trip of A's person that no one contests
    on_a = a.ride("ra", trip)
    assert on_c["status"] == on_a["status"] == "credited"
    kept = a.points("ra") - on_a["points"]
    assert kept > 0

    # both sync (A first: it sees C's earlier claim and withdraws; C sees A's later claim and keeps)
    assert a.sync()["cn-c"]["new_entries"] >= 1
    assert c.sync()["cn-a"]["new_entries"] >= 1
    a.sync()
    c.sync()
    b.sync()
    assert a.points("ra") == kept  # the reversal took the trip's points back
    assert c.points("rc") == on_c["points"]  # the winner keeps it
    shown_a = a.events("ra")
    withdrawn = shown_a[f"cn-a-{trip}-ra"]["withdrawn"]
    assert withdrawn is not None and withdrawn["claimed_by"] == "cn-c" and withdrawn["withdrawn_at"]
    assert shown_a[f"cn-a-{keep}-ra"]["withdrawn"] is None
    assert c.events("rc")[f"cn-c-{trip}-rc"]["withdrawn"] is None
    # both decided alike: A's withdrawal reached C, C's claim stands on A; B sees exactly one claim
    assert [who for _, who in a.standing(trip)] == ["cn-c"] and c.standing(trip) == []
    assert [who for _, who in b.standing(trip)] == ["cn-c"]
    late = b.ride("rb", trip)
    assert late["reason"] == "duplicate_behaviour" and late["details"] == {"claimed_by": "cn-c"}
    with ThreadPoolExecutor(3) as pool:  # `tanhui verify` on each database, side by side
        reports = dict(zip(IDS, pool.map(lambda pid: cities[pid].server.tanhui("verify", check=False), IDS), strict=True))
    for pid, report in reports.items():
        assert report.returncode == 0, (pid, report.stdout, report.stderr)
