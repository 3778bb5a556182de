"""The web app in a real headless Chromium (Debian's, driven by Playwright), phone and desktop.

Any console error or page error fails the test. Without /usr/bin/chromium the tests skip with the
reason, except in CI (CI=true), where a missing browser is a failure (./run test installs it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tanhui.store import Store
from tanhui.web.screenshots import CHROMIUM, VIEWPORTS, launch
from tests.web.helpers import build_city, fund, operator, web_login

IN_CI = os.environ.get("CI", "").lower() == "true"


def _require_browser() -> None:
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk; ./run test does it)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install -e '.[test]')"
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


class Watched:
    """A page whose console errors and uncaught errors are collected; the test fails on any."""

    def __init__(self, browser: Any, viewport: str, base_url: str) -> None:
        self.context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
        self.page = self.context.new_page()
        self.base_url = base_url
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.request.resource_type in ("document", "stylesheet", "image") and response.status >= 400:
            self.problems.append(f"HTTP {response.status} for {response.url}")

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status < 400, f"{path}: HTTP {response.status if response else '?'}"
        return response

    def check(self) -> None:
        assert not self.problems, self.problems
        assert self.page.locator("p.error, p[role=alert]").count() == 0, self.page.locator("main").inner_text()[:500]
        overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow}px wider than the viewport at {self.page.url}"

    def close(self) -> None:
        self.context.close()


def _person_flow(browser: Any, live: Any, store: Store, account_id: int, viewport: str) -> None:
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go(web_login(store, account_id))
        page = w.page
        assert page.url.endswith("/me")
        assert page.locator("h2#total-h").inner_text() == "累计减排"
        assert page.locator("svg.chart").count() >= 2 and page.locator("svg.chart polyline").count() >= 1
        assert page.locator("svg.chart").first.bounding_box()["height"] > 50  # type: ignore[index]
        w.check()
        # open a calculation
        page.locator("a[href^='/me/events/']").first.click()
        page.locator("[data-testid=result]").wait_for()
        assert "/me/events/" in page.url and page.locator("[data-testid=result]").is_visible()
        assert page.get_by_text("排放因子及来源").is_visible() and page.locator(".formula").inner_text()
        w.check()
        # check in
        w.go("/me")
        page.locator("[data-testid=checkin]").click()
        page.wait_for_url(re.compile(r".*/me\?checkin=new$"))
        assert page.get_by_role("button", name=re.compile("今日已签到")).is_disabled()
        assert int(page.locator("[data-testid=streak]").inner_text()) >= 1
        # redeem an item and see the coupon
        w.go("/market")
        assert page.locator("a.item").count() > 10
        page.locator("nav.chips a", has_text="餐饮").click()
        page.wait_for_url(re.compile(r".*category=food$"))
        page.locator("a.item").first.click()
        page.locator("[data-testid=redeem]").click()
        page.locator("[data-testid=confirm]").click()
        page.wait_for_url(re.compile(r".*/me/orders/ord_\w+$"))
        assert page.locator("[data-testid=coupon]").first.inner_text().strip()
        w.check()
        w.go("/me/orders")
        assert page.locator("[data-testid=coupon]").count() >= 1
        w.go("/orgs")
        assert page.locator("svg.chart").count() == 1
        w.check()
        # switch language, keyboard first: the switch is a link reachable by Tab
        w.go("/me")
        page.get_by_role("link", name="English").click()
        page.wait_for_url(re.compile(r".*/me$"))
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h2#total-h").inner_text() == "Total reduction"
        page.get_by_role("link", name="中文").click()
        page.locator("h2#total-h", has_text="累计减排").wait_for()
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        w.check()
    finally:
        w.close()


def _operator_flow(browser: Any, live: Any, username: str, password: str, viewport: str) -> None:
    w = Watched(browser, viewport, live.base_url)
    try:
        w.go("/admin/login")
        page = w.page
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r".*/admin/schemes/luzhou$"))
        assert page.locator("[data-testid=headline] .kpi").count() == 10
        assert page.locator("svg.chart").count() >= 4 and page.locator("svg.spark").count() >= 1
        w.check()
        for path in ("/review", "/catalog", "/orders", "/organisations"):
            w.go(f"/admin/schemes/luzhou{path}")
            assert page.locator("table tbody tr, [data-testid=queue] > li, [data-testid=orders] > li").count() >= 1
            w.check()
        assert w.page.goto(live.base_url + "/admin/schemes/harbin").status == 404  # type: ignore[union-attr]
        w.problems.clear()  # the 404 is the point; the console notes it as a failed resource
    finally:
        w.close()


@pytest.fixture
def browser_city(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, Any]]:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=3, days=4)
        build_city(store, tmp_path, "harbin", people=1, days=1, name="冰城碳惠")
        fund(store, "luzhou", city.people[0], 5000)
        fund(store, "luzhou", city.people[1], 5000)
        operator(store, "luzhou", "ops-browser")
        yield live, store, city
    finally:
        store.dispose()


# Both viewports on SQLite; one PostgreSQL flow (desktop) — the phone layout is the same HTML.
@pytest.mark.parametrize(
    ("fresh_store_url", "viewport"),
    [("sqlite", "phone"), ("sqlite", "desktop"), pytest.param("postgresql", "desktop", marks=pytest.mark.postgres)],
    indirect=["fresh_store_url"],
)
@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_person_and_operator_in_a_real_browser(browser: Any, browser_city: Any, viewport: str) -> None:
    live, store, city = browser_city
    _person_flow(browser, live, store, city.people[0 if viewport == "phone" else 1], viewport)
    _operator_flow(browser, live, "ops-browser", "correct-horse-9", viewport)


# -- issue 18 (12): every page under the Content-Security-Policy ----------------------------------


def _page_with_inline_script_and_style(route: Any) -> None:
    from tanhui.http.headers import PAGE_POLICY

    body = '<!doctype html><p style="color:red">inline</p><script>document.title = "ran"</script>'
    route.fulfill(status=200, headers={"content-type": "text/html", "content-security-policy": PAGE_POLICY}, body=body)


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.slow  # integration-heavy (a real server and Chromium)
def test_every_page_renders_under_the_content_security_policy(browser: Any, browser_city: Any) -> None:
    """Chromium reports each refused inline script or style as a console error, which Watched collects:
    first shown on a page made to break the policy, then on every page of the site, which must have none."""
    live, store, city = browser_city
    w = Watched(browser, "desktop", live.base_url)
    try:
        page = w.page
        page.route(live.base_url + "/csp-canary", _page_with_inline_script_and_style)
        page.goto(live.base_url + "/csp-canary")
        assert page.title() != "ran"  # the inline script did not run
        assert any("Content Security Policy" in p for p in w.problems), w.problems  # and the watcher saw it
        w.problems.clear()
        for path in ("/", "/login", "/register", "/admin/login", "/registry", "/registry/ledger-heads?scheme=luzhou"):
            w.go(path)
            w.check()
        w.go(web_login(store, city.people[0]))
        event = page.locator("a[href^='/me/events/']").first.get_attribute("href")
        for path in ("/me", "/me/history", event, "/market", "/me/orders", "/orgs", "/me/delete"):
            w.go(path)
            w.check()
        item = w.go("/market") and page.locator("a.item").first.get_attribute("href")
        w.go(item)
        w.check()
        page.locator("[data-testid=redeem]").click()
        page.locator("[data-testid=confirm]").wait_for()
        w.check()
        org = w.go("/orgs") and page.locator("a[href^='/orgs/org_']").first.get_attribute("href")
        w.go(org)
        w.check()
        assert page.goto(live.base_url + "/me/events/999999999").status == 404  # type: ignore[union-attr]
        w.problems = [p for p in w.problems if "404" not in p]  # the 404 itself is the point
        assert not w.problems, w.problems
        w.go("/admin/login")
        page.get_by_label("用户名").fill("ops-browser")
        page.get_by_label("密码").fill("correct-horse-9")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r".*/admin/schemes/luzhou$"))
        w.check()
        for path in ("/review", "/catalog", "/orders", "/organisations", "/audit"):
            w.go(f"/admin/schemes/luzhou{path}")
            w.check()
        # the API docs run Swagger UI and ReDoc from the package, their inline scripts allowed by hash
        w.go("/docs")
        page.locator(".swagger-ui .info").wait_for()
        assert not w.problems, w.problems
        w.go("/redoc")
        page.locator("redoc h1, [role=main] h1, h1").first.wait_for()
        # ReDoc's footer asks a CDN for its logo: the policy refuses it (no CDN, and none in an intranet)
        assert not [p for p in w.problems if "https://cdn.redoc.ly/" not in p], w.problems
    finally:
        w.close()
