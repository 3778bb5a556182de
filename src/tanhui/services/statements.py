"""A person's points statement (积分明细): every posting of their points account, each with its cause,
the totals by kind, and what is about to expire.

Every figure is read from the ledger: the lines are the postings, the totals are those postings
summed by counterpart and entry kind in one query, so earned - corrections - redeemed - held -
expired (+ other) is the account's balance by construction (tests/services/test_statements.py checks
it against the materialised balance). Only the split of escrow into "redeemed" and "still held"
needs the orders, and even that reads the ledger: the `order_post` entries of the person's orders.
Expiry uses the rule `tanhui points expire` applies (domain.engagement), on the same flows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tanhui.domain import engagement as rules
from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_EXPIRED, SYSTEM_HELD, SYSTEM_ISSUANCE
from tanhui.domain.schemes import Scheme
from tanhui.errors import InvalidInput, NotFound
from tanhui.services.clock import utcnow
from tanhui.services.principal import Principal, as_principal
from tanhui.store import Store
from tanhui.store.rows import PointsFlow, PointsLine
from tanhui.store.uow import UnitOfWork

PAGE_SIZE = 50
PAGE_SIZE_MAX = 200
SOON_DAYS = (30, 90)


@dataclass(frozen=True, slots=True)
class Totals:
    """Points by what happened to them; `balance` is the ledger's, and the identity
    earned - corrected - redeemed - held - expired + other == balance holds by construction."""

    earned: int
    earned_behaviours: int
    earned_checkins: int
    earned_other: int
    corrected: int  # reversals of earlier credits
    redeemed: int  # orders fulfilled or delivered: the points left escrow for good
    held: int  # orders still pending or shipped: in escrow
    expired: int
    other: int  # anything else (a transfer between people), signed
    balance: int
    postings: int

    def identity(self) -> int:
        return self.earned - self.corrected - self.redeemed - self.held - self.expired + self.other


@dataclass(frozen=True, slots=True)
class Expiry:
    policy: str  # "end_of_next_year" or "never"
    soon: dict[int, int]  # days ahead -> points that expire by then (30, 90)
    schedule: list[tuple[int, date, int]]  # (year earned, last day to use, points left), oldest first
    overdue: int  # points past their last day that no expiry run has taken yet


@dataclass(frozen=True, slots=True)
class Line:
    posting_id: int
    at: datetime
    amount: int
    balance_after: int
    cause: str  # behaviour, checkin, order_hold, order_void, expiry, correction, reward, other
    ref: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Statement:
    scheme_id: str
    timezone: str
    totals: Totals
    expiry: Expiry
    lines: list[Line]
    first: int  # 1-based position of the first line shown, newest first
    next_cursor: str | None


def totals_from(flows: Sequence[PointsFlow], redeemed: int, balance: int) -> Totals:
    """The statement's totals from the account's postings grouped by counterpart and kind."""
    earned = {"behaviour_credit": 0, "checkin": 0, "other": 0}
    corrected = held_out = returned = expired = other = count = 0
    for f in flows:
        count += f.count
        if f.counterpart == SYSTEM_ISSUANCE:
            if f.direction == "in":
                earned[f.kind if f.kind in earned else "other"] += f.amount
            else:
                corrected += f.amount
        elif f.counterpart == SYSTEM_HELD:
            if f.direction == "out":
                held_out += f.amount
            else:
                returned += f.amount
        elif f.counterpart == SYSTEM_EXPIRED:
            expired += f.amount if f.direction == "out" else -f.amount
        else:
            other += f.amount if f.direction == "in" else -f.amount
    return Totals(
        earned=sum(earned.values()),
        earned_behaviours=earned["behaviour_credit"],
        earned_checkins=earned["checkin"],
        earned_other=earned["other"],
        corrected=corrected,
        redeemed=redeemed,
        held=held_out - returned - redeemed,
        expired=expired,
        other=other,
        balance=balance,
        postings=count,
    )


def _boundary(year: int, tz: ZoneInfo) -> datetime:
    """The instant a local year begins (the cut-off `tanhui points expire` uses)."""
    return datetime.combine(date(year, 1, 1), time(), tz).astimezone(UTC)


def expiry_of(
    uow: UnitOfWork, scheme: Scheme, points_account: int, flows: Sequence[PointsFlow], today: date, now: datetime, *, owner: int
) -> Expiry:
    """What expires when under the scheme's rule: a point earned in year Y lives until the end of Y+1,
    spending uses the oldest first. `soon[N]` is what an expiry run on today + N days would post."""
    policy = rules.expiry_policy(scheme.settings)
    if policy != rules.EXPIRY_DEFAULT_POLICY:
        return Expiry(policy, dict.fromkeys(SOON_DAYS, 0), [], 0)
    held = uow.ledger.system_account(scheme.id, ASSET_POINTS, SYSTEM_HELD).id
    tz = ZoneInfo(scheme.timezone)
    year = today.year
    # Everything earned in year-2 or before, in year-1 or before, and up to now (this year included).
    older, last_year = uow.statements.earned_before(
        points_account, held, [_boundary(year - 1, tz), _boundary(year, tz)], owner=owner
    )
    total = sum(f.amount for f in flows if f.direction == "in" and f.counterpart != SYSTEM_HELD)
    paid = sum(f.amount for f in flows if f.direction == "out")
    returned = sum(f.amount for f in flows if f.direction == "in" and f.counterpart == SYSTEM_HELD)
    left = rules.remaining_by_year({year - 2: older, year - 1: last_year, year: total}, paid - returned)
    soon = {}
    for days in SOON_DAYS:
        cutoff = rules.expiry_cutoff_year(today + timedelta(days=days))
        soon[days] = sum(points for earned_in, points in left.items() if earned_in <= cutoff)
    schedule = [(y, rules.last_day_to_use(y), points) for y, points in sorted(left.items())]
    return Expiry(policy, soon, schedule, left.get(year - 2, 0))


def _cause(
    line: PointsLine, events: dict[int, tuple[int, str, int]], orders: dict[str, tuple[str, str, str]], partner_pk: int | None
) -> tuple[str, dict[str, Any]]:
    memo = line.memo
    if line.kind == "behaviour_credit":
        found = events.get(line.entry_id)
        if found is None or (partner_pk is not None and found[2] != partner_pk):
            # another partner's behaviour, seen from a partner's session: the points, not what was done
            return "behaviour", {"event": None, "scenario": None}
        return "behaviour", {"event": found[0], "scenario": found[1]}
    if line.kind == "checkin":
        return "checkin", {"day": memo.get("day"), "streak": memo.get("streak"), "bonus": memo.get("bonus", 0)}
    if line.kind in ("order_hold", "order_void"):
        order = str(memo.get("order", ""))
        title_zh, title_en, status = orders.get(order, ("", "", ""))
        return line.kind, {"order": order, "title_zh": title_zh, "title_en": title_en, "status": status}
    if line.kind == "points_expiry":
        return "expiry", {"cutoff_year": memo.get("cutoff_year")}
    if line.reverses_entry_id is not None:
        return "correction", {"entry": line.reverses_entry_id}
    if line.counterpart == SYSTEM_ISSUANCE and line.amount > 0:
        return "reward", {"kind": line.kind}
    return "other", {"kind": line.kind}


def _lines(uow: UnitOfWork, account_id: int, found: Sequence[PointsLine], partner_pk: int | None) -> list[Line]:
    events = uow.statements.events_of_entries(account_id, [x.entry_id for x in found if x.kind == "behaviour_credit"])
    orders = uow.statements.orders_named(account_id, [str(x.memo.get("order", "")) for x in found if x.kind.startswith("order_")])
    shown = []
    for x in found:
        cause, ref = _cause(x, events, orders, partner_pk)
        shown.append(Line(x.posting_id, x.created_at, x.amount, x.balance_after, cause, ref))
    return shown


def _cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise InvalidInput("invalid_request", details={"cursor": "invalid"})
    return int(cursor)


def statement(
    store: Store, who: int | Principal, cursor: str | None = None, limit: int = PAGE_SIZE, now: datetime | None = None
) -> Statement:
    """One page of the person's statement (newest first, `limit` lines older than `cursor`) with the totals.

    From a partner's session (api.md "Partner-scoped session") the points are all there — they are the
    person's balance — but a behaviour another partner reported shows neither its scenario nor its event.
    """
    principal = as_principal(who)
    account_id = principal.account_id
    before = _cursor(cursor)
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise InvalidInput("invalid_request", details={"limit": f"1..{PAGE_SIZE_MAX}"})
    now = now or utcnow()
    with store.unit_of_work(write=False, isolation="repeatable_read") as uow:
        account = uow.accounts.get(account_id)
        scheme = uow.schemes.get(account.scheme_id) if account else None
        holdings = uow.ledger.holdings(account_id)
        if account is None or scheme is None or not holdings:
            raise NotFound("account_not_found", account_id=account_id)
        points = holdings[ASSET_POINTS].id
        flows = uow.statements.points_flows(points, owner=account_id)
        totals = totals_from(flows, uow.statements.posted_order_points(account_id), uow.ledger.balance(points))
        today = now.astimezone(ZoneInfo(scheme.timezone)).date()
        expiry = expiry_of(uow, scheme, points, flows, today, now, owner=account_id)
        found = uow.statements.points_lines(points, before, limit + 1, owner=account_id)
        newer = 0 if before is None else uow.statements.postings_newer(points, before, owner=account_id)
        lines = _lines(uow, account_id, found[:limit], principal.partner_pk)
    next_cursor = str(found[limit - 1].posting_id) if len(found) > limit else None
    return Statement(scheme.id, scheme.timezone, totals, expiry, lines, newer + 1, next_cursor)


__all__ = ["PAGE_SIZE", "Expiry", "Line", "Statement", "Totals", "expiry_of", "statement", "totals_from"]
