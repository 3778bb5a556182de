"""Rank in a scheme without scanning a million accounts per request.

B-tree indexes cannot count "how many are ahead of me" without walking them, so an exact rank per
request costs O(accounts). Instead each process keeps, per scheme, a sorted array of every person's
reduction total, refreshed in the background once it is older than `TTL_S`; a rank is a binary
search in it. The rank shown is exact as of that snapshot (at most a minute old), which the account
page says. The first request of a process builds the snapshot while it waits.
"""

from __future__ import annotations

import threading
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable
from datetime import date
from typing import Any

from tanhui.domain.leaderboard import Board, board_from_top, period_days
from tanhui.domain.ledger import ASSET_CO2E
from tanhui.store import Store

TTL_S = 60.0

_snapshots: dict[tuple[str, str], tuple[float, array]] = {}
_refreshing: set[tuple[str, str]] = set()
_lock = threading.Lock()


def _load(store: Store, scheme_id: str) -> array:
    with store.unit_of_work(write=False) as uow:
        return array("q", sorted(uow.ledger.people_balances(scheme_id, ASSET_CO2E)))


def _refresh(store: Store, scheme_id: str) -> None:
    key = (store.url, scheme_id)
    try:
        snapshot = _load(store, scheme_id)
        with _lock:
            _snapshots[key] = (time.monotonic(), snapshot)
    finally:
        with _lock:
            _refreshing.discard(key)


def rank(store: Store, scheme_id: str, carbon_g: int) -> int:
    """1 + the number of people in the scheme with a larger reduction total (as of the snapshot)."""
    key = (store.url, scheme_id)
    with _lock:
        found = _snapshots.get(key)
        stale = found is None or time.monotonic() - found[0] > TTL_S
        start_background = stale and found is not None and key not in _refreshing
        if start_background:
            _refreshing.add(key)
    if found is None:
        _refresh(store, scheme_id)
        with _lock:
            found = _snapshots[key]
    elif start_background:
        threading.Thread(target=_refresh, args=(store, scheme_id), daemon=True).start()
    values = found[1]
    return len(values) - bisect_right(values, carbon_g) + 1


def forget(store: Store | None = None) -> None:
    """Drop snapshots (tests that change balances and read the rank at once)."""
    with _lock:
        if store is None:
            _snapshots.clear()
            _boards.clear()
        else:
            for key in [k for k in _snapshots if k[0] == store.url]:
                del _snapshots[key]
            for board_key in [k for k in _boards if k[0] == store.url]:
                del _boards[board_key]


# -- the scheme's leaderboards of people: this week, this month, all time -------------------------

_boards: dict[tuple[str, str, str, int, int], tuple[float, Any]] = {}


def _kept(key: tuple[str, str, str, int, int], load: Callable[[], Any]) -> Any:
    """A board's pieces are read once a minute at most (each is a scan of the scheme); loaded while the
    request waits when missing or older than TTL_S."""
    with _lock:
        found = _boards.get(key)
    if found is None or time.monotonic() - found[0] > TTL_S:
        found = (time.monotonic(), load())
        with _lock:
            _boards[key] = found
    return found[1]


def people_board(store: Store, scheme_id: str, account_id: int, period: str, today: date, size: int = 20) -> Board:
    """The scheme's people by reduction of this week, this month (scheme-local days) or all time: the
    top `size` and my own place, as of a snapshot at most a minute old."""
    days = period_days(period, today)
    first, last = days or (0, 0)
    with store.unit_of_work(write=False) as uow:
        if days is None:
            holdings = uow.ledger.holdings(account_id)
            mine = uow.ledger.balance(holdings["CO2E"].id) if holdings else 0
        else:
            mine = sum(g for _d, _s, _n, g in uow.statements.credited_by_day(account_id, first, last))

    def totals() -> array:
        with store.unit_of_work(write=False) as uow:
            found = (
                uow.ledger.people_balances(scheme_id, ASSET_CO2E)
                if days is None
                else uow.statements.people_totals_between(scheme_id, first, last)
            )
            return array("q", sorted(g for g in found if g > 0))

    def top() -> list[tuple[str, str | None, int]]:
        with store.unit_of_work(write=False) as uow:
            return uow.memberships.scheme_top(scheme_id, size, *(days or (None, None)))

    values = _kept((store.url, scheme_id, f"totals-{period}", first, last), totals)
    leaders = _kept((store.url, scheme_id, f"top-{period}-{size}", first, last), top)
    place = len(values) - bisect_right(values, mine) + 1 if mine > 0 else None
    return board_from_top(leaders, str(account_id), mine, place, max(len(values), place or 0), size)
