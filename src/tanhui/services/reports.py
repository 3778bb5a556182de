"""Operator reports: the scheme's headline figures (api-v1 stats), trends, partners' health, review.

Every figure of a period is summed from the ``report_*`` counters (store/repositories/reports.py),
which the writers keep in the same transactions as the events, check-ins, postings and sign-ups
they count: a period costs one row per day, scenario, partner and reason, whatever the number of
events (docs/web.md, "Reports"). ``tanhui verify`` compares the counters with the source rows;
``rebuild`` rewrites them from those rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ISSUANCE, SYSTEM_REDEEMED
from tanhui.errors import InvalidInput, NotFound
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.uow import UnitOfWork

REVIEW_REASONS = (
    "implausible",
    "duplicate_behaviour",
    "cap_reached",
    "invalid_data",
    "event_id_reused",
    "no_consent",
    "too_old",
    "in_future",
)


def _day(value: str | date | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("invalid_request", details={name: "a date YYYY-MM-DD"}) from None


def _bounds(uow: UnitOfWork, scheme_id: str, day_from: str | date | None, day_to: str | date | None) -> tuple[Any, date, date]:
    scheme = uow.schemes.get(scheme_id)
    if scheme is None:
        raise NotFound("scheme_not_found", scheme_id=scheme_id)
    tz = ZoneInfo(scheme.timezone)
    end = _day(day_to, "to") or utcnow().astimezone(tz).date()
    start = _day(day_from, "from")
    if start is None:
        first = uow.reports.first_day(scheme_id)
        start = min(date.fromordinal(first), end) if first else min((scheme.created_at or utcnow()).astimezone(tz).date(), end)
    if start > end:
        raise InvalidInput("invalid_request", details={"from": "after to"})
    return scheme, start, end


def _utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


class ScenarioTotals(TypedDict):
    events: int
    carbon_g: int
    points: int


class DayPoint(TypedDict):
    date: str  # ISO day in the scheme's time zone
    carbon_g: int
    events: int
    active_users: int


# "from" is a keyword: the functional form names it
Stats = TypedDict(
    "Stats",
    {
        "scheme_id": str,
        "from": str,
        "to": str,
        "registered_users": int,
        "daily_active_users": int,
        "points_issued": int,
        "points_redeemed": int,
        "carbon_g_total": int,
        "events_credited": int,
        "by_scenario": dict[str, ScenarioTotals],
        "series": list[DayPoint],
    },
)


class PartnerHealth(TypedDict):
    partner_id: str
    name: str
    events: int
    credited: int
    rejected: int
    carbon_g: int
    points: int
    reasons: dict[str, int]  # rejected events by reason, most frequent first
    rejected_share: float
    days: int  # days with at least one event
    events_per_day: float
    series: list[int]  # events per day of the period


PartnersHealth = TypedDict("PartnersHealth", {"from": str, "to": str, "partners": list[PartnerHealth]})


class ReviewRow(TypedDict):
    id: int
    partner_id: str
    event_id: str
    account_id: str | None
    scenario: str
    occurred_at: str | None
    received_at: str
    reason: str | None  # set on every rejection; the column allows none
    details: Any  # the stored JSON, as the rejection wrote it
    data: Any


@dataclass(frozen=True, slots=True)
class Period:
    """What one pass over a scheme's period gives: every figure of the dashboard and the stats API."""

    stats: Stats
    partners: list[PartnerHealth]


@dataclass(slots=True)
class _Tally:
    """One partner's counts while the period's facts are summed."""

    partner_id: str
    name: str
    events: int = 0
    credited: int = 0
    rejected: int = 0
    carbon_g: int = 0
    points: int = 0
    reasons: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    per_day: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))


def overview(store: Store, scheme_id: str, day_from: str | date | None = None, day_to: str | date | None = None) -> Period:
    """The stats (api-v1) and the partners' health of a period from one pass over the covering index."""
    with store.unit_of_work(write=False) as uow:
        scheme, start, end = _bounds(uow, scheme_id, day_from, day_to)
        tz = ZoneInfo(scheme.timezone)
        lo, hi = start.toordinal(), end.toordinal()
        facts = uow.reports.day_facts(scheme_id, lo, hi)
        active = uow.reports.active_by_day(scheme_id, lo, hi)
        whole = day_from in (None, "") and day_to in (None, "")  # the whole history: no time filter on the ledger
        t0, t1 = (None, None) if whole else (_utc(start, tz), _utc(end + timedelta(days=1), tz))
        issuance = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_ISSUANCE).id
        redeemed = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id
        points_issued = uow.reports.flow(issuance, t0, t1)
        points_redeemed = -uow.reports.flow(redeemed, t0, t1)
        registered = uow.reports.registered(scheme_id, _utc(end + timedelta(days=1), tz))
        partner_rows = uow.partners.list(scheme_id)
    by_scenario: dict[str, ScenarioTotals] = {}
    daily: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    partners = {p.pk: _Tally(p.id, p.name) for p in partner_rows}
    for day, scenario, partner_pk, status, reason, n, carbon_g, points in facts:
        p = partners.get(partner_pk)
        if p is not None:
            p.events += n
            p.per_day[day] += n
        if status == "credited":
            row = by_scenario.setdefault(scenario, {"events": 0, "carbon_g": 0, "points": 0})
            row["events"] += n
            row["carbon_g"] += carbon_g
            row["points"] += points
            daily[day][0] += n
            daily[day][1] += carbon_g
            if p is not None:
                p.credited += n
                p.carbon_g += carbon_g
                p.points += points
        elif p is not None:
            p.rejected += n
            p.reasons[reason or "unknown"] += n
    series: list[DayPoint] = [
        {
            "date": date.fromordinal(o).isoformat(),
            "carbon_g": daily[o][1] if o in daily else 0,
            "events": daily[o][0] if o in daily else 0,
            "active_users": active.get(o, 0),
        }
        for o in range(lo, hi + 1)
    ]
    stats: Stats = {
        "scheme_id": scheme_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "registered_users": registered,
        "daily_active_users": active.get(hi, 0),
        "points_issued": points_issued,
        "points_redeemed": points_redeemed,
        "carbon_g_total": sum(v["carbon_g"] for v in by_scenario.values()),
        "events_credited": sum(v["events"] for v in by_scenario.values()),
        "by_scenario": dict(sorted(by_scenario.items(), key=lambda kv: -kv[1]["carbon_g"])),
        "series": series,
    }
    days = hi - lo + 1
    health: list[PartnerHealth] = [
        {
            "partner_id": p.partner_id,
            "name": p.name,
            "events": p.events,
            "credited": p.credited,
            "rejected": p.rejected,
            "carbon_g": p.carbon_g,
            "points": p.points,
            "reasons": dict(sorted(p.reasons.items(), key=lambda kv: -kv[1])),
            "rejected_share": p.rejected / p.events if p.events else 0.0,
            "days": len(p.per_day),
            "events_per_day": p.events / days,
            "series": [p.per_day.get(o, 0) for o in range(lo, hi + 1)],
        }
        for p in partners.values()
    ]
    return Period(stats, sorted(health, key=lambda p: -p["events"]))


COMPLETE_DAYS = 30  # the dashboard's default period: the last 30 days that have ended


def complete_days(
    store: Store, scheme_id: str, now: datetime | None = None, days: int = COMPLETE_DAYS
) -> tuple[date, date, date]:
    """(first, last, today): the last `days` scheme-local days that have ended, and today, which has not.

    The dashboard opens on these rather than on a period ending today: today has barely started,
    so its figures (one active user at 08:00 against hundreds a day) would read as a collapse.
    """
    with store.unit_of_work(write=False) as uow:
        scheme = uow.schemes.get(scheme_id)
    if scheme is None:
        raise NotFound("scheme_not_found", scheme_id=scheme_id)
    today = (now or utcnow()).astimezone(ZoneInfo(scheme.timezone)).date()
    return today - timedelta(days=days), today - timedelta(days=1), today


@dataclass(frozen=True, slots=True)
class Activity:
    """What happened in a period besides the behaviours: check-ins, orders, sign-ups; and the
    organisations as they are now."""

    checkins: int
    checkin_points: int
    orders: int
    order_points: int
    orders_by_status: dict[str, int]  # orders placed in the period, by their status now
    registered_before: int  # people registered before the period and not erased before it
    registered_in: int  # registrations in the period
    erased_in: int  # erasures in the period
    organisations: int
    members: int  # people in at least one organisation


def activity(store: Store, scheme_id: str, day_from: str | date, day_to: str | date) -> Activity:
    with store.unit_of_work(write=False) as uow:
        scheme, start, end = _bounds(uow, scheme_id, day_from, day_to)
        tz = ZoneInfo(scheme.timezone)
        t0, t1 = _utc(start, tz), _utc(end + timedelta(days=1), tz)
        checkins, checkin_points = uow.market.checkins_between(scheme_id, start.toordinal(), end.toordinal())
        orders = uow.market.orders_between(scheme_id, t0, t1)
        before = uow.reports.registered(scheme_id, t0)
        registered, erased = uow.reports.registrations(scheme_id, t0, t1)
        organisations = len(uow.organisations.list(scheme_id))
        members = uow.memberships.members_in_scheme(scheme_id)
    return Activity(
        checkins,
        checkin_points,
        sum(n for n, _p in orders.values()),
        sum(p for _n, p in orders.values()),
        {status: n for status, (n, _p) in orders.items()},
        before,
        registered,
        erased,
        organisations,
        members,
    )


def stats(store: Store, scheme_id: str, day_from: str | date | None = None, day_to: str | date | None = None) -> Stats:
    """GET /v1/admin/schemes/{scheme_id}/stats (api-v1.md), exactly its fields."""
    return overview(store, scheme_id, day_from, day_to).stats


def partners_health(
    store: Store, scheme_id: str, day_from: str | date | None = None, day_to: str | date | None = None
) -> PartnersHealth:
    """Per partner: events, credited, rejected by reason, share rejected, events per day, reduction."""
    found = overview(store, scheme_id, day_from, day_to)
    return {"from": found.stats["from"], "to": found.stats["to"], "partners": found.partners}


def review(
    store: Store, scheme_id: str, reason: str | None = None, limit: int = 100, before: int | None = None
) -> list[ReviewRow]:
    """Rejected events for an operator to look at, newest first (implausible ones by default first in the list)."""
    if reason is not None and reason not in REVIEW_REASONS and reason != "duplicate_event":
        raise InvalidInput("invalid_request", details={"reason": "unknown"})
    with store.unit_of_work(write=False) as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        rows = uow.reports.rejected(scheme_id, (reason,) if reason else None, limit, before)
    return [
        {
            "id": int(r.id),
            "partner_id": r.partner_id,
            "event_id": r.event_id,
            "account_id": None if r.account_id is None else str(r.account_id),
            "scenario": r.scenario,
            "occurred_at": r.occurred_at.isoformat() if r.occurred_at else None,
            "received_at": r.received_at.isoformat(),
            "reason": r.reason,
            "details": r.details,
            "data": r.data,
        }
        for r in rows
    ]


def rebuild(store: Store) -> dict[str, int]:
    """Rewrite the report counters from the source rows (after a restore from an old dump, or a
    bulk load that bypassed the services); rows written per table."""
    store.require_initialised()
    with store.unit_of_work() as uow:
        return uow.reports.rebuild()


def account_series(store: Store, account_id: int) -> list[tuple[date, int]]:
    """A person's credited reduction per local day (their chart)."""
    with store.unit_of_work(write=False) as uow:
        return [(date.fromordinal(d), g) for d, g in uow.reports.account_daily(account_id)]
