"""Issue 18 (12): security headers on every answer of a real server, pages, API and exports alike.

Every response carries a Content-Security-Policy with `frame-ancestors 'none'`, `X-Frame-Options: DENY`,
`X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`; personal pages, operator pages,
exports, tokens and API answers are `Cache-Control: no-store` (only the static files may be cached). Pages
run no script and carry no inline style (the policy would refuse them); the API docs' inline scripts are
allowed by their exact SHA-256. That the pages still render under the policy in Chromium, with no
violation in the console, is tests/web/test_browser.py::test_every_page_renders_under_the_content_security_policy.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tanhui.services import identity
from tanhui.store import Store
from tests.web.helpers import build_city, csrf_of, operator, web_login

SAME_FOR_ALL = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in (p.strip() for p in policy.split(";")) if part}


def check(answer: httpx.Response, *, cacheable: bool = False) -> dict[str, str]:
    where = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    for name, value in SAME_FOR_ALL.items():
        assert answer.headers.get(name) == value, f"{where}: {name} = {answer.headers.get(name)!r}"
    policy = _directives(answer.headers.get("content-security-policy", ""))
    assert policy.get("frame-ancestors") == "'none'", f"{where}: {policy}"
    if cacheable:
        assert "no-store" not in answer.headers.get("cache-control", ""), where
    else:
        assert answer.headers.get("cache-control") == "no-store", (
            f"{where}: cache-control {answer.headers.get('cache-control')!r}"
        )
    kind = answer.headers.get("content-type", "")
    if kind.startswith("text/html"):
        assert policy["default-src"] == "'none'" and policy["style-src"] == "'self'" and "script-src" not in policy, where
        assert policy["form-action"] == "'self'" and policy["base-uri"] == "'none'", where
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", answer.text, re.I), f"{where}: inline script or style"
    elif not kind.startswith("application/pdf"):
        assert policy["default-src"] == "'none'" and len(policy) == 2, f"{where}: {policy}"
    return policy


@pytest.fixture
def city(live: Any, tmp_path: Path) -> Any:
    store = Store(live.database_url)
    try:
        town = build_city(store, tmp_path, "luzhou", people=2, days=2)
        operator(store, "luzhou", "ops-headers")
        identity.register(store, "luzhou", "xiaoming", "correct horse battery")
        yield live, store, town
    finally:
        store.dispose()


SQLITE_ONLY = pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)  # headers do not depend on the engine


@SQLITE_ONLY
def test_every_kind_of_answer_carries_the_security_headers(city: Any) -> None:
    live, store, town = city
    with (
        httpx.Client(base_url=live.base_url, timeout=30) as anonymous,
        httpx.Client(base_url=live.base_url, timeout=30) as person,
        httpx.Client(base_url=live.base_url, timeout=30) as ops,
    ):
        # public pages, the registry, an error page, a static file
        for path in ("/", "/login", "/register", "/admin/login", "/registry", "/registry/ledger-heads?scheme=luzhou"):
            check(anonymous.get(path))
        check(anonymous.get("/me/orders/ord_nothing"))  # a redirect to sign in
        check(anonymous.get("/static/app.css"), cacheable=True)
        check(anonymous.get("/static/registry.css"), cacheable=True)
        # a person's pages and export
        assert person.get(web_login(store, town.people[0]), follow_redirects=True).status_code == 200
        account = person.get("/me")
        check(account)
        event = re.findall(r'href="(/me/events/\d+)"', account.text)[0]
        for path in ("/me/history", event, "/market", "/me/orders", "/orgs", "/me/delete", "/me/events/999999999"):
            check(person.get(path))
        export = person.get("/me/export")
        assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
        check(export)
        # a form's answer (a redirect) and a refused form
        check(person.post("/me/checkin", data={"csrf": csrf_of(account.text)}))
        check(person.post("/me/checkin", data={"csrf": "forged"}))
        # the operator's pages and exports
        signed = ops.post(
            "/admin/login",
            data={"csrf": csrf_of(ops.get("/admin/login").text), "username": "ops-headers", "password": "correct-horse-9"},
        )
        check(signed)
        assert signed.status_code == 303
        for path in ("", "/review", "/catalog", "/orders", "/organisations", "/audit"):
            check(ops.get(f"/admin/schemes/luzhou{path}"))
        for name in ("orders.csv", "review.xlsx", "partners.csv"):
            exported = ops.get(f"/admin/schemes/luzhou/export/{name}")
            assert exported.status_code == 200 and "attachment" in exported.headers.get("content-disposition", ""), name
            check(exported)
        # the JSON API: a token, the person's data, public data, operations, errors
        token = anonymous.post("/v1/auth/token", json={"username": "xiaoming", "password": "correct horse battery"})
        assert token.status_code == 200
        check(token)
        bearer = {"Authorization": f"Bearer {token.json()['token']}"}
        for path in ("/v1/me", "/v1/me/export", "/v1/me/events"):
            check(anonymous.get(path, headers=bearer))
        for path in (
            "/v1/registry/batches",
            "/v1/market/items?scheme=luzhou",
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/v1/nowhere",
        ):
            check(anonymous.get(path))
        check(anonymous.get("/v1/me"))  # 401
        check(anonymous.post("/v1/partner/events", content=b"x" * (4 * 1024 * 1024 + 1)))  # 413 from the size limit


@SQLITE_ONLY
def test_the_api_docs_allow_exactly_their_own_inline_scripts(live: Any) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            page = http.get(path)
            assert page.status_code == 200
            policy = _directives(page.headers["content-security-policy"])
            assert policy["frame-ancestors"] == "'none'" and page.headers["x-frame-options"] == "DENY"
            inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page.text, re.S)
            hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline}
            allowed = set(policy["script-src"].split())
            assert allowed == {"'self'"} | hashes, (path, allowed, hashes)
            assert "'unsafe-inline'" not in allowed and "'unsafe-eval'" not in allowed
