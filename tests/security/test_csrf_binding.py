"""Issue 18 (13): a form's CSRF token is bound to its session and changes at every sign-in, over real HTTP.

Before the fix the token was a random cookie value compared with the form field (double submit): it did not
depend on the session, and it survived signing in. So a token (with its cookie) planted in another browser
worked there, and the token a page showed before sign-in still worked afterwards. Now the token is an HMAC of
the session the form acts in (web/security.py): a token from session A is refused in session B even when B
carries A's CSRF cookie, and a token from before a sign-in (person or operator) is refused after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tanhui.services import identity
from tanhui.store import Store
from tests.web.helpers import build_city, csrf_of, operator, web_login

SQLITE_ONLY = pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)  # cookies and pages: no engine question
PASSWORD = "correct horse battery"


@pytest.fixture
def city(live: Any, tmp_path: Path) -> Any:
    store = Store(live.database_url)
    try:
        town = build_city(store, tmp_path, "luzhou", people=2, days=1)
        operator(store, "luzhou", "ops-one")
        operator(store, "luzhou", "ops-two")
        identity.register(store, "luzhou", "xiaoming", PASSWORD)
        yield live, store, town
    finally:
        store.dispose()


def _operator(http: httpx.Client, username: str) -> None:
    csrf = csrf_of(http.get("/admin/login").text)
    signed = http.post("/admin/login", data={"csrf": csrf, "username": username, "password": "correct-horse-9"})
    assert signed.status_code == 303, signed.text


def _org(http: httpx.Client, csrf: str, name: str) -> int:
    return http.post("/admin/schemes/luzhou/organisations", data={"csrf": csrf, "name": name, "kind": "company"}).status_code


@SQLITE_ONLY
def test_a_token_from_one_session_is_refused_in_another_even_with_its_cookie(city: Any) -> None:
    live, store, town = city
    with (
        httpx.Client(base_url=live.base_url, timeout=30) as a,
        httpx.Client(base_url=live.base_url, timeout=30) as b,
        httpx.Client(base_url=live.base_url, timeout=30) as op1,
        httpx.Client(base_url=live.base_url, timeout=30) as op2,
    ):
        for client, person in ((a, town.people[0]), (b, town.people[1])):
            assert client.get(web_login(store, person), follow_redirects=True).status_code == 200
        token_a = csrf_of(a.get("/me").text)
        b.cookies.set("tanhui_csrf", a.cookies["tanhui_csrf"])  # A's cookie planted in B's browser too
        assert b.post("/me/checkin", data={"csrf": token_a}).status_code == 403
        assert a.post("/me/checkin", data={"csrf": token_a}).status_code == 303  # in its own session it works
        assert b.post("/me/checkin", data={"csrf": csrf_of(b.get("/me").text)}).status_code == 303
        # operators: one operator's token does not work in another operator's session
        _operator(op1, "ops-one")
        _operator(op2, "ops-two")
        token_op1 = csrf_of(op1.get("/admin/schemes/luzhou/organisations").text)
        op2.cookies.set("tanhui_csrf", op1.cookies["tanhui_csrf"])
        assert _org(op2, token_op1, "借来的令牌") == 403
        assert _org(op1, token_op1, "自己的令牌") == 303
        # a person's token is not an operator's (one browser holding both sessions)
        a.cookies.set("tanhui_admin", op1.cookies["tanhui_admin"])
        assert _org(a, csrf_of(a.get("/me").text), "个人页面的令牌") == 403
        assert _org(a, csrf_of(a.get("/admin/schemes/luzhou/organisations").text), "运营页面的令牌") == 303


@SQLITE_ONLY
def test_a_token_from_before_a_sign_in_does_not_work_after_it(city: Any) -> None:
    live, _store, _town = city
    with httpx.Client(base_url=live.base_url, timeout=30) as person, httpx.Client(base_url=live.base_url, timeout=30) as ops:
        before = csrf_of(person.get("/login").text)
        assert person.post("/login", data={"csrf": before, "username": "xiaoming", "password": PASSWORD}).status_code == 303
        assert person.post("/me/checkin", data={"csrf": before}).status_code == 403
        signed_in = csrf_of(person.get("/me").text)
        assert signed_in != before
        assert person.post("/me/checkin", data={"csrf": signed_in}).status_code == 303
        assert person.post("/logout", data={"csrf": signed_in}).status_code == 303
        # signed out: neither the pre-sign-in token nor the session's works on the sign-in form
        for stale in (before, signed_in):
            assert person.post("/login", data={"csrf": stale, "username": "xiaoming", "password": PASSWORD}).status_code == 403
        # registering is a sign-in too
        fresh = csrf_of(person.get("/register").text)
        created = person.post(
            "/register", data={"csrf": fresh, "scheme": "luzhou", "username": "xiaohong", "password": "another long one"}
        )
        assert created.status_code == 303
        assert person.post("/me/checkin", data={"csrf": fresh}).status_code == 403
        # operators
        before = csrf_of(ops.get("/admin/login").text)
        assert (
            ops.post("/admin/login", data={"csrf": before, "username": "ops-one", "password": "correct-horse-9"}).status_code
            == 303
        )
        assert _org(ops, before, "登录前的令牌") == 403
        assert _org(ops, csrf_of(ops.get("/admin/schemes/luzhou/organisations").text), "登录后的令牌") == 303
