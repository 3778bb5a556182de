"""Errors a browser meets are pages with the site's header, menu and language (issue 17, item 6); the API
and any client asking for JSON keep the JSON body ({"error": {code, message, details}})."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tanhui.store import Store
from tests.web.helpers import build_city, csrf_of, operator, web_login
from tests.web.reading import PageText

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


@pytest.fixture
def two_people(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, Any]]:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=2, days=1)
        operator(store, "luzhou", "ops-errors")
        yield live, store, city
    finally:
        store.dispose()


@contextmanager
def _client(live: Any, lang: str = "zh-CN") -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30, cookies={"lang": lang}, headers=BROWSER) as client:
        yield client


def _is_page(response: httpx.Response, status: int, lang: str, menu: tuple[str, ...]) -> PageText:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
    html = response.text
    assert f'<html lang="{lang}">' in html and 'href="/static/app.css"' in html
    for link in menu:
        assert f'href="{link}"' in html, f"the error page lacks the menu link {link}"
    page = PageText(html)
    assert "{" not in page.text and '{"error"' not in html  # no JSON shown to a person
    return page


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_browsers_get_pages_and_clients_get_json(two_people: Any, lang: str) -> None:
    live, store, city = two_people
    anonymous_menu = ("/login", "/register", "/lang/" + ("en" if lang == "zh-CN" else "zh-CN") + "?next=/no/such/page")
    with _client(live, lang) as browser:
        page = _is_page(browser.get("/no/such/page"), 404, lang, anonymous_menu)
        assert ("这个网址没有对应的页面" if lang == "zh-CN" else "There is no page at this address") in page.text
        # the API and a client asking for JSON keep the JSON error
        for path, headers in (("/v1/no-such", BROWSER), ("/no/such/page", JSON), ("/v1/me", BROWSER)):
            answer = browser.get(path, headers=headers)
            assert answer.headers["content-type"].startswith("application/json"), path
            assert answer.json()["error"]["code"] in ("not_found", "unauthorised")
        assert browser.get("/v1/me").headers.get("www-authenticate") == "Bearer"
        # the public registry's missing batch
        _is_page(browser.get("/registry/batches/no-such-batch"), 404, lang, ())

    mine, theirs = city.people
    with _client(live, lang) as person:
        assert person.get(web_login(store, mine), follow_redirects=True).status_code == 200
        menu = ("/me", "/market", "/me/orders", "/orgs")
        with _client(live, lang) as other:
            other.get(web_login(store, theirs), follow_redirects=True)
            event_id = other.get("/me/history").text.split('href="/me/events/')[1].split('"')[0]
        page = _is_page(person.get(f"/me/events/{event_id}"), 404, lang, menu)
        assert ("你的账户里没有这条行为记录" if lang == "zh-CN" else "there is no such behaviour in your account") in page.text
        assert "合作方" not in page.text and "partner" not in page.text and " - " not in page.text
        _is_page(person.get("/me/events/not-a-number"), 404, lang, menu)
        _is_page(person.get("/me/no-such-page"), 404, lang, menu)
        bad = _is_page(person.get("/market/items/x/confirm?quantity=many"), 422, lang, menu)
        assert ("网址或表单中有本页无法处理的内容" if lang == "zh-CN" else "cannot use") in bad.text

    with _client(live, lang) as ops:
        csrf = csrf_of(ops.get("/admin/login").text)
        refused = ops.post("/admin/login", data={"csrf": csrf, "username": "ops-errors", "password": "wrong-password"})
        _is_page(refused, 401, lang, ())
        done = ops.post("/admin/login", data={"csrf": csrf, "username": "ops-errors", "password": "correct-horse-9"})
        assert done.status_code == 303, done.text[:300]
        dashboard_menu = ("/admin/schemes/luzhou", "/admin/schemes/luzhou/review", "/admin/schemes/luzhou/audit")
        _is_page(ops.get("/admin/schemes/luzhou/no-such-page"), 404, lang, dashboard_menu)
        _is_page(ops.get("/admin/schemes/luzhou/export/nothing.csv"), 404, lang, dashboard_menu)
        _is_page(ops.get("/admin/schemes/harbin"), 404, lang, dashboard_menu)
        _is_page(ops.post("/admin/logout", data={}), 403, lang, dashboard_menu)  # no CSRF field


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_an_unexpected_failure_is_a_page_for_a_browser_and_json_for_a_client(two_people: Any) -> None:
    live, store, city = two_people
    engine = create_engine(live.database_url)
    with engine.begin() as conn:  # break the catalog under the running server
        conn.execute(text("DROP TABLE market_items"))
    engine.dispose()
    with _client(live) as person:
        assert person.get(web_login(store, city.people[0]), follow_redirects=True).status_code == 200
        page = _is_page(person.get("/market"), 500, "zh-CN", ("/me", "/market"))
        assert "我们这边出了点问题" in page.text and "Traceback" not in page.text and "market_items" not in page.text
        answer = person.get("/market", headers=JSON)
        assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
