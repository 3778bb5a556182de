"""Security through a real server: forged signatures, clock skew, nonce replay, secret rotation, broken
object-level authorisation across persons / partners / schemes, rate limits, size limits, SQL
injection and over-long strings. Every refused request must leave the database as it was.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from tanhui.store import Store
from tests.live import LiveServer, Partner, cli
from tests.live import create_partner as _create_partner

NOW = datetime.now(UTC)
FIGURES: dict[str, int] = {}
_OPEN: list[Partner] = []


def create_partner(*args: Any) -> Partner:
    partner = _create_partner(*args)
    _OPEN.append(partner)
    return partner


@pytest.fixture(autouse=True)
def _close_partners() -> Any:
    yield
    while _OPEN:
        _OPEN.pop().close()


def bus(event_id: str, user_ref: str, trip: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_ref": user_ref,
        "scenario": "bus_ride",
        "occurred_at": (NOW - timedelta(minutes=30)).isoformat(),
        "data": {"trip_id": trip or event_id},
    }


def rows(url: str, table: str) -> int:
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        store.dispose()


@pytest.fixture
def sqlite_server(live_server_factory: Any, tmp_path: Path) -> LiveServer:
    server: LiveServer = live_server_factory(f"sqlite:///{tmp_path / 'sec.db'}", env={"TANHUI_PARTNER_RATE_PER_MINUTE": "600000"})
    server.tanhui("scheme", "create", "city", "--name", "甲城")
    server.tanhui("scheme", "create", "town", "--name", "乙镇")
    return server


def test_forged_stale_and_replayed_requests_are_refused_before_any_write(sqlite_server: LiveServer) -> None:
    a = create_partner(sqlite_server, "city", "甲", "bus_ride")
    b = create_partner(sqlite_server, "city", "乙", "bus_ride")
    assert a.consent("u1").status_code == 201
    path, body = "/v1/partner/events", json.dumps({"events": [bus("e1", "u1")]}).encode()
    before = rows(sqlite_server.database_url, "events")
    good = a.headers("POST", path, body)
    cases: dict[str, tuple[dict[str, str] | Callable[[], dict[str, str]], bytes, str, str]] = {}

    def case(
        name: str,
        headers: dict[str, str] | Callable[[], dict[str, str]],
        content: bytes = body,
        target: str = path,
        code: str = "bad_signature",
    ) -> None:
        cases[name] = (headers, content, target, code)

    case("flipped body byte", good, body.replace(b"e1", b"e2"))
    case("other path", good, body, "/v1/partner/consents")
    case("query added", good, body, path + "?x=1")
    case("wrong secret", a.headers("POST", path, body, secret="not-the-secret"))
    case("A signs as B", {**a.headers("POST", path, body), "Tanhui-Partner": b.partner_id})
    case("unknown partner", {**good, "Tanhui-Partner": "ptn_nobody"}, code="unknown_partner")
    for header in ("Tanhui-Timestamp", "Tanhui-Nonce", "Tanhui-Signature"):
        case(f"missing {header}", {k: v for k, v in a.headers("POST", path, body).items() if k != header})
    case("short nonce", a.headers("POST", path, body, nonce="abc"))
    case("nonce with bad characters", a.headers("POST", path, body, nonce="abc/def'ghijklmnop"))
    case("signature not hex", {**a.headers("POST", path, body), "Tanhui-Signature": "v1=zz"})
    case("timestamp 301 s old", a.headers("POST", path, body, timestamp=int(time.time()) - 301), code="stale_request")
    # signed as it is sent, rounded up and 2 s over: the window is checked against the server's clock when
    # the request arrives, and an earlier signature or a second boundary would let a slow machine into it
    case(
        "timestamp 302 s ahead",
        lambda: a.headers("POST", path, body, timestamp=math.ceil(time.time()) + 302),
        code="stale_request",
    )
    case("timestamp not a number", {**a.headers("POST", path, body), "Tanhui-Timestamp": "soon"})
    refused = 0
    for name, (headers, content, target, code) in cases.items():
        got = a.http.post(target, content=content, headers=headers() if callable(headers) else headers)
        assert got.status_code == 401, (name, got.status_code, got.text)
        assert got.json()["error"]["code"] == code, (name, got.json())
        refused += 1
    assert rows(sqlite_server.database_url, "events") == before  # nothing written by any of them

    # Inside the window a skew of 299 s is fine; a verbatim replay of a captured request is not.
    captured = a.headers("POST", path, body, timestamp=math.ceil(time.time()) - 299)  # rounded up: never 300 s by arrival
    first = a.http.post(path, content=body, headers=captured)
    assert first.status_code == 200 and first.json()["results"][0]["status"] == "credited"
    replay = a.http.post(path, content=body, headers=captured)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "replayed_request"
    # A fresh signature of the same batch is accepted but credits nothing again.
    again = a.events([bus("e1", "u1")])
    assert again.json()["results"][0]["status"] == "duplicate" and again.json()["summary"]["points"] == 0
    FIGURES["signature_cases_refused"] = refused + 1


def test_secret_rotation_keeps_both_then_only_the_new(sqlite_server: LiveServer) -> None:
    a = create_partner(sqlite_server, "city", "甲", "bus_ride")
    rotated = json.loads(sqlite_server.tanhui("partner", "rotate-secret", a.partner_id, "--json").stdout)
    new_secret = rotated.get("secret") or rotated.get("new_secret")
    assert new_secret and new_secret != a.secret
    assert a.consent("u1").status_code == 201  # the old secret still signs while rotating
    b = Partner(sqlite_server.base_url, a.partner_id, new_secret)
    _OPEN.append(b)
    assert b.consent("u2").status_code == 201
    retired = sqlite_server.tanhui("partner", "rotate-secret", a.partner_id, "--retire-old", check=False)
    assert retired.returncode == 0, retired.stderr[:200]
    assert a.consent("u3").status_code == 401
    assert b.consent("u3").status_code == 201


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_broken_object_level_authorisation_across_persons_partners_and_schemes(sqlite_server: LiveServer) -> None:
    url = sqlite_server.database_url
    a = create_partner(sqlite_server, "city", "甲", "bus_ride")
    b = create_partner(sqlite_server, "city", "乙", "bus_ride")
    t = create_partner(sqlite_server, "town", "丙", "bus_ride")
    for who in (a, b, t):
        assert who.consent("shared-ref").status_code == 201  # the same user_ref at three partners: three people
    assert a.consent("alice").status_code == 201
    assert a.events([bus(f"fund-{i}", "alice") for i in range(6)]).status_code == 200
    assert a.events([bus(f"bob-{i}", "shared-ref") for i in range(6)]).status_code == 200
    item = json.loads(
        cli(
            url,
            "market",
            "add",
            "--scheme",
            "city",
            "--title",
            "灯",
            "--points",
            "20",
            "--stock",
            "5",
            "--kind",
            "physical",
            "--json",
        ).stdout
    )
    tok = {name: a.request("POST", f"/v1/partner/accounts/{name}/sessions").json()["token"] for name in ("alice", "shared-ref")}
    t_tok = t.request("POST", "/v1/partner/accounts/shared-ref/sessions").json()["token"]
    http = httpx.Client(base_url=sqlite_server.base_url)
    _OPEN.append(http)  # type: ignore[arg-type]
    bearer = lambda token: {"Authorization": f"Bearer {token}"}  # noqa: E731
    order = http.post(
        "/v1/me/orders",
        json={"item_id": item.get("id") or item.get("item_id"), "quantity": 1},
        headers={**bearer(tok["alice"]), "Idempotency-Key": "k1"},
    )
    assert order.status_code == 201, order.text
    order_id = order.json()["order_id"]
    alice_consent = http.get("/v1/me/consents", headers=bearer(tok["alice"])).json()["consents"][0]["consent_id"]
    checks: list[tuple[str, httpx.Response, set[int]]] = []

    def deny(name: str, response: httpx.Response, allowed: set[int] = {401, 403, 404}) -> None:  # noqa: B006
        checks.append((name, response, allowed))

    # Person -> another person's objects (orders, consents) in the same scheme.
    deny("cancel someone else's order", http.post(f"/v1/me/orders/{order_id}/cancel", headers=bearer(tok["shared-ref"])))
    deny("revoke someone else's consent", http.post(f"/v1/me/consents/{alice_consent}/revoke", headers=bearer(tok["shared-ref"])))
    deny("order list shows only mine", http.get("/v1/me/orders", headers=bearer(tok["shared-ref"])), {200})
    # Person in another scheme -> this scheme's order and item.
    deny("other scheme's order", http.post(f"/v1/me/orders/{order_id}/cancel", headers=bearer(t_tok)))
    deny(
        "other scheme's item",
        http.post(
            "/v1/me/orders",
            json={"item_id": item.get("id") or item.get("item_id"), "quantity": 1},
            headers={**bearer(t_tok), "Idempotency-Key": "x"},
        ),
    )
    # Partners -> another partner's person (account, session, consent, events), same and other scheme.
    for other in (b, t):
        deny("account of another partner's user", other.request("GET", "/v1/partner/accounts/alice"))
        deny("session for another partner's user", other.request("POST", "/v1/partner/accounts/alice/sessions"))
        deny("withdraw another partner's user", other.request("DELETE", "/v1/partner/consents/alice"))
    crossed = b.events([bus("steal-1", "alice")]).json()["results"][0]
    assert (crossed["status"], crossed["reason"]) == ("rejected", "no_consent")
    # Same user_ref at another partner is another person: B sees its own, with none of A's credits.
    assert b.request("GET", "/v1/partner/accounts/shared-ref").json()["points_balance"] == 0
    # Credentials of one kind do not open the other's paths; no credentials open nothing.
    deny("bearer on a partner path", http.get("/v1/partner/accounts/alice", headers=bearer(tok["alice"])))
    deny("partner signature on /v1/me", http.get("/v1/me", headers=a.headers("GET", "/v1/me", b"")))
    for path in ("/v1/me", "/v1/me/events", "/v1/me/consents", "/v1/me/orders", "/v1/me/credits", "/v1/market/items"):
        deny(f"no token {path}", http.get(path))
        deny(f"forged token {path}", http.get(path, headers=bearer("ut_" + "0" * 40)))
    # Operator statistics: none without an operator token, and one scheme's token not for another.
    deny("admin stats without a token", http.get("/v1/admin/schemes/city/stats"))
    deny("admin stats with a user token", http.get("/v1/admin/schemes/city/stats", headers=bearer(tok["alice"])))
    admin = cli(url, "admin", "token", "--scheme", "town", "--json", check=False)
    if admin.returncode == 0:
        town_token = json.loads(admin.stdout)["token"]
        assert http.get("/v1/admin/schemes/town/stats", headers=bearer(town_token)).status_code == 200
        deny("another scheme's admin stats", http.get("/v1/admin/schemes/city/stats", headers=bearer(town_token)))
    for name, response, allowed in checks:
        assert response.status_code in allowed, (name, response.status_code, response.text[:300])
        if response.status_code != 200:
            body = response.text
            assert "account_id" not in body and '"pending"' not in body and "points" not in body, (
                name,
                body,
            )  # ids the caller sent may be echoed; nothing of the owner
    assert not [
        o for o in http.get("/v1/me/orders", headers=bearer(tok["shared-ref"])).json()["orders"] if o["order_id"] == order_id
    ]
    still = http.get("/v1/me/orders", headers=bearer(tok["alice"])).json()["orders"][0]
    assert still["order_id"] == order_id and still["status"] == "pending"
    FIGURES["bola_cases"] = len(checks)
    assert cli(url, "verify", check=False).returncode == 0


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_rate_limit_answers_429_with_retry_after(live_server_factory: Any, tmp_path: Path) -> None:
    server = live_server_factory(f"sqlite:///{tmp_path / 'rl.db'}", env={"TANHUI_PARTNER_RATE_PER_MINUTE": "60"})
    server.tanhui("scheme", "create", "city", "--name", "甲城")
    a = create_partner(server, "city", "甲", "bus_ride")
    statuses = [a.request("GET", "/v1/partner/accounts/nobody") for _ in range(15)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and all(r.status_code in (404, 429) for r in statuses)
    assert int(limited[0].headers["Retry-After"]) >= 1 and limited[0].json()["error"]["code"] == "rate_limited"
    other = create_partner(server, "city", "乙", "bus_ride")  # one partner's burst does not limit another
    assert other.request("GET", "/v1/partner/accounts/nobody").status_code == 404


def test_size_limits_injection_and_long_strings(sqlite_server: LiveServer) -> None:
    url = sqlite_server.database_url
    a = create_partner(sqlite_server, "city", "甲", "bus_ride")
    huge = b'{"events": [' + b'{"x": "' + b"a" * (4 * 1024 * 1024) + b'"}]}'
    assert a.request("POST", "/v1/partner/events", raw=huge).status_code == 413
    too_many = a.events([bus(f"m{i}", "u1") for i in range(1001)])
    assert too_many.status_code == 413 and too_many.json()["error"]["details"] == {"events_max": 1000}
    assert a.events([]).status_code in (400, 422)  # docs/api.md says 400; the server answers 422 invalid_request
    nasty = [
        "'; DROP TABLE events; --",
        '" OR 1=1 --',
        "u1' UNION SELECT secret FROM partner_secrets --",
        "\x00",
        "🌱" * 40,
        "a" * 129,
        "a" * 100_000,
    ]
    served = 0
    for value in nasty:
        for body in (
            {"user_ref": value, "scopes": ["behaviour:report"], "granted_at": NOW.isoformat()},
            {"user_ref": "u1", "scopes": [value], "granted_at": NOW.isoformat()},
            {"user_ref": "u1", "scopes": ["behaviour:report"], "granted_at": value},
            {"user_ref": "u1", "scopes": ["behaviour:report"], "granted_at": NOW.isoformat(), "display_name": value},
            {"user_ref": "u1", "scopes": ["behaviour:report"], "granted_at": NOW.isoformat(), "binding_code": value},
        ):
            got = a.request("POST", "/v1/partner/consents", body)
            assert got.status_code in (200, 201, 400, 409, 422), (value[:40], got.status_code, got.text[:200])
            served += 1
        for event in (
            {**bus("x", "u1"), "event_id": value},
            {**bus("y", "u1"), "user_ref": value},
            {**bus("z", "u1"), "scenario": value},
            {**bus("w", "u1"), "occurred_at": value},
            {**bus("v", "u1"), "data": {"trip_id": value, "line": value, "city": value}},
        ):
            got = a.events([event])
            assert got.status_code in (200, 400, 413, 422), (value[:40], got.status_code, got.text[:200])
            served += 1
        segment = quote(value[:4000], safe="")  # the client refuses URLs over 64 KB
        for method, path in (("GET", f"/v1/partner/accounts/{segment}"), ("POST", f"/v1/partner/accounts/{segment}/sessions")):
            got = a.request(method, path)
            assert got.status_code in (200, 201, 400, 404, 422), (value[:40], got.status_code, got.text[:200])
            served += 1
    for table in ("events", "partners", "partner_secrets", "accounts"):
        rows(url, table)  # every table is still there
    assert cli(url, "verify", check=False).returncode == 0
    FIGURES["injection_requests"] = served
