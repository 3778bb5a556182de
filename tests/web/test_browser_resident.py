"""Residents' pages of issue 17 in Debian's Chromium, at a phone and a desktop size, in Chinese and in
English: check-in feedback and the calendar, the points statement, an item one cannot afford, the annual report. Console
errors, failed loads and horizontal overflow fail every step (test_browser.Watched).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tanhui.services import ledger, market
from tanhui.store import Store
from tests.web.helpers import build_city, coupon_item, fund, web_login
from tests.web.test_browser import Watched, browser  # noqa: F401 (the fixture)

LANGS = ("zh-CN", "en")


@pytest.fixture
def resident_city(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, Any]]:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=2, days=3)
        fund(store, "luzhou", city.people[0], 300)
        market.place_order(store, city.people[0], coupon_item(store, "luzhou"), 1, "browser-resident-1")
        yield live, store, city
    finally:
        store.dispose()


def _number(text: str) -> int:
    return int(text.strip().replace(",", "").replace("−", "-"))


def _in(w: Watched, lang: str, path: str) -> None:
    w.go(f"/lang/{lang}?next={path}")
    assert w.page.locator("html").get_attribute("lang") == lang


def _statement(w: Watched, store: Store, account_id: int, lang: str) -> None:
    page = w.page
    _in(w, lang, "/me")
    page.locator("[data-testid=statement-link]").click()
    page.wait_for_url(re.compile(r".*/me/points$"))
    balance = ledger.balance(store, ledger.holdings(store, account_id).points_account_id)
    assert _number(page.locator("[data-testid=balance]").inner_text()) == balance
    assert _number(page.locator("[data-testid=total]").inner_text()) == balance
    parts = ["earned", "corrected", "redeemed", "held", "expired", "other"]
    shown = sum(
        _number(page.locator(f"[data-testid={p}]").inner_text()) for p in parts if page.locator(f"[data-testid={p}]").count()
    )
    assert shown == balance  # what the person reads adds up to the ledger's balance
    lines = page.locator("[data-testid=line]")
    assert lines.count() >= 10 and page.locator("[data-testid=line] time").count() == lines.count()
    assert page.locator("[data-testid=line] a[href^='/me/events/']").count() >= 1
    assert page.locator("[data-testid=line] a[href^='/me/orders/']").count() == 1
    w.check()


def _check_in(w: Watched, lang: str) -> None:
    """The first language checks in from the account page; the second sees "already" from the calendar."""
    page = w.page
    _in(w, lang, "/me")
    if page.locator("[data-testid=checkin]").count():
        page.locator("[data-testid=checkin]").click()
        page.wait_for_url(re.compile(r".*/me\?checkin=new$"))
        said = page.locator("p.flash[role=status]").inner_text()
        assert (
            "签到成功！已连续签到 1 天，今天获得 2 积分。" if lang == "zh-CN" else "Checked in! 1-day streak, 2 points today."
        ) in said
    w.check()
    page.locator("[data-testid=calendar-link]").click()
    page.wait_for_url(re.compile(r".*/me/checkins$"))
    assert page.locator("[data-testid=calendar] td[data-testid=done]").count() == 1
    assert page.locator("[data-testid=calendar] td[aria-current=date]").count() == 1
    assert page.get_by_role("button", name=re.compile("今日已签到" if lang == "zh-CN" else "Checked in today")).is_disabled()
    w.check()


def _unaffordable(w: Watched, store: Store, account_id: int, lang: str) -> None:
    balance = ledger.balance(store, ledger.holdings(store, account_id).points_account_id)
    dear = next(i for i in market.list_items(store, "luzhou", only_active=True) if i.points_price > balance and i.stock > 0)
    _in(w, lang, "/market")
    assert w.page.locator("[data-testid=afford]").count() == w.page.locator("a.item").count()
    w.check()
    _in(w, lang, f"/market/items/{dear.public_id}")
    button = w.page.locator("[data-testid=redeem]")
    assert button.is_disabled() and button.get_attribute("aria-describedby") == "why"
    reason = w.page.locator("#why").inner_text()
    short = f"{dear.points_price - balance:,}"
    assert reason == (f"积分不足：还差 {short} 积分" if lang == "zh-CN" else f"Not enough points: {short} more needed")
    w.check()


def _report(w: Watched, lang: str) -> None:
    page = w.page
    _in(w, lang, "/me")
    page.locator("[data-testid=report-link]").click()
    page.wait_for_url(re.compile(r".*/me/report$"))
    heading = page.locator("h1").inner_text()
    assert re.fullmatch(r"我的 \d{4} 年度碳账单" if lang == "zh-CN" else r"My \d{4} carbon report", heading)
    assert page.locator("svg.chart").count() == 2 and float(page.locator("[data-testid=year-kg]").inner_text().split()[0]) > 0
    poster = page.locator("[data-testid=poster]")
    poster.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('[data-testid=poster]').complete")
    assert poster.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [750, 1334]
    assert poster.bounding_box()["width"] <= page.viewport_size["width"]  # type: ignore[index]
    w.check()


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_residents_pages_in_a_real_browser(browser: Any, resident_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, city = resident_city
    person = city.people[0]
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, person))
        for lang in LANGS:
            _check_in(w, lang)
            _statement(w, store, person, lang)
            _unaffordable(w, store, person, lang)
            _report(w, lang)
    finally:
        w.close()
