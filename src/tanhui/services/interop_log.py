"""This platform's claims log (docs/interop.md, "Claims log"): the sequencer, the signed head and the
pages peers pull.

Ingest writes a claim (and the race rule a withdrawal) with no place in the log yet; the sequencer, one
at a time, appends them in (recorded_at, fingerprint) order, sets their seq and signs a new tree head
in the same transaction, so the log, the claims' seqs and the newest head never disagree. Ingest never
waits for it: the sequencer runs in sync, in `tanhui serve`'s background loop, and before a head is
served (a peer's head is never older than the claims it could ask about).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tanhui.domain import claims_log as cl
from tanhui.errors import TanhuiError
from tanhui.services import interop
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.rows import HeadRow, LogRow, PeerRow

BATCH = 5000  # entries per transaction: a long backlog is logged in several heads, none holding the lock long


def _tree_head(platform_id: str, head: HeadRow) -> cl.TreeHead:
    return cl.TreeHead(platform_id, head.tree_size, head.root_hash, head.timestamp, head.signature)


def sequence(store: Store, now: datetime | None = None) -> cl.TreeHead:
    """Log every claim and withdrawal not yet logged and sign the new head; the newest head (the empty
    tree's the first time). Concurrent callers queue on the platform row's lock (SQLite: the write lock)."""
    now = now or utcnow()
    platform_id, key = interop.signing_key(store)
    while True:
        with store.unit_of_work() as uow:
            uow.interop.platform(lock=True)  # one sequencer at a time
            head = uow.interop_log.newest_head()
            pending = uow.interop_log.unsequenced(BATCH)
            if head is not None and not pending:
                return _tree_head(platform_id, head)
            size = head.tree_size if head else 0
            frontier = cl.frontier_from_text(head.frontier, size) if head else []
            rows: list[LogRow] = []
            for item in pending:
                entry = cl.entry(size + 1, item.kind, item.fingerprint, item.scenario, item.at)
                leaf = entry.leaf_hash()
                frontier = cl.append(frontier, size, leaf)
                size += 1
                rows.append(LogRow(size, item.kind, item.fingerprint, item.scenario, item.at, leaf.hex()))
            uow.interop_log.append_log(rows)
            for kind in cl.KINDS:
                uow.interop_log.set_seqs(kind, [(r.fingerprint, r.seq) for r in rows if r.kind == kind])
            # a head is never signed before the one it extends, even if the clock stepped back
            stamp = max(int(now.timestamp()), head.timestamp if head else 0)
            signed = cl.sign_head(key, platform_id, size, stamp, cl.root(frontier).hex())
            new = HeadRow(size, signed.root_hash, signed.timestamp, signed.signature, cl.frontier_text(frontier))
            uow.interop_log.add_head(new)
        # round again: the rest of a long backlog, and withdrawals whose claims were logged just now


def own_head(store: Store) -> dict[str, Any]:
    """The newest signed head, after logging what waits (`tanhui interop log`, GET /v1/interop/head)."""
    return sequence(store).to_dict()


def head_for_peer(store: Store, peer: PeerRow, nonce: str, now: datetime | None = None) -> dict[str, Any]:
    """GET /v1/interop/head: the peer's nonce is spent, then the fresh head."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        interop.spend_nonce(uow, peer, nonce, now)
    return own_head(store)


def parse_page_args(after: str | None, limit: str | None) -> tuple[int, int]:
    """``after`` (a seq, default 0) and ``limit`` (1..1000, default 500) from a query string; 400
    ``invalid_request`` naming the bad one."""
    bad: dict[str, str] = {}
    values = []
    for name, text, low, high, default in (
        ("after", after, 0, 2**62, 0),
        ("limit", limit, 1, cl.PAGE_MAX, cl.PAGE_DEFAULT),
    ):
        if text is None:
            values.append(default)
            continue
        if not (text.isascii() and text.isdigit() and len(text) <= 19) or not low <= int(text) <= high:
            bad[name] = f"an integer {low}..{high}"
            continue
        values.append(int(text))
    if bad:
        raise TanhuiError("invalid_request", details=bad)
    return values[0], values[1]


def entries(store: Store, after: int, limit: int) -> dict[str, Any]:
    """Entries after ``after`` (at most ``limit``) and the log's size: what a page carries."""
    platform_id = interop.platform(store).platform_id
    with store.unit_of_work(write=False) as uow:
        rows = uow.interop_log.log_entries(after, limit)
        head = uow.interop_log.newest_head()
    size = head.tree_size if head else 0
    page = [cl.entry(r.seq, r.kind, r.fingerprint, r.scenario, r.recorded_at).to_dict() for r in rows if r.seq <= size]
    return {"platform_id": platform_id, "entries": page, "tree_size": size}


def entries_for_peer(
    store: Store, peer: PeerRow, nonce: str, after: int, limit: int, now: datetime | None = None
) -> dict[str, Any]:
    """GET /v1/interop/claims: the peer's nonce is spent, then the page."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        interop.spend_nonce(uow, peer, nonce, now)
    return entries(store, after, limit)
