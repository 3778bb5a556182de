"""The scheme's board of people (issue 17), both engines: the top by holdings or by the period's events,
and my place counted from everyone's totals (1 + those with more)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tanhui.services import ledger, ranking
from tanhui.store import Store
from tests.web.helpers import build_city


def test_the_top_and_my_place_agree_with_everyones_totals(store: Store, tmp_path: Path, scheme_id: str) -> None:
    city = build_city(store, tmp_path, scheme_id, people=4, days=2)
    ranking.forget(store)
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    totals = {p: ledger.balance(store, ledger.holdings(store, p).co2e_account_id) for p in city.people}
    last = min(city.people, key=lambda p: (totals[p], -p))
    for period in ("all", "month", "week"):
        board = ranking.people_board(store, scheme_id, last, period, today, size=2)
        assert len(board.top) == 2 and board.top[0].carbon_g >= board.top[1].carbon_g > 0
        assert board.my_place is not None and board.mine is not None and board.mine.place == board.my_place
    everyone = ranking.people_board(store, scheme_id, last, "all", today, size=20)
    assert [int(line.key) for line in everyone.top] == sorted(city.people, key=lambda p: (-totals[p], p))
    assert everyone.my_place == 1 + sum(1 for g in totals.values() if g > totals[last]) and everyone.mine is None
