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

from tanhui.services import market
from tanhui.store import Store
from tests.web.helpers import build_city, operator, web_login
from tests.web.reading import time_problems
from tests.web.test_browser import Watched, browser  # noqa: F401 (the fixture)
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
