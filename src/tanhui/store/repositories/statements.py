"""What a person's own pages read: their points postings (the statement), check-ins by day, and a
year of credited behaviours (the annual report). Read-only, and always by one person's ids, so every
query walks that person's index entries only.

Every query also names the person's key (`pkey`), so on Citus it runs on the one shard holding the
person. A counterpart of a posting is a scheme's system account (kept under the system key) or the
person's own clearing account, so its code is read in a second step, not by a join across shards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, select, union_all

from tanhui.store.distribution import SYSTEM_PKEY, pkey_of
from tanhui.store.repositories.base import Repository, chunks
from tanhui.store.schema import checkins, events, journal_entries, ledger_accounts, market_items, orders, postings

CREDITED = "credited"


@dataclass(frozen=True, slots=True)
class PointsLine:
    """One posting into or out of a person's points account, with its entry's facts."""

    posting_id: int
    entry_id: int
    kind: str
    memo: dict[str, Any]
    reverses_entry_id: int | None
    created_at: datetime
    amount: int  # signed: + came in, - went out
    counterpart: str  # the other ledger account's code (issuance, held, expired, ...)
    balance_after: int


@dataclass(frozen=True, slots=True)
class PointsFlow:
    """A total of postings between a person's points account and one kind of counterpart."""

    direction: str  # "in" or "out"
    counterpart: str
    kind: str
    amount: int
    count: int


class StatementRepository(Repository):
    # -- the points statement ----------------------------------------------------------------

    def _side(self, points_account_id: int, incoming: bool, pkey: int) -> Any:
        mine = postings.c.to_account_id if incoming else postings.c.from_account_id
        other = postings.c.from_account_id if incoming else postings.c.to_account_id
        after = postings.c.to_balance_after if incoming else postings.c.from_balance_after
        sign = 1 if incoming else -1
        return select(
            postings.c.id.label("posting_id"),
            postings.c.pkey,
            postings.c.entry_id,
            (postings.c.amount * sign).label("amount"),
            after.label("balance_after"),
            other.label("counterpart_id"),
        ).where(postings.c.pkey == pkey, mine == points_account_id)

    def _codes(self, pkey: int, ids: set[int]) -> dict[int, str]:
        """Ledger account id -> code, for counterparts under the system key or the person's own."""
        found: dict[int, str] = {}
        for batch in chunks(sorted(ids)):
            rows = self.conn.execute(
                select(ledger_accounts.c.id, ledger_accounts.c.code).where(
                    self.dialect.in_values(ledger_accounts.c.pkey, sorted({SYSTEM_PKEY, pkey})),
                    self.dialect.in_values(ledger_accounts.c.id, batch),
                )
            )
            found.update({int(i): code for i, code in rows})
        missing = sorted(ids - found.keys())  # another person's account: a transfer between people
        for batch in chunks(missing):
            rows = self.conn.execute(
                select(ledger_accounts.c.id, ledger_accounts.c.code).where(self.dialect.in_values(ledger_accounts.c.id, batch))
            )
            found.update({int(i): code for i, code in rows})
        return found

    def points_lines(self, points_account_id: int, before_posting_id: int | None, limit: int, *, owner: int) -> list[PointsLine]:
        """The newest `limit` postings of the account (older than `before_posting_id`), newest first;
        ``owner`` is the person's account id."""
        pkey = pkey_of(owner)
        sides = []
        for incoming in (True, False):
            side = self._side(points_account_id, incoming, pkey)
            if before_posting_id is not None:
                side = side.where(postings.c.id < before_posting_id)
            sides.append(side.order_by(postings.c.id.desc()).limit(limit).subquery().select())
        both = union_all(*sides).subquery()
        query = (
            select(
                both,
                journal_entries.c.kind,
                journal_entries.c.memo,
                journal_entries.c.reverses_entry_id,
                journal_entries.c.created_at,
            )
            .select_from(
                both.join(journal_entries, (journal_entries.c.pkey == both.c.pkey) & (journal_entries.c.id == both.c.entry_id))
            )
            .where(journal_entries.c.pkey == pkey)
            .order_by(both.c.posting_id.desc())
            .limit(limit)
        )
        rows = self.conn.execute(query).all()
        codes = self._codes(pkey, {int(r.counterpart_id) for r in rows})
        return [
            PointsLine(
                int(r.posting_id),
                int(r.entry_id),
                r.kind,
                dict(r.memo or {}),
                r.reverses_entry_id,
                r.created_at,
                int(r.amount),
                codes[int(r.counterpart_id)],
                int(r.balance_after),
            )
            for r in rows
        ]

    def postings_newer(self, points_account_id: int, posting_id: int, *, owner: int) -> int:
        """How many of the account's postings are `posting_id` or newer (a page's place in the statement)."""
        total = 0
        pkey = pkey_of(owner)
        for mine in (postings.c.to_account_id, postings.c.from_account_id):
            total += int(
                self.conn.execute(
                    select(func.count()).where(postings.c.pkey == pkey, mine == points_account_id, postings.c.id >= posting_id)
                ).scalar_one()
            )
        return total

    def points_flows(
        self, points_account_id: int, start: datetime | None = None, end: datetime | None = None, *, owner: int
    ) -> list[PointsFlow]:
        """Every posting of the account summed by direction, counterpart and entry kind (recorded in [start, end))."""
        pkey = pkey_of(owner)
        sums: dict[tuple[str, int, str], list[int]] = {}
        for incoming in (True, False):
            side = self._side(points_account_id, incoming, pkey).subquery()
            query = (
                select(side.c.counterpart_id, journal_entries.c.kind, func.sum(side.c.amount), func.count())
                .select_from(
                    side.join(
                        journal_entries, (journal_entries.c.pkey == side.c.pkey) & (journal_entries.c.id == side.c.entry_id)
                    )
                )
                .where(journal_entries.c.pkey == pkey)
                .group_by(side.c.counterpart_id, journal_entries.c.kind)
            )
            if start is not None:
                query = query.where(journal_entries.c.created_at >= start)
            if end is not None:
                query = query.where(journal_entries.c.created_at < end)
            for counterpart_id, kind, amount, count in self.conn.execute(query):
                total = sums.setdefault(("in" if incoming else "out", int(counterpart_id), kind), [0, 0])
                total[0] += abs(int(amount))
                total[1] += int(count)
        codes = self._codes(pkey, {k[1] for k in sums})
        merged: dict[tuple[str, str, str], list[int]] = {}
        for (direction, counterpart_id, kind), (amount, count) in sums.items():
            total = merged.setdefault((direction, codes[counterpart_id], kind), [0, 0])
            total[0] += amount
            total[1] += count
        return [PointsFlow(d, c, k, amount, count) for (d, c, k), (amount, count) in merged.items()]

    def earned_before(
        self, points_account_id: int, held_account_id: int, moments: Sequence[datetime], *, owner: int
    ) -> list[int]:
        """Points earned (every inflow but escrow returns, as `tanhui points expire` counts them)
        recorded before each moment."""
        if not moments:
            return []
        query = (
            select(
                *[
                    func.coalesce(func.sum(case((journal_entries.c.created_at < m, postings.c.amount), else_=0)), 0)
                    for m in moments
                ]
            )
            .select_from(
                postings.join(
                    journal_entries, (journal_entries.c.pkey == postings.c.pkey) & (journal_entries.c.id == postings.c.entry_id)
                )
            )
            .where(
                postings.c.pkey == pkey_of(owner),
                postings.c.to_account_id == points_account_id,
                postings.c.from_account_id != held_account_id,
            )
        )
        row = self.conn.execute(query).one()
        return [int(v) for v in row]

    def posted_order_points(self, account_id: int) -> int:
        """Points of the person's orders that escrow paid out to the scheme (their `order_post` entries).
        An escrow payout moves points between two system accounts, so its entry may stand under either
        the person's key or the system key: the orders first, then their entries under both."""
        pkey = pkey_of(account_id)
        settled = [
            int(e)
            for (e,) in self.conn.execute(
                select(orders.c.settle_entry_id).where(
                    orders.c.pkey == pkey, orders.c.account_id == account_id, orders.c.settle_entry_id.is_not(None)
                )
            )
        ]
        total = 0
        for batch in chunks(settled):
            query = (
                select(func.coalesce(func.sum(postings.c.amount), 0))
                .select_from(
                    postings.join(
                        journal_entries,
                        (journal_entries.c.pkey == postings.c.pkey) & (journal_entries.c.id == postings.c.entry_id),
                    )
                )
                .where(
                    self.dialect.in_values(postings.c.pkey, sorted({SYSTEM_PKEY, pkey})),
                    self.dialect.in_values(postings.c.entry_id, batch),
                    journal_entries.c.kind == "order_post",
                )
            )
            total += int(self.conn.execute(query).scalar_one())
        return total

    def orders_named(self, account_id: int, public_ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """public id -> (title_zh, title_en, status) of the person's own orders."""
        found: dict[str, tuple[str, str, str]] = {}
        for batch in chunks(sorted(set(public_ids))):
            rows = self.conn.execute(
                select(orders.c.public_id, market_items.c.title_zh, market_items.c.title_en, orders.c.status)
                .select_from(orders.join(market_items, market_items.c.id == orders.c.item_id))
                .where(
                    orders.c.pkey == pkey_of(account_id),
                    orders.c.account_id == account_id,
                    self.dialect.in_values(orders.c.public_id, batch),
                )
            )
            for public_id, title_zh, title_en, status in rows:
                found[public_id] = (title_zh, title_en or "", status)
        return found

    def events_of_entries(self, account_id: int, entry_ids: Sequence[int]) -> dict[int, tuple[int, str, int]]:
        """entry id -> (event pk, scenario, partner pk) of the person's credited events that entry recorded."""
        found: dict[int, tuple[int, str, int]] = {}
        for batch in chunks(sorted(set(entry_ids))):
            rows = self.conn.execute(
                select(events.c.entry_id, events.c.id, events.c.scenario, events.c.partner_pk).where(
                    events.c.pkey == pkey_of(account_id),
                    events.c.account_id == account_id,
                    events.c.status == CREDITED,
                    self.dialect.in_values(events.c.entry_id, batch),
                )
            )
            for entry_id, event_pk, scenario, partner_pk in rows:
                found[int(entry_id)] = (int(event_pk), scenario, int(partner_pk))
        return found

    # -- check-ins ---------------------------------------------------------------------------

    def checkins_between(self, account_id: int, day_from: int, day_to: int) -> list[tuple[int, int, int, int]]:
        """(local day, streak, points, bonus) of the person's check-ins in [day_from, day_to], by day."""
        rows = self.conn.execute(
            select(checkins.c.local_day, checkins.c.streak, checkins.c.points, checkins.c.bonus)
            .where(
                checkins.c.pkey == pkey_of(account_id),
                checkins.c.account_id == account_id,
                checkins.c.local_day >= day_from,
                checkins.c.local_day <= day_to,
            )
            .order_by(checkins.c.local_day)
        )
        return [(int(d), int(s), int(p), int(b)) for d, s, p, b in rows]

    # -- a year of behaviours ----------------------------------------------------------------

    def credited_by_day(self, account_id: int, day_from: int, day_to: int) -> list[tuple[int, str, int, int]]:
        """(local day, scenario, events, grams) of the person's credited behaviours in [day_from, day_to],
        but those whose credit was reversed since (a correction, or a race lost to another platform of
        the federation: a signed statement must not count a behaviour the federation credits elsewhere)."""
        reversal = journal_entries.alias("reversal")
        rows = self.conn.execute(
            select(events.c.local_day, events.c.scenario, func.count(), func.coalesce(func.sum(events.c.carbon_g), 0))
            .where(
                events.c.pkey == pkey_of(account_id),
                events.c.account_id == account_id,
                events.c.status == CREDITED,
                events.c.local_day >= day_from,
                events.c.local_day <= day_to,
                ~exists().where(reversal.c.pkey == events.c.pkey, reversal.c.reverses_entry_id == events.c.entry_id),
            )
            .group_by(events.c.local_day, events.c.scenario)
            .order_by(events.c.local_day)
        )
        return [(int(d), s, int(n), int(g)) for d, s, n, g in rows]

    def people_totals_between(self, scheme_id: str, day_from: int, day_to: int, batch: int = 50_000) -> Iterator[int]:
        """Every person's credited grams in [day_from, day_to] (those with any), unordered, streamed."""
        query = (
            select(func.sum(events.c.carbon_g))
            .where(
                events.c.scheme_id == scheme_id,
                events.c.status == CREDITED,
                events.c.account_id.is_not(None),
                events.c.local_day >= day_from,
                events.c.local_day <= day_to,
            )
            .group_by(events.c.account_id)
        )
        for (grams,) in self.conn.execute(query.execution_options(stream_results=True, yield_per=batch)):
            yield int(grams or 0)


__all__ = ["PointsFlow", "PointsLine", "StatementRepository"]
