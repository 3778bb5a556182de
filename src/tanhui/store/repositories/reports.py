"""Read-only aggregates for operators (services/reports.py): indexed GROUP BYs over the events.

Issue 8 may replace these reads with a daily aggregate table; every query is per scheme and a range
of local days, which is exactly what such a table would be keyed by.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, distinct, func, select, union

from tanhui.store.repositories.base import Repository
from tanhui.store.schema import accounts, checkins, journal_entries, partners, postings, events

CREDITED = "credited"


class ReportRepository(Repository):
    def _events(self, scheme_id: str, day_from: int, day_to: int) -> Any:
        return and_(events.c.scheme_id == scheme_id, events.c.local_day >= day_from, events.c.local_day <= day_to)

    def first_day(self, scheme_id: str) -> int | None:
        value = self.conn.execute(select(func.min(events.c.local_day)).where(events.c.scheme_id == scheme_id)).scalar()
        return None if value is None else int(value)

    def registered(self, scheme_id: str, before: datetime) -> int:
        return int(self.conn.execute(
            select(func.count()).where(
                accounts.c.scheme_id == scheme_id, accounts.c.kind == "person", accounts.c.created_at < before,
                accounts.c.erased_at.is_(None),
            )
        ).scalar_one())

    def day_facts(self, scheme_id: str, day_from: int, day_to: int) -> list[tuple[int, str, int, str, str | None, int, int, int]]:
        """One pass over the covering index: (local day, scenario, partner pk, status, reason, events,
        carbon_g, points). Every other report of a period is summed from these rows in Python."""
        rows = self.conn.execute(
            select(
                events.c.local_day, events.c.scenario, events.c.partner_pk, events.c.status, events.c.reason,
                func.count(), func.sum(events.c.carbon_g), func.sum(events.c.points),
            )
            .where(self._events(scheme_id, day_from, day_to))
            .group_by(events.c.local_day, events.c.scenario, events.c.partner_pk, events.c.status, events.c.reason)
        )
        return [(int(d), sc, int(p), st, r, int(n), int(c or 0), int(pt or 0)) for d, sc, p, st, r, n, c, pt in rows]

    def active_by_day(self, scheme_id: str, day_from: int, day_to: int) -> dict[int, int]:
        """local day -> distinct people with a credited event or a check-in that day."""
        acted = union(
            select(events.c.account_id.label("account_id"), events.c.local_day.label("day")).where(
                self._events(scheme_id, day_from, day_to), events.c.status == CREDITED
            ),
            select(checkins.c.account_id.label("account_id"), checkins.c.local_day.label("day"))
            .select_from(checkins.join(accounts, accounts.c.id == checkins.c.account_id))
            .where(accounts.c.scheme_id == scheme_id, checkins.c.local_day >= day_from, checkins.c.local_day <= day_to),
        ).subquery()
        rows = self.conn.execute(
            select(acted.c.day, func.count(distinct(acted.c.account_id))).group_by(acted.c.day)
        )
        return {int(d): int(n) for d, n in rows}

    def flow(self, ledger_account_id: int, start: datetime | None, end: datetime | None) -> int:
        """What left the account minus what came back, for entries recorded in [start, end) (None: unbounded)."""
        def total(column: Any) -> int:
            query = select(func.coalesce(func.sum(postings.c.amount), 0)).where(column == ledger_account_id)
            if start is not None or end is not None:
                query = query.select_from(postings.join(journal_entries, journal_entries.c.id == postings.c.entry_id))
                if start is not None:
                    query = query.where(journal_entries.c.created_at >= start)
                if end is not None:
                    query = query.where(journal_entries.c.created_at < end)
            return int(self.conn.execute(query).scalar_one())

        return total(postings.c.from_account_id) - total(postings.c.to_account_id)

    def rejected(self, scheme_id: str, reasons: tuple[str, ...] | None, limit: int, before_id: int | None = None) -> list[Any]:
        query = (
            select(
                events.c.id, events.c.event_id, events.c.account_id, events.c.scenario, events.c.occurred_at,
                events.c.received_at, events.c.reason, events.c.details, events.c.data, partners.c.id.label("partner_id"),
            )
            .select_from(events.join(partners, partners.c.pk == events.c.partner_pk))
            .where(events.c.scheme_id == scheme_id, events.c.status == "rejected")
            .order_by(events.c.id.desc())
            .limit(limit)
        )
        if reasons:
            query = query.where(events.c.reason.in_(reasons))
        if before_id is not None:
            query = query.where(events.c.id < before_id)
        return list(self.conn.execute(query))

    def account_daily(self, account_id: int) -> list[tuple[int, int]]:
        """(local day, carbon_g) of one person's credited events (their chart)."""
        rows = self.conn.execute(
            select(events.c.local_day, func.sum(events.c.carbon_g))
            .where(events.c.account_id == account_id, events.c.status == CREDITED)
            .group_by(events.c.local_day)
            .order_by(events.c.local_day)
        )
        return [(int(d), int(c or 0)) for d, c in rows if d is not None]

    def event_of_account(self, event_pk: int, account_id: int) -> Any:
        return self.conn.execute(
            select(events, partners.c.id.label("partner_id"), partners.c.name.label("partner_name"))
            .select_from(events.join(partners, partners.c.pk == events.c.partner_pk))
            .where(events.c.id == event_pk, events.c.account_id == account_id, events.c.status == CREDITED)
        ).first()
