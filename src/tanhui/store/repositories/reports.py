"""Operator reports (services/reports.py): the projections in ``report_*`` tables, kept by the
writers in their own transactions, and their rebuild and check from the source rows.

Reads of a period touch one row per day (and scenario, partner, reason), never the events.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CompoundSelect, Select, Subquery, and_, delete, func, literal, select, union

from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.base import Repository
from tanhui.store.schema import (
    accounts,
    checkins,
    events,
    journal_entries,
    ledger_accounts,
    partners,
    postings,
    report_accounts,
    report_active,
    report_days,
    report_facts,
    report_flows,
)

CREDITED = "credited"
BUCKET_SECONDS = 900  # a quarter hour: every real time zone's offset is a multiple of it
ACCOUNT_SHARDS = 16
REBUILT = ""  # the shard of counters written by a rebuild


def bucket(moment: datetime) -> int:
    """The quarter hour a moment falls in (UTC seconds // 900)."""
    return int(moment.timestamp()) // BUCKET_SECONDS


FactKey = tuple[int, str, int, str, str]  # local day, scenario, partner pk, status, reason ('' if none)


@dataclass(frozen=True, slots=True)
class Drift:
    """A projection that disagrees with its source rows."""

    table: str
    key: str
    stored: Any
    expected: Any


class ReportRepository(Repository):
    # -- writes, in the writer's transaction -------------------------------------------------

    def add_facts(self, scheme_id: str, facts: Mapping[FactKey, list[int]]) -> None:
        self.dialect.add_counts(
            self.conn,
            report_facts,
            ("scheme_id", "local_day", "scenario", "partner_pk", "status", "reason"),
            ("events", "carbon_g", "points"),
            [(scheme_id, *key, *values) for key, values in sorted(facts.items())],
        )

    def move_fact(self, scheme_id: str, was: FactKey, now: FactKey, carbon_g: int, points: int) -> None:
        """One event's count moved from one fact to another (a rejection credited after review). A
        fact left with no event goes, as the counters rebuilt from the events would have none."""
        self.dialect.add_counts(
            self.conn,
            report_facts,
            ("scheme_id", "local_day", "scenario", "partner_pk", "status", "reason"),
            ("events", "carbon_g", "points"),
            [(scheme_id, *was, -1, 0, 0), (scheme_id, *now, 1, carbon_g, points)],
        )
        f = report_facts.c
        day, scenario, partner_pk, status, reason = was
        self.conn.execute(
            delete(report_facts).where(
                f.scheme_id == scheme_id,
                f.local_day == day,
                f.scenario == scenario,
                f.partner_pk == partner_pk,
                f.status == status,
                f.reason == reason,
                f.events == 0,
            )
        )

    def mark_active(self, scheme_id: str, shard: str, pairs: Iterable[tuple[int, int]]) -> None:
        """(account id, local day) pairs active now; days' counters grow by the pairs not seen before."""
        rows = [(pkey_of(account_id), account_id, day) for account_id, day in sorted(set(pairs))]
        new_days = self.dialect.insert_new(self.conn, report_active, ("pkey", "account_id", "local_day"), rows, "local_day")
        if new_days:
            self.dialect.add_counts(
                self.conn,
                report_days,
                ("scheme_id", "local_day", "shard"),
                ("active_users",),
                [(scheme_id, day, shard, n) for day, n in sorted(Counter(new_days).items())],
            )

    def add_flows(self, shard: str, moment: datetime, flows: Mapping[int, tuple[int, int]]) -> None:
        """Amounts out of and into untracked ledger accounts by entries recorded at ``moment``."""
        at = bucket(moment)
        self.dialect.add_counts(
            self.conn,
            report_flows,
            ("ledger_account_id", "bucket", "shard"),
            ("amount_out", "amount_in"),
            [(account_id, at, shard, out, into) for account_id, (out, into) in sorted(flows.items())],
        )

    def count_account(self, scheme_id: str, account_id: int, moment: datetime, *, registered: int = 0, erased: int = 0) -> None:
        self.dialect.add_counts(
            self.conn,
            report_accounts,
            ("scheme_id", "bucket", "shard"),
            ("registered", "erased"),
            [(scheme_id, bucket(moment), account_id % ACCOUNT_SHARDS, registered, erased)],
        )

    # -- reads -------------------------------------------------------------------------------

    def first_day(self, scheme_id: str) -> int | None:
        value = self.conn.execute(
            select(func.min(report_facts.c.local_day)).where(report_facts.c.scheme_id == scheme_id)
        ).scalar()
        return None if value is None else int(value)

    def registered(self, scheme_id: str, before: datetime) -> int:
        """People registered before a moment and not erased before it."""
        row = self.conn.execute(
            select(
                func.coalesce(func.sum(report_accounts.c.registered), 0), func.coalesce(func.sum(report_accounts.c.erased), 0)
            ).where(report_accounts.c.scheme_id == scheme_id, report_accounts.c.bucket < bucket(before))
        ).one()
        return int(row[0]) - int(row[1])

    def registrations(self, scheme_id: str, start: datetime, end: datetime) -> tuple[int, int]:
        """(people registered, people erased) in [start, end)."""
        ra = report_accounts.c
        row = self.conn.execute(
            select(func.coalesce(func.sum(ra.registered), 0), func.coalesce(func.sum(ra.erased), 0)).where(
                ra.scheme_id == scheme_id, ra.bucket >= bucket(start), ra.bucket < bucket(end)
            )
        ).one()
        return int(row[0]), int(row[1])

    def first_flow(self, ledger_account_id: int) -> datetime | None:
        """The start of the first quarter hour in which anything left or entered the account."""
        first = self.conn.execute(
            select(func.min(report_flows.c.bucket)).where(report_flows.c.ledger_account_id == ledger_account_id)
        ).scalar()
        return None if first is None else datetime.fromtimestamp(int(first) * BUCKET_SECONDS, UTC)

    def day_facts(self, scheme_id: str, day_from: int, day_to: int) -> list[tuple[int, str, int, str, str | None, int, int, int]]:
        """(local day, scenario, partner pk, status, reason, events, carbon_g, points) of a period;
        every other report of it is summed from these rows in Python."""
        f = report_facts.c
        rows = self.conn.execute(
            select(f.local_day, f.scenario, f.partner_pk, f.status, f.reason, f.events, f.carbon_g, f.points).where(
                f.scheme_id == scheme_id, f.local_day >= day_from, f.local_day <= day_to
            )
        )
        return [(int(d), sc, int(p), st, r or None, int(n), int(c), int(pt)) for d, sc, p, st, r, n, c, pt in rows]

    def active_by_day(self, scheme_id: str, day_from: int, day_to: int) -> dict[int, int]:
        """local day -> distinct people with a credited event or a check-in that day."""
        d = report_days.c
        rows = self.conn.execute(
            select(d.local_day, func.sum(d.active_users))
            .where(d.scheme_id == scheme_id, d.local_day >= day_from, d.local_day <= day_to)
            .group_by(d.local_day)
        )
        return {int(day): int(n) for day, n in rows if n}

    def flow(self, ledger_account_id: int, start: datetime | None, end: datetime | None) -> int:
        """What left the account minus what came back, for entries recorded in [start, end) (None: unbounded)."""
        f = report_flows.c
        query = select(func.coalesce(func.sum(f.amount_out), 0) - func.coalesce(func.sum(f.amount_in), 0)).where(
            f.ledger_account_id == ledger_account_id
        )
        if start is not None:
            query = query.where(f.bucket >= bucket(start))
        if end is not None:
            query = query.where(f.bucket < bucket(end))
        return int(self.conn.execute(query).scalar_one())

    # -- rebuild and check from the source rows -------------------------------------------------

    def _source_facts(self, scheme_id: str | None = None) -> Select[Any]:
        e = events.c
        query = (
            select(
                e.scheme_id,
                e.local_day,
                e.scenario,
                e.partner_pk,
                e.status,
                func.coalesce(e.reason, ""),
                func.count(),
                func.coalesce(func.sum(e.carbon_g), 0),
                func.coalesce(func.sum(e.points), 0),
            )
            .where(e.local_day.is_not(None))
            .group_by(e.scheme_id, e.local_day, e.scenario, e.partner_pk, e.status, e.reason)
        )
        return query if scheme_id is None else query.where(e.scheme_id == scheme_id)

    def _source_active(self) -> Subquery:
        return union(
            select(events.c.pkey, events.c.account_id, events.c.local_day).where(
                events.c.status == CREDITED, events.c.account_id.is_not(None), events.c.local_day.is_not(None)
            ),
            select(checkins.c.pkey, checkins.c.account_id, checkins.c.local_day),
        ).subquery()

    def _source_flows(self, scheme_id: str | None = None) -> CompoundSelect[Any]:
        bucket_sql = self.dialect.epoch_bucket("journal_entries.created_at", BUCKET_SECONDS)
        # The system accounts (a few per scheme, at another person key than the postings): by id.
        untracked = select(ledger_accounts.c.id).where(
            ledger_accounts.c.tracked.is_(False), *([ledger_accounts.c.scheme_id == scheme_id] if scheme_id else [])
        )
        sides = []
        for column, sign in ((postings.c.from_account_id, "out"), (postings.c.to_account_id, "in")):
            sides.append(
                select(
                    column.label("ledger_account_id"),
                    literal(sign).label("side"),
                    bucket_sql.label("bucket"),
                    func.sum(postings.c.amount).label("amount"),
                )
                .select_from(
                    postings.join(
                        journal_entries,
                        and_(journal_entries.c.pkey == postings.c.pkey, journal_entries.c.id == postings.c.entry_id),
                    )
                )
                .where(column.in_(untracked))
                .group_by(column, bucket_sql)
            )
        return union(*sides)

    def _flows_from_postings(self, scheme_id: str | None = None) -> dict[tuple[int, int], tuple[int, int]]:
        """(ledger account, quarter hour) -> (amount out, amount in), from the journal itself."""
        flows: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
        for account_id, side, at, amount in self.conn.execute(self._source_flows(scheme_id)):
            flows[(int(account_id), int(at))][0 if side == "out" else 1] += int(amount)
        return {key: (out, into) for key, (out, into) in flows.items()}

    def _source_accounts(self, only: str | None = None) -> list[tuple[str, int, int, int, int]]:
        counted: dict[tuple[str, int, int], list[int]] = defaultdict(lambda: [0, 0])
        query = select(accounts.c.id, accounts.c.scheme_id, accounts.c.created_at, accounts.c.erased_at).where(
            accounts.c.kind == "person"
        )
        if only is not None:
            query = query.where(accounts.c.scheme_id == only)
        for account_id, scheme_id, created_at, erased_at in self.conn.execute(query):
            counted[(scheme_id, bucket(created_at), account_id % ACCOUNT_SHARDS)][0] += 1
            if erased_at is not None:
                counted[(scheme_id, bucket(erased_at), account_id % ACCOUNT_SHARDS)][1] += 1
        return [(scheme, at, shard, r, e) for (scheme, at, shard), (r, e) in sorted(counted.items())]

    def rebuild(self) -> dict[str, int]:
        """Rewrite every projection from the events, check-ins, postings and accounts (rows written per table)."""
        for table in (report_facts, report_active, report_days, report_flows, report_accounts):
            self.conn.execute(delete(table))
        written: dict[str, int] = {}
        facts = self.conn.execute(self._source_facts()).all()
        self.dialect.add_counts(
            self.conn,
            report_facts,
            ("scheme_id", "local_day", "scenario", "partner_pk", "status", "reason"),
            ("events", "carbon_g", "points"),
            [(*r[:6], int(r[6]), int(r[7]), int(r[8])) for r in facts],
        )
        written["report_facts"] = len(facts)
        active = self._source_active()
        self.conn.execute(
            report_active.insert().from_select(
                ["pkey", "account_id", "local_day"], select(active.c.pkey, active.c.account_id, active.c.local_day)
            )
        )
        days = self.conn.execute(
            select(accounts.c.scheme_id, report_active.c.local_day, literal(REBUILT), func.count())
            .select_from(
                report_active.join(
                    accounts, and_(accounts.c.pkey == report_active.c.pkey, accounts.c.id == report_active.c.account_id)
                )
            )
            .group_by(accounts.c.scheme_id, report_active.c.local_day)
        ).all()
        self.dialect.add_counts(
            self.conn,
            report_days,
            ("scheme_id", "local_day", "shard"),
            ("active_users",),
            [(s, int(day), shard, int(n)) for s, day, shard, n in days],
        )
        written["report_days"] = len(days)
        flows = self._flows_from_postings()
        self.dialect.add_counts(
            self.conn,
            report_flows,
            ("ledger_account_id", "bucket", "shard"),
            ("amount_out", "amount_in"),
            [(a, b, REBUILT, out, into) for (a, b), (out, into) in sorted(flows.items())],
        )
        written["report_flows"] = len(flows)
        people = self._source_accounts()
        self.dialect.add_counts(self.conn, report_accounts, ("scheme_id", "bucket", "shard"), ("registered", "erased"), people)
        written["report_accounts"] = len(people)
        return written

    def check(self, scheme_id: str | None = None) -> list[Drift]:
        """Every projection summed over its shards against the same figure from the source rows
        (of one scheme, or all)."""
        drifts: list[Drift] = []

        def compare(table: str, stored: Mapping[Any, Any], expected: Mapping[Any, Any]) -> None:
            for key in sorted(set(stored) | set(expected), key=repr):
                if stored.get(key) != expected.get(key):
                    drifts.append(Drift(table, repr(key), stored.get(key), expected.get(key)))

        def only(query: Select[Any], column: Any) -> Select[Any]:
            return query if scheme_id is None else query.where(column == scheme_id)

        f = report_facts.c
        compare(
            "report_facts",
            {
                tuple(r[:6]): tuple(int(v) for v in r[6:])
                for r in self.conn.execute(
                    only(
                        select(
                            f.scheme_id, f.local_day, f.scenario, f.partner_pk, f.status, f.reason, f.events, f.carbon_g, f.points
                        ),
                        f.scheme_id,
                    )
                )
            },
            {tuple(r[:6]): tuple(int(v) for v in r[6:]) for r in self.conn.execute(self._source_facts(scheme_id))},
        )
        active = self._source_active()
        expected_days = {
            (s, int(d)): int(n)
            for s, d, n in self.conn.execute(
                only(
                    select(accounts.c.scheme_id, active.c.local_day, func.count())
                    .select_from(
                        active.join(accounts, and_(accounts.c.pkey == active.c.pkey, accounts.c.id == active.c.account_id))
                    )
                    .group_by(accounts.c.scheme_id, active.c.local_day),
                    accounts.c.scheme_id,
                )
            )
        }
        d = report_days.c
        stored_days = {
            (s, int(day)): int(n)
            for s, day, n in self.conn.execute(
                only(select(d.scheme_id, d.local_day, func.sum(d.active_users)).group_by(d.scheme_id, d.local_day), d.scheme_id)
            )
            if n
        }
        compare("report_days", stored_days, expected_days)
        stored_flows: dict[tuple[int, int], tuple[int, int]] = {}
        fl = report_flows.c
        flows_query = select(fl.ledger_account_id, fl.bucket, func.sum(fl.amount_out), func.sum(fl.amount_in)).group_by(
            fl.ledger_account_id, fl.bucket
        )
        if scheme_id is not None:
            flows_query = flows_query.where(
                fl.ledger_account_id.in_(select(ledger_accounts.c.id).where(ledger_accounts.c.scheme_id == scheme_id))
            )
        for a, b, out, into in self.conn.execute(flows_query):
            if out or into:
                stored_flows[(int(a), int(b))] = (int(out), int(into))
        compare("report_flows", stored_flows, self._flows_from_postings(scheme_id))
        ra = report_accounts.c
        stored_people = {
            (s, int(b)): (int(r), int(e))
            for s, b, r, e in self.conn.execute(
                only(
                    select(ra.scheme_id, ra.bucket, func.sum(ra.registered), func.sum(ra.erased)).group_by(
                        ra.scheme_id, ra.bucket
                    ),
                    ra.scheme_id,
                )
            )
            if r or e
        }
        expected_people: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        for s, b, _shard, r, e in self._source_accounts(scheme_id):
            expected_people[(s, b)][0] += r
            expected_people[(s, b)][1] += e
        compare("report_accounts", stored_people, {k: tuple(v) for k, v in expected_people.items()})
        return drifts

    def rejected(self, scheme_id: str, reasons: tuple[str, ...] | None, limit: int, before_id: int | None = None) -> list[Any]:
        query = (
            select(
                events.c.id,
                events.c.event_id,
                events.c.account_id,
                events.c.scenario,
                events.c.occurred_at,
                events.c.received_at,
                events.c.reason,
                events.c.details,
                events.c.data,
                partners.c.id.label("partner_id"),
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

    def _rejected_where(
        self,
        query: Select[Any],
        scheme_id: str,
        reasons: Sequence[str] | None,
        exclude: Sequence[int],
        only: Sequence[int] | None,
    ) -> Select[Any]:
        query = query.where(events.c.scheme_id == scheme_id, events.c.status == "rejected")
        if reasons:
            query = query.where(events.c.reason.in_(reasons))
        if exclude:
            query = query.where(~self.dialect.in_values(events.c.id, list(exclude)))
        if only is not None:
            query = query.where(self.dialect.in_values(events.c.id, list(only)))
        return query

    def rejected_page(
        self,
        scheme_id: str,
        reasons: Sequence[str] | None,
        offset: int,
        limit: int,
        exclude: Sequence[int] = (),
        only: Sequence[int] | None = None,
    ) -> list[Any]:
        """A page of the review queue, newest first: rejected events (of these reasons), without the
        `exclude` ids (rejections already confirmed), or only the `only` ids."""
        query = select(
            events.c.id,
            events.c.event_id,
            events.c.account_id,
            events.c.scenario,
            events.c.occurred_at,
            events.c.received_at,
            events.c.reason,
            events.c.details,
            events.c.data,
            events.c.methodology,
            events.c.partner_pk,
        )
        query = self._rejected_where(query, scheme_id, reasons, exclude, only)
        return list(self.conn.execute(query.order_by(events.c.id.desc()).offset(offset).limit(limit)))

    def rejected_by_reason(
        self, scheme_id: str, exclude: Sequence[int] = (), only: Sequence[int] | None = None
    ) -> dict[str, int]:
        """How many rejected events of each reason the queue holds (with the same exclusions)."""
        query = self._rejected_where(select(events.c.reason, func.count()), scheme_id, None, exclude, only)
        return {reason or "": int(n) for reason, n in self.conn.execute(query.group_by(events.c.reason))}

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
