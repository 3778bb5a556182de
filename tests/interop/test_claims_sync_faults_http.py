"""The claims log's sync between two `tanhui serve` processes (two SQLite databases) through
fault-injecting proxies: each platform's peer URL for the other is a proxy that, request by request,
passes, drops (forwards, then closes without an answer: the server acted, the puller saw nothing),
duplicates (forwards twice: the copy is refused as a replay, the puller gets that refusal), delays,
or answers a head with an older answer of the same peer it forwarded before (a late, reordered
message, as a cache or a retrying middlebox delivers it), and now and then runs two sync rounds of
one side at once so their messages interleave. Partners report trips to both meanwhile,
some to both (races). After the faults stop and a final sync both sides are consistent: every entry
of each log pulled exactly once, heads verified, no peer marked untrusted, nothing credited twice
in the federation, `tanhui verify` clean on both.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tanhui import secretbox
from tanhui.client import PartnerClient
from tanhui.services import interop, interop_sync, partners, schemes
from tanhui.store import Store, migrate
from tanhui.store.schema import interop_claims, interop_withdrawals
from tests.live import LiveServer, free_port

pytestmark = pytest.mark.slow
IDS = ("cn-a", "cn-b")
MODES = ("pass", "drop", "duplicate", "delay", "stale")


class FaultProxy:
    """In front of one platform's peer paths; ``faults`` False passes everything."""

    def __init__(self, target: str, seed: int) -> None:
        self.target = target
        self.random = random.Random(seed)
        self.faults = True
        self.seen: dict[str, list[bytes]] = {}  # path -> answers forwarded before (for "stale")
        self.counts: dict[str, int] = dict.fromkeys(MODES, 0)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                headers = {k: v for k, v in self.headers.items() if k.lower().startswith("tanhui-")}
                status, body = proxy.handle(self.path, headers)
                if status is None:
                    self.close_connection = True  # dropped: no answer at all
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _mode(self, path: str) -> str:
        with self.lock:
            mode = self.random.choices(MODES, weights=(4, 1, 1, 1, 2))[0] if self.faults else "pass"
            if mode == "stale" and not (path.startswith("/v1/interop/head") and self.seen.get(path)):
                mode = "pass"
            self.counts[mode] += 1
            return mode

    def handle(self, path: str, headers: dict[str, str]) -> tuple[int | None, bytes]:
        mode = self._mode(path)
        if mode == "stale":
            with self.lock:
                return 200, self.random.choice(self.seen[path])
        if mode == "delay":
            time.sleep(0.2)
        answer = httpx.get(self.target + path, headers=headers, timeout=30)
        if mode == "duplicate":
            answer = httpx.get(self.target + path, headers=headers, timeout=30)
        if answer.status_code == 200:
            with self.lock:
                self.seen.setdefault(path, []).append(answer.content)
        if mode == "drop":
            return None, b""
        return answer.status_code, answer.content

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Side:
    def __init__(self, pid: str, store: Store, server: LiveServer, partner: PartnerClient) -> None:
        self.pid, self.store, self.server, self.partner = pid, store, server, partner

    def ride(self, user_ref: str, trip: str) -> dict[str, Any]:
        self.partner.grant_consent(user_ref)
        event = {
            "event_id": f"{self.pid}-{trip}-{time.time_ns()}",
            "user_ref": user_ref,
            "scenario": "bus_ride",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "data": {"trip_id": trip},
        }
        [result] = self.partner.send_events([event], keep_results=True).results or []
        return result

    def sync(self) -> interop_sync.PeerSync:
        [done] = interop_sync.sync(self.store)
        return done

    def own(self) -> tuple[set[str], set[str]]:
        with self.store.engine.connect() as conn:
            claimed = {r[0] for r in conn.execute(select(interop_claims.c.fingerprint))}
            withdrawn = {r[0] for r in conn.execute(select(interop_withdrawals.c.fingerprint))}
        return claimed, withdrawn

    def log(self) -> list[tuple[int, str, str]]:
        with self.store.unit_of_work(write=False) as uow:
            return [(r.seq, r.kind, r.fingerprint) for r in uow.interop_log.log_entries(0, 10**6)]

    def pulled(self, peer: str) -> tuple[list[tuple[int, str, str]], Any]:
        with self.store.unit_of_work(write=False) as uow:
            found = uow.interop.peer(peer)
            assert found is not None
            return [(c.seq, c.kind, c.fingerprint) for c in uow.interop_log.peer_claims(found.pk)], uow.interop_log.peer_log(
                found.pk
            )


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Side, Side, dict[str, FaultProxy]]]:
    key = tmp_path / "federation.key"
    secretbox.write_key_file(key, [secretbox.new_key_text()], replace=False)
    ports = {pid: free_port() for pid in IDS}
    urls = {pid: f"sqlite:///{tmp_path / (pid + '.db')}" for pid in IDS}
    stores = {pid: Store(url) for pid, url in urls.items()}
    proxies = {pid: FaultProxy(f"http://127.0.0.1:{ports[pid]}", seed=i + 16) for i, pid in enumerate(IDS)}
    made, created = {}, {}
    for pid, store in stores.items():
        migrate.upgrade(store)
        made[pid] = interop.init_platform(store, pid, pid, key)
        schemes.create_scheme(store, "city", f"{pid} 城")
        created[pid] = partners.create_partner(store, "city", "公交", ["bus_ride"])
    for pid, store in stores.items():
        other = IDS[1 - IDS.index(pid)]
        interop.add_peer(store, other, proxies[other].url, made[other]["public_key"])  # the peer, behind its proxy
    servers: list[LiveServer] = []
    try:
        for pid in IDS:
            servers.append(
                LiveServer(urls[pid], tmp_path / f"{pid}.log", env={"TANHUI_INTEROP_SYNC_SECONDS": "0"}, port=ports[pid])
            )
        sides = [
            Side(pid, stores[pid], s, PartnerClient(s.base_url, created[pid].partner.id, created[pid].secret))
            for pid, s in zip(IDS, servers, strict=True)
        ]
        yield sides[0], sides[1], proxies
        for side in sides:
            side.partner.close()
    finally:
        for proxy in proxies.values():
            proxy.close()
        for server in servers:
            server.stop()
        for store in stores.values():
            store.dispose()


def test_claims_sync_ends_consistent_through_drops_duplicates_delays_and_stale_answers(
    pair: tuple[Side, Side, dict[str, FaultProxy]],
) -> None:
    a, b, proxies = pair
    rng = random.Random(7)
    credited: dict[str, set[str]] = {"cn-a": set(), "cn-b": set()}
    for round_no in range(14):
        for _ in range(3):
            trip = f"T-{rng.randrange(12)}"
            sides = [a, b] if rng.random() < 0.3 else [rng.choice([a, b])]
            for side in sides:
                answer = side.ride(f"u{round_no % 3}", trip)
                assert answer["status"] in ("credited", "rejected"), answer
                if answer["status"] == "credited":
                    credited[side.pid].add(trip)
        for side in (a, b):
            if round_no % 4 == 3:  # two rounds of one side at once: their messages interleave
                with ThreadPoolExecutor(2) as pool:
                    both = list(pool.map(lambda s: s.sync(), [side, side]))
            else:
                both = [side.sync()]
            for done in both:  # the proxies fault at random: an error now and then, never a lie
                assert done.trust == "trusted", (round_no, side.pid, done)
    assert all(proxies[p].counts[m] > 0 for p in IDS for m in MODES), {p: proxies[p].counts for p in IDS}

    for proxy in proxies.values():
        proxy.faults = False
    for _ in range(2):  # decide every race, then carry the withdrawals
        for side in (a, b):
            done = side.sync()
            assert done.ok, done
    for side, peer in ((a, b), (b, a)):
        pulled, state = side.pulled(peer.pid)
        assert pulled == peer.log() and len(set(pulled)) == len(pulled)  # every entry once, in order
        assert state.trust == "trusted" and state.tree_size == len(pulled) and state.untrusted_reason is None
    (claimed_a, withdrawn_a), (claimed_b, withdrawn_b) = a.own(), b.own()
    standing_a, standing_b = claimed_a - withdrawn_a, claimed_b - withdrawn_b
    assert not standing_a & standing_b  # nothing credited twice in the federation
    assert claimed_a | claimed_b == standing_a | standing_b  # and every trip credited somewhere still is
    assert len(claimed_a | claimed_b) == len(credited["cn-a"] | credited["cn-b"])
    for side in (a, b):
        report = side.server.tanhui("verify", check=False)
        assert report.returncode == 0, (side.pid, report.stdout, report.stderr)
