"""The federation's claims as this platform sees them (issue 16 part 2): its own claims and
withdrawals, and the reads of peers' claims that ingest and the race rule need.

Peers' entries are written by sync (the claims log's repository); this one only reads them. Every read
on the hot path names the federation fingerprint, the tables' distribution column (store/distribution.py),
so on Citus it goes to the shards holding those fingerprints only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, insert, select

from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.base import Repository, chunks
from tanhui.store.schema import (
    events,
    interop_claims,
    interop_peer_claims,
    interop_peer_logs,
    interop_peers,
    interop_withdrawals,
)

OWN_CLAIM_COLUMNS = ("fingerprint", "scenario", "recorded_at", "pkey", "account_id", "event_pk")


@dataclass(frozen=True, slots=True)
class PeerEntry:
    """One entry of a peer's log, as pulled (kind "claim" or "withdrawal")."""

    fingerprint: str
    peer_pk: int
    seq: int
    kind: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class OwnClaim:
    fingerprint: str
    scenario: str
    recorded_at: datetime
    pkey: int
    account_id: int
    event_pk: int
    seq: int | None = None  # its place in the log once sequenced (the same row type as the claims log's)


@dataclass(frozen=True, slots=True)
class Withdrawal:
    fingerprint: str
    claimed_by: str
    pkey: int
    account_id: int
    event_pk: int
    reversal_entry_id: int | None
    shortfall_g: int
    shortfall_points: int
    withdrawn_at: datetime
    seq: int | None = None


class InteropClaimsRepository(Repository):
    # -- own claims and withdrawals ------------------------------------------------------------
    def add_own_claims(self, rows: Sequence[Sequence[Any]]) -> None:
        """Claims of behaviours credited in this transaction, in OWN_CLAIM_COLUMNS order, values as the
        columns bind them (``recorded_at`` through ``bind_time``); seq stays NULL until sequenced.
        A fingerprint claimed twice is a unique-key violation (the batch is decided again)."""
        self.dialect.insert_rows(self.conn, interop_claims, OWN_CLAIM_COLUMNS, rows)

    def add_withdrawal(self, row: Withdrawal) -> None:
        """A race lost: the claim withdrawn (seq NULL until sequenced). A second one is a unique-key violation."""
        self.conn.execute(
            insert(interop_withdrawals).values(
                fingerprint=row.fingerprint,
                claimed_by=row.claimed_by,
                pkey=row.pkey,
                account_id=row.account_id,
                event_pk=row.event_pk,
                reversal_entry_id=row.reversal_entry_id,
                shortfall_g=row.shortfall_g,
                shortfall_points=row.shortfall_points,
                withdrawn_at=row.withdrawn_at,
                seq=None,
            )
        )

    def own_claim(self, fingerprint: str) -> OwnClaim | None:
        c = interop_claims.c
        row = self.conn.execute(
            select(c.fingerprint, c.scenario, c.recorded_at, c.pkey, c.account_id, c.event_pk, c.seq).where(
                c.fingerprint == fingerprint
            )
        ).first()
        return OwnClaim(*row) if row else None

    def withdrawal(self, fingerprint: str) -> Withdrawal | None:
        w = interop_withdrawals.c
        row = self.conn.execute(select(*_WITHDRAWAL).where(w.fingerprint == fingerprint)).first()
        return _withdrawal(row) if row else None

    def contested(self, among: Sequence[str] | None = None) -> list[str]:
        """Fingerprints this platform claims, has not withdrawn, and some peer's log also names:
        the candidates for the race rule (co-located by fingerprint: one join per shard); only those
        ``among`` when given (the fingerprints a sync just stored)."""
        c, p, w = interop_claims.c, interop_peer_claims.c, interop_withdrawals.c
        query = (
            select(c.fingerprint)
            .where(
                exists().where(p.fingerprint == c.fingerprint, p.kind == "claim"),
                ~exists().where(w.fingerprint == c.fingerprint),
            )
            .order_by(c.fingerprint)
        )
        if among is None:
            return [r[0] for r in self.conn.execute(query)]
        found: list[str] = []
        for batch in chunks(sorted(set(among))):
            found.extend(r[0] for r in self.conn.execute(query.where(self.dialect.in_values(c.fingerprint, batch))))
        return sorted(found)

    def withdrawals_of(self, account_id: int, event_pks: Iterable[int]) -> dict[int, Withdrawal]:
        """The person's withdrawn events among ``event_pks`` (their history page)."""
        wanted = sorted(set(event_pks))
        found: dict[int, Withdrawal] = {}
        w = interop_withdrawals.c
        for batch in chunks(wanted):
            query = select(*_WITHDRAWAL).where(w.account_id == account_id, self.dialect.in_values(w.event_pk, batch))
            for row in self.conn.execute(query):
                found[int(row.event_pk)] = _withdrawal(row)
        return found

    # -- peers' claims ---------------------------------------------------------------------------
    def peer_entries(self, fingerprints: Sequence[str]) -> list[PeerEntry]:
        """Every pulled entry (claims and withdrawals, any peer) of these fingerprints: one query by
        the distribution column."""
        p = interop_peer_claims.c
        found: list[PeerEntry] = []
        for batch in chunks(sorted(set(fingerprints))):
            query = select(p.fingerprint, p.peer_pk, p.seq, p.kind, p.recorded_at).where(
                self.dialect.in_values(p.fingerprint, batch)
            )
            found.extend(PeerEntry(r[0], int(r[1]), int(r[2]), r[3], r[4]) for r in self.conn.execute(query))
        return found

    def trusted_peers(self) -> dict[int, str]:
        """Active peers whose log this platform still trusts: pk -> platform id. Two small reads (a
        reference table and a coordinator table are not joined on Citus)."""
        active = {
            int(pk): pid
            for pk, pid in self.conn.execute(
                select(interop_peers.c.pk, interop_peers.c.platform_id).where(interop_peers.c.status == "active")
            )
        }
        if not active:
            return {}
        untrusted = {
            int(r[0])
            for r in self.conn.execute(select(interop_peer_logs.c.peer_pk).where(interop_peer_logs.c.trust == "untrusted"))
        }
        return {pk: pid for pk, pid in active.items() if pk not in untrusted}

    # -- the events behind claims ----------------------------------------------------------------
    def event_pks(self, partner_pk: int, event_ids: Sequence[str], account_ids: Iterable[int]) -> dict[str, int]:
        """The row ids of a partner's events just written for these people (the claims name their
        event); the people's keys keep the read on their shards on Citus."""
        within, keys = self.dialect.any_of("pkey", sorted({pkey_of(a) for a in account_ids}))
        rows = self.dialect.fetch_in(
            self.conn,
            f"SELECT event_id, id FROM events WHERE event_id {{IN}} AND partner_pk = ? AND {within}",
            event_ids,
            (partner_pk, *keys),
        )
        return {r[0]: int(r[1]) for r in rows}

    def credited_event(self, event_pk: int, account_id: int) -> Any:
        """The credited event a claim names (scheme, entry, grams, points), at the person's key."""
        e = events.c
        return self.conn.execute(
            select(e.id, e.scheme_id, e.account_id, e.entry_id, e.carbon_g, e.points, e.status).where(
                and_(e.id == event_pk, e.pkey == pkey_of(account_id))
            )
        ).first()


_WITHDRAWAL = (
    interop_withdrawals.c.fingerprint,
    interop_withdrawals.c.claimed_by,
    interop_withdrawals.c.pkey,
    interop_withdrawals.c.account_id,
    interop_withdrawals.c.event_pk,
    interop_withdrawals.c.reversal_entry_id,
    interop_withdrawals.c.shortfall_g,
    interop_withdrawals.c.shortfall_points,
    interop_withdrawals.c.withdrawn_at,
    interop_withdrawals.c.seq,
)


def _withdrawal(row: Any) -> Withdrawal:
    return Withdrawal(
        row.fingerprint,
        row.claimed_by,
        int(row.pkey),
        int(row.account_id),
        int(row.event_pk),
        None if row.reversal_entry_id is None else int(row.reversal_entry_id),
        int(row.shortfall_g),
        int(row.shortfall_points),
        row.withdrawn_at,
        None if row.seq is None else int(row.seq),
    )
