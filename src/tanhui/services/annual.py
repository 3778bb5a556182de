"""A person's annual carbon report (年度碳账单): a scheme-local year of their credited behaviours — the
total, by scenario and by month, active days, the best check-in streak inside the year, the points
earned that year (from the ledger, as the statement counts them) and their place among everyone in
the scheme who reduced something that year.

The year's rank needs every person's total for that year; like `services.ranking` each process keeps
a sorted snapshot per scheme and year (one grouped query over the year's events, refreshed in the
background after `TTL_S`), and a rank is a binary search in it. Pages never wait for the first
snapshot: it is counted in the background and the report says so meanwhile.
"""

from __future__ import annotations

import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tanhui.domain import engagement as rules
from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ISSUANCE
from tanhui.errors import InvalidInput, NotFound
from tanhui.services.clock import utcnow
from tanhui.store import Store

FIRST_YEAR = 2000
TTL_S = 600.0

_years: dict[tuple[str, str, int], tuple[float, array]] = {}
_loading: set[tuple[str, str, int]] = set()
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Standing:
    rank: int  # 1 = the largest reduction of the year in the scheme
    people: int  # everyone with a credited reduction that year
    ahead_of: int  # how many of them reduced less


@dataclass(frozen=True, slots=True)
class AnnualReport:
    year: int
    scheme_name: str
    display_name: str | None  # the web masks it; nothing else personal is in the report
    carbon_g: int
    events: int
    active_days: int
    first_day: date | None
    by_scenario: list[tuple[str, int, int]]  # (scenario, events, grams), largest first
    by_month: list[tuple[int, int, int]]  # (month 1..12, events, grams)
    checkin_days: int
    best_streak: int
    points_earned: int
    standing: Standing | None  # None without a reduction that year (or while `counting`)
    years: list[int]  # the years the person can open, newest first
    counting: bool = False  # the year's totals of everyone are still being counted (no place yet)

    @property
    def best_month(self) -> tuple[int, int, int] | None:
        found = max(self.by_month, key=lambda m: (m[2], -m[0]))
        return found if found[2] > 0 else None


def check_year(year: str | int | None, today: date) -> int:
    """The year asked for: 2000 up to this year (the scheme's), default this year."""
    if year is None or year == "":
        return today.year
    text = str(year)
    if not (text.isascii() and text.isdigit() and len(text) == 4) or not FIRST_YEAR <= int(text) <= today.year:
        raise InvalidInput("invalid_request", details={"year": f"{FIRST_YEAR}..{today.year}"})
    return int(text)


def _load(store: Store, scheme_id: str, year: int) -> None:
    key = (store.url, scheme_id, year)
    try:
        with store.unit_of_work(write=False) as uow:
            found = uow.statements.people_totals_between(scheme_id, _day(year, 1, 1), _day(year, 12, 31))
            totals = array("q", sorted(found))
        with _lock:
            _years[key] = (time.monotonic(), totals)
    finally:
        with _lock:
            _loading.discard(key)


def _year_totals(store: Store, scheme_id: str, year: int, wait: bool) -> array | None:
    """The year's snapshot; a stale one is refreshed in the background. Without one yet, `wait` loads
    it now; otherwise a background load starts and the answer is None (the page says "being counted")."""
    key = (store.url, scheme_id, year)
    with _lock:
        found = _years.get(key)
        stale = found is None or time.monotonic() - found[0] > TTL_S
        start = stale and key not in _loading and (found is not None or not wait)
        if start:
            _loading.add(key)
    if start:
        threading.Thread(target=_load, args=(store, scheme_id, year), daemon=True).start()
    if found is None and wait:
        _load(store, scheme_id, year)
        with _lock:
            found = _years.get(key)
    return None if found is None else found[1]


def forget() -> None:
    """Drop the year snapshots (tests that add events and read the rank at once)."""
    with _lock:
        _years.clear()


def _day(year: int, month: int, day: int) -> int:
    return date(year, month, day).toordinal()


def standing(store: Store, scheme_id: str, year: int, carbon_g: int, wait: bool = True) -> Standing | None:
    """The person's place among the year's reducers as of the snapshot; None without a reduction, or
    (with `wait=False`) while the first snapshot is being counted."""
    if carbon_g <= 0:
        return None
    totals = _year_totals(store, scheme_id, year, wait)
    if totals is None:
        return None
    people = max(len(totals), 1)
    return Standing(min(len(totals) - bisect_right(totals, carbon_g) + 1, people), people, bisect_left(totals, carbon_g))


def annual_report(
    store: Store, account_id: int, year: str | int | None = None, now: datetime | None = None, *, wait: bool = True
) -> AnnualReport:
    """The report of a year (default this one). Pages pass `wait=False`: the first request of a process
    for a scheme and year does not wait for everyone's totals, the report then says the place is
    being counted (`counting`)."""
    now = now or utcnow()
    with store.unit_of_work(write=False) as uow:
        account = uow.accounts.get(account_id)
        scheme = uow.schemes.get(account.scheme_id) if account else None
        holdings = uow.ledger.holdings(account_id)
        if account is None or scheme is None or not holdings:
            raise NotFound("account_not_found", account_id=account_id)
        zone = ZoneInfo(scheme.timezone)
        today = now.astimezone(zone).date()
        chosen = check_year(year, today)
        first, last = _day(chosen, 1, 1), _day(chosen, 12, 31)
        days = uow.statements.credited_by_day(account_id, first, last)
        checkins = uow.statements.checkins_between(account_id, first, last)
        start = datetime(chosen, 1, 1, tzinfo=zone).astimezone(UTC)
        end = datetime(chosen + 1, 1, 1, tzinfo=zone).astimezone(UTC)
        flows = uow.statements.points_flows(holdings[ASSET_POINTS].id, start, end, owner=account_id)
        profile = uow.privacy.profile(account_id) or {}
    scenarios: dict[str, list[int]] = {}
    months = {m: [0, 0] for m in range(1, 13)}
    for day, scenario, events, grams in days:
        scenarios.setdefault(scenario, [0, 0])
        scenarios[scenario][0] += events
        scenarios[scenario][1] += grams
        month = date.fromordinal(day).month
        months[month][0] += events
        months[month][1] += grams
    carbon_g = sum(g for _s, (_n, g) in scenarios.items())
    opened = account.created_at.astimezone(zone).year
    place = standing(store, scheme.id, chosen, carbon_g, wait)
    return AnnualReport(
        year=chosen,
        scheme_name=scheme.name,
        display_name=profile.get("display_name") or profile.get("username"),
        carbon_g=carbon_g,
        events=sum(n for n, _g in scenarios.values()),
        active_days=len({d for d, _s, _n, _g in days}),
        first_day=date.fromordinal(days[0][0]) if days else None,
        by_scenario=sorted(((s, n, g) for s, (n, g) in scenarios.items()), key=lambda x: (-x[2], x[0])),
        by_month=[(m, n, g) for m, (n, g) in months.items()],
        checkin_days=len(checkins),
        best_streak=rules.longest_run(d for d, _s, _p, _b in checkins),
        points_earned=sum(f.amount for f in flows if f.direction == "in" and f.counterpart == SYSTEM_ISSUANCE),
        standing=place,
        counting=carbon_g > 0 and place is None,
        years=list(range(today.year, max(FIRST_YEAR, min(opened, today.year)) - 1, -1)),
    )


__all__ = ["AnnualReport", "Standing", "annual_report", "check_year", "forget", "standing"]
