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


EVENT_COLUMNS = (
    "scheme_id", "partner_pk", "event_id", "user_ref", "account_id", "scenario", "occurred_at", "received_at",
    "local_day", "status", "reason", "carbon_g", "points", "methodology", "content_hash", "fingerprint", "entry_id",
    "data", "explanation", "details",
)
assert set(EVENT_COLUMNS) == {c.name for c in events.columns} - {"id"}, "EVENT_COLUMNS must list every column"


class EventRepository(Repository):
    def outcomes(self, partner_pk: int, event_ids: Sequence[str]) -> dict[str, StoredOutcome]:
        found: dict[str, StoredOutcome] = {}
        for batch in chunks(event_ids):
            rows = self.conn.execute(
                select(
                    events.c.event_id, events.c.content_hash, events.c.status, events.c.reason,
                    events.c.carbon_g, events.c.points, events.c.methodology,
                ).where(events.c.partner_pk == partner_pk, self.dialect.in_values(events.c.event_id, batch))
            )
            for r in rows:
                found[r.event_id] = StoredOutcome(r.content_hash, r.status, r.reason, r.carbon_g, r.points, r.methodology)
        return found

    def claimed(self, fingerprints: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for batch in chunks(sorted(set(fingerprints))):
            found.update(self.conn.execute(select(events.c.fingerprint).where(self.dialect.in_values(events.c.fingerprint, batch))).scalars())
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
                    .where(self.dialect.in_values(events.c.account_id, batch), events.c.local_day == day, events.c.status == "credited")
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
                    self.dialect.in_values(events.c.account_id, batch),
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
        bind = self.dialect.bind_time

        def as_json(value: Any) -> str | None:
            return None if value is None else canonical_json(value)

        self.dialect.insert_rows(
            self.conn,
            events,
            EVENT_COLUMNS,
            [
                (
                    r["scheme_id"], r["partner_pk"], r["event_id"], r["user_ref"], r["account_id"], r["scenario"],
                    bind(r["occurred_at"]), bind(r["received_at"]), r["local_day"], r["status"], r["reason"],
                    r["carbon_g"], r["points"], r["methodology"], r["content_hash"], r["fingerprint"], r["entry_id"],
                    as_json(r["data"]), as_json(r["explanation"]), as_json(r["details"]),
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
