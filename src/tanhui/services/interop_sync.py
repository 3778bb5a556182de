"""Pull peers' claims logs (docs/interop.md, "Sync"): verify, then store, or stop trusting the peer.

A peer's head is checked with the key its operator configured; the entries after what was verified
before are pulled in pages and folded onto the stored frontier; only when the fold gives the signed
root are they stored, in one transaction with the new log state. A peer whose log shrank, whose root
changed at the same size, whose answers are malformed or whose entries do not fold to its own signed
head has rewritten or lied about its past: it is marked untrusted, nothing it sent is stored, and sync
from it stops until its operator re-admits it (`peer remove` + `peer add`). A peer that does not answer
is only noted (``last_error``) and retried next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tanhui.domain import claims_log as cl
from tanhui.domain import platform_signing as ps
from tanhui.errors import TanhuiError
from tanhui.services import interop, interop_client, interop_log, interop_races
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.rows import PeerClaim, PeerLogRow, PeerRow

log = logging.getLogger("tanhui.interop.sync")

TRUSTED, UNTRUSTED = "trusted", "untrusted"


class Unavailable(Exception):
    """The peer gave no usable answer (unreachable, an HTTP error): retried next time."""


class Garbage(Exception):
    """The peer answered 200 with a body that is not JSON: a malformed answer."""


class Transport(Protocol):
    def head(self, peer: PeerRow) -> Any: ...

    def claims(self, peer: PeerRow, after: int, limit: int) -> Any: ...


class HttpTransport:
    """Signed GETs to the peer's URL (services/interop_client.call_peer)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _get(self, peer: PeerRow, path: str) -> Any:
        try:
            response = interop_client.call_peer(self.store, peer.platform_id, "GET", path)
        except TanhuiError as error:
            raise Unavailable(f"{error.code}: {error.params.get('reason', '')}".rstrip(": ")) from None
        if response.status_code != 200:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "no error body"
            raise Unavailable(f"HTTP {response.status_code} {code}")
        try:
            return response.json()
        except ValueError:
            raise Garbage(f"not JSON: {response.text[:60]!r}") from None

    def head(self, peer: PeerRow) -> Any:
        return self._get(peer, "/v1/interop/head")

    def claims(self, peer: PeerRow, after: int, limit: int) -> Any:
        return self._get(peer, f"/v1/interop/claims?after={after}&limit={limit}")


@dataclass(frozen=True, slots=True)
class PeerSync:
    """One peer's round: what was stored, where its log stands, whether it is still trusted."""

    platform_id: str
    new_entries: int
    tree_size: int
    trust: str
    untrusted_reason: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.trust == TRUSTED and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform_id": self.platform_id,
            "new_entries": self.new_entries,
            "tree_size": self.tree_size,
            "trust": self.trust,
            "untrusted_reason": self.untrusted_reason,
            "error": self.error,
        }


class _Stale(Exception):
    """A head smaller than the one verified and signed no later: an older answer the network delivered
    late (a cache, a retry, a reordered message), to be checked against what was verified."""

    def __init__(self, head: cl.TreeHead) -> None:
        super().__init__(f"head size {head.tree_size}")
        self.head = head


class _Untrusted(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _fresh(peer: PeerRow) -> PeerLogRow:
    return PeerLogRow(peer.pk, 0, cl.EMPTY_ROOT, 0, None, [], TRUSTED, None, None, None, None, 0, 0)


def sync(
    store: Store,
    peer_id: str | None = None,
    transport: Transport | None = None,
    now: datetime | None = None,
) -> list[PeerSync]:
    """One round: this platform's own log sequenced, then every active peer (or ``peer_id``) pulled."""
    now = now or utcnow()
    interop_log.sequence(store, now)
    transport = transport or HttpTransport(store)
    peers = [interop.active_peer(store, peer_id)] if peer_id else interop.list_peers(store)
    results = [sync_peer(store, peer, transport, now) for peer in peers]
    if any(r.new_entries for r in results) and interop_races.resolve(store, now):
        interop_log.sequence(store, now)  # the withdrawals the race rule wrote take their place in the log
    return results


def sync_peer(store: Store, peer: PeerRow, transport: Transport, now: datetime) -> PeerSync:
    with store.unit_of_work(write=False) as uow:
        state = uow.interop_log.peer_log(peer.pk) or _fresh(peer)
    if state.trust != TRUSTED:
        return _result(peer, state, 0, None)
    try:
        head, entries = _pull(peer, state, transport)
    except Unavailable as error:
        return _note_error(store, peer, state, str(error), now)
    except _Stale as stale:
        return _stale(store, peer, state, stale.head, now)
    except _Untrusted as lie:
        return _untrust(store, peer, state, lie, now)
    return _store(store, peer, state, head, entries, now)


def _pull(peer: PeerRow, state: PeerLogRow, transport: Transport) -> tuple[cl.TreeHead, list[cl.Entry]]:
    """The peer's signed head and the entries after ``state``, checked: or why the peer is not to be trusted."""
    head = cl.parse_head(_answer(transport.head, peer))
    if head is None or head.platform_id != peer.platform_id:
        raise _Untrusted(cl.MALFORMED, "head: not a tree head of this peer")
    key = ps.public_key(peer.public_key)
    if key is None or not cl.head_verifies(key, head):
        raise _Untrusted(cl.BAD_HEAD_SIGNATURE, f"head of size {head.tree_size}: signature does not verify")
    if head.tree_size < state.tree_size and head.timestamp <= state.head_timestamp:
        raise _Stale(head)
    if head.tree_size < state.tree_size:
        raise _Untrusted(cl.LOG_SHRANK, f"head size {head.tree_size} < {state.tree_size} verified before")
    if head.tree_size == state.tree_size and head.root_hash != state.root_hash:
        raise _Untrusted(cl.ROOT_CHANGED, f"size {head.tree_size}: root {head.root_hash[:16]}.. != {state.root_hash[:16]}..")
    entries: list[cl.Entry] = []
    after = state.tree_size
    while after < head.tree_size:
        limit = min(cl.PAGE_MAX, head.tree_size - after)
        page = cl.parse_page(_answer(transport.claims, peer, after, limit), peer.platform_id, after)
        if not page or len(page) > limit:
            raise _Untrusted(cl.MALFORMED, f"claims after {after}: not a gapless page of this peer's entries")
        entries.extend(page)
        after = page[-1].seq
    frontier = cl.frontier_from_text(state.frontier, state.tree_size)
    folded, _ = cl.extend(frontier, state.tree_size, (e.leaf_hash() for e in entries))
    if cl.root(folded).hex() != head.root_hash:
        raise _Untrusted(cl.INCONSISTENT_LOG, f"entries {state.tree_size + 1}..{head.tree_size} do not fold to the signed root")
    return head, entries


def _answer(call: Callable[..., Any], *args: Any) -> Any:
    try:
        return call(*args)
    except Garbage as error:
        raise _Untrusted(cl.MALFORMED, str(error)) from None


def _store(
    store: Store, peer: PeerRow, before: PeerLogRow, head: cl.TreeHead, entries: list[cl.Entry], now: datetime
) -> PeerSync:
    frontier = cl.frontier_from_text(before.frontier, before.tree_size)
    folded, size = cl.extend(frontier, before.tree_size, (e.leaf_hash() for e in entries))
    with store.unit_of_work() as uow:
        current = uow.interop_log.peer_log(peer.pk, lock=True) or _fresh(peer)
        if current.tree_size != before.tree_size or current.trust != TRUSTED:
            return _result(peer, current, 0, "another sync of this peer ran meanwhile; nothing stored")
        uow.interop_log.add_peer_claims(
            peer.pk, [PeerClaim(e.fingerprint, e.seq, e.kind, e.scenario, cl.recorded_time(e.recorded_at)) for e in entries]
        )
        after = PeerLogRow(
            peer.pk,
            size,
            head.root_hash,
            head.timestamp,
            head.signature,
            cl.frontier_text(folded),
            TRUSTED,
            None,
            None,
            now,
            None,
            current.syncs_ok + 1,
            current.syncs_failed,
        )
        uow.interop_log.save_peer_log(after)
    return _result(peer, after, len(entries), None)


def _stale(store: Store, peer: PeerRow, state: PeerLogRow, head: cl.TreeHead, now: datetime) -> PeerSync:
    """An older head is no lie if it is a prefix of the log verified since (RFC 9162: consistent
    heads): noted like a peer that did not answer, retried next round. One whose root is not that
    prefix's is two signed heads that cannot both be true: the log shrank or was rewritten."""
    with store.unit_of_work(write=False) as uow:
        pulled = uow.interop_log.peer_claims(peer.pk)[: head.tree_size]  # rare: read once per stale answer
    leaves = [cl.entry(c.seq, c.kind, c.fingerprint, c.scenario, c.recorded_at).leaf_data() for c in pulled]
    if len(leaves) == head.tree_size and cl.mth(leaves).hex() == head.root_hash:
        return _note_error(store, peer, state, f"stale_head: size {head.tree_size} < {state.tree_size} verified", now)
    detail = f"head size {head.tree_size} < {state.tree_size} verified before, not a prefix of it"
    return _untrust(store, peer, state, _Untrusted(cl.LOG_SHRANK, detail), now)


def _note_error(store: Store, peer: PeerRow, before: PeerLogRow, error: str, now: datetime) -> PeerSync:
    log.warning("interop sync: %s unreachable: %s", peer.platform_id, error)
    with store.unit_of_work() as uow:
        current = uow.interop_log.peer_log(peer.pk, lock=True) or before
        noted = _replace(current, last_error=error, syncs_failed=current.syncs_failed + 1)
        uow.interop_log.save_peer_log(noted)
    return _result(peer, noted, 0, error)


def _untrust(store: Store, peer: PeerRow, before: PeerLogRow, lie: _Untrusted, now: datetime) -> PeerSync:
    """Stop trusting the peer: the reason and its evidence kept, nothing of what it sent stored."""
    log.error("interop sync: %s is no longer trusted (%s): %s", peer.platform_id, lie.reason, lie.detail)
    with store.unit_of_work() as uow:
        current = uow.interop_log.peer_log(peer.pk, lock=True) or before
        marked = _replace(
            current,
            trust=UNTRUSTED,
            untrusted_reason=lie.reason,
            untrusted_at=now,
            last_error=lie.detail,
            syncs_failed=current.syncs_failed + 1,
        )
        uow.interop_log.save_peer_log(marked)
    return _result(peer, marked, 0, lie.detail)


def _replace(row: PeerLogRow, **changes: Any) -> PeerLogRow:
    values = {name: getattr(row, name) for name in PeerLogRow.__dataclass_fields__}
    values.update(changes)
    return PeerLogRow(**values)


def _result(peer: PeerRow, state: PeerLogRow, new: int, error: str | None) -> PeerSync:
    if state.trust != TRUSTED:
        error = error or state.last_error
    return PeerSync(peer.platform_id, new, state.tree_size, state.trust, state.untrusted_reason, error)


# -- what operators see ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerStatus:
    peer: PeerRow
    log: PeerLogRow | None

    def to_dict(self) -> dict[str, Any]:
        state = self.log
        return {
            **self.peer.to_dict(),
            "trust": state.trust if state else TRUSTED,
            "untrusted_reason": state.untrusted_reason if state else None,
            "untrusted_at": state.untrusted_at.isoformat() if state and state.untrusted_at else None,
            "tree_size": state.tree_size if state else 0,
            "synced_at": state.synced_at.isoformat() if state and state.synced_at else None,
            "last_error": state.last_error if state else None,
        }


def peer_statuses(store: Store, *, include_removed: bool = False) -> list[PeerStatus]:
    """Every peer with what sync knows of its log (`tanhui interop peer list`, /metrics, the dashboard)."""
    with store.unit_of_work(write=False) as uow:
        peers = uow.interop.peers(include_removed=include_removed)
        logs = uow.interop_log.peer_logs()
    return [PeerStatus(p, logs.get(p.pk)) for p in peers]


def metric_rows(store: Store) -> list[dict[str, Any]]:
    """The active peers' trust, log size and sync counts for /metrics; none when the store cannot say
    (a scrape must answer while the database is down: /ready tells that)."""
    try:
        statuses = peer_statuses(store)
    except Exception as error:  # noqa: BLE001 - any failure to read leaves the other metrics to answer
        log.warning("metrics: peers' claims logs not read: %s", type(error).__name__)
        return []
    return [
        {
            "platform_id": s.peer.platform_id,
            "trust": s.log.trust if s.log else TRUSTED,
            "tree_size": s.log.tree_size if s.log else 0,
            "syncs_ok": s.log.syncs_ok if s.log else 0,
            "syncs_failed": s.log.syncs_failed if s.log else 0,
        }
        for s in statuses
    ]
