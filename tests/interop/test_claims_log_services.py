"""The claims log and its sync through the services, two platforms each with a database of its own, on
SQLite, PostgreSQL and Citus: the sequencer, pages, a peer pulled and caught up, a peer that does not
answer, and peers that lie (each marked untrusted with its reason, nothing of theirs stored, sync from
them stopped, until re-admitted).

The transport between the two is in-process: it calls the peer's own services on the peer's own store
(what its HTTP handlers call); tests/interop/test_claims_log_http.py does the same over real HTTP.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tanhui import secretbox
from tanhui.domain import claims_log as cl
from tanhui.errors import TanhuiError
from tanhui.services import interop, interop_log, interop_sync
from tanhui.store import Store, migrate
from tanhui.store.repositories.interop_claims import Withdrawal
from tanhui.store.rows import PeerRow

T0 = datetime(2026, 3, 1, 8, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Databases of their own on one engine (a platform has one identity per database); Citus in
    tests/citus/test_claims_log_on_citus.py."""
    made: list[tuple[Any, str]] = []

    def make(name: str) -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / (name + '.db')}"
        databases = request.getfixturevalue("pg_databases")
        url: str = databases.create()
        made.append((databases, url))
        return url

    yield make
    for databases, url in made:
        databases.drop(url)


class Platform:
    def __init__(self, store: Store, made: dict[str, str]) -> None:
        self.store = store
        self.id = made["platform_id"]
        self.public_key = made["public_key"]
        self.claimed = 0

    def claim(self, n: int = 1, *, at: datetime | None = None, scenario: str = "bus_ride") -> list[str]:
        """n new claims, as ingest writes them (seq NULL until sequenced)."""
        fingerprints = []
        with self.store.unit_of_work() as uow:
            rows = []
            for _ in range(n):
                self.claimed += 1
                fp = f"{self.id}:{self.claimed}".encode().hex().ljust(64, "0")[:64]
                when = at or T0 + timedelta(seconds=self.claimed)
                rows.append((fp, scenario, uow.dialect.bind_time(when), 1, 1, self.claimed))
                fingerprints.append(fp)
            uow.interop_claims.add_own_claims(rows)
        return fingerprints

    def withdraw(self, fingerprint: str, winner: str, at: datetime) -> None:
        with self.store.unit_of_work() as uow:
            uow.interop_claims.add_withdrawal(Withdrawal(fingerprint, winner, 1, 1, 1, None, 0, 0, at))

    def pulled(self, peer: Platform) -> list[tuple[int, str, str]]:
        with self.store.unit_of_work(write=False) as uow:
            found = uow.interop.peer(peer.id)
            assert found is not None
            return [(c.seq, c.kind, c.fingerprint) for c in uow.interop_log.peer_claims(found.pk)]

    def state(self, peer: Platform) -> Any:
        with self.store.unit_of_work(write=False) as uow:
            found = uow.interop.peer(peer.id)
            assert found is not None
            return uow.interop_log.peer_log(found.pk)

    def log(self) -> list[tuple[int, str, str]]:
        with self.store.unit_of_work(write=False) as uow:
            return [(r.seq, r.kind, r.fingerprint) for r in uow.interop_log.log_entries(0, 10**6)]


@pytest.fixture
def platforms(new_url: Callable[[str], str], tmp_path: Path) -> Iterator[tuple[Platform, Platform]]:
    key_file = tmp_path / "federation.key"
    secretbox.write_key_file(key_file, [secretbox.new_key_text()], replace=False)
    made = []
    for name in ("cn-a", "cn-b"):
        store = Store(new_url(name))
        migrate.upgrade(store)
        made.append(Platform(store, interop.init_platform(store, name, name, key_file)))
    a, b = made
    interop.add_peer(a.store, "cn-b", "http://127.0.0.1:9", b.public_key)
    interop.add_peer(b.store, "cn-a", "http://127.0.0.1:9", a.public_key)
    yield a, b
    for p in made:
        p.store.dispose()


class Local:
    """The peer's own services on the peer's own store, as its HTTP handlers run them; ``bend`` lets a
    test make the peer lie (each call counted, so a test sees that sync stopped asking)."""

    def __init__(self, *peers: Platform) -> None:
        self.peers = {p.id: p for p in peers}
        self.calls = 0
        self.bend_head: Callable[[dict[str, Any]], Any] | None = None
        self.bend_page: Callable[[dict[str, Any]], Any] | None = None
        self.down = False

    def head(self, peer: PeerRow) -> Any:
        self.calls += 1
        if self.down:
            raise interop_sync.Unavailable("peer_unreachable: ConnectError")
        answer = interop_log.own_head(self.peers[peer.platform_id].store)
        return self.bend_head(answer) if self.bend_head else answer

    def claims(self, peer: PeerRow, after: int, limit: int) -> Any:
        self.calls += 1
        answer = interop_log.entries(self.peers[peer.platform_id].store, after, limit)
        return self.bend_page(answer) if self.bend_page else answer


def test_the_sequencer_logs_claims_then_withdrawals_under_signed_heads(platforms: tuple[Platform, Platform]) -> None:
    a, _ = platforms
    empty = interop_log.sequence(a.store, T0)
    assert (empty.tree_size, empty.root_hash, empty.timestamp) == (0, cl.EMPTY_ROOT, int(T0.timestamp()))
    key = interop.signing_key(a.store)[1].public_key()
    assert cl.head_verifies(key, empty)
    late, early = a.claim(2, at=None)[0], a.claim(1, at=T0 - timedelta(days=1))[0]
    head = interop_log.sequence(a.store, T0 + timedelta(hours=1))
    assert head.tree_size == 3 and head.timestamp == int((T0 + timedelta(hours=1)).timestamp()) and cl.head_verifies(key, head)
    assert [fp for _, _, fp in a.log()][:2] == [early, late]  # recorded_at order
    page = interop_log.entries(a.store, 0, 10)
    assert page["platform_id"] == "cn-a" and page["tree_size"] == 3
    leaves = [cl.parse_entry(e) for e in page["entries"]]
    assert head.root_hash == cl.mth([e.leaf_data() for e in leaves if e]).hex()
    assert interop_log.sequence(a.store) == head  # nothing new: no new head
    with a.store.unit_of_work(write=False) as uow:
        claim = uow.interop_claims.own_claim(late)
        assert claim is not None and claim.seq == 2
    a.withdraw(late, "cn-b", T0 + timedelta(days=2))
    after = interop_log.sequence(a.store)
    assert after.tree_size == 4 and a.log()[-1] == (4, "withdrawal", late)
    last = cl.parse_entry(interop_log.entries(a.store, 3, 5)["entries"][0])
    assert last is not None and last.scenario == "bus_ride" and last.recorded_at == "2026-03-03T08:00:00.250000Z"
    assert [e["seq"] for e in interop_log.entries(a.store, 1, 2)["entries"]] == [2, 3]
    assert interop_log.entries(a.store, 4, 500)["entries"] == []


def test_page_arguments() -> None:
    assert interop_log.parse_page_args(None, None) == (0, 500)
    assert interop_log.parse_page_args("7", "1000") == (7, 1000)
    for after, limit, bad in (
        ("-1", None, "after"),
        ("x", None, "after"),
        (None, "0", "limit"),
        (None, "1001", "limit"),
        ("٣", None, "after"),
    ):
        with pytest.raises(TanhuiError) as refused:
            interop_log.parse_page_args(after, limit)
        assert refused.value.code == "invalid_request" and refused.value.http_status == 400
        assert bad in refused.value.details


def test_a_peer_is_pulled_caught_up_and_never_doubled(platforms: tuple[Platform, Platform]) -> None:
    a, b = platforms
    wire = Local(a, b)
    a.claim(3)
    [first] = interop_sync.sync(b.store, transport=wire)
    assert first.to_dict() == {
        "platform_id": "cn-a",
        "new_entries": 3,
        "tree_size": 3,
        "trust": "trusted",
        "untrusted_reason": None,
        "error": None,
    }
    assert b.pulled(a) == a.log()
    # A goes offline: B notes it, keeps trusting it, stores nothing
    a.claim(1200)  # more than one page
    wire.down = True
    [offline] = interop_sync.sync(b.store, transport=wire)
    assert offline.trust == "trusted" and offline.error and "unreachable" in offline.error and offline.new_entries == 0
    assert b.state(a).last_error and len(b.pulled(a)) == 3
    wire.down = False
    [back] = interop_sync.sync(b.store, "cn-a", transport=wire)
    assert back.new_entries == 1200 and back.tree_size == 1203 and back.error is None
    assert b.pulled(a) == a.log() and len({s for s, _, _ in b.pulled(a)}) == 1203
    assert b.state(a).last_error is None and b.state(a).syncs_ok == 2 and b.state(a).syncs_failed == 1
    [again] = interop_sync.sync(b.store, transport=wire)
    assert again.new_entries == 0 and b.pulled(a) == a.log()
    statuses = {s.peer.platform_id: s.to_dict() for s in interop_sync.peer_statuses(b.store)}
    assert statuses["cn-a"]["tree_size"] == 1203 and statuses["cn-a"]["trust"] == "trusted" and statuses["cn-a"]["synced_at"]


def _resign(a: Platform, head: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A head the peer really signed (its own key), with other contents: a lie, not a forgery."""
    values = {**head, **changes}
    key = interop.signing_key(a.store)[1]
    return cl.sign_head(key, values["platform_id"], values["tree_size"], values["timestamp"], values["root_hash"]).to_dict()


def _rewrite_entry(page: dict[str, Any]) -> dict[str, Any]:
    page = copy.deepcopy(page)
    if page["entries"]:
        page["entries"][0]["scenario"] = "walking"
    return page


def test_an_older_head_delivered_late_is_no_lie(platforms: tuple[Platform, Platform]) -> None:
    """A head the peer signed before the one verified, that is a prefix of the verified log (a cached,
    retried or reordered answer: tests/interop/test_claims_sync_faults_http.py meets it over HTTP), is
    noted like a peer that did not answer and retried; a smaller old head that is not that prefix is
    two signed heads that cannot both be true: log_shrank."""
    a, b = platforms
    wire = Local(a, b)
    a.claim(2)
    interop_sync.sync(b.store, transport=wire)
    older = interop_log.own_head(a.store)
    a.claim(3)
    assert interop_sync.sync(b.store, transport=wire)[0].tree_size == 5
    wire.bend_head = lambda h: older
    [late] = interop_sync.sync(b.store, transport=wire)
    assert late.trust == "trusted" and late.error and late.error.startswith("stale_head") and late.tree_size == 5
    wire.bend_head = None
    a.claim(1)
    [caught_up] = interop_sync.sync(b.store, transport=wire)
    assert caught_up.ok and caught_up.new_entries == 1 and b.pulled(a) == a.log()
    wire.bend_head = lambda h: _resign(a, older, root_hash="ab" * 32)  # old, smaller, and not the prefix
    [lied] = interop_sync.sync(b.store, transport=wire)
    assert lied.trust == "untrusted" and lied.untrusted_reason == cl.LOG_SHRANK and len(b.pulled(a)) == 6


def test_a_smaller_head_signed_after_the_verified_one_is_a_shrink(platforms: tuple[Platform, Platform]) -> None:
    """An honest peer's heads never go back in time (the sequencer never signs one before the head it
    extends): a smaller tree signed later than the verified head says the peer dropped entries, even
    when its root is the true prefix's."""
    a, b = platforms
    wire = Local(a, b)
    a.claim(2)
    interop_sync.sync(b.store, transport=wire)
    older = interop_log.own_head(a.store)
    a.claim(3)
    verified = interop_sync.sync(b.store, transport=wire)[0]
    assert verified.ok and verified.tree_size == 5
    newest = interop_log.own_head(a.store)
    wire.bend_head = lambda h: _resign(a, older, timestamp=newest["timestamp"] + 1)
    [shrunk] = interop_sync.sync(b.store, transport=wire)
    assert shrunk.trust == "untrusted" and shrunk.untrusted_reason == cl.LOG_SHRANK and len(b.pulled(a)) == 5


def test_a_head_is_never_signed_before_the_one_it_extends(platforms: tuple[Platform, Platform]) -> None:
    """The sequencer's clock stepping back (NTP, a host moved) never gives a newer head an older time."""
    a, _ = platforms
    a.claim(1)
    first = interop_log.sequence(a.store, T0 + timedelta(days=400))
    a.claim(1)
    second = interop_log.sequence(a.store, T0)
    assert second.tree_size == first.tree_size + 1 and second.timestamp == first.timestamp
    a.claim(1)
    third = interop_log.sequence(a.store, T0 + timedelta(days=401))
    assert third.timestamp == int((T0 + timedelta(days=401)).timestamp())


LIES: dict[str, tuple[str, Callable[[Platform, Local], None]]] = {
    "forged head": (
        cl.BAD_HEAD_SIGNATURE,
        lambda a, w: setattr(w, "bend_head", lambda h: {**h, "tree_size": h["tree_size"] + 1}),
    ),
    "shrunk log": (cl.LOG_SHRANK, lambda a, w: setattr(w, "bend_head", lambda h: _resign(a, h, tree_size=2))),
    "same size, other root": (
        cl.ROOT_CHANGED,
        lambda a, w: setattr(w, "bend_head", lambda h: _resign(a, h, tree_size=3, root_hash="ab" * 32)),
    ),
    "entries that do not fold": (cl.INCONSISTENT_LOG, lambda a, w: setattr(w, "bend_page", _rewrite_entry)),
    "garbage": (cl.MALFORMED, lambda a, w: setattr(w, "bend_page", lambda p: {"entries": "<html>"})),
    "gap": (cl.MALFORMED, lambda a, w: setattr(w, "bend_page", lambda p: {**p, "entries": p["entries"][1:]})),
    "someone else's head": (cl.MALFORMED, lambda a, w: setattr(w, "bend_head", lambda h: _resign(a, h, platform_id="cn-c"))),
}


@pytest.mark.parametrize("lie", list(LIES))
def test_a_lying_peer_is_untrusted_and_nothing_of_it_stored(platforms: tuple[Platform, Platform], lie: str) -> None:
    a, b = platforms
    reason, bend = LIES[lie]
    wire = Local(a, b)
    a.claim(3)
    assert interop_sync.sync(b.store, transport=wire)[0].ok
    before = b.pulled(a)
    a.claim(2)
    bend(a, wire)
    [lied] = interop_sync.sync(b.store, transport=wire)
    assert lied.trust == "untrusted" and lied.untrusted_reason == reason and lied.new_entries == 0 and lied.error
    assert b.pulled(a) == before and b.state(a).tree_size == 3
    status = interop_sync.peer_statuses(b.store)[0].to_dict()
    assert status["trust"] == "untrusted" and status["untrusted_reason"] == reason and status["untrusted_at"]
    # sync from it stops: not asked again, even when it answers honestly
    wire.bend_head = wire.bend_page = None
    calls = wire.calls
    [stopped] = interop_sync.sync(b.store, transport=wire)
    assert wire.calls == calls and stopped.trust == "untrusted" and stopped.untrusted_reason == reason
    assert b.pulled(a) == before
    # re-admitted by its operator (remove + add): read afresh from its first entry, trusted again
    interop.remove_peer(b.store, "cn-a")
    interop.add_peer(b.store, "cn-a", "http://127.0.0.1:9", a.public_key)
    [readmitted] = interop_sync.sync(b.store, transport=wire)
    assert readmitted.ok and readmitted.new_entries == 5 and b.pulled(a) == a.log()


def test_removed_and_other_peers(platforms: tuple[Platform, Platform]) -> None:
    a, b = platforms
    wire = Local(a, b)
    a.claim(2)
    interop.remove_peer(b.store, "cn-a")
    assert interop_sync.sync(b.store, transport=wire) == [] and wire.calls == 0
    with pytest.raises(TanhuiError) as unknown:
        interop_sync.sync(b.store, "cn-a", transport=wire)
    assert unknown.value.code == "peer_not_found"
    # both ways at once: each pulls the other
    interop.add_peer(b.store, "cn-a", "http://127.0.0.1:9", a.public_key)
    b.claim(4)
    assert interop_sync.sync(b.store, transport=wire)[0].new_entries == 2
    assert interop_sync.sync(a.store, transport=wire)[0].new_entries == 4
    assert a.pulled(b) == b.log() and b.pulled(a) == a.log()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.one_of(st.tuples(st.just("claim"), st.integers(1, 40)), st.just(("down",)), st.just(("sync",))), max_size=8))
def test_whatever_the_order_the_puller_ends_with_the_log(
    platforms: tuple[Platform, Platform], steps: list[tuple[Any, ...]]
) -> None:
    """Model: claims, outages and syncs in any order; after a final sync B holds exactly A's log."""
    a, b = platforms
    wire = Local(a, b)
    for step in steps:
        if step[0] == "claim":
            a.claim(step[1])
        elif step[0] == "down":
            wire.down = not wire.down
        else:
            result = interop_sync.sync(b.store, transport=wire)[0]
            assert result.trust == "trusted"
            pulled = b.pulled(a)
            assert pulled == a.log()[: len(pulled)]  # a prefix, never a doubled or foreign entry
    wire.down = False
    interop_sync.sync(b.store, transport=wire)
    assert b.pulled(a) == a.log()


def test_concurrent_sequencers_give_one_gapless_log(platforms: tuple[Platform, Platform]) -> None:
    """Sequencers racing (the serve loop, a head request, `tanhui interop sync`) while claims arrive:
    each claim logged once, no seq skipped or doubled, and every head's root the MTH of its prefix."""
    import threading

    a, _ = platforms
    errors: list[BaseException] = []

    def sequencer() -> None:
        try:
            for _ in range(6):
                interop_log.sequence(a.store)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=sequencer) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(6):
        a.claim(5)
    for t in threads:
        t.join()
    assert not errors, errors
    head = interop_log.sequence(a.store)
    log = a.log()
    assert [s for s, _, _ in log] == list(range(1, 31)) and len({fp for _, _, fp in log}) == 30
    page = interop_log.entries(a.store, 0, 1000)["entries"]
    leaves = [e.leaf_data() for e in (cl.parse_entry(x) for x in page) if e]
    assert head.tree_size == 30 and head.root_hash == cl.mth(leaves).hex()
    key = interop.signing_key(a.store)[1].public_key()
    with a.store.engine.connect() as conn:
        heads = conn.execute(
            text("SELECT tree_size, root_hash, timestamp, signature FROM interop_log_heads ORDER BY tree_size")
        ).all()
    assert heads and heads[-1][0] == 30  # the first head is the empty log's or a later one: the threads race the claims
    for size, root, stamp, signature in heads:  # every head signed, its root the MTH of its prefix
        assert root == cl.mth(leaves[:size]).hex()
        assert cl.head_verifies(key, cl.TreeHead("cn-a", size, root, stamp, signature))


def test_a_withdrawal_never_precedes_its_claim_in_the_log(platforms: tuple[Platform, Platform]) -> None:
    """Both waiting, the withdrawal stamped earlier than the claim (clocks differ between processes):
    the claim is logged first all the same."""
    a, _ = platforms
    [fp] = a.claim(1, at=T0 + timedelta(hours=2))
    a.withdraw(fp, "cn-b", T0 + timedelta(hours=1))
    other = a.claim(1, at=T0 + timedelta(hours=3))[0]
    head = interop_log.sequence(a.store)
    assert head.tree_size == 3
    assert a.log() == [(1, "claim", fp), (2, "claim", other), (3, "withdrawal", fp)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_any_entry_changed_in_transit_is_caught(platforms: tuple[Platform, Platform], data: st.DataObject) -> None:
    """The peer's honest, signed head, and one field of one entry changed: never stored, always untrusted."""
    a, b = platforms
    if not a.log():
        a.claim(7)
        interop_log.sequence(a.store)
    wire = Local(a, b)
    size = len(a.log())
    index = data.draw(st.integers(0, size - 1), label="entry")
    field = data.draw(st.sampled_from(["kind", "fingerprint", "scenario", "recorded_at", "seq"]), label="field")
    replacement = {
        "kind": "withdrawal",
        "fingerprint": "0" * 64,
        "scenario": "walking",
        "recorded_at": "2030-01-01T00:00:00.000000Z",
        "seq": size + 5,
    }[field]

    def bend(page: dict[str, Any]) -> dict[str, Any]:
        page = copy.deepcopy(page)
        for entry in page["entries"]:
            if entry["seq"] == index + 1 and entry[field] != replacement:
                entry[field] = replacement
        return page

    interop.remove_peer(b.store, "cn-a")
    interop.add_peer(b.store, "cn-a", "http://127.0.0.1:9", a.public_key)  # afresh each example
    wire.bend_page = bend
    [result] = interop_sync.sync(b.store, transport=wire)
    changed = bend(interop_log.entries(a.store, 0, 1000)) != interop_log.entries(a.store, 0, 1000)
    if changed:
        assert result.trust == "untrusted" and result.untrusted_reason in (cl.INCONSISTENT_LOG, cl.MALFORMED)
        assert b.pulled(a) == []
    else:  # the drawn value was already the entry's: an honest page
        assert result.ok and b.pulled(a) == a.log()
