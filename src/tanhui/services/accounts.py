"""People's carbon accounts: opening one, its summary (totals, rank, streak, badges) and its history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypedDict

from tanhui.domain.engagement import AccountStats, BadgeProgress, badge_wall, badges_for
from tanhui.domain.schemes import DEFAULT_TIMEZONE
from tanhui.errors import NotFound
from tanhui.services import ranking
from tanhui.services.clock import utcnow
from tanhui.services.federation import member_of
from tanhui.services.principal import Principal, as_principal
from tanhui.store import Store
from tanhui.store.rows import Withdrawal as WithdrawalRow
from tanhui.store.uow import UnitOfWork


def open_account(
    store: Store, scheme_id: str, *, kind: str = "person", display_name: str | None = None, now: datetime | None = None
) -> int:
    with store.unit_of_work() as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        return uow.accounts.open(scheme_id, now or utcnow(), kind=kind, display_name=display_name)


class Badge(TypedDict):
    code: str
    title_zh: str
    title_en: str


class AccountSummary(TypedDict):
    account_id: str
    scheme_id: str
    carbon_g_total: int
    points_balance: int
    events_credited: int
    by_scenario: dict[str, dict[str, int]]  # scenario -> {"events", "carbon_g", "points"}
    rank_in_scheme: int
    streak: int
    best_streak: int
    badges: list[Badge]


class HistoryItem(TypedDict):
    id: str
    event_id: str
    scenario: str
    occurred_at: str | None
    received_at: str
    carbon_g: int
    points: int
    methodology: str
    explanation: Any  # the stored explanation record (JSON), as quantify wrote it
    withdrawn: Withdrawn | None  # reversed after a race lost to another platform (docs/interop.md)


class Withdrawn(TypedDict):
    claimed_by: str  # the platform that credited the behaviour first
    withdrawn_at: str


class History(TypedDict):
    events: list[HistoryItem]
    next_cursor: str | None  # None on the last page


def summary_in(uow: UnitOfWork, account_id: int, rank_of: Callable[[str, int], int]) -> AccountSummary:
    """The account's headline figures: totals, balance, events, rank in its scheme."""
    holdings = uow.ledger.holdings(account_id)
    if not holdings:
        raise NotFound("account_not_found", account_id=account_id)
    carbon = holdings["CO2E"]
    carbon_g = uow.ledger.balance(carbon.id)
    points = uow.ledger.balance(holdings["POINTS"].id)
    by_scenario = uow.events.totals_for_account(account_id)
    streak, best = _streaks(uow, account_id, carbon.scheme_id)
    stats = AccountStats(carbon_g, {k: v["events"] for k, v in by_scenario.items()}, best)
    return {
        "account_id": str(account_id),
        "scheme_id": carbon.scheme_id,
        "carbon_g_total": carbon_g,
        "points_balance": points,
        "events_credited": sum(v["events"] for v in by_scenario.values()),
        "by_scenario": by_scenario,
        "rank_in_scheme": rank_of(carbon.scheme_id, carbon_g),
        "streak": streak,
        "best_streak": best,
        "badges": [{"code": b.code, "title_zh": b.title_zh, "title_en": b.title_en} for b in badges_for(stats)],
    }


def badges(store: Store, account_id: int) -> list[BadgeProgress]:
    """The badge wall: every badge, earned or locked, with the account's progress towards it."""
    with store.unit_of_work(write=False) as uow:
        holdings = uow.ledger.holdings(account_id)
        if not holdings:
            raise NotFound("account_not_found", account_id=account_id)
        by_scenario = uow.events.totals_for_account(account_id)
        _streak, best = _streaks(uow, account_id, holdings["CO2E"].scheme_id)
        stats = AccountStats(uow.ledger.balance(holdings["CO2E"].id), {k: v["events"] for k, v in by_scenario.items()}, best)
    return badge_wall(stats)


def _streaks(uow: UnitOfWork, account_id: int, scheme_id: str) -> tuple[int, int]:
    """The current streak counts only while it is alive: the last check-in was today or yesterday."""
    from zoneinfo import ZoneInfo

    last = uow.market.last_checkin(account_id)
    best = uow.market.best_streak(account_id)
    if last is None:
        return 0, best
    scheme = uow.schemes.get(scheme_id)
    today = utcnow().astimezone(ZoneInfo(scheme.timezone if scheme else DEFAULT_TIMEZONE)).date().toordinal()
    return (last[1] if today - last[0] <= 1 else 0), best


def summary(store: Store, account_id: int) -> AccountSummary:
    with store.unit_of_work(write=False) as uow:
        return summary_in(uow, account_id, lambda scheme_id, grams: ranking.rank(store, scheme_id, grams))


HISTORY_LIMIT_MAX = 100


def history(store: Store, who: int | Principal, cursor: str | None = None, limit: int = 20) -> History:
    """Credited behaviours, newest first, each with the calculation that credited it; a partner's
    session sees only the events that partner sent."""
    from tanhui.errors import InvalidInput

    principal = as_principal(who)
    account_id = principal.account_id
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):  # '³' is a digit to isdigit
        raise InvalidInput("invalid_request", details={"cursor": "invalid"})
    if not 1 <= limit <= HISTORY_LIMIT_MAX:
        raise InvalidInput("invalid_request", details={"limit": f"1..{HISTORY_LIMIT_MAX}"})
    federated = member_of(store) is not None
    with store.unit_of_work(write=False) as uow:
        rows = uow.events.history(account_id, int(cursor) if cursor else None, limit + 1, partner_pk=principal.partner_pk)
        # one read of the page's withdrawals, only in a federation (nothing is withdrawn outside one)
        withdrawn = uow.interop_claims.withdrawals_of(account_id, [r.id for r in rows[:limit]]) if federated and rows else {}
    items: list[HistoryItem] = [
        {
            "id": str(r.id),
            "event_id": r.event_id,
            "scenario": r.scenario,
            "occurred_at": r.occurred_at.isoformat() if r.occurred_at else None,
            "received_at": r.received_at.isoformat(),
            "carbon_g": r.carbon_g,
            "points": r.points,
            "methodology": r.methodology,
            "explanation": r.explanation,
            "withdrawn": _withdrawn(withdrawn.get(r.id)),
        }
        for r in rows[:limit]
    ]
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return {"events": items, "next_cursor": next_cursor}


def _withdrawn(found: WithdrawalRow | None) -> Withdrawn | None:
    if found is None:
        return None
    return {"claimed_by": found.claimed_by, "withdrawn_at": found.withdrawn_at.isoformat()}


def scheme_of(store: Store, account_id: int) -> str:
    with store.unit_of_work(write=False) as uow:
        account = uow.accounts.get(account_id)
    if account is None:
        raise NotFound("account_not_found", account_id=account_id)
    return account.scheme_id
