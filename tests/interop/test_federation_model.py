"""A model-based test (hypothesis RuleBasedStateMachine) of a federation of three platforms, in
process: three real SQLite stores, each with its own identity and the others as peers under one
federation key. Sync runs the real services/interop_sync over an in-process transport that calls
the peer's own services on the peer's own store (what its HTTP handlers call); a partition makes a
pair unreachable (sync notes the error and retries later, as for a peer offline).

Rules: a partner reports a bus trip, drawn from a pool of four so the same behaviour reaches several
platforms often, to some platform at a clock that advances by 0, 1 µs or 1 s (ties are decided by
platform id); one platform pulls another; one pulls another but gets an older head of it (a late message); a pair
is partitioned or healed; a person spends points
(so a lost race meets a balance that no longer holds the credit). Invariants after every step: no
balance is negative, `ledger.verify` is clean on every platform, no peer is ever marked untrusted.
At the end every pair is healed and every platform pulls every other twice (withdrawals propagate):
every trip any platform credited stands (claimed, not withdrawn) on exactly one platform; every
withdrawn claim was reversed or recorded its shortfall; every platform holds each peer's log exactly
as the peer logged it, each entry once.

Credit transfers are left to the model test in test_transfers_services.py (they touch no claim: a
transfer moves issued credits, the claims log names behaviours).
"""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from itertools import permutations
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from tanhui import secretbox
from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_REDEEMED
from tanhui.services import interop, interop_log, interop_sync, ledger
from tanhui.store import Store, migrate
from tanhui.store.rows import PeerRow
from tanhui.store.schema import interop_claims, interop_withdrawals
from tests.interop.federation_helpers import NOW, Platform, platform

pytestmark = pytest.mark.slow
IDS = ("cn-a", "cn-b", "cn-c")
TRIPS = ("T-1", "T-2", "t-3", "Ｔ-4")  # any case and width: one identity each
USERS = ("u1", "u2")
PAIRS = [tuple(sorted(p)) for p in permutations(IDS, 2) if p[0] < p[1]]


class Wire:
    """The in-process transport: ``puller`` asks ``peer``; unreachable while the pair is partitioned.
    Every head served is kept in ``heads``; ``late`` answers with one of the peer's older heads instead
    (a message delivered late)."""

    def __init__(
        self, stores: dict[str, Store], cut: set[tuple[str, ...]], puller: str, heads: dict[str, list[Any]], late: int = -1
    ) -> None:
        self.stores, self.cut, self.puller, self.heads, self.late = stores, cut, puller, heads, late

    def _reach(self, peer: PeerRow) -> Store:
        if tuple(sorted((self.puller, peer.platform_id))) in self.cut:
            raise interop_sync.Unavailable("peer_unreachable: partitioned")
        return self.stores[peer.platform_id]

    def head(self, peer: PeerRow) -> Any:
        served = self.heads.setdefault(peer.platform_id, [])
        if self.late >= 0 and served:
            return served[self.late % len(served)]
        head = interop_log.own_head(self._reach(peer))
        served.append(head)
        return head

    def claims(self, peer: PeerRow, after: int, limit: int) -> Any:
        return interop_log.entries(self._reach(peer), after, limit)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Three platforms set up once (migrated, identities, peers, a scheme with a partner each); every
    example starts from a copy of their database files."""
    folder = tmp_path_factory.mktemp("federation-template")
    key = folder / "federation.key"
    secretbox.write_key_file(key, [secretbox.new_key_text()], replace=False)
    stores = {pid: Store(f"sqlite:///{folder / (pid + '.db')}") for pid in IDS}
    made, sides = {}, {}
    for pid, store in stores.items():
        migrate.upgrade(store)
        side = platform(store)
        made[pid] = interop.init_platform(store, pid, pid, key, now=NOW - timedelta(days=1))
        sides[pid] = (side.scheme_id, side.partner)
    for pid, store in stores.items():
        for other in IDS:
            if other != pid:
                interop.add_peer(store, other, f"http://{other}.invalid", made[other]["public_key"], now=NOW - timedelta(days=1))
    for store in stores.values():
        store.dispose()
    return folder, sides


class Federation(RuleBasedStateMachine):
    template: tuple[Path, dict[str, Any]]
    root: Path
    withdrawals = 0  # over all examples: races were met, not only avoided
    late_heads = 0  # and older heads delivered late

    def __init__(self) -> None:
        super().__init__()
        folder, sides = self.template
        here = self.root / uuid.uuid4().hex[:10]
        here.mkdir()
        self.stores: dict[str, Store] = {}
        self.sides: dict[str, Platform] = {}
        for pid in IDS:
            for suffix in ("", "-wal", "-shm"):
                source = folder / f"{pid}.db{suffix}"
                if source.exists():
                    shutil.copy(source, here / source.name)
            store = Store(f"sqlite:///{here / (pid + '.db')}")
            scheme_id, partner = sides[pid]
            self.stores[pid] = store
            self.sides[pid] = Platform(store, scheme_id, partner, pid)
        self.cut: set[tuple[str, ...]] = set()
        self.clock = NOW
        self.heads: dict[str, list[Any]] = {}

    @initialize()
    def start(self) -> None:
        pass

    def _tick(self, step: timedelta) -> None:
        self.clock += step

    @rule(
        pid=st.sampled_from(IDS),
        trip=st.sampled_from(TRIPS),
        user=st.sampled_from(USERS),
        step=st.sampled_from([timedelta(0), timedelta(microseconds=1), timedelta(seconds=1)]),
    )
    def report(self, pid: str, trip: str, user: str, step: timedelta) -> None:
        self._tick(step)
        side = self.sides[pid]
        event = {
            "event_id": f"{pid}-{trip}-{user}-{uuid.uuid4().hex[:6]}",
            "user_ref": f"{pid}-{user}",
            "scenario": "bus_ride",
            "occurred_at": (NOW - timedelta(hours=1)).isoformat(),
            "data": {"trip_id": trip},
        }
        [result] = side.report([event], now=self.clock)
        if result["status"] == "rejected" and result.get("reason") == "duplicate_behaviour":
            claimed_by = (result.get("details") or {}).get("claimed_by")
            assert claimed_by in (None, *IDS) and claimed_by != pid, result
        else:
            assert result["status"] == "credited", result

    @rule(puller=st.sampled_from(IDS), peer=st.sampled_from(IDS))
    def sync(self, puller: str, peer: str) -> None:
        if puller == peer:
            return
        self._tick(timedelta(seconds=1))
        [done] = interop_sync.sync(
            self.stores[puller], peer, transport=Wire(self.stores, self.cut, puller, self.heads), now=self.clock
        )
        assert done.trust == "trusted", done
        partitioned = tuple(sorted((puller, peer))) in self.cut
        assert (done.error is not None) == partitioned, done

    @rule(
        puller=st.sampled_from(IDS),
        peer=st.sampled_from(IDS),
        which=st.integers(0, 9),
        trip=st.sampled_from(TRIPS),
        user=st.sampled_from(USERS),
    )
    def late_head(self, puller: str, peer: str, which: int, trip: str, user: str) -> None:
        """The peer's log grows, the puller verifies its newest head, then one of its older heads
        arrives (a message delivered late): never a reason to distrust it."""
        if puller == peer or tuple(sorted((puller, peer))) in self.cut:
            return
        self.sync(puller, peer)
        self.report(peer, trip, user, timedelta(seconds=1))
        self.sync(puller, peer)
        newest = self.heads[peer][-1]["tree_size"]
        older = [h for h in self.heads[peer] if h["tree_size"] < newest]
        if not older:
            return
        wire = Wire(self.stores, self.cut, puller, {peer: older}, late=which)
        [done] = interop_sync.sync(self.stores[puller], peer, transport=wire, now=self.clock)
        assert done.trust == "trusted" and done.error and done.error.startswith("stale_head"), done
        Federation.late_heads += 1

    @rule(pair=st.sampled_from(PAIRS))
    def partition(self, pair: tuple[str, ...]) -> None:
        self.cut.add(pair)

    @rule(pair=st.sampled_from(PAIRS))
    def heal(self, pair: tuple[str, ...]) -> None:
        self.cut.discard(pair)

    @rule(pid=st.sampled_from(IDS), user=st.sampled_from(USERS), share=st.sampled_from([1, 2]))
    def spend(self, pid: str, user: str, share: int) -> None:
        """The person redeems all (1) or half (2) of their points."""
        side = self.sides[pid]
        account_id = self._account(side, f"{pid}-{user}")
        if account_id is None:
            return
        held = ledger.holdings(side.store, account_id)
        points = ledger.balance(side.store, held.points_account_id) // share
        if points <= 0:
            return
        with side.store.unit_of_work(write=False) as uow:
            redeemed = uow.ledger.system_account(side.scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id
        ledger.transfer(side.store, side.scheme_id, [(held.points_account_id, redeemed, points)], kind="redemption")

    @staticmethod
    def _account(side: Platform, user_ref: str) -> int | None:
        with side.store.unit_of_work(write=False) as uow:
            link = uow.consents.links_with_active_consent(side.partner.pk, [user_ref]).get(user_ref)
        return None if link is None else int(link.account_id)

    @invariant()
    def ledgers_hold(self) -> None:
        for pid, side in self.sides.items():
            assert ledger.verify(side.store).ok, pid
            for user in USERS:
                account_id = self._account(side, f"{pid}-{user}")
                if account_id is None:
                    continue
                held = ledger.holdings(side.store, account_id)
                assert ledger.balance(side.store, held.points_account_id) >= 0
                assert ledger.balance(side.store, held.co2e_account_id) >= 0

    def _claims(self, pid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """This platform's own claims (fingerprint -> recorded_at) and its withdrawals."""
        with self.stores[pid].engine.connect() as conn:
            claimed = {r.fingerprint: r.recorded_at for r in conn.execute(select(interop_claims))}
            withdrawn = {r.fingerprint: r for r in conn.execute(select(interop_withdrawals))}
        return claimed, withdrawn

    def teardown(self) -> None:
        try:
            self.cut.clear()
            for _ in range(2):  # the first round decides every race, the second carries the withdrawals
                for puller in IDS:
                    self.sync_all(puller)
            self.final_checks()
        finally:
            for store in self.stores.values():
                store.dispose()

    def sync_all(self, puller: str) -> None:
        self._tick(timedelta(seconds=1))
        done = interop_sync.sync(self.stores[puller], transport=Wire(self.stores, self.cut, puller, self.heads), now=self.clock)
        assert all(d.ok for d in done), done

    def final_checks(self) -> None:
        standing: dict[str, list[str]] = {}
        claimants: dict[str, list[tuple[Any, str]]] = {}
        for pid in IDS:
            claimed, withdrawn = self._claims(pid)
            for fp, recorded_at in claimed.items():
                claimants.setdefault(fp, []).append((recorded_at, pid))
                if fp not in withdrawn:
                    standing.setdefault(fp, []).append(pid)
            Federation.withdrawals += len(withdrawn)
            for w in withdrawn.values():
                assert w.claimed_by != pid and w.claimed_by in IDS
                # the credit was taken back, or what could not be is on record
                assert w.reversal_entry_id is not None or w.shortfall_points > 0 or w.shortfall_g > 0, w
        for fp, who in claimants.items():
            # exactly one credit stands, and it is the race rule's winner: earliest recorded_at, then id
            assert standing.get(fp) == [min(who)[1]], (fp, sorted(who), standing.get(fp))
        # every withdrawal names a platform that claimed the trip before this one (the winner it knew
        # then: in a chain of three, that platform may itself have lost to an earlier one since)
        for pid in IDS:
            for fp, w in self._claims(pid)[1].items():
                mine = next(c for c in claimants[fp] if c[1] == pid)
                theirs = [c for c in claimants[fp] if c[1] == w.claimed_by]
                assert theirs and theirs[0] < mine, (pid, fp, w.claimed_by, sorted(claimants[fp]))
        # each peer's log held exactly as the peer logged it, each entry once
        for puller in IDS:
            for peer in IDS:
                if peer == puller:
                    continue
                with self.stores[puller].unit_of_work(write=False) as uow:
                    found = uow.interop.peer(peer)
                    assert found is not None
                    pulled = [(c.seq, c.kind, c.fingerprint) for c in uow.interop_log.peer_claims(found.pk)]
                    state = uow.interop_log.peer_log(found.pk)
                with self.stores[peer].unit_of_work(write=False) as uow:
                    own = [(r.seq, r.kind, r.fingerprint) for r in uow.interop_log.log_entries(0, 10**6)]
                assert pulled == own, (puller, peer)
                assert state is None or (state.trust == "trusted" and state.tree_size == len(own))


def test_every_behaviour_is_credited_at_most_once_federation_wide(template: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    Federation.template = template
    Federation.root = tmp_path
    run_state_machine_as_test(
        Federation,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    assert Federation.withdrawals > 0 and Federation.late_heads > 0
