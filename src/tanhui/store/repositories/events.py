"""Behaviour events as received, with their outcome: the audit record of ingestion."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from tanhui.domain.canonical import canonical_json

from tanhui.store.repositories.base import Repository, chunks
from tanhui.store.schema import events


@dataclass(frozen=True, slots=True)
class StoredOutcome:
    content_hash: str
    status: str
    reason: str | None
    carbon_g: int
    points: int
    methodology: str | None


EVENT_COLUMNS = tuple(c.name for c in events.columns if c.name != "id")
TIME_COLUMNS = {"occurred_at", "received_at"}
JSON_COLUMNS = {"data", "explanation", "details"}


class EventRepository(Repository):
    def outcomes(self, partner_pk: int, event_ids: Sequence[str]) -> dict[str, StoredOutcome]:
        found: dict[str, StoredOutcome] = {}
        for batch in chunks(event_ids):
            rows = self.conn.execute(
                select(
                    events.c.event_id, events.c.content_hash, events.c.status, events.c.reason,
                    events.c.carbon_g, events.c.points, events.c.methodology,
                ).where(events.c.partner_pk == partner_pk, events.c.event_id.in_(batch))
            )
            for r in rows:
                found[r.event_id] = StoredOutcome(r.content_hash, r.status, r.reason, r.carbon_g, r.points, r.methodology)
        return found

    def claimed(self, fingerprints: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for batch in chunks(sorted(set(fingerprints))):
            found.update(self.conn.execute(select(events.c.fingerprint).where(events.c.fingerprint.in_(batch))).scalars())
        return found

    def usage(self, keys: Iterable[tuple[int, int]]) -> list[tuple[int, str, int, int, int, int]]:
        """(account, scenario, local_day, events, carbon_g, points) credited on exactly the given
        (account, local_day) pairs: one indexed query per day (a row-value IN would scan)."""
        by_day: dict[int, set[int]] = {}
        for account_id, day in keys:
            by_day.setdefault(day, set()).add(account_id)
        rows: list[tuple[int, str, int, int, int, int]] = []
        for day, account_ids in sorted(by_day.items()):
            for batch in chunks(sorted(account_ids)):
                result = self.conn.execute(
                    select(
                        events.c.account_id, events.c.scenario, events.c.local_day,
                        func.count(), func.sum(events.c.carbon_g), func.sum(events.c.points),
                    )
                    .where(events.c.account_id.in_(batch), events.c.local_day == day, events.c.status == "credited")
                    .group_by(events.c.account_id, events.c.scenario, events.c.local_day)
                )
                rows.extend((int(a), s, int(d), int(n), int(c or 0), int(p or 0)) for a, s, d, n, c, p in result)
        return rows

    def usage_between(self, account_ids: Iterable[int], day_from: int, day_to: int) -> list[tuple[int, str, int, int, int, int]]:
        """The same, for every day of a range (monthly caps)."""
        rows: list[tuple[int, str, int, int, int, int]] = []
        for batch in chunks(sorted(set(account_ids))):
            result = self.conn.execute(
                select(
                    events.c.account_id, events.c.scenario, events.c.local_day,
                    func.count(), func.sum(events.c.carbon_g), func.sum(events.c.points),
                )
                .where(
                    events.c.account_id.in_(batch),
                    events.c.local_day >= day_from,
                    events.c.local_day <= day_to,
                    events.c.status == "credited",
                )
                .group_by(events.c.account_id, events.c.scenario, events.c.local_day)
            )
            rows.extend((int(a), s, int(d), int(n), int(c or 0), int(p or 0)) for a, s, d, n, c, p in result)
        return rows

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """The batch's audit rows, through the driver's executemany (thousands per batch)."""
        d = self.dialect
        d.insert_rows(
            self.conn,
            events,
            EVENT_COLUMNS,
            [
                tuple(
                    d.bind_time(r[c]) if c in TIME_COLUMNS else (canonical_json(r[c]) if c in JSON_COLUMNS and r[c] is not None else r[c])
                    for c in EVENT_COLUMNS
                )
                for r in rows
            ],
        )

    def totals_for_account(self, account_id: int) -> dict[str, dict[str, int]]:
        result = self.conn.execute(
            select(events.c.scenario, func.count(), func.sum(events.c.carbon_g), func.sum(events.c.points))
            .where(events.c.account_id == account_id, events.c.status == "credited")
            .group_by(events.c.scenario)
        )
        return {s: {"events": int(n), "carbon_g": int(c or 0), "points": int(p or 0)} for s, n, c, p in result}

    def history(self, account_id: int, before_id: int | None, limit: int) -> list[Any]:
        query = (
            select(events)
            .where(events.c.account_id == account_id, events.c.status == "credited")
            .order_by(events.c.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(events.c.id < before_id)
        return list(self.conn.execute(query))
