"""Issue 18 (1): a partner's session is scoped to that partner, on SQLite and PostgreSQL, through a real server.

The attack replayed: partner A opens a session for a person who also uses partner B. With A's token
(and with the browser session A's login_url gives) A must not see B's user_ref or B's data, revoke
B's consent, make binding codes or erase the account. Withdrawing consent from A (by the person, or
by A itself) ends A's tokens, tickets and browser sessions at once. The person's own sign-in keeps
full rights.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tanhui.services import identity
from tanhui.store import Store
from tests.live import LiveServer, Partner, create_partner

NOW = datetime.now(UTC)
A_REF, B_REF = "ref-at-partner-a", "ref-at-partner-b"
B_SECRET = "b-only-trip-7731"  # a value only partner B ever sent


def bus(event_id: str, user_ref: str, trip: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_ref": user_ref,
        "scenario": "bus_ride",
        "occurred_at": (NOW - timedelta(minutes=30)).isoformat(),
        "data": {"trip_id": trip, "line": "K12"},
    }


def _person_with_two_partners(live: LiveServer, http: httpx.Client) -> tuple[Partner, Partner, dict[str, str]]:
    live.tanhui("scheme", "create", "city", "--name", "绿芽积分")
    a = create_partner(live, "city", "公交甲", "bus_ride")
    b = create_partner(live, "city", "地铁乙", "bus_ride")
    setup = Store(live.database_url)
    try:
        identity.register(setup, "city", "xiaoming", "correct horse battery", display_name="王小明")
    finally:
        setup.dispose()
    own = {
        "Authorization": "Bearer "
        + http.post("/v1/auth/token", json={"username": "xiaoming", "password": "correct horse battery"}).json()["token"]
    }
    for partner, ref in ((a, A_REF), (b, B_REF)):
        code = http.post("/v1/me/binding-codes", headers=own).json()["code"]
        assert partner.consent(ref, binding_code=code).status_code == 201
    assert a.events([bus("a1", A_REF, "a-trip-1")]).json()["summary"]["credited"] == 1
    assert b.events([bus("b1", B_REF, B_SECRET)]).json()["summary"]["credited"] == 1
    return a, b, own


def _session(partner: Partner, user_ref: str) -> tuple[dict[str, str], str]:
    opened = partner.request("POST", f"/v1/partner/accounts/{user_ref}/sessions")
    assert opened.status_code in (200, 201), opened.text
    body = opened.json()
    return {"Authorization": f"Bearer {body['token']}"}, body["login_url"]


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "partner_session_forbidden" and error["message"], error


def test_partner_session_sees_only_its_partner_and_dies_with_its_consent(live: LiveServer) -> None:
    http = httpx.Client(base_url=live.base_url, timeout=60)
    browser = httpx.Client(base_url=live.base_url, timeout=60)
    a = b = None
    try:
        a, b, own = _person_with_two_partners(live, http)
        mine = {c["partner_id"]: c for c in http.get("/v1/me/consents", headers=own).json()["consents"]}
        own_export = http.get("/v1/me/export", headers=own).json()
        b1_pk = next(e["id"] for e in own_export["events"] if e["event_id"] == "b1")
        a1_pk = next(e["id"] for e in own_export["events"] if e["event_id"] == "a1")
        as_a, login_url = _session(a, A_REF)

        # What the partner's app opens the pages for still works.
        assert http.get("/v1/me", headers=as_a).status_code == 200
        # Only A's events, consent and data.
        events = http.get("/v1/me/events", headers=as_a)
        assert events.status_code == 200 and [e["event_id"] for e in events.json()["events"]] == ["a1"]
        consents = http.get("/v1/me/consents", headers=as_a).json()["consents"]
        assert [c["partner_id"] for c in consents] == [a.partner_id]
        export = http.get("/v1/me/export", headers=as_a)
        assert export.status_code == 200, export.text
        dump = json.dumps(export.json(), ensure_ascii=False)
        for leaked in (B_REF, B_SECRET, b.partner_id, "王小明", "xiaoming"):
            assert leaked not in dump, leaked
        assert {e["event_id"] for e in export.json()["events"]} == {"a1"} and A_REF in dump
        # Refused: another partner's consent, erasure. (A binding code stays allowed: api-v1's way for a person a
        # partner brought to connect a second source; it shows the new partner nothing of A's or B's data.)
        _refused(http.post(f"/v1/me/consents/{mine[b.partner_id]['consent_id']}/revoke", headers=as_a))
        _refused(http.delete("/v1/me", headers=as_a))
        assert http.post("/v1/me/binding-codes", headers=as_a).status_code == 201
        still = {c["partner_id"]: c["status"] for c in http.get("/v1/me/consents", headers=own).json()["consents"]}
        assert still == {a.partner_id: "active", b.partner_id: "active"}
        assert http.get("/v1/me", headers=own).status_code == 200  # not erased

        # The web pages behave the same for a browser session from A's login ticket.
        signed = browser.get(login_url)
        assert signed.status_code == 303 and signed.headers["location"] == "/me"
        page = browser.get("/me")
        assert page.status_code == 200 and B_REF not in page.text
        assert browser.get(f"/me/events/{a1_pk}").status_code == 200
        assert browser.get(f"/me/events/{b1_pk}").status_code == 404
        web_export = browser.get("/me/export")
        assert web_export.status_code == 200 and B_REF not in web_export.text and B_SECRET not in web_export.text
        assert browser.get("/me/delete").status_code == 403

        # The person withdraws consent from A: A's token, unused ticket and browser session end at once.
        _, unused_login_url = _session(a, A_REF)
        withdrawn = http.post(f"/v1/me/consents/{mine[a.partner_id]['consent_id']}/revoke", headers=own)
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "revoked"
        assert http.get("/v1/me", headers=as_a).status_code == 401
        assert http.get("/v1/me/export", headers=as_a).status_code == 401
        assert browser.get("/me").status_code == 303  # sent to sign in
        fresh = httpx.Client(base_url=live.base_url, timeout=60)
        try:
            assert fresh.get(unused_login_url).status_code == 401
            assert "ws_" not in "".join(fresh.cookies.keys()) and fresh.get("/me").status_code == 303
        finally:
            fresh.close()

        # Partner B withdraws (DELETE /v1/partner/consents/{user_ref}): B's session ends too.
        as_b, _ = _session(b, B_REF)
        assert http.get("/v1/me", headers=as_b).status_code == 200
        assert b.request("DELETE", f"/v1/partner/consents/{B_REF}").status_code == 200
        assert http.get("/v1/me", headers=as_b).status_code == 401

        # The person's own sign-in keeps full rights: everything, then erasure.
        full = json.dumps(http.get("/v1/me/export", headers=own).json(), ensure_ascii=False)
        assert A_REF in full and B_REF in full and "王小明" in full
        erased = http.delete("/v1/me", headers=own)
        assert erased.status_code == 200 and erased.json()["status"] == "erased", erased.text
    finally:
        http.close()
        browser.close()
        for p in (a, b):
            if p is not None:
                p.close()
