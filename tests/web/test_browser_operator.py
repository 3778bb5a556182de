"""The operator's side of issue 17 in Debian's Chromium, at a phone and a desktop size, in Chinese and
English: the dashboard's period, today apart, the points owed and the charts' labels; console errors,
failed loads and horizontal overflow fail every step (test_browser.Watched).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from tanhui.services import audit, market, review
from tests.web.helpers import web_login
from tests.web.test_browser import Watched, browser  # noqa: F401 (the fixture)
from tests.web.test_dashboard import busy  # noqa: F401 (the fixture)

LANGS = ("zh-CN", "en")
WORDS = {
    "zh-CN": {"period": "最近 30 个完整日", "today": "尚未结束", "owed": "积分负债"},
    "en": {"period": "The last 30 complete days", "today": "not complete", "owed": "Points owed"},
}
# every text of every chart, and how far it reaches outside its chart's box (0 when inside)
LABELS_OUTSIDE = """() => [...document.querySelectorAll('svg.chart')].flatMap(svg => {
  const box = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].map(t => {
    const r = t.getBoundingClientRect();
    return [t.textContent, Math.max(0, box.left - r.left, r.right - box.right)];
  });
})"""


def sign_in(w: Watched, username: str, scheme_id: str = "luzhou") -> None:
    w.go("/admin/login")
    w.page.fill("#username", username)
    w.page.fill("#password", "correct-horse-9")
    w.page.click("button[type=submit]")
    w.page.wait_for_url(f"**/admin/schemes/{scheme_id}")


def in_lang(w: Watched, lang: str, path: str) -> None:
    w.go(f"/lang/{lang}?next={path}")
    assert w.page.locator("html").get_attribute("lang") == lang


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_the_dashboard_in_the_browser(browser: Any, busy: Any, viewport: str) -> None:  # noqa: F811
    live, _store, b = busy
    w = Watched(browser, viewport, live.base_url)
    try:
        sign_in(w, "ops-dashboard")
        for lang in LANGS:
            in_lang(w, lang, "/admin/schemes/luzhou")
            page, words = w.page, WORDS[lang]
            assert words["period"] in page.locator("[data-testid=period]").inner_text()
            assert page.locator("[data-testid=partial]").count() == 0
            assert page.locator("[data-testid=headline] .kpi").count() == 10
            today = page.locator("[data-testid=today]")
            assert today.is_visible() and words["today"] in today.inner_text()
            owed = page.locator("[data-testid=liability]")
            assert owed.is_visible() and words["owed"] in owed.inner_text()
            assert page.locator("[data-testid=held-by-merchant] tbody tr").count() >= 1
            labels = page.evaluate(LABELS_OUTSIDE)
            assert labels, "no chart text"
            cut = [(text, round(px, 1)) for text, px in labels if px > 0.5]
            assert not cut, f"chart labels cut off at the chart's edge: {cut}"
            ticks = page.evaluate("() => [...document.querySelectorAll('svg.chart text.tick')].map(t => t.textContent)")
            assert (b.today - timedelta(days=1)).isoformat()[5:] in ticks  # the last complete day is labelled ...
            assert b.today.isoformat()[5:] not in ticks  # ... and today, not complete, is not drawn
            w.check()
    finally:
        w.close()


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_the_review_queue_in_the_browser(browser: Any, busy: Any, viewport: str) -> None:  # noqa: F811
    live, store, _b = busy
    lonely = next(
        i.id for i in review.queue(store, "luzhou", reason="implausible", limit=200).items if i.event_id == "lonely-huge-walk"
    )
    total = review.queue(store, "luzhou").total
    w = Watched(browser, viewport, live.base_url)
    try:
        sign_in(w, "ops-dashboard")
        page = w.page
        for lang, shown in (("zh-CN", f"显示 1–50，共 {total:,} 条"), ("en", f"Showing 1–50 of {total:,}")):
            in_lang(w, lang, "/admin/schemes/luzhou/review")
            assert page.locator("[data-testid=shown]").first.inner_text() == shown
            assert page.locator("[data-testid=queue] > li").count() == 50
            assert page.locator("[data-testid=why]").first.is_visible()
            w.check()
        in_lang(w, "zh-CN", "/admin/schemes/luzhou/review?reason=implausible")
        item = page.locator(f"li[data-event='{lonely}']")
        assert "一天不超过 100,000 步" in item.locator("[data-testid=why]").inner_text()
        item.locator("[data-testid=accept-open]").click()
        item.locator("[data-testid=accept]").click()
        page.wait_for_url(re.compile(r".*done=accepted.*"))
        assert f"记录 {lonely} 已核实入账。" in page.locator("p.flash").inner_text()
        assert page.locator(f"li[data-event='{lonely}']").count() == 0
        w.check()
        first = page.locator("[data-testid=queue] > li").first
        confirmed = int(first.get_attribute("data-event") or 0)
        first.locator("[data-testid=confirm]").click()
        page.wait_for_url(re.compile(r".*done=confirmed.*"))
        assert page.locator(f"li[data-event='{confirmed}']").count() == 0
        w.check()
        page.get_by_role("link", name="已确认拒绝").click()
        page.wait_for_url(re.compile(r".*state=confirmed.*"))
        assert page.locator("[data-testid=confirmed]").count() == 1
        w.check()
        w.go("/admin/schemes/luzhou/review")
        page.locator("a[rel=next]").first.click()
        page.wait_for_url(re.compile(r".*page=2.*"))
        assert page.locator("[data-testid=shown]").first.inner_text().startswith("显示 51–")
        w.check()
    finally:
        w.close()
    assert [e.target for e in audit.list_entries(store, "luzhou", "review.accept")] == [f"event:{lonely}"]


def _pending(store: Any, account_id: int) -> str:
    return next(o["order_id"] for o in market.orders_of(store, account_id) if o["status"] == "pending")


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_order_fulfilment_in_the_browser(browser: Any, busy: Any, viewport: str) -> None:  # noqa: F811
    live, store, b = busy
    first, second = _pending(store, b.city.people[1]), _pending(store, b.city.people[0])
    total = len(market.scheme_orders(store, "luzhou"))
    w = Watched(browser, viewport, live.base_url)
    try:
        sign_in(w, "ops-dashboard")
        page = w.page
        for lang, shown in (("en", f"Showing 1–{total} of {total}"), ("zh-CN", f"显示 1–{total}，共 {total} 条")):
            in_lang(w, lang, "/admin/schemes/luzhou/orders")
            assert page.locator("[data-testid=shown]").first.inner_text() == shown
            w.check()
        card = page.locator(f"li[data-order='{first}']")
        card.locator(f"#carrier-{first}").fill("顺丰速运")
        card.locator(f"#tracking-{first}").fill("SF1002003004")
        card.locator("[data-testid=ship]").click()
        page.wait_for_url(re.compile(r".*done=shipped.*"))
        card = page.locator(f"li[data-order='{first}']")
        assert "SF1002003004" in card.locator("[data-testid=parcel]").inner_text()
        assert card.locator("[data-testid=status]").inner_text() == "已发货"
        w.check()
        card.locator("[data-testid=deliver]").click()
        page.wait_for_url(re.compile(r".*done=delivered.*"))
        assert page.locator(f"li[data-order='{first}'] [data-testid=status]").inner_text() == "已签收"
        w.check()
        card = page.locator(f"li[data-order='{second}']")
        card.locator("[data-testid=cancel-open]").click()
        card.locator("[data-testid=cancel]").click()
        page.wait_for_url(re.compile(r".*done=cancelled.*"))
        assert page.locator(f"li[data-order='{second}'] [data-testid=status]").inner_text() == "已取消"
        w.check()
        in_lang(w, "en", "/admin/schemes/luzhou/orders")
        statuses = set(page.locator("[data-testid=status]").all_inner_texts())
        assert {"Delivered", "Cancelled"} <= statuses and not statuses & {"delivered", "cancelled", "pending"}
        w.check()
    finally:
        w.close()
    states = {o.public_id: o.status for o in market.scheme_orders(store, "luzhou")}
    assert (states[first], states[second]) == ("delivered", "cancelled")


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_the_delete_page_tells_before_it_takes_in_the_browser(browser: Any, busy: Any, viewport: str) -> None:  # noqa: F811
    live, store, b = busy
    person = b.city.people[0]
    waiting = _pending(store, person)
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, person))
        for lang, words in (("en", "can no longer be spent"), ("zh-CN", "将无法再使用")):
            in_lang(w, lang, "/me/delete")
            assert w.page.locator("[data-testid=pending-orders]").is_visible()
            assert words in w.page.locator("[data-testid=points-forfeited]").inner_text()
            w.check()
        w.page.locator("input[name=confirm]").check()
        w.page.locator("button.danger").click()
        w.page.wait_for_url(re.compile(r".*/$"))
        w.check()
    finally:
        w.close()
    assert {o["order_id"]: o["status"] for o in market.orders_of(store, person)}[waiting] == "cancelled"


# how many lines each matching element's text takes (a range's client rects: one per line box)
LINES = """(selector) => [...document.querySelectorAll(selector)].map(el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return [el.textContent.trim(), new Set([...range.getClientRects()].map(r => Math.round(r.top))).size];
})"""


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_lists_in_the_browser(browser: Any, busy: Any, viewport: str) -> None:  # noqa: F811
    live, store, b = busy
    person = Watched(browser, viewport, live.base_url)
    try:
        person.go(web_login(store, b.city.people[0]))
        for lang in LANGS:
            in_lang(person, lang, "/me/history")
            scenarios = person.page.evaluate(LINES, "[data-testid=scenario]")
            assert scenarios and all(lines == 1 for _t, lines in scenarios), scenarios  # 公交出行 on one line
            times = person.page.evaluate(
                "() => [...document.querySelectorAll('[data-testid=history] time')].map(t => t.dateTime)"
            )
            assert times == sorted(times, reverse=True)
            methodology = person.page.locator("th.wide-only")
            assert methodology.is_visible() == (viewport == "desktop")
            person.check()
    finally:
        person.close()
    ops = Watched(browser, viewport, live.base_url)
    try:
        sign_in(ops, "ops-dashboard")
        for lang in LANGS:
            for path in ("/audit", "/catalog", "/organisations"):
                in_lang(ops, lang, f"/admin/schemes/luzhou{path}")
                shown = ops.page.locator("[data-testid=shown]").first.inner_text()
                assert re.match(r"(显示 1–\d+，共 \d+ 条|Showing 1–\d+ of \d+)$", shown), shown
                cramped = [(t, n) for t, n in ops.page.evaluate(LINES, "th, td.nowrap") if n > 1]
                assert not cramped, f"{path}: headings or names broken over lines: {cramped}"
                ops.check()
    finally:
        ops.close()
