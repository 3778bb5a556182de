"""Behaviour events as received, with their outcome: the audit record of ingestion."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from tanhui.store.distribution import pkey_of, pkey_of_text
from tanhui.store.repositories.base import Repository
from tanhui.store.schema import behaviour_claims, event_claims, events


@dataclass(frozen=True, slots=True)
class StoredOutcome:
    content_hash: str
    status: str
    reason: str | None
    carbon_g: int
    points: int
    methodology: str | None


EVENT_COLUMNS = (
    "scheme_id",
    "partner_pk",
    "event_id",
    "user_ref",
    "account_id",
    "scenario",
    "occurred_at",
    "received_at",
    "local_day",
    "status",
    "reason",
    "carbon_g",
    "points",
    "methodology",
    "content_hash",
    "fingerprint",
    "entry_id",
    "data",
    "explanation",
    "details",
)
assert set(EVENT_COLUMNS) == {c.name for c in events.columns} - {"id", "pkey"}, "EVENT_COLUMNS must list every column"
_PARTNER, _EVENT_ID, _USER_REF, _ACCOUNT, _FINGERPRINT = (
    EVENT_COLUMNS.index(c) for c in ("partner_pk", "event_id", "user_ref", "account_id", "fingerprint")
)


class EventRepository(Repository):
    # The ingest path's reads, once per batch inside the write turn: driver SQL (Dialect.fetch_in),
    # one bound list per query, plain tuples back.

    def outcomes(self, partner_pk: int, event_ids: Sequence[str]) -> dict[str, StoredOutcome]:
        rows = self.dialect.fetch_in(
            self.conn,
            "SELECT event_id, content_hash, status, reason, carbon_g, points, methodology FROM events"
            " WHERE event_id {IN} AND partner_pk = ?",
            event_ids,
            (partner_pk,),
        )
        return {r[0]: StoredOutcome(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}

    def claimed(self, fingerprints: Iterable[str]) -> set[str]:
        """The behaviours already credited: their claims (one narrow key, routed by it on Citus)."""
        return {
            r[0]
            for r in self.dialect.fetch_in(
                self.conn, "SELECT fingerprint FROM behaviour_claims WHERE fingerprint {IN}", sorted(set(fingerprints))
            )
        }

    def usage(self, keys: Iterable[tuple[int, int]]) -> list[tuple[int, str, int, int, int, int]]:
        """(account, scenario, local_day, events, carbon_g, points) credited on exactly the given
        (account, local_day) pairs: one indexed query per day (a row-value IN would scan)."""
        by_day: dict[int, set[int]] = {}
        for account_id, day in keys:
            by_day.setdefault(day, set()).add(account_id)
        rows: list[tuple[int, str, int, int, int, int]] = []
        for day, account_ids in sorted(by_day.items()):
            rows.extend(
                self.dialect.fetch_in(
                    self.conn,
                    "SELECT account_id, scenario, local_day, count(*), "
                    "CAST(coalesce(sum(carbon_g), 0) AS BIGINT), CAST(coalesce(sum(points), 0) AS BIGINT)"
                    " FROM events WHERE account_id {IN} AND local_day = ? AND status = 'credited'"
                    " GROUP BY account_id, scenario, local_day",
                    sorted(account_ids),
                    (day,),
                )
            )
        return rows

    def usage_between(self, account_ids: Iterable[int], day_from: int, day_to: int) -> list[tuple[int, str, int, int, int, int]]:
        """The same, for every day of a range (monthly caps)."""
        return self.dialect.fetch_in(
            self.conn,
            "SELECT account_id, scenario, local_day, count(*), CAST(coalesce(sum(carbon_g), 0) AS BIGINT), CAST(coalesce(sum(points), 0) AS BIGINT)"
            " FROM events WHERE account_id {IN} AND local_day >= ? AND local_day <= ? AND status = 'credited'"
            " GROUP BY account_id, scenario, local_day",
            sorted(set(account_ids)),
            (day_from, day_to),
        )

    def bind_time(self, moment: datetime | None) -> Any:
        """A time as ``add_many`` takes it (what the column type would bind on this engine)."""
        return self.dialect.bind_time(moment)

    def add_many(self, rows: list[tuple[Any, ...]]) -> None:
        """The batch's audit rows, in EVENT_COLUMNS order with values as the columns bind them
        (times through ``bind_time``, JSON as canonical text): the driver's executemany / COPY."""
        keyed = [(*row, _pkey(row)) for row in rows]
        self.dialect.insert_rows(self.conn, events, (*EVENT_COLUMNS, "pkey"), keyed)
        # The claims carry the uniqueness that is not per person (store/distribution.py); a second
        # claim is a unique-key violation here, as the events' own constraints are on one engine.
        self.dialect.insert_rows(self.conn, event_claims, ("event_id", "partner_pk"), [(r[_EVENT_ID], r[_PARTNER]) for r in rows])
        fingerprints = [(r[_FINGERPRINT],) for r in rows if r[_FINGERPRINT] is not None]
        self.dialect.insert_rows(self.conn, behaviour_claims, ("fingerprint",), fingerprints)

    def purge_payloads(self, scheme_id: str, received_before: datetime) -> int:
        """Null the raw partner payload (``data``) of the scheme's events received before a moment;
        returns how many were purged (already purged ones are not counted again)."""
        result = self.conn.execute(
            update(events)
            .where(events.c.scheme_id == scheme_id, events.c.received_at < received_before, events.c.data.is_not(None))
            .values(data=None)
        )
        return int(result.rowcount or 0)

    def for_review(self, event_pk: int, pkey: int | None = None, lock: bool = False) -> Any:
        """One stored event with everything a reviewer and a new decision need (None if unknown).
        With its person key the read (and the lock) goes to the person's rows only."""
        query = select(events).where(events.c.id == event_pk)
        if pkey is not None:
            query = query.where(events.c.pkey == pkey)
        return self.conn.execute(self.dialect.for_update(query) if lock else query).first()

    def accept(self, event_pk: int, pkey: int, values: dict[str, Any]) -> None:
        """A rejected event credited after an operator's review: its outcome columns, now credited,
        and the claim of its behaviour (a second claim is a unique-key violation, as in add_many)."""
        found = self.conn.execute(
            update(events).where(events.c.id == event_pk, events.c.pkey == pkey, events.c.status == "rejected").values(values)
        )
        if found.rowcount != 1:
            raise LookupError(f"event {event_pk} is not a rejected event")
        if values.get("fingerprint") is not None:
            self.dialect.insert_rows(self.conn, behaviour_claims, ("fingerprint",), [(values["fingerprint"],)])

    def totals_for_account(self, account_id: int) -> dict[str, dict[str, int]]:
        result = self.conn.execute(
            select(events.c.scenario, func.count(), func.sum(events.c.carbon_g), func.sum(events.c.points))
            .where(events.c.account_id == account_id, events.c.status == "credited")
            .group_by(events.c.scenario)
        )
        return {s: {"events": int(n), "carbon_g": int(c or 0), "points": int(p or 0)} for s, n, c, p in result}

    def history(self, account_id: int, before_id: int | None, limit: int, partner_pk: int | None = None) -> list[Any]:
        """Credited events, newest first by when they happened (the local day, then the time, then
        the arrival): a partner sends a day's reports in batches by kind, so the arrival order mixed
        the times within a day. ``before_id``: the events after that one in this order (the cursor is
        the last event shown). Only one partner's when ``partner_pk`` (a partner's session)."""
        e = events.c
        query = (
            select(events)
            .where(e.account_id == account_id, e.status == "credited")
            .order_by(e.local_day.desc(), e.occurred_at.desc(), e.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            anchor = self.conn.execute(
                select(e.local_day, e.occurred_at).where(e.id == before_id, e.account_id == account_id)
            ).first()
            if anchor is None:
                return []
            day, at = anchor
            query = query.where(
                or_(
                    e.local_day < day,
                    and_(e.local_day == day, or_(e.occurred_at < at, and_(e.occurred_at == at, e.id < before_id))),
                )
            )
        if partner_pk is not None:
            query = query.where(e.partner_pk == partner_pk)
        return list(self.conn.execute(query))


def _pkey(row: tuple[Any, ...]) -> int:
    """The person's key; an event of no known person is kept at a key of the partner's user_ref."""
    account_id = row[_ACCOUNT]
    if account_id is not None:
        return pkey_of(int(account_id))
    return pkey_of_text(f"{row[_PARTNER]}/{row[_USER_REF] or row[_EVENT_ID]}")
