"""The federation's claims log (docs/interop.md, "Claims log"): this platform's claims and withdrawals,
its Merkle log and signed heads, and what it verified and pulled of each peer's log.

interop_claims, interop_withdrawals and interop_peer_claims are distributed by fingerprint on Citus
(ingest looks them up by fingerprint); the log, its heads and the peers' log state stay on the
coordinator, written by one sequencer or one peer's sync at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from tanhui.store.repositories.base import Repository
from tanhui.store.schema import (
    interop_claims,
    interop_log,
    interop_log_heads,
    interop_peer_claims,
    interop_peer_logs,
    interop_withdrawals,
)


@dataclass(frozen=True, slots=True)
class Unsequenced:
    """A claim or withdrawal waiting for its place in the log; ``at`` is the log's recorded_at."""

    at: datetime
    fingerprint: str
    kind: str
    scenario: str


@dataclass(frozen=True, slots=True)
class LogRow:
    seq: int
    kind: str
    fingerprint: str
    scenario: str
    recorded_at: datetime
    leaf_hash: str


@dataclass(frozen=True, slots=True)
class HeadRow:
    tree_size: int
    root_hash: str
    timestamp: int
    signature: str
    frontier: list[str]


@dataclass(frozen=True, slots=True)
class PeerLogRow:
    """What this platform verified of one peer's log, and whether it still trusts the peer."""

    peer_pk: int
    tree_size: int
    root_hash: str
    head_timestamp: int
    head_signature: str | None
    frontier: list[str]
    trust: str
    untrusted_reason: str | None
    untrusted_at: datetime | None
    synced_at: datetime | None
    last_error: str | None
    syncs_ok: int
    syncs_failed: int


@dataclass(frozen=True, slots=True)
class PeerClaim:
    fingerprint: str
    seq: int
    kind: str
    scenario: str
    recorded_at: datetime


_LOG = (
    interop_log.c.seq,
    interop_log.c.kind,
    interop_log.c.fingerprint,
    interop_log.c.scenario,
    interop_log.c.recorded_at,
    interop_log.c.leaf_hash,
)
_HEAD = (
    interop_log_heads.c.tree_size,
    interop_log_heads.c.root_hash,
    interop_log_heads.c.timestamp,
    interop_log_heads.c.signature,
    interop_log_heads.c.frontier,
)
_PEER_LOG = tuple(interop_peer_logs.c[name] for name in PeerLogRow.__dataclass_fields__)
ERROR_MAX = 200


class InteropLogRepository(Repository):
    # -- own claims and withdrawals: written through uow.interop_claims (ingest, the race rule); logged here

    def unsequenced(self, limit: int) -> list[Unsequenced]:
        """The first ``limit`` claims and withdrawals not yet in the log, in (recorded_at, fingerprint) order."""
        claims = self.conn.execute(
            select(interop_claims.c.recorded_at, interop_claims.c.fingerprint, interop_claims.c.scenario)
            .where(interop_claims.c.seq.is_(None))
            .order_by(interop_claims.c.recorded_at, interop_claims.c.fingerprint)
            .limit(limit)
        ).all()
        w = interop_withdrawals.c
        withdrawals = self.conn.execute(
            select(w.withdrawn_at, w.fingerprint, interop_claims.c.scenario)
            .select_from(interop_withdrawals.join(interop_claims, interop_claims.c.fingerprint == w.fingerprint))
            .where(w.seq.is_(None), interop_claims.c.seq.is_not(None))  # a withdrawal follows its claim in the log
            .order_by(w.withdrawn_at, w.fingerprint)
            .limit(limit)
        ).all()
        found = [Unsequenced(at, fp, "claim", scenario) for at, fp, scenario in claims]
        found += [Unsequenced(at, fp, "withdrawal", scenario) for at, fp, scenario in withdrawals]
        found.sort(key=lambda u: (u.at, u.fingerprint, u.kind))
        return found[:limit]

    def set_seqs(self, kind: str, seqs: Sequence[tuple[str, int]]) -> None:
        """Give logged claims (or withdrawals) their place in the log: (fingerprint, seq) pairs."""
        table = interop_claims if kind == "claim" else interop_withdrawals
        self.dialect.update_rows(self.conn, table, ["seq"], ["fingerprint"], [(seq, fp) for fp, seq in sorted(seqs)])

    # -- the log and its heads ---------------------------------------------------------------------------

    def append_log(self, rows: Sequence[LogRow]) -> None:
        bind = self.dialect.bind_time
        self.dialect.insert_rows(
            self.conn,
            interop_log,
            ("seq", "kind", "fingerprint", "scenario", "recorded_at", "leaf_hash"),
            [(r.seq, r.kind, r.fingerprint, r.scenario, bind(r.recorded_at), r.leaf_hash) for r in rows],
        )

    def log_entries(self, after: int, limit: int) -> list[LogRow]:
        """Entries with seq after ``after``, in order, at most ``limit``."""
        query = select(*_LOG).where(interop_log.c.seq > after).order_by(interop_log.c.seq).limit(limit)
        return [LogRow(*row) for row in self.conn.execute(query)]

    def newest_head(self) -> HeadRow | None:
        row = self.conn.execute(select(*_HEAD).order_by(interop_log_heads.c.tree_size.desc()).limit(1)).first()
        return HeadRow(*row) if row else None

    def add_head(self, head: HeadRow) -> None:
        self.conn.execute(
            insert(interop_log_heads).values(
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                timestamp=head.timestamp,
                signature=head.signature,
                frontier=head.frontier,
            )
        )

    # -- peers' logs -----------------------------------------------------------------------------------

    def peer_log(self, peer_pk: int, *, lock: bool = False) -> PeerLogRow | None:
        query = select(*_PEER_LOG).where(interop_peer_logs.c.peer_pk == peer_pk)
        if lock:
            query = self.dialect.for_update(query)
        row = self.conn.execute(query).first()
        return PeerLogRow(*row) if row else None

    def peer_logs(self) -> dict[int, PeerLogRow]:
        return {row[0]: PeerLogRow(*row) for row in self.conn.execute(select(*_PEER_LOG))}

    def save_peer_log(self, row: PeerLogRow) -> None:
        """Write a peer's log state (insert the first time, else replace)."""
        values: dict[str, Any] = {name: getattr(row, name) for name in PeerLogRow.__dataclass_fields__}
        if values["last_error"] is not None:
            values["last_error"] = values["last_error"][:ERROR_MAX]
        done = self.conn.execute(update(interop_peer_logs).where(interop_peer_logs.c.peer_pk == row.peer_pk).values(**values))
        if done.rowcount == 0:
            self.conn.execute(insert(interop_peer_logs).values(**values))

    def add_peer_claims(self, peer_pk: int, rows: Sequence[PeerClaim]) -> None:
        bind = self.dialect.bind_time
        self.dialect.insert_rows(
            self.conn,
            interop_peer_claims,
            ("fingerprint", "peer_pk", "seq", "kind", "scenario", "recorded_at"),
            [(r.fingerprint, peer_pk, r.seq, r.kind, r.scenario, bind(r.recorded_at)) for r in rows],
        )

    def peer_claims(self, peer_pk: int) -> list[PeerClaim]:
        """Everything pulled from one peer, in its log's order (operators' checks and tests)."""
        c = interop_peer_claims.c
        query = select(c.fingerprint, c.seq, c.kind, c.scenario, c.recorded_at).where(c.peer_pk == peer_pk).order_by(c.seq)
        return [PeerClaim(*row) for row in self.conn.execute(query)]

    def forget_peer(self, peer_pk: int) -> None:
        """A peer added again starts afresh (new key, a log read from its first entry): what was pulled
        from it and its log state go."""
        self.conn.execute(delete(interop_peer_claims).where(interop_peer_claims.c.peer_pk == peer_pk))
        self.conn.execute(delete(interop_peer_logs).where(interop_peer_logs.c.peer_pk == peer_pk))
