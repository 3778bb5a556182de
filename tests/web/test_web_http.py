"""The web app over real HTTP (a live server on each engine): sign-in, CSRF, authorisation by URL,
operator scopes, the stats endpoint, the JSON API for tokens, export and erasure."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tanhui.store import Store
from tests.web.helpers import build_city, coupon_item, csrf_of, fund, operator, web_login

_OPEN: list[httpx.Client] = []


def _client(base_url: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=30)
    _OPEN.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients() -> Any:
    yield
    while _OPEN:
        _OPEN.pop().close()


STATS_FIELDS = {
    "registered_users",
    "daily_active_users",
    "points_issued",
    "points_redeemed",
    "carbon_g_total",
    "events_credited",
    "by_scenario",
    "series",
}


@pytest.fixture
def city(live: Any, tmp_path: Path) -> Any:
    store = Store(live.database_url)
    try:
        a = build_city(store, tmp_path, "luzhou", people=2, days=3)
        b = build_city(store, tmp_path, "harbin", people=1, days=1, name="冰城碳惠")
        operator(store, "luzhou", "ops-luzhou")
        operator(store, "luzhou", "viewer-luzhou", role="viewer")
        operator(store, "harbin", "ops-harbin")
        yield live, store, a, b
    finally:
        store.dispose()


def signed_in(live: Any, store: Store, account_id: int) -> httpx.Client:
    client = _client(live.base_url)
    page = client.get(web_login(store, account_id), follow_redirects=True)
    assert page.status_code == 200 and str(page.url).endswith("/me")
    return client


def operator_client(live: Any, username: str) -> httpx.Client:
    client = _client(live.base_url)
    csrf = csrf_of(client.get("/admin/login").text)
    done = client.post("/admin/login", data={"csrf": csrf, "username": username, "password": "correct-horse-9"})
    assert done.status_code == 303, done.text
    return client


def test_partner_login_url_opens_the_account_with_its_chart_and_calculations(city: Any) -> None:
    live, store, a, _b = city
    client = signed_in(live, store, a.people[0])
    page = client.get("/me")
    assert "我的碳账户" in page.text and page.text.count("<svg") >= 2 and "kg" in page.text
    assert 'href="#note-3"' in page.text and "假设" in page.text  # the tree figure is marked an assumption
    event = re.findall(r'href="/me/events/(\d+)"', page.text)[0]
    calc = client.get(f"/me/events/{event}")
    assert calc.status_code == 200 and "@1" in calc.text and "排放因子及来源" in calc.text
    english = client.get("/lang/en?next=/me", follow_redirects=True)
    assert "My carbon account" in english.text and english.headers["content-type"].startswith("text/html")


def test_a_person_cannot_open_another_persons_calculation_or_order(city: Any) -> None:
    live, store, a, _b = city
    alice, bob = signed_in(live, store, a.people[0]), signed_in(live, store, a.people[1])
    event = re.findall(r'href="/me/events/(\d+)"', alice.get("/me").text)[0]
    csrf = csrf_of(alice.get("/me").text)
    fund(store, "luzhou", a.people[0], 5000)
    items = [coupon_item(store, "luzhou")]
    confirm = alice.get(f"/market/items/{items[0]}/confirm")
    key = re.search(r'name="key" value="([^"]+)"', confirm.text).group(1)  # type: ignore[union-attr]
    order = alice.post(f"/market/items/{items[0]}/redeem", data={"csrf": csrf, "key": key, "quantity": "1"})
    assert order.status_code == 303
    order_path = order.headers["location"]
    assert alice.get(order_path).status_code == 200
    assert bob.get(f"/me/events/{event}").status_code == 404
    assert bob.get(order_path).status_code == 404
    bob_csrf = csrf_of(bob.get("/me").text)
    assert bob.post(order_path + "/cancel", data={"csrf": bob_csrf}).status_code == 404
    assert order_path.rsplit("/", 1)[1] not in bob.get("/me/orders").text
    anonymous = httpx.get(live.base_url + "/me/orders", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_forms_without_the_csrf_value_are_refused(city: Any) -> None:
    live, store, a, _b = city
    client = signed_in(live, store, a.people[0])
    assert client.post("/me/checkin", data={}).status_code == 403
    assert client.post("/me/checkin", data={"csrf": "forged"}).status_code == 403
    good = client.post("/me/checkin", data={"csrf": csrf_of(client.get("/me").text)})
    assert good.status_code == 303
    assert "今日已签到" in client.get("/me").text


def test_operator_of_one_scheme_cannot_see_another(city: Any) -> None:
    live, _store, _a, _b = city
    ops = operator_client(live, "ops-luzhou")
    dash = ops.get("/admin/schemes/luzhou")
    assert dash.status_code == 200 and dash.text.count("<svg") >= 4 and "注册用户" in dash.text
    for path in ("", "/review", "/catalog", "/orders", "/organisations", "/export/orders.csv"):
        assert ops.get(f"/admin/schemes/harbin{path}").status_code == 404, path
    assert ops.get("/admin/schemes/luzhou/export/series.csv").status_code == 200
    xlsx = ops.get("/admin/schemes/luzhou/export/catalog.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    viewer = operator_client(live, "viewer-luzhou")
    assert viewer.get("/admin/schemes/luzhou").status_code == 200
    assert viewer.get("/admin/schemes/luzhou/export/orders.csv").status_code == 403  # personal data
    assert viewer.get("/admin/schemes/luzhou/export/scenarios.csv").status_code == 200
    person = httpx.get(live.base_url + "/admin/schemes/luzhou", follow_redirects=False)
    assert person.status_code == 303 and "/admin/login" in person.headers["location"]


def test_stats_endpoint_fields_and_scope(city: Any) -> None:
    live, _store, a, _b = city
    token = json.loads(live.tanhui("admin", "token", "--scheme", "luzhou", "--json").stdout)["token"]
    viewer = json.loads(live.tanhui("admin", "token", "--scheme", "luzhou", "--role", "viewer", "--json").stdout)["token"]
    got = httpx.get(f"{live.base_url}/v1/admin/schemes/luzhou/stats", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert set(body) >= STATS_FIELDS
    assert body["registered_users"] == 2 and body["events_credited"] == sum(v["events"] for v in body["by_scenario"].values())
    assert body["carbon_g_total"] == sum(d["carbon_g"] for d in body["series"]) > 0
    assert body["daily_active_users"] == body["series"][-1]["active_users"]
    assert body["points_issued"] > 0 and set(body["series"][0]) == {"date", "carbon_g", "events", "active_users"}
    assert (
        httpx.get(f"{live.base_url}/v1/admin/schemes/luzhou/stats", headers={"Authorization": f"Bearer {viewer}"}).status_code
        == 200
    )
    other = httpx.get(f"{live.base_url}/v1/admin/schemes/harbin/stats", headers={"Authorization": f"Bearer {token}"})
    assert other.status_code == 404 and other.json()["error"]["code"] == "scheme_not_found"
    assert httpx.get(f"{live.base_url}/v1/admin/schemes/luzhou/stats").status_code == 401
    ranged = httpx.get(
        f"{live.base_url}/v1/admin/schemes/luzhou/stats?from=2020-01-01&to=2020-01-02",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert ranged["events_credited"] == 0 and len(ranged["series"]) == 2


def test_register_sign_in_token_export_and_erase(city: Any) -> None:
    live, store, _a, _b = city
    client = _client(live.base_url)
    form = client.get("/register")
    assert 'value="luzhou"' in form.text
    weak = client.post(
        "/register", data={"csrf": csrf_of(form.text), "scheme": "luzhou", "username": "xiaoming", "password": "short"}
    )
    assert weak.status_code == 422 and "8" in weak.text
    made = client.post(
        "/register",
        data={
            "csrf": csrf_of(form.text),
            "scheme": "luzhou",
            "username": "xiaoming",
            "password": "a-long-password",
            "display_name": "小明",
        },
    )
    assert made.status_code == 303 and client.get("/me").status_code == 200
    again = _client(live.base_url)
    csrf = csrf_of(again.get("/login").text)
    assert again.post("/login", data={"csrf": csrf, "username": "xiaoming", "password": "wrong-password"}).status_code == 401
    assert again.post("/login", data={"csrf": csrf, "username": "xiaoming", "password": "a-long-password"}).status_code == 303
    bad = httpx.post(f"{live.base_url}/v1/auth/token", json={"username": "xiaoming", "password": "nope-nope-nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_credentials"
    token = httpx.post(f"{live.base_url}/v1/auth/token", json={"username": "xiaoming", "password": "a-long-password"}).json()[
        "token"
    ]
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{live.base_url}/v1/me", headers=auth).status_code == 200
    exported = httpx.get(f"{live.base_url}/v1/me/export", headers=auth).json()
    assert exported["credentials"] == {"username": "xiaoming"} and exported["profile"]["display_name"] == "小明"
    assert {"consents", "events", "orders", "checkins", "memberships", "ledger"} <= set(exported)
    erased = httpx.delete(f"{live.base_url}/v1/me", headers=auth)
    assert erased.status_code == 200 and erased.json()["status"] == "erased"
    assert httpx.get(f"{live.base_url}/v1/me", headers=auth).status_code == 401
    assert client.get("/me", follow_redirects=False).status_code == 303  # the web session ended too
    assert (
        httpx.post(f"{live.base_url}/v1/auth/token", json={"username": "xiaoming", "password": "a-long-password"}).status_code
        == 401
    )
    live.tanhui("verify")


def test_web_erasure_of_a_partner_person_keeps_the_ledger_verifiable(city: Any) -> None:
    live, store, a, _b = city
    client = signed_in(live, store, a.people[1])
    export = client.get("/me/export")
    assert export.status_code == 200 and export.json()["events"] and "attachment" in export.headers["content-disposition"]
    csrf = csrf_of(client.get("/me/delete").text)
    assert client.post("/me/delete", data={"csrf": csrf}).status_code == 403  # the box must be ticked
    assert client.post("/me/delete", data={"csrf": csrf, "confirm": "yes"}).status_code == 303
    assert client.get("/me", follow_redirects=False).status_code == 303
    with store.unit_of_work(write=False) as uow:
        assert all(c.user_ref is None and not c.active for c in uow.consents.for_account(a.people[1]))
        assert uow.accounts.get(a.people[1]).erased_at is not None  # type: ignore[union-attr]
    live.tanhui("verify")


def test_organisations_join_pages_and_leaderboards(city: Any) -> None:
    live, store, a, _b = city
    ops = operator_client(live, "ops-luzhou")
    page = ops.get("/admin/schemes/luzhou/organisations")
    made = ops.post(
        "/admin/schemes/luzhou/organisations", data={"csrf": csrf_of(page.text), "name": "川南电力", "kind": "company"}
    )
    assert made.status_code == 303
    employer = ops.get(made.headers["location"])
    code = re.search(r"邀请码: (\w+)", employer.text).group(1)  # type: ignore[union-attr]
    person = signed_in(live, store, a.people[0])
    joined = person.post("/orgs/join", data={"csrf": csrf_of(person.get("/orgs").text), "invite_code": code})
    assert joined.status_code == 303 and joined.headers["location"].startswith("/orgs/org_")
    org = person.get(joined.headers["location"])
    assert "川南电力" in org.text and "成员排行榜" in org.text and "测试用户0" not in org.text  # names masked
    assert "川南电力" in person.get("/orgs").text
    wrong = person.post("/orgs/join", data={"csrf": csrf_of(person.get("/orgs").text), "invite_code": "nope"})
    assert wrong.status_code == 200 and "邀请码无效" in wrong.text
    assert str(a.people[0]) in ops.get(made.headers["location"]).text  # the employer's view lists members
    viewer = operator_client(live, "viewer-luzhou")
    refused = viewer.post(
        "/admin/schemes/luzhou/organisations",
        data={"csrf": csrf_of(viewer.get("/admin/schemes/luzhou/organisations").text), "name": "X", "kind": "company"},
    )
    assert refused.status_code == 403
    harbin_org = _b.orgs[0].public_id
    assert person.get(f"/orgs/{harbin_org}").status_code == 404  # another scheme's organisation


def test_admin_create_user_reads_the_password_from_stdin(city: Any) -> None:
    import os
    import subprocess

    from tests.live import PYTHON

    live, _store, _a, _b = city
    done = subprocess.run(
        [
            PYTHON,
            "-m",
            "tanhui.cli.main",
            "admin",
            "create-user",
            "--scheme",
            "luzhou",
            "--username",
            "ops-cli",
            "--role",
            "viewer",
            "--password-stdin",
            "--json",
        ],
        input="a-cli-password\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TANHUI_DATABASE_URL": live.database_url, "TANHUI_LANG": "en"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["role"] == "viewer" and "a-cli-password" not in done.stdout
    client = _client(live.base_url)
    signed = client.post(
        "/admin/login",
        data={"csrf": csrf_of(client.get("/admin/login").text), "username": "ops-cli", "password": "a-cli-password"},
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/admin/schemes/luzhou"
    bad = live.tanhui("admin", "token", "--scheme", "luzhou", "--role", "boss", check=False)
    assert bad.returncode != 0 and "invalid_role" in bad.stderr
