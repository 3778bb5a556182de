"""Structured logs through a real server: JSON lines, request ids, and no secret ever written.

The server's stdout and stderr are captured to a file (tests/live.py); after a session that touches
every credential the platform hands out or checks, the file is searched for each of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.live import LiveServer, Partner
from tests.ops.helpers import event, json_lines, setup

UUID_HEX = re.compile(r"^[0-9a-f]{32}$")


class Recorder:
    """Signed requests whose nonces and signatures are remembered, to be looked for in the log."""

    def __init__(self, partner: Partner) -> None:
        self.partner = partner
        self.seen: set[str] = {partner.secret}
        self.request_ids: list[str] = []

    def send(
        self, method: str, path: str, payload: Any = None, *, secret: str | None = None, request_id: str | None = None
    ) -> httpx.Response:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        headers = self.partner.headers(method, path, body, secret=secret)
        self.seen.update({headers["Tanhui-Nonce"], headers["Tanhui-Signature"]})
        if request_id:
            headers["X-Request-ID"] = request_id
        response = self.partner.http.request(method, path, content=body, headers=headers)
        self.request_ids.append(response.headers["x-request-id"])
        return response


def test_no_secret_token_nonce_signature_or_ticket_reaches_the_log(live_server_factory: Any, tmp_path: Path) -> None:
    live: LiveServer = live_server_factory(f"sqlite:///{tmp_path / 'logs.db'}")
    partner = setup(live)
    rec = Recorder(partner)
    base = live.base_url

    granted = rec.send(
        "POST",
        "/v1/partner/consents",
        {"user_ref": "u-secret-ref", "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00"},
    )
    assert granted.status_code == 201, granted.text
    events = rec.send(
        "POST",
        "/v1/partner/events",
        {"events": [event("e-1", "u-secret-ref"), event("e-2", "u-secret-ref", "walking", {"steps": 8000})]},
    )
    assert events.status_code == 200 and events.json()["summary"]["credited"] == 2

    session = rec.send("POST", "/v1/partner/accounts/u-secret-ref/sessions", request_id="client-chosen-id-0001")
    assert session.status_code == 201, session.text
    assert session.headers["x-request-id"] == "client-chosen-id-0001"
    token = session.json()["token"]
    login_url = session.json()["login_url"]
    ticket = login_url.rsplit("/", 1)[1]
    rec.seen.update({token, ticket, login_url})

    me = httpx.get(base + "/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    mine = httpx.get(
        base + "/v1/me/events",
        params={"cursor": "query-secret-cursor-value", "limit": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    rec.seen.add("query-secret-cursor-value")
    assert mine.status_code in (200, 422)
    code = httpx.post(base + "/v1/me/binding-codes", headers={"Authorization": f"Bearer {token}"})
    assert code.status_code == 201  # the partner session's binding code (api-v1); the code must not reach the log
    rec.seen.add(code.json()["code"])
    wrong_token = httpx.get(base + "/v1/me", headers={"Authorization": "Bearer ut_wrong-token-value-xyz"})
    assert wrong_token.status_code == 401
    rec.seen.add("ut_wrong-token-value-xyz")

    login = httpx.get(base + login_url, follow_redirects=False)
    assert login.status_code == 303, login.text
    cookie = login.cookies.get("tanhui_session")
    assert cookie
    rec.seen.add(cookie)
    page = httpx.get(base + "/me", cookies={"tanhui_session": cookie})
    assert page.status_code == 200
    again = httpx.get(base + login_url, follow_redirects=False)  # one-time: the second use fails
    assert again.status_code == 401

    bad = rec.send("GET", "/v1/partner/accounts/u-secret-ref", secret="sk_forged-secret-value")
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_signature"
    rec.seen.add("sk_forged-secret-value")

    rotated = json.loads(live.tanhui("partner", "rotate-secret", partner.partner_id, "--json").stdout)["secret"]
    rec.seen.add(rotated)
    assert rec.send("GET", "/v1/partner/accounts/u-secret-ref", secret=rotated).status_code == 200
    live.tanhui("partner", "rotate-secret", partner.partner_id, "--retire-old")
    old = rec.send("GET", "/v1/partner/accounts/u-secret-ref")
    assert old.status_code == 401
    assert rec.send("GET", "/v1/partner/accounts/u-secret-ref", secret=rotated).status_code == 200
    partner.close()
    live.stop()  # flush and close the log

    log = live.log()
    leaked = sorted(secret for secret in rec.seen if secret and secret in log)
    assert not leaked, f"found in the server log: {leaked}"
    for marker in ("Authorization", "authorization", "Bearer ", "tanhui_session=", "u-secret-ref", "Tanhui-Signature"):
        assert marker not in log, marker

    lines = json_lines(log)  # every line is one JSON object
    access = [line for line in lines if line["logger"] == "tanhui.access"]
    assert len(access) >= 14
    for line in access:
        assert set(line) >= {"time", "level", "request_id", "method", "route", "status", "duration_ms"}
        assert "?" not in line["route"]
    ids = {line["request_id"] for line in access}
    assert set(rec.request_ids) <= ids and "client-chosen-id-0001" in ids
    assert len(ids) == len(access)  # one line per request, each with its own id
    routes = {(line["route"], line["status"]) for line in access}
    assert ("/login/ticket/{ticket}", 303) in routes and ("/login/ticket/{ticket}", 401) in routes
    assert ("/v1/partner/accounts/{user_ref:path}/sessions", 201) in routes
    partner_lines = [line for line in access if line["route"].startswith("/v1/partner/")]
    authenticated = [line for line in partner_lines if line["status"] != 401]
    assert authenticated and all(line["partner_id"] == partner.partner_id for line in authenticated)
    assert all("partner_id" not in line for line in partner_lines if line["status"] == 401)


def test_request_ids_are_checked_generated_and_given_to_refused_requests(live_server_factory: Any, tmp_path: Path) -> None:
    live: LiveServer = live_server_factory(f"sqlite:///{tmp_path / 'ids.db'}")
    base = live.base_url
    assert httpx.get(base + "/healthz", headers={"X-Request-ID": "abc.DEF_123-xyz"}).headers["x-request-id"] == "abc.DEF_123-xyz"
    for unsafe in ("short", "x" * 65, "has spaces in it", "semi;colon;value", 'quote"value123', "../../etc/passwd"):
        given = httpx.get(base + "/healthz", headers={"X-Request-ID": unsafe}).headers["x-request-id"]
        assert given != unsafe and UUID_HEX.match(given), (unsafe, given)
    generated = {httpx.get(base + "/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(generated) == 5 and all(UUID_HEX.match(g) for g in generated)

    # Refused before the app reads the body (size limit, the outer layer): still an id and a line.
    huge = httpx.post(base + "/v1/partner/events", content=b"x" * (5 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and UUID_HEX.match(huge.headers["x-request-id"])
    missing = httpx.get(base + "/no/such/path-with-private-segment")
    assert missing.status_code == 404 and UUID_HEX.match(missing.headers["x-request-id"])
    ticket = httpx.get(base + "/login/ticket/not-a-real-ticket-value", follow_redirects=False)
    assert ticket.status_code == 401
    live.stop()

    log = live.log()
    assert "path-with-private-segment" not in log and "not-a-real-ticket-value" not in log
    access = {line["request_id"]: line for line in json_lines(log) if line["logger"] == "tanhui.access"}
    assert access[huge.headers["x-request-id"]]["route"] == "/v1/partner/events"
    assert access[huge.headers["x-request-id"]]["status"] == 413
    assert access[missing.headers["x-request-id"]]["route"] == "unmatched"
    assert access[ticket.headers["x-request-id"]]["route"] == "/login/ticket/{ticket}"
    assert access["abc.DEF_123-xyz"]["route"] == "/healthz"
