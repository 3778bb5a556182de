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
        else:
            for key in [k for k in _snapshots if k[0] == store.url]:
                del _snapshots[key]
