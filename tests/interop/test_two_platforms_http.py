"""Two Tanhui deployments (two `tanhui serve` processes, two databases) on loopback, through real HTTP:
identity, peers configured while both serve, a signed peer call from A to B, forged, replayed, skewed
and misaddressed requests refused, and a person's statement from A checked by B."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tanhui.domain import platform_signing as ps
from tanhui.services import identity, interop
from tanhui.store import Store
from tests.live import LiveServer, cli, create_partner, own_binding_code
from tests.web.helpers import csrf_of

pytestmark = pytest.mark.slow
PING = "/v1/interop/ping"


def _platform(live_server_factory: Any, tmp_path: Path, name: str, federation_key: Path) -> tuple[LiveServer, dict[str, str]]:
    server = live_server_factory(f"sqlite:///{tmp_path / (name + '.db')}")
    made = json.loads(
        server.tanhui(
            "interop", "init", "--platform-id", name, "--name", name, "--federation-key-file", str(federation_key), "--json"
        ).stdout
    )
    return server, made


def _ping(server: LiveServer, peer: str) -> tuple[int, dict[str, Any]]:
    result = server.tanhui("interop", "peer", "ping", peer, "--json", check=False)
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {"stderr": result.stderr}


def _raw(
    base_url: str,
    key: Ed25519PrivateKey,
    *,
    receiver: str = "cn-b",
    ts: int | None = None,
    nonce: str | None = None,
    body: bytes = b"{}",
    sent_body: bytes | None = None,
) -> httpx.Response:
    stamp = str(ts if ts is not None else int(time.time()))
    nonce = nonce or f"raw-{time.time_ns()}"
    headers = ps.headers(key, "cn-a", receiver, stamp, nonce, "POST", PING, body)
    return httpx.post(base_url + PING, content=sent_body if sent_body is not None else body, headers=headers, timeout=30)


def test_two_platforms_federate_over_http(live_server_factory: Any, tmp_path: Path) -> None:
    federation_key = tmp_path / "federation.key"
    cli(f"sqlite:///{tmp_path / 'x.db'}", "secrets", "new-key", str(federation_key))
    a, a_made = _platform(live_server_factory, tmp_path, "cn-a", federation_key)
    b, b_made = _platform(live_server_factory, tmp_path, "cn-b", federation_key)

    public = httpx.get(b.base_url + "/v1/interop/platform").json()
    assert public == {**b_made, "algorithm": "Ed25519", "protocol": "tanhui-interop/1", "protocol_version": 1}
    assert "private" not in json.dumps(public)

    # A knows B, but B does not know A yet: refused by B; then B adds A while serving, and the next call passes
    a.tanhui("interop", "peer", "add", "--platform-id", "cn-b", "--url", b.base_url, "--public-key", b_made["public_key"])
    code, answer = _ping(a, "cn-b")
    assert code == 1 and answer["status"] == 401 and answer["answer"]["error"]["code"] == "unknown_platform"
    b.tanhui("interop", "peer", "add", "--platform-id", "cn-a", "--url", a.base_url, "--public-key", a_made["public_key"])
    code, answer = _ping(a, "cn-b")
    assert code == 0 and answer["answer"]["platform_id"] == "cn-b" and answer["answer"]["peer"] == "cn-a"

    # requests bent by hand with A's own key (read from A's database, as A's server does)
    store = Store(a.database_url)
    try:
        key = interop.signing_key(store)[1]
    finally:
        store.dispose()
    nonce = f"once-{time.time_ns()}"
    assert _raw(b.base_url, key, nonce=nonce).status_code == 200
    refusals = {
        "replayed_request": _raw(b.base_url, key, nonce=nonce),
        "stale_request": _raw(b.base_url, key, ts=int(time.time()) - 400),
        "bad_signature": _raw(b.base_url, Ed25519PrivateKey.generate()),
    }
    refusals["changed body"] = _raw(b.base_url, key, sent_body=b'{"x":1}')
    refusals["other receiver"] = _raw(b.base_url, key, receiver="cn-c")
    for why, response in refusals.items():
        assert response.status_code == 401, (why, response.text)
        expected = why if why in ("replayed_request", "stale_request") else "bad_signature"
        assert response.json()["error"]["code"] == expected, (why, response.text)
    unsigned = httpx.post(b.base_url + PING, content=b"{}")
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "bad_signature"

    # B stops trusting A: refused from the next request on, without a restart
    b.tanhui("interop", "peer", "remove", "cn-a")
    code, answer = _ping(a, "cn-b")
    assert code == 1 and answer["answer"]["error"]["code"] == "unknown_platform"
    b.tanhui("interop", "peer", "add", "--platform-id", "cn-a", "--url", a.base_url, "--public-key", a_made["public_key"])
    assert _ping(a, "cn-b")[0] == 0

    _statement_from_a_checked_on_b(a, b, tmp_path)


def _statement_from_a_checked_on_b(a: LiveServer, b: LiveServer, tmp_path: Path) -> None:
    a.tanhui("scheme", "create", "city", "--name", "甲城")
    bus = create_partner(a, "city", "公交", "bus_ride")
    setup = Store(a.database_url)
    try:
        identity.register(setup, "city", "xiaoming", "correct horse battery")
    finally:
        setup.dispose()
    token = httpx.post(a.base_url + "/v1/auth/token", json={"username": "xiaoming", "password": "correct horse battery"}).json()
    me = {"Authorization": f"Bearer {token['token']}"}
    account_id = httpx.get(a.base_url + "/v1/me", headers=me).json()["account_id"]
    assert bus.consent("xm", binding_code=own_binding_code(a.database_url, account_id)).status_code == 201
    when = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    rides = [
        {"event_id": f"r{i}", "user_ref": "xm", "scenario": "bus_ride", "occurred_at": when, "data": {"trip_id": f"T{i}"}}
        for i in range(3)
    ]
    assert bus.events(rides).json()["summary"]["credited"] == 3

    made = httpx.get(a.base_url + "/v1/me/statement", headers=me)
    assert made.status_code == 200, made.text
    statement, payload = made.json()["statement"], made.json()["payload"]
    assert payload["iss"] == "cn-a" and payload["carbon_g_by_scenario"]["bus_ride"] == payload["carbon_g"] > 0
    session = bus.request("POST", "/v1/partner/accounts/xm/sessions").json()["token"]
    scoped = httpx.get(a.base_url + "/v1/me/statement", headers={"Authorization": f"Bearer {session}"})
    assert scoped.status_code == 403  # the whole account: not for a partner's session

    checked = httpx.post(b.base_url + "/v1/interop/statements/verify", json={"statement": statement}).json()
    assert checked == {"valid": True, "platform_id": "cn-a", "payload": payload, "reason": None}
    header, _body, signature = statement.split(".")
    inflated = ps.b64url(json.dumps({**payload, "carbon_g": 10**9}, separators=(",", ":"), sort_keys=True).encode())
    forged = httpx.post(b.base_url + "/v1/interop/statements/verify", json={"statement": f"{header}.{inflated}.{signature}"})
    assert forged.json()["valid"] is False and forged.json()["reason"] == "bad_signature"
    bad = httpx.post(b.base_url + "/v1/interop/statements/verify", json={"nope": 1})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"

    # the account page's button downloads the same kind of statement, for the person's browser session
    web = httpx.Client(base_url=a.base_url)
    try:
        csrf = csrf_of(web.get("/login").text)
        assert (
            web.post("/login", data={"csrf": csrf, "username": "xiaoming", "password": "correct horse battery"}).status_code
            == 303
        )
        assert 'href="/me/signed-statement"' in web.get("/me").text
        download = web.get("/me/signed-statement")
    finally:
        web.close()
    assert download.headers["content-disposition"].startswith("attachment;")
    from_page = httpx.post(b.base_url + "/v1/interop/statements/verify", json={"statement": download.json()["statement"]})
    assert from_page.json()["valid"] is True and from_page.json()["payload"]["sub"] == payload["sub"]

    saved = tmp_path / "statement.json"
    saved.write_text(made.text, encoding="utf-8")
    on_b = b.tanhui("interop", "verify-statement", str(saved), "--json")
    assert json.loads(on_b.stdout)["valid"] is True
    b.tanhui("interop", "peer", "remove", "cn-a")
    unknown = b.tanhui("interop", "verify-statement", str(saved), "--json", check=False)
    assert unknown.returncode == 1 and json.loads(unknown.stdout)["reason"] == "unknown_platform"
