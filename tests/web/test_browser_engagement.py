"""Issue 17's resident pages, second part, in Debian's Chromium at a phone and a desktop size, in Chinese
and English: the calculation told in words, consents and connecting an app, leaderboards, coupons, the
badge wall and delivery. Console errors, failed loads and horizontal overflow fail every step
(test_browser.Watched); the Chinese pages are searched for the code's raw codes (test_raw_codes).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tanhui.services import accounts, consent, identity, ingest, market, organisations, privacy
from tanhui.services.principal import Principal
from tanhui.store import Store
from tests.web.helpers import build_city, coupon_item, fund, web_login
from tests.web.test_browser import Watched, browser  # noqa: F401 (the fixture)
from tests.web.test_raw_codes import code_finder, raw_code_problems, raw_codes

LANGS = ("zh-CN", "en")
SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = [pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True), pytest.mark.slow]


@pytest.fixture
def resident_city(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, Any]]:
    store = Store(live.database_url)
    try:
        yield live, store, build_city(store, tmp_path, "luzhou", people=2, days=2)
    finally:
        store.dispose()


def _in(w: Watched, lang: str, path: str) -> None:
    w.go(f"/lang/{lang}?next={path}")
    assert w.page.locator("html").get_attribute("lang") == lang


def _no_codes(w: Watched, lang: str, where: str) -> None:
    """The page is clean: no console error or overflow, and in Chinese no raw code of the code."""
    w.check()
    if lang == "zh-CN":
        problems = raw_code_problems(w.page.locator("main").inner_text(), code_finder(raw_codes(set())), where)
        assert not problems, problems


def _inside(w: Watched, selector: str) -> None:
    """Every element matched is visible and ends inside the window (nothing hidden sideways)."""
    width = w.page.viewport_size["width"]  # type: ignore[index]
    found = w.page.locator(selector)
    assert found.count() >= 1, selector
    for i in range(found.count()):
        box = found.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box, width)


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_a_calculation_is_told_in_words_first(browser: Any, resident_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, city = resident_city
    events = accounts.history(store, Principal(city.people[0]), None, 50)["events"]
    bus = next(e for e in events if e["scenario"] == "bus_ride")
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, city.people[0]))
        for lang in LANGS:
            _in(w, lang, f"/me/events/{bus['id']}")
            said = w.page.locator("[data-testid=sentence]").inner_text()
            grams = f"{bus['carbon_g']:,}"
            if lang == "zh-CN":
                assert said == f"乘坐公交 6.5 公里，比开车出行少排放 {grams} 克二氧化碳。", said
            else:
                assert said == f"You rode the bus 6.5 km and emitted {grams} g less CO₂ than going by car.", said
            formula = w.page.locator("[data-testid=formula]").inner_text()
            assert "6.5" in formula and "×" in formula and "*" not in formula and "_" not in formula, formula
            body = w.page.locator("main").inner_text()
            codes = ("distance_km", "ROUND_HALF_EVEN", "trip_id", "has(") + (("medium", "assumption") if lang == "zh-CN" else ())
            for code in codes:
                assert code not in body, (lang, code)
            # the sentence comes before the formula, and each factor's source is on screen, not in a scrolling box
            assert (
                w.page.locator("[data-testid=sentence]").bounding_box()["y"]
                < w.page.locator("[data-testid=formula]").bounding_box()["y"]
            )  # type: ignore[index]
            assert w.page.locator("main .scroll").count() == 0
            _inside(w, "[data-testid=factor]")
            assert ("来源" if lang == "zh-CN" else "Source") in w.page.locator("[data-testid=factor]").first.inner_text()
            _no_codes(w, lang, f"{viewport} {lang} calculation")
    finally:
        w.close()


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_withdrawing_an_app_is_confirmed_and_can_be_undone(browser: Any, resident_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, city = resident_city
    person = Principal(city.people[0])
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, city.people[0]))
        for lang in LANGS:
            _in(w, lang, "/me")
            w.page.locator("[data-testid=sources-link]").click()
            w.page.wait_for_url("**/me/sources")
            _no_codes(w, lang, f"{viewport} {lang} sources")
            walk = w.page.locator("[data-testid=source]", has_text="健步走APP")
            walk.locator("[data-testid=revoke]").click()
            w.page.wait_for_url("**/revoke")
            heading = w.page.locator("main h1").inner_text()
            assert "健步走APP" in heading and ("撤回" in heading if lang == "zh-CN" else "Withdraw" in heading), heading
            _no_codes(w, lang, f"{viewport} {lang} revoke confirmation")
            still = {c["partner_id"]: c["status"] for c in consent.consents_of(store, person)}
            assert list(still.values()).count("active") == 3  # the confirmation page withdrew nothing
            w.page.locator("[data-testid=confirm-revoke]").click()
            w.page.wait_for_url("**/me/sources?done=revoked")
            assert w.page.locator("[data-testid=done]").is_visible()
            walk = w.page.locator("[data-testid=source]", has_text="健步走APP")
            assert ("已撤回" if lang == "zh-CN" else "Withdrawn") in walk.inner_text()
            assert sorted(c["status"] for c in consent.consents_of(store, person))[-1] == "revoked"
            _no_codes(w, lang, f"{viewport} {lang} withdrawn")
            walk.locator("[data-testid=grant]").click()
            w.page.wait_for_url("**/me/sources?done=granted")
            walk = w.page.locator("[data-testid=source]", has_text="健步走APP")
            assert ("有效" if lang == "zh-CN" else "Active") in walk.inner_text()
            latest = {c["partner_id"]: c["status"] for c in consent.consents_of(store, person)}
            assert set(latest.values()) == {"active"} and len(latest) == 3
            _no_codes(w, lang, f"{viewport} {lang} granted again")
    finally:
        w.close()


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_a_registered_person_is_guided_to_connect_an_app(browser: Any, resident_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, _city = resident_city
    with store.unit_of_work(write=False) as uow:
        partners = [p for p in uow.partners.list("luzhou") if p.status == "active"]
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go("/register")
        w.page.fill("#username", f"direct-{viewport}")
        w.page.fill("#password", "correct-horse-9")
        w.page.locator("main button[type=submit]").click()
        w.page.wait_for_url("**/me")
        for lang in LANGS:
            _in(w, lang, "/me")
            assert w.page.locator("[data-testid=no-sources]").is_visible()
            assert "无。" not in w.page.locator("main").inner_text()
            w.page.locator("[data-testid=connect-link]").click()
            w.page.wait_for_url("**/me/sources#connect")
            apps = w.page.locator("[data-testid=app]").all_inner_texts()
            assert len(apps) == len(partners) and all(any(p.name in a for a in apps) for p in partners)  # by name
            assert w.page.locator("ol.steps li").count() == 3
            _no_codes(w, lang, f"{viewport} {lang} connect guide")
            w.page.locator("[data-testid=new-code]").click()
            code = w.page.locator("[data-testid=binding-code]").inner_text()
            assert len(code) == 10 and code.isalnum() and code not in w.page.url
            _no_codes(w, lang, f"{viewport} {lang} binding code")
    finally:
        w.close()


def _crowd(store: Store, city: Any, ahead: int, behind: int) -> None:
    """People in my organisation: `ahead` with a long bus ride today (more than me), `behind` with a short one."""
    bus = city.partners["泸州公交"]
    code = organisations.invite_code(store, city.orgs[0].public_id, "luzhou")
    now = datetime.now(UTC)
    reports = []
    for i in range(ahead + behind):
        ref = f"crowd-{i}"
        _, view = consent.grant(
            store,
            bus,
            f"n-crowd-{i}",
            {"user_ref": ref, "scopes": ["behaviour:report"], "granted_at": now.isoformat(), "display_name": f"乘客{i}"},
        )
        organisations.join(store, int(view["account_id"]), code)
        km = "100" if i < ahead else "1"
        reports.append(
            {
                "event_id": f"crowd-{i}",
                "user_ref": ref,
                "scenario": "bus_ride",
                "occurred_at": now.isoformat(),
                "data": {"distance_km": km, "trip_id": f"crowd-{i}"},
            }
        )
    ingest.ingest_events(store, bus, reports)


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_boards_show_me_below_the_top_and_a_newcomer_has_no_rank(browser: Any, resident_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, city = resident_city
    _crowd(store, city, ahead=20, behind=3)
    org = city.orgs[0].public_id
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, city.people[0]))
        for lang in LANGS:
            for period in ("week", "month", "all"):
                _in(w, lang, f"/orgs/{org}?period={period}")
                assert w.page.locator(f"[data-testid=period-{period}]").get_attribute("aria-current") == "page"
                rows = w.page.locator("table.board tbody tr:not(.gap)")
                assert rows.count() == 21, period  # the top 20, then me
                me = w.page.locator("[data-testid=me]")
                assert me.count() == 1 and me.locator("td").first.inner_text() == "21", period
                assert w.page.locator("tr.gap").count() == 1
                said = w.page.locator("[data-testid=my-place]").inner_text()
                assert ("第 21 名" in said) if lang == "zh-CN" else ("No. 21 of" in said), said
                place = w.page.locator("[data-testid=org-place]").inner_text()
                assert ("本机构" in place) if lang == "zh-CN" else ("This organisation's place" in place), place
                _no_codes(w, lang, f"{viewport} {lang} board {period}")
            for period in ("week", "month", "all"):  # the whole scheme's board: everyone, in an organisation or not
                _in(w, lang, f"/board?period={period}")
                assert w.page.locator("table.board tbody tr:not(.gap)").count() == 21, period
                me = w.page.locator("[data-testid=me]")
                place = int(me.locator("td").first.inner_text())
                assert me.count() == 1 and place >= 21 and w.page.locator("tr.gap").count() == 1, period
                said = w.page.locator("[data-testid=my-place]").inner_text()
                assert (f"第 {place} 名" in said) if lang == "zh-CN" else (f"No. {place} of" in said), said
                _no_codes(w, lang, f"{viewport} {lang} scheme board {period}")
            _in(w, lang, "/orgs")
            mine = w.page.locator("[data-testid=my-org-place]").first.inner_text()
            assert (
                "#" not in mine and "21" in mine and (("机构排名" in mine) if lang == "zh-CN" else ("organisation No." in mine))
            ), mine
            _no_codes(w, lang, f"{viewport} {lang} orgs")
    finally:
        w.close()
    newcomer = identity.register(store, "luzhou", f"new-{viewport}", "correct-horse-9")
    organisations.join(store, newcomer, organisations.invite_code(store, org, "luzhou"))
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, newcomer))
        for lang in LANGS:
            _in(w, lang, "/me")
            rank = w.page.locator("[data-testid=my-rank]").inner_text()
            assert "/" not in rank and ("还没有排名" in rank if lang == "zh-CN" else "No rank yet" in rank), rank
            ticks = w.page.eval_on_selector_all("svg.chart text.tick", "els => els.map(e => e.textContent)")
            numbers = [t.split()[0] for t in ticks if t[:1].isdigit() and "-" not in t]
            assert numbers and all(n.isdigit() for n in numbers), ticks
            _no_codes(w, lang, f"{viewport} {lang} newcomer account")
            _in(w, lang, "/board")
            said = w.page.locator("[data-testid=my-place]").inner_text()
            assert "还没有排名" in said if lang == "zh-CN" else "no place yet" in said, said
            assert w.page.locator("[data-testid=me]").count() == 0
            _no_codes(w, lang, f"{viewport} {lang} newcomer scheme board")
            _in(w, lang, f"/orgs/{org}?period=week")
            said = w.page.locator("[data-testid=my-place]").inner_text()
            assert "还没有排名" in said if lang == "zh-CN" else "no place yet" in said, said
            assert w.page.locator("[data-testid=me]").count() == 0
            _no_codes(w, lang, f"{viewport} {lang} newcomer board")
    finally:
        w.close()


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_a_coupon_shows_its_qr_code_last_day_and_merchant(browser: Any, resident_city: Any, viewport: str) -> None:  # noqa: F811
    import io

    import zxingcpp
    from PIL import Image

    live, store, city = resident_city
    fund(store, "luzhou", city.people[0], 5000)
    item = market.get_item(store, coupon_item(store, "luzhou"))
    _, order = market.place_order(store, city.people[0], item.public_id, 1, f"coupon-{viewport}")
    code = order["coupon_codes"][0]
    placed = datetime.fromisoformat(order["created_at"]).astimezone(SHANGHAI).date()
    last = placed + timedelta(days=89)  # the default 90 days, the day of redemption the first
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, city.people[0]))
        for lang in LANGS:
            _in(w, lang, f"/me/orders/{order['order_id']}")
            assert w.page.locator("[data-testid=coupon]").inner_text() == code
            until = w.page.locator("[data-testid=coupon-until]").inner_text()
            assert until.startswith(last.isoformat() if lang == "zh-CN" else f"{last.day} "), until
            assert w.page.locator("[data-testid=coupon-where]").inner_text() == item.merchant
            qr = w.page.locator("[data-testid=coupon-qr] svg.qr")
            box = qr.bounding_box()
            assert box is not None and box["width"] >= 150 and abs(box["width"] - box["height"]) < 1
            _inside(w, "[data-testid=coupon-qr] svg.qr")
            image = Image.open(io.BytesIO(qr.screenshot()))
            assert [b.text for b in zxingcpp.read_barcodes(image)] == [code]  # the merchant's scanner reads the code
            _no_codes(w, lang, f"{viewport} {lang} coupon")
            _in(w, lang, "/me/orders")  # the list: the terms without the QR codes
            assert w.page.locator("[data-testid=coupon-terms]").count() >= 1
            _no_codes(w, lang, f"{viewport} {lang} orders")
    finally:
        w.close()


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_the_badge_wall_shows_earned_and_locked_badges_with_progress(browser: Any, resident_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, city = resident_city
    wall = accounts.badges(store, city.people[0])
    earned = [p for p in wall if p.earned]
    assert earned and len(earned) < len(wall)  # the test city earns some and not others
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, city.people[0]))
        for lang in LANGS:
            _in(w, lang, "/me")
            w.page.locator("[data-testid=badges-link]").click()
            w.page.wait_for_url("**/me/badges")
            assert w.page.locator("[data-testid=badge-earned]").count() == len(earned)
            locked = w.page.locator("[data-testid=badge-locked]")
            assert locked.count() == len(wall) - len(earned)
            first = locked.first.inner_text()
            assert ("未解锁" if lang == "zh-CN" else "Locked") in first and " / " in first, first
            bars = w.page.eval_on_selector_all("[role=progressbar]", "els => els.map(e => +e.getAttribute('aria-valuenow'))")
            assert sorted(bars, reverse=True)[: len(earned)] == [100] * len(earned) and any(0 < b < 100 for b in bars), bars
            fill = w.page.locator("[data-testid=badge-earned] .fill").first.bounding_box()
            track = w.page.locator("[data-testid=badge-earned] .bar").first.bounding_box()
            assert fill and track and abs(fill["width"] - track["width"]) < 1  # the bar is drawn full (CSS, no inline style)
            _inside(w, ".badge-tile")
            _no_codes(w, lang, f"{viewport} {lang} badges")
    finally:
        w.close()


def _redeem_physical(w: Watched, item: str, lang: str, viewport: str, pickup: bool) -> str:
    """Redeem a physical good in the browser: a wrong phone number is named, then the right details go through."""
    _in(w, lang, f"/market/items/{item}")
    w.page.locator("[data-testid=redeem]").click()
    w.page.locator("[data-testid=delivery]").wait_for()
    _no_codes(w, lang, f"{viewport} {lang} delivery form")
    w.page.fill("#recipient", "王小明")
    w.page.fill("#phone", "call me")
    w.page.fill("#place", "泸州市江阳区酒城大道 1 号")
    w.page.locator("[data-testid=confirm]").click()
    problems = w.page.locator("[data-testid=delivery-problems]")
    problems.wait_for()
    assert ("手机号码" if lang == "zh-CN" else "Mobile phone") in problems.inner_text()
    assert w.page.input_value("#recipient") == "王小明" and "/me/orders/" not in w.page.url  # kept, nothing ordered
    assert w.page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    w.page.fill("#phone", "138 0000 1234")
    if pickup:
        w.page.locator("[data-testid=method-pickup]").check()
    w.page.locator("[data-testid=confirm]").click()
    w.page.wait_for_url("**/me/orders/ord_*")
    shown = w.page.locator("[data-testid=delivery]").inner_text()
    assert "138 0000 1234" in shown and (("自提点" if lang == "zh-CN" else "Pick-up point") in shown) == pickup, shown
    _no_codes(w, lang, f"{viewport} {lang} order with delivery")
    return w.page.url.rsplit("/", 1)[1]


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_a_physical_good_asks_where_it_goes_the_operator_sees_it_and_erasure_deletes_it(
    browser: Any,  # noqa: F811
    resident_city: Any,
    viewport: str,
) -> None:
    live, store, city = resident_city
    person = city.people[0]
    fund(store, "luzhou", person, 50_000)
    items = sorted(
        (i for i in market.list_items(store, "luzhou", only_active=True) if i.kind == "physical" and i.stock > 0),
        key=lambda i: i.points_price,
    )
    identity.create_operator(store, "luzhou", "ops-delivery", "correct-horse-9", "operator")
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, person))
        orders = {
            lang: _redeem_physical(w, items[n].public_id, lang, viewport, pickup=lang == "en") for n, lang in enumerate(LANGS)
        }
    finally:
        w.close()
    ops = Watched(browser, viewport, live.base_url)
    try:
        ops.go("/admin/login")
        ops.page.fill("#username", "ops-delivery")
        ops.page.fill("#password", "correct-horse-9")
        ops.page.click("button[type=submit]")
        ops.page.wait_for_url("**/admin/schemes/luzhou")
        for lang in LANGS:
            _in(ops, lang, "/admin/schemes/luzhou/orders?status=pending")
            for order in orders.values():
                card = ops.page.locator(f"li[data-order='{order}'] [data-testid=delivery]")
                assert "王小明" in card.inner_text() and "138 0000 1234" in card.inner_text()
            assert items[1].merchant in ops.page.locator(f"li[data-order='{orders['en']}'] [data-testid=delivery]").inner_text()
            _no_codes(ops, lang, f"{viewport} {lang} operator orders")
        privacy.erase_person(store, person)
        _in(ops, "zh-CN", "/admin/schemes/luzhou/orders?status=cancelled")
        for order in orders.values():
            assert ops.page.locator(f"li[data-order='{order}']").count() == 1  # the order stays, cancelled
            assert ops.page.locator(f"li[data-order='{order}'] [data-testid=delivery]").count() == 0
        assert "王小明" not in ops.page.locator("main").inner_text()
        ops.check()
    finally:
        ops.close()
