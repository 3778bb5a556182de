"""Issue 17's resident pages, second part, in Debian's Chromium at a phone and a desktop size, in Chinese
and English: the calculation told in words, consents and connecting an app, leaderboards, coupons, the
badge wall and delivery. Console errors, failed loads and horizontal overflow fail every step
(test_browser.Watched); the Chinese pages are searched for the code's raw codes (test_raw_codes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tanhui.services import accounts, consent
from tanhui.services.principal import Principal
from tanhui.store import Store
from tests.web.helpers import build_city, web_login
from tests.web.test_browser import Watched, browser  # noqa: F401 (the fixture)
from tests.web.test_raw_codes import code_finder, raw_code_problems, raw_codes

LANGS = ("zh-CN", "en")
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
