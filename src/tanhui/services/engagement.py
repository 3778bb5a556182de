"""Check-ins (one per local day, streaks) and points expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from tanhui.domain import engagement as rules
from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_EXPIRED, SYSTEM_HELD, SYSTEM_ISSUANCE, Posting, TransferGroup
from tanhui.errors import InvalidInput, NotFound
from tanhui.services import audit
from tanhui.services.clock import check_as_of, utcnow
from tanhui.services.ledger import lane_for
from tanhui.store import Store
from tanhui.store.rows import lane_name
from tanhui.store.uow import UnitOfWork


def checkin(store: Store, account_id: int, now: datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """(created, check-in). Once per local day of the scheme; a second call answers the first."""
    with store.unit_of_work() as uow:
        return _checkin_in(uow, account_id, now or utcnow(), {})


def checkin_many(store: Store, checkins: list[tuple[int, datetime]]) -> int:
    """Many people's check-ins (e.g. a partner app's day) in one transaction; returns how many were new."""
    created = 0
    schemes: dict[str, Any] = {}
    with store.unit_of_work() as uow:
        for account_id, when in checkins:
            created += _checkin_in(uow, account_id, when, schemes)[0]
    return created


def _checkin_in(uow: UnitOfWork, account_id: int, now: datetime, schemes: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    account = uow.accounts.get(account_id)
    if account is None:
        raise NotFound("account_not_found", account_id=account_id)
    scheme = schemes.get(account.scheme_id)
    if scheme is None:
        scheme = schemes[account.scheme_id] = uow.schemes.get(account.scheme_id)
    assert scheme is not None
    policy = rules.checkin_policy(scheme.settings)
    today = now.astimezone(ZoneInfo(scheme.timezone)).date()
    last = uow.market.last_checkin(account_id)
    if last is not None and last[0] == today.toordinal():
        return False, _view(uow.market.checkin(account_id, today.toordinal()), today)
    previous_day = date.fromordinal(last[0]) if last else None
    streak = rules.streak_after(previous_day, last[1] if last else 0, today)
    points, bonus = rules.checkin_points(policy, streak)
    row = {
        "account_id": account_id,
        "local_day": today.toordinal(),
        "streak": streak,
        "points": points,
        "bonus": bonus,
        "entry_id": None,
        "created_at": now,
    }
    if not uow.market.add_checkin(row):  # a concurrent call of the same person won the day
        return False, _view(uow.market.checkin(account_id, today.toordinal()), today)
    key = f"checkin:{account_id}:{today.isoformat()}"
    lane = lane_for(scheme, key)
    uow.reports.mark_active(scheme.id, lane_name(scheme.id, lane), [(account_id, today.toordinal())])
    if points + bonus > 0:
        mine = uow.ledger.holdings(account_id)[ASSET_POINTS]
        issuance = uow.ledger.system_account(scheme.id, ASSET_POINTS, SYSTEM_ISSUANCE)
        group = TransferGroup(
            scheme.id,
            "checkin",
            (Posting(issuance.id, mine.id, points + bonus),),
            key,
            {"day": today.isoformat(), "streak": streak, "bonus": bonus},
        )
        [outcome] = uow.ledger.append([group], lane=lane, now=now, known_accounts={mine.id: mine, issuance.id: issuance})
        entry = outcome.entry
        assert entry is not None and entry.id is not None
        uow.market.set_checkin_entry(account_id, today.toordinal(), entry.id)
    return True, {"date": today.isoformat(), "streak": streak, "points": points, "bonus": bonus}


def _view(row: Any, day: date) -> dict[str, Any]:
    return {"date": day.isoformat(), "streak": int(row.streak), "points": int(row.points), "bonus": int(row.bonus)}


@dataclass(frozen=True, slots=True)
class ExpiryNotice:
    account_id: int
    points_account_id: int
    amount: int
    replayed: bool


def expire_points(
    store: Store, scheme_id: str, as_of: date, now: datetime | None = None, *, actor: str = "system"
) -> list[ExpiryNotice]:
    """Post the expiry of every point earned in years that have ended their life by `as_of`.

    Points earned in year Y expire at the end of Y+1 (the default policy; `points_expiry.policy =
    "never"` turns it off). Spending uses the oldest points first. Each person's expiry for a cut-off
    year has one idempotency key, so running it again for the same date changes nothing.
    """
    now = now or utcnow()
    target = f"as_of:{as_of.isoformat()}"
    with store.unit_of_work() as uow:
        scheme = uow.schemes.get(scheme_id)
        if scheme is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        check_as_of(as_of, scheme.timezone, now)
        policy = rules.expiry_policy(scheme.settings)
        if policy == "never":
            audit.record(uow, actor, "points.expire", target, {"policy": policy, "accounts": 0, "points": 0}, scheme_id, now=now)
            return []
        if policy != "end_of_next_year":
            raise InvalidInput(
                "invalid_settings", details={"points_expiry.policy": "end_of_next_year or never"}, field="points_expiry.policy"
            )
        cutoff_year = rules.expiry_cutoff_year(as_of)
        expired = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_EXPIRED).id
        due = due_expiries(uow, scheme_id, scheme.timezone, as_of, now)
        owners = {a.id: a.owner_account_id for a in uow.ledger.accounts_by_id(dict(due)).values()}
        groups = [
            TransferGroup(
                scheme_id,
                "points_expiry",
                (Posting(points_account, expired, amount),),
                f"expiry:{points_account}:{cutoff_year}",
                {"cutoff_year": cutoff_year, "as_of": as_of.isoformat()},
            )
            for points_account, amount in due
        ]
        notices: list[ExpiryNotice] = []
        if groups:
            outcomes = uow.ledger.append(groups, lane=lane_for(scheme, f"expiry:{cutoff_year}"), now=now)
            for (points_account, amount), outcome in zip(due, outcomes, strict=True):
                owner = owners.get(points_account)
                assert owner is not None
                notices.append(ExpiryNotice(owner, points_account, amount, outcome.replayed))
        fresh = [n for n in notices if not n.replayed]
        audit.record(
            uow,
            actor,
            "points.expire",
            target,
            {"policy": policy, "cutoff_year": cutoff_year, "accounts": len(fresh), "points": sum(n.amount for n in fresh)},
            scheme_id,
            now=now,
        )
        return notices


def due_expiries(uow: UnitOfWork, scheme_id: str, timezone: str, as_of: date, now: datetime) -> list[tuple[int, int]]:
    """(person's points ledger account, points) that a run of `expire_points` for `as_of` would
    expire, given the ledger at `now`: the policy "end of next year", oldest points spent first.

    The dashboard's points liability asks the same for a date ahead (what will expire by then),
    so the two can never disagree on what expires.
    """
    cutoff_year = rules.expiry_cutoff_year(as_of)
    before = datetime.combine(date(cutoff_year + 1, 1, 1), time(), ZoneInfo(timezone)).astimezone(UTC)
    held = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_HELD).id
    issuance = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_ISSUANCE).id
    first = uow.reports.first_flow(issuance)
    if first is None or first >= before:
        return []  # nothing was issued before the cut-off: no person's ledger needs reading
    flows = uow.market.points_flows(scheme_id, held, before, now)
    # One expiry per person and cut-off year: points that come back later (an order cancelled
    # after the run) must not turn a rerun for the same date into an idempotency conflict.
    done = uow.ledger.entries_by_keys(scheme_id, [f"expiry:{a}:{cutoff_year}" for a in flows])
    due = []
    for points_account, (earned, paid, returned) in sorted(flows.items()):
        amount = rules.amount_to_expire(earned, paid - returned)
        if amount > 0 and f"expiry:{points_account}:{cutoff_year}" not in done:
            due.append((points_account, amount))
    return due


def account_engagement(store: Store, account_id: int) -> dict[str, Any]:
    """Streaks for the account summary."""
    with store.unit_of_work(write=False) as uow:
        last = uow.market.last_checkin(account_id)
        best = uow.market.best_streak(account_id)
    return {
        "streak": last[1] if last else 0,
        "best_streak": best,
        "last_checkin": date.fromordinal(last[0]).isoformat() if last else None,
    }


@dataclass(frozen=True, slots=True)
class CheckinDay:
    day: date
    streak: int
    points: int
    bonus: int


@dataclass(frozen=True, slots=True)
class CheckinMonth:
    """One month of a person's check-ins, for their calendar."""

    first: date  # the month's first day
    today: date  # the scheme-local day now
    days: dict[date, CheckinDay]
    streak: int  # as it stands today (0 once broken)
    best_streak: int
    policy: rules.CheckinPolicy

    @property
    def points(self) -> int:
        return sum(d.points + d.bonus for d in self.days.values())


def _scheme_of(uow: UnitOfWork, account_id: int) -> Any:
    account = uow.accounts.get(account_id)
    scheme = uow.schemes.get(account.scheme_id) if account else None
    if scheme is None:
        raise NotFound("account_not_found", account_id=account_id)
    return scheme


def checkin_month(store: Store, account_id: int, month: date | None = None, now: datetime | None = None) -> CheckinMonth:
    """The check-ins of the month holding `month` (default: this month, in the scheme's zone)."""
    now = now or utcnow()
    with store.unit_of_work(write=False) as uow:
        scheme = _scheme_of(uow, account_id)
        today = now.astimezone(ZoneInfo(scheme.timezone)).date()
        first = (month or today).replace(day=1)
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        rows = uow.statements.checkins_between(account_id, first.toordinal(), following.toordinal() - 1)
        last = uow.market.last_checkin(account_id)
        best = uow.market.best_streak(account_id)
    days = {date.fromordinal(d): CheckinDay(date.fromordinal(d), s, p, b) for d, s, p, b in rows}
    streak = rules.streak_alive(date.fromordinal(last[0]) if last else None, last[1] if last else 0, today)
    return CheckinMonth(first, today, days, streak, best, rules.checkin_policy(scheme.settings))


def checkin_today(store: Store, account_id: int, now: datetime | None = None) -> tuple[CheckinDay | None, rules.CheckinPolicy]:
    """Today's check-in (None before it) and the scheme's check-in rule: the words after checking in."""
    now = now or utcnow()
    with store.unit_of_work(write=False) as uow:
        scheme = _scheme_of(uow, account_id)
        today = now.astimezone(ZoneInfo(scheme.timezone)).date()
        found = uow.statements.checkins_between(account_id, today.toordinal(), today.toordinal())
    policy = rules.checkin_policy(scheme.settings)
    if not found:
        return None, policy
    _d, streak, points, bonus = found[0]
    return CheckinDay(today, streak, points, bonus), policy
