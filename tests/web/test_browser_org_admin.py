"""An organisation's administrator and the password reset link (issue 17) in Debian's Chromium, at a phone
and a desktop size, in Chinese and English; console errors, failed loads and horizontal overflow fail
every step (test_browser.Watched)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tanhui.services import identity, organisations
from tanhui.store import Store
from tests.web.helpers import build_city, operator
from tests.web.test_browser import Watched, browser  # noqa: F401 (the fixture)

PASSWORD = "correct-horse-9"
LANGS = ("zh-CN", "en")
WORDS = {
    "zh-CN": {"members": "成员", "invite": "邀请码", "new_code": "新邀请码已生成", "removed": "已将该成员移出本机构"},
    "en": {"members": "Members", "invite": "Invite code", "new_code": "A new invite code is ready", "removed": "was removed"},
}


@pytest.fixture
def org_city(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, Any]]:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=4, days=2)
        identity.create_org_admin(store, city.orgs[0].public_id, "admin-a", PASSWORD)
        operator(store, "luzhou", "ops-reset", password=PASSWORD)
        identity.register(store, "luzhou", "forgetful", "old-password-1", "小忘")
        yield live, store, city
    finally:
        store.dispose()


def _sign_in(w: Watched, username: str, lands: str) -> None:
    w.go("/admin/login")
    w.page.fill("#username", username)
    w.page.fill("#password", PASSWORD)
    w.page.click("button[type=submit]")
    w.page.wait_for_url(f"**{lands}")


def _in_lang(w: Watched, lang: str, path: str) -> None:
    w.go(f"/lang/{lang}?next={path}")
    assert w.page.locator("html").get_attribute("lang") == lang


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_an_organisation_administrator_in_the_browser(browser: Any, org_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, city = org_city
    org = city.orgs[0].public_id
    w = Watched(browser, viewport, live.base_url)
    try:
        _sign_in(w, "admin-a", f"/admin/orgs/{org}")
        page = w.page
        for lang in LANGS:
            _in_lang(w, lang, f"/admin/orgs/{org}")
            words = WORDS[lang]
            assert page.locator("[data-kpi=members]").inner_text() == "2"
            assert words["members"] in page.locator("[data-testid=figures]").inner_text()
            assert page.locator("[data-testid=board] svg.chart").count() == 1
            assert page.locator("[data-testid=invite-code]").inner_text() == organisations.invite_code(store, org, "luzhou")
            assert "company" not in page.locator("main").inner_text()  # the kind is named, not coded
            w.check()
            _in_lang(w, lang, f"/admin/orgs/{org}/members")
            assert page.locator("[data-testid=members] tbody tr").count() == 2
            assert page.locator("[data-testid=shown]").first.is_visible()
            w.check()
        _in_lang(w, "zh-CN", f"/admin/orgs/{org}")
        old = page.locator("[data-testid=invite-code]").inner_text()
        page.locator("[data-testid=renew-code]").click()
        page.wait_for_url(re.compile(r".*done=code.*"))
        assert WORDS["zh-CN"]["new_code"] in page.locator("p.flash").inner_text()
        assert page.locator("[data-testid=invite-code]").inner_text() not in ("", old)
        w.check()
        page.get_by_role("link", name="成员名单", exact=True).click()
        page.wait_for_url(f"**/admin/orgs/{org}/members")
        row = page.locator("[data-testid=members] tbody tr").first
        leaving = row.get_attribute("data-member")
        row.locator("[data-testid=remove-open]").click()
        row.locator("[data-testid=remove]").click()
        page.wait_for_url(re.compile(r".*done=removed.*"))
        assert WORDS["zh-CN"]["removed"] in page.locator("p.flash").inner_text()
        assert page.locator(f"tr[data-member='{leaving}']").count() == 0
        w.check()
        other = city.orgs[1].public_id
        refused = page.goto(f"{live.base_url}/admin/orgs/{other}")
        assert refused is not None and refused.status == 404
        assert city.orgs[1].name not in page.locator("main").inner_text()
    finally:
        w.close()


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_a_password_reset_link_from_the_dashboard_to_a_new_sign_in(browser: Any, org_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, _city = org_city
    ops = Watched(browser, viewport, live.base_url)
    try:
        _sign_in(ops, "ops-reset", "/admin/schemes/luzhou")
        for lang, name in (("en", "Password reset"), ("zh-CN", "重置密码")):
            _in_lang(ops, lang, "/admin/schemes/luzhou")
            ops.page.get_by_role("link", name=name, exact=True).click()
            ops.page.wait_for_url("**/admin/schemes/luzhou/password-reset")
            ops.check()
        ops.page.fill("#username", "forgetful")
        ops.page.locator("[data-testid=issue]").click()
        link = ops.page.locator("[data-testid=link]").inner_text()
        assert link.startswith(live.base_url + "/reset/")
        assert ops.page.locator("[data-testid=reset-link] time").count() == 1  # valid until, in the scheme's time
        ops.check()
    finally:
        ops.close()
    person = Watched(browser, viewport, live.base_url)
    try:
        path = link.removeprefix(live.base_url)
        for lang in ("en", "zh-CN"):
            _in_lang(person, lang, path)
            assert person.page.locator("[data-testid=reset-form]").is_visible()
            person.check()
        person.page.fill("#password", "new-password-2")
        person.page.fill("#confirm", "new-password-2")
        person.page.click("[data-testid=reset-form] button[type=submit]")
        person.page.wait_for_url(re.compile(r".*/login\?reset=done$"))
        assert "新密码已设置" in person.page.locator("p.flash").inner_text()
        person.check()
        person.page.fill("#username", "forgetful")
        person.page.fill("#password", "new-password-2")
        person.page.click("main button[type=submit]")
        person.page.wait_for_url(re.compile(r".*/me$"))
        person.check()
        used = person.page.goto(live.base_url + path)  # a second use is refused with a page that says why
        assert used is not None and used.status == 401
        assert "已过期或已被使用" in person.page.locator("main").inner_text()
    finally:
        person.close()
    assert identity.authenticate(store, "forgetful", "new-password-2") > 0
