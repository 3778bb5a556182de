"""Issue 17 (the experience, round 2) in Debian's Chromium, at a phone and a desktop size, in Chinese and
English: times in the scheme's zone, HTML error pages, no raw codes. Console errors, failed loads and
horizontal overflow fail every step (test_browser.Watched).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tanhui.services import accounts, audit, market
from tanhui.services.principal import Principal
from tanhui.store import Store
from tanhui.web.i18n import ENUMS
from tests.web.helpers import build_city, operator, web_login
from tests.web.reading import time_problems
from tests.web.test_browser import Watched, browser  # noqa: F401 (the fixture)
from tests.web.test_raw_codes import code_finder, demo_city, raw_code_problems, raw_codes  # noqa: F401 (the fixture)
from tests.web.test_times import _orders_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGS = ("zh-CN", "en")
READ_PAGE = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('time, script, style').forEach(e => e.remove());
  return {
    times: [...document.querySelectorAll('time')].map(t => [t.dateTime, t.textContent.trim()]),
    text: copy.textContent.replace(/\\s+/g, ' '),
  };
}"""


@pytest.fixture
def experience_city(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, Any]]:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=2, days=2)
        build_city(store, tmp_path, "harbin", people=1, days=1, name="冰城碳惠")
        _orders_for(store, "luzhou", city.people[0])
        operator(store, "luzhou", "ops-experience")
        yield live, store, city
    finally:
        store.dispose()


def _sign_in_operator(w: Watched) -> None:
    w.go("/admin/login")
    w.page.fill("#username", "ops-experience")
    w.page.fill("#password", "correct-horse-9")
    w.page.click("button[type=submit]")
    w.page.wait_for_url("**/admin/schemes/luzhou")


def _in(w: Watched, lang: str, path: str) -> None:
    w.go(f"/lang/{lang}?next={path}")
    assert w.page.locator("html").get_attribute("lang") == lang


def _times_of(w: Watched, lang: str, path: str, problems: list[str]) -> set[datetime]:
    _in(w, lang, path)
    read = w.page.evaluate(READ_PAGE)
    times = [(a, t) for a, t in read["times"]]
    problems += time_problems(times, read["text"], SHANGHAI, lang, f"{lang} {path}")
    w.check()
    return {datetime.fromisoformat(a) for a, _t in times}


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_times_are_the_schemes_local_time_in_the_browser(browser: Any, experience_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, city = experience_city
    account_id = city.people[0]
    mine = {datetime.fromisoformat(o["created_at"]).replace(microsecond=0) for o in market.orders_of(store, account_id)}
    everyone = {o.created_at.replace(microsecond=0) for o in market.scheme_orders(store, "luzhou")}
    everyone |= {e.created_at.replace(microsecond=0) for e in audit.list_entries(store, "luzhou", "market.ship")}  # shipped at
    problems: list[str] = []
    person = Watched(browser, viewport, live.base_url)
    try:
        person.go(web_login(store, account_id))
        for lang in LANGS:
            assert _times_of(person, lang, "/me", problems)
            assert _times_of(person, lang, "/me/history", problems)
            assert _times_of(person, lang, "/me/orders", problems) == mine
    finally:
        person.close()
    ops = Watched(browser, viewport, live.base_url)
    try:
        _sign_in_operator(ops)
        for lang in LANGS:
            assert _times_of(ops, lang, "/admin/schemes/luzhou/orders", problems) == everyone
            assert _times_of(ops, lang, "/admin/schemes/luzhou/review", problems)
            assert _times_of(ops, lang, "/admin/schemes/luzhou/audit", problems)
    finally:
        ops.close()
    assert not problems, "\n".join(problems)


def _error_page(w: Watched, path: str, status: int, lang: str) -> str:
    """Open an address that fails; the answer is a page of the site at that status, in the language."""
    response = w.page.goto(w.base_url + path)
    assert response is not None and response.status == status, (path, response and response.status)
    # the console notes the document's own status as a failed load: that failure is the point here
    w.problems[:] = [p for p in w.problems if f"status of {status}" not in p and f"HTTP {status}" not in p]
    assert w.page.locator("html").get_attribute("lang") == lang
    assert w.page.locator("header.top nav a").count() >= 2 and w.page.locator("header.top .lang a").is_visible()
    assert w.page.locator("link[rel=stylesheet]").count() == 1
    heading = w.page.locator("main h1").inner_text()
    assert heading and "{" not in w.page.locator("body").inner_text()
    w.check()
    return w.page.locator("main").inner_text()


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_errors_are_pages_of_the_site_in_the_browser(browser: Any, experience_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, city = experience_city
    w = Watched(browser, viewport, live.base_url)
    try:
        for lang in LANGS:
            _in(w, lang, "/")
            text = _error_page(w, "/no/such/page", 404, lang)
            assert ("这个网址没有对应的页面" if lang == "zh-CN" else "There is no page at this address") in text
        w.go(web_login(store, city.people[0]))
        their_event = accounts.history(store, Principal(city.people[1]), None, 1)["events"][0]["id"]
        for lang in LANGS:
            _in(w, lang, "/me")
            text = _error_page(w, f"/me/events/{their_event}", 404, lang)
            assert ("你的账户里没有这条行为记录" if lang == "zh-CN" else "there is no such behaviour in your account") in text
            assert "合作方" not in text and "partner" not in text
            assert w.page.get_by_role("link", name="我的账户" if lang == "zh-CN" else "My account").is_visible()
            _error_page(w, "/market/items/x/confirm?quantity=many", 422, lang)
    finally:
        w.close()


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser on a small demo city
def test_no_raw_codes_in_the_browser(browser: Any, demo_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, d = demo_city
    finder = code_finder(raw_codes(d["categories"]))
    problems: list[str] = []
    person = Watched(browser, viewport, live.base_url)
    try:
        person.go(web_login(store, d["person"]))
        for path in ("/me", "/me/history", "/me/orders", "/market", f"/market/items/{d['items'][0].public_id}", "/orgs"):
            _in(person, "zh-CN", path)
            problems += raw_code_problems(person.page.locator("body").inner_text(), finder, f"{viewport} {path}")
            person.check()
        _in(person, "en", "/me/orders")
        statuses = person.page.locator("[data-testid=status]").all_inner_texts()
        assert statuses and set(statuses) <= {en for _zh, en in ENUMS["order_status"].values()}, statuses
        person.check()
    finally:
        person.close()
    ops = Watched(browser, viewport, live.base_url)
    try:
        ops.go("/admin/login")
        ops.page.fill("#username", "ops-codes")
        ops.page.fill("#password", "correct-horse-9")
        ops.page.click("button[type=submit]")
        ops.page.wait_for_url("**/admin/schemes/luzhou")
        for name in ("", "/review", "/catalog", "/orders", "/organisations", "/audit"):
            path = f"/admin/schemes/luzhou{name}"
            _in(ops, "zh-CN", path)
            problems += raw_code_problems(ops.page.locator("body").inner_text(), finder, f"{viewport} {path}")
            ops.check()
    finally:
        ops.close()
    assert not problems, "\n".join(problems[:40])
