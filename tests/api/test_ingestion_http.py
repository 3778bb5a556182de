"""The partner API through real HTTP: a server process on a free port, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.live import LiveServer, Partner, create_partner

NOW = datetime.now(UTC)


def at(delta: timedelta = timedelta()) -> str:
    return (NOW + delta).isoformat()


def event(
    event_id: str, user_ref: str, scenario: str, data: dict[str, Any] | None = None, when: timedelta = timedelta(minutes=-30)
) -> dict[str, Any]:
    return {"event_id": event_id, "user_ref": user_ref, "scenario": scenario, "occurred_at": at(when), "data": data or {}}


def same_day(minutes: int) -> timedelta:
    """``minutes`` (-59..0) before now, or two hours earlier still in the scheme's first hour of the day
    (then all fall late on the day before): the four meals of the cap test must share one local day
    whatever the hour the test runs."""
    from zoneinfo import ZoneInfo

    early = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).hour == 0
    return timedelta(hours=-2 if early else 0, minutes=minutes)


def setup(live: LiveServer, scenarios: str = "bus_ride,walking,clean_plate,recycling") -> Partner:
    live.tanhui("scheme", "create", "city", "--name", "绿芽积分")
    return create_partner(live, "city", "泸州公交", scenarios)


def events_count(live: LiveServer) -> int:
    from sqlalchemy import text

    from tanhui.store import Store

    store = Store(live.database_url)
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())
    finally:
        store.dispose()


def test_the_whole_flow(live: LiveServer) -> None:
    partner = setup(live)
    granted = partner.consent("u1", display_name="小王")
    assert granted.status_code == 201, granted.text
    body = granted.json()
    assert body["status"] == "active" and body["user_ref"] == "u1" and body["scopes"] == ["behaviour:report"]
    again = partner.consent("u1")
    assert again.status_code == 200 and again.json()["consent_id"] == body["consent_id"]

    batch = [
        event("bus-1", "u1", "bus_ride", {"trip_id": "T-1"}),  # credited 80 g, 10 points
        event("walk-1", "u1", "walking", {"steps": 10000}),  # credited 164 g
        event("walk-2", "u1", "walking", {"steps": 300000}, when=timedelta(days=-1)),  # implausible
        event("nc-1", "stranger", "bus_ride"),  # never consented
        event("bad-1", "u1", "walking", {}),  # steps missing
        event("old-1", "u1", "bus_ride", when=timedelta(days=-8)),  # outside the window
        event("future-1", "u1", "bus_ride", when=timedelta(minutes=30)),
        event("unk-1", "u1", "teleport"),
        event("metro-1", "u1", "metro_ride"),  # not licensed to this partner
        event("bus-dup", "u1", "bus_ride", {"trip_id": "T-1"}),  # the same trip again
        event("plate-1", "u1", "clean_plate", when=same_day(-50)),
        event("plate-2", "u1", "clean_plate", when=same_day(-40)),
        event("plate-3", "u1", "clean_plate", when=same_day(-30)),
        event("plate-4", "u1", "clean_plate", when=same_day(-20)),  # over the daily cap of 3
        event("bus-1", "u1", "bus_ride", {"trip_id": "T-1"}),  # same id, same content, in the batch
    ]
    response = partner.events(batch)
    assert response.status_code == 200, response.text
    results = {(r["event_id"], i): r for i, r in enumerate(response.json()["results"])}
    by_position = [r for _, r in sorted(results.items(), key=lambda kv: kv[0][1])]
    expected = [
        ("credited", None),
        ("credited", None),
        ("rejected", "implausible"),
        ("rejected", "no_consent"),
        ("rejected", "invalid_data"),
        ("rejected", "too_old"),
        ("rejected", "in_future"),
        ("rejected", "unknown_scenario"),
        ("rejected", "scenario_not_allowed"),
        ("rejected", "duplicate_behaviour"),
        ("credited", None),
        ("credited", None),
        ("credited", None),
        ("rejected", "cap_reached"),
        ("duplicate", "duplicate_event"),
    ]
    assert [(r["status"], r["reason"]) for r in by_position] == expected, json.dumps(by_position, indent=1)
    assert [r["event_id"] for r in by_position] == [e["event_id"] for e in batch]
    assert (
        by_position[0]["carbon_g"] == 80 and by_position[0]["points"] == 10 and by_position[0]["methodology"] == "bus-ride-cn@1"
    )
    assert by_position[1]["carbon_g"] == 164
    assert by_position[10]["carbon_g"] == 144 and by_position[10]["points"] == 5
    assert by_position[14]["carbon_g"] == 80  # the replay carries the original result
    assert by_position[4]["details"]["steps"]
    summary = response.json()["summary"]
    assert summary == {"credited": 5, "duplicate": 1, "rejected": 9, "carbon_g": 80 + 164 + 3 * 144, "points": summary["points"]}

    account = partner.request("GET", "/v1/partner/accounts/u1").json()
    assert account["carbon_g_total"] == 80 + 164 + 3 * 144
    assert account["points_balance"] == summary["points"]
    assert account["events_credited"] == 5 and account["rank_in_scheme"] == 1

    # a replay of the whole batch changes nothing
    replay = partner.events(batch[:2] + [event("bus-1", "u1", "bus_ride", {"trip_id": "T-2"})])
    assert [(r["status"], r["reason"]) for r in replay.json()["results"]] == [
        ("duplicate", "duplicate_event"),
        ("duplicate", "duplicate_event"),
        ("rejected", "event_id_reused"),
    ]
    assert partner.request("GET", "/v1/partner/accounts/u1").json()["carbon_g_total"] == account["carbon_g_total"]

    revoked = partner.request("DELETE", "/v1/partner/consents/u1")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    after = partner.events([event("bus-9", "u1", "bus_ride")]).json()["results"][0]
    assert (after["status"], after["reason"]) == ("rejected", "no_consent")
    assert partner.request("GET", "/v1/partner/accounts/u1").status_code == 404
    assert live.tanhui("verify").returncode == 0
    partner.close()


def test_sessions_binding_codes_and_a_second_partner(live: LiveServer) -> None:
    bus = setup(live)
    metro = create_partner(live, "city", "地铁", "bus_ride,metro_ride")
    assert bus.consent("u1").status_code == 201
    session = bus.request("POST", "/v1/partner/accounts/u1/sessions")
    assert session.status_code == 201
    token = session.json()["token"]
    me = httpx.get(live.base_url + "/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["carbon_g_total"] == 0
    made = httpx.post(live.base_url + "/v1/me/binding-codes", headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201  # api-v1: the partner session's token asks for the code
    code = made.json()["code"]
    bound = metro.consent("m-77", binding_code=code)
    assert bound.status_code == 201 and bound.json()["account_id"] == me.json()["account_id"]
    reused = metro.consent("m-78", binding_code=code)  # single use
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "invalid_binding_code"

    # the same trip reported by both partners: one credit
    first = bus.events([event("b-1", "u1", "bus_ride", {"trip_id": "SHARED-9"})]).json()["results"][0]
    second = metro.events([event("m-1", "m-77", "bus_ride", {"trip_id": "SHARED-9"})]).json()["results"][0]
    assert first["status"] == "credited"
    assert (second["status"], second["reason"]) == ("rejected", "duplicate_behaviour")
    consents = httpx.get(live.base_url + "/v1/me/consents", headers={"Authorization": f"Bearer {token}"}).json()["consents"]
    assert [c["partner_id"] for c in consents] == [bus.partner_id]  # the bus app's session sees its own consent only

    # the login URL signs the person into the web page once
    login = httpx.get(live.base_url + session.json()["login_url"], follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/me"
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = httpx.get(live.base_url + "/me", cookies=login.cookies)
    assert page.status_code == 200 and "我的碳账户" in page.text and "0.080 kg" in page.text
    assert httpx.get(live.base_url + session.json()["login_url"]).status_code == 401  # used once

    history = httpx.get(live.base_url + "/v1/me/events", headers={"Authorization": f"Bearer {token}"}).json()
    assert history["events"][0]["explanation"]["methodology"] == "bus-ride-cn@1"
    bus.close()
    metro.close()


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_security_answers_and_nothing_written(live: LiveServer, live_server_factory: Any) -> None:
    partner = setup(live)
    assert partner.consent("u1").status_code == 201
    written = events_count(live)
    body = json.dumps({"events": [event("s-1", "u1", "bus_ride")]}).encode()
    path = "/v1/partner/events"

    def code(response: httpx.Response) -> tuple[int, str]:
        assert "error" in response.json(), (response.status_code, response.text[:500])
        return response.status_code, response.json()["error"]["code"]

    no_headers = httpx.post(live.base_url + path, content=body)
    assert code(no_headers) == (401, "bad_signature")
    forged = partner.http.post(path, content=body, headers=partner.headers("POST", path, body, secret="sk_wrong"))
    assert code(forged) == (401, "bad_signature")
    tampered = partner.http.post(path, content=body.replace(b"s-1", b"s-2"), headers=partner.headers("POST", path, body))
    assert code(tampered) == (401, "bad_signature")
    stale = partner.http.post(
        path, content=body, headers=partner.headers("POST", path, body, timestamp=int(NOW.timestamp()) - 301)
    )
    assert code(stale) == (401, "stale_request")
    nobody = Partner(live.base_url, "ptn_nobody", "sk")
    assert code(nobody.request("POST", path, raw=body)) == (401, "unknown_partner")
    nobody.close()
    headers = partner.headers("POST", path, body)
    assert partner.http.post(path, content=body, headers=headers).status_code == 200
    written += 1
    assert code(partner.http.post(path, content=body, headers=headers)) == (401, "replayed_request")

    too_many = partner.events([event(f"x-{i}", "u1", "bus_ride") for i in range(1001)])
    assert code(too_many) == (413, "payload_too_large")
    huge = partner.request("POST", path, raw=b'{"events": ["' + b"x" * (5 * 1024 * 1024) + b'"]}')
    assert code(huge) == (413, "payload_too_large")
    assert code(partner.request("POST", path, raw=b"{not json")) == (400, "invalid_json")
    assert code(partner.request("POST", path, {"events": []})) == (422, "invalid_request")
    assert code(partner.request("POST", path, {"rows": []})) == (422, "invalid_request")
    assert code(partner.request("GET", "/v1/partner/accounts/never-consented")) == (404, "consent_not_found")
    assert code(partner.request("GET", "/v1/nope")) == (404, "not_found")
    assert code(httpx.get(live.base_url + "/v1/me")) == (401, "unauthorised")
    english = httpx.get(live.base_url + "/v1/me", headers={"Accept-Language": "en"}).json()["error"]["message"]
    assert english == "a valid bearer token is required"

    # a partner of another scheme cannot see this scheme's person, even with the same user_ref
    live.tanhui("scheme", "create", "bank", "--name", "银行")
    other = create_partner(live, "bank", "银行APP", "paperless_bill")
    assert code(other.request("GET", "/v1/partner/accounts/u1")) == (404, "consent_not_found")
    assert code(other.request("DELETE", "/v1/partner/consents/u1")) == (404, "consent_not_found")
    assert code(other.request("POST", "/v1/partner/accounts/u1/sessions")) == (404, "consent_not_found")
    assert events_count(live) == written

    # disabled partners and retired secrets stop working
    new_secret = json.loads(live.tanhui("partner", "rotate-secret", partner.partner_id, "--json").stdout)["secret"]
    assert partner.request("GET", "/v1/partner/accounts/u1").status_code == 200  # old secret still valid
    rotated = Partner(live.base_url, partner.partner_id, new_secret)
    assert rotated.request("GET", "/v1/partner/accounts/u1").status_code == 200
    live.tanhui("partner", "rotate-secret", partner.partner_id, "--retire-old")
    assert code(partner.request("GET", "/v1/partner/accounts/u1")) == (401, "bad_signature")
    assert rotated.request("GET", "/v1/partner/accounts/u1").status_code == 200
    live.tanhui("partner", "disable", partner.partner_id)
    assert code(rotated.request("GET", "/v1/partner/accounts/u1")) == (401, "unknown_partner")
    for p in (partner, other, rotated):
        p.close()


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_rate_limit_answers_429_with_retry_after(live_server_factory: Any, tmp_path: Any) -> None:
    live = live_server_factory(f"sqlite:///{tmp_path / 'rl.db'}", env={"TANHUI_PARTNER_RATE_PER_MINUTE": "60"})
    partner = setup(live)
    statuses = [partner.request("GET", "/v1/partner/accounts/u1").status_code for _ in range(15)]
    assert 429 in statuses
    limited = partner.request("GET", "/v1/partner/accounts/u1")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    partner.close()


def test_openapi_and_docs_are_served(live: LiveServer) -> None:
    spec = httpx.get(live.base_url + "/openapi.json").json()
    assert "/v1/partner/events" in spec["paths"] and "/v1/me/binding-codes" in spec["paths"]
    assert "EventIn" in spec["components"]["schemas"]
    docs = httpx.get(live.base_url + "/docs")
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text  # works inside an intranet
    for asset in ("/static-offline-docs/swagger-ui-bundle.js", "/static-offline-docs/swagger-ui.css"):
        assert httpx.get(live.base_url + asset).status_code == 200
