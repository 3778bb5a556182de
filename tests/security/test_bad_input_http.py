"""Issue 18, finding 4 (and 16): bad input answers a JSON error with a code, never a 500, and one bad event
never fails its batch. Through real HTTP on both engines (the live fixture)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx

from tanhui.store import Store
from tests.api.test_ingestion_http import event, events_count, setup
from tests.live import LiveServer
from tests.web.helpers import build_city, coupon_item, csrf_of, fund, web_login


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_deep_nesting_is_invalid_json_not_a_500(live: LiveServer) -> None:
    partner = setup(live)
    for path in ("/v1/partner/events", "/v1/partner/consents"):
        answer = partner.request("POST", path, raw=b'{"events": ' + deep(1000) + b"}")
        assert answer.status_code == 400, (path, answer.status_code, answer.text)
        assert answer.json()["error"]["code"] == "invalid_json"
    token = httpx.post(live.base_url + "/v1/auth/token", content=b'{"username": ' + deep(100_000) + b"}")
    assert token.status_code == 400 and token.json()["error"]["code"] == "invalid_json", token.text
    # the same keep-alive connection goes on serving
    assert partner.consent("after-deep").status_code == 201


def test_lone_surrogate_or_nul_in_a_consent_is_422(live: LiveServer) -> None:
    partner = setup(live)
    for user_ref in ("\ud800", "a\x00b"):
        body = json.dumps({"user_ref": user_ref, "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00"})
        answer = partner.request("POST", "/v1/partner/consents", raw=body.encode("ascii"))
        assert answer.status_code == 422, (repr(user_ref), answer.status_code, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "invalid_request" and error["details"] == {"user_ref": "unstorable_text"} and error["message"]
    named = json.dumps(
        {"user_ref": "u9", "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00", "display_name": "x\udfff"}
    )
    assert partner.request("POST", "/v1/partner/consents", raw=named.encode("ascii")).status_code == 422
    assert partner.consent("u9").status_code == 201  # nothing half-written by the refused ones
    for method, path in (
        ("DELETE", "/v1/partner/consents/a%00b"),
        ("GET", "/v1/partner/accounts/a%00b"),
        ("POST", "/v1/partner/accounts/a%00b/sessions"),
    ):
        answer = partner.request(method, path)
        assert answer.status_code == 422 and answer.json()["error"]["details"] == {"user_ref": "unstorable_text"}, (
            path,
            answer.text,
        )


def test_one_bad_event_is_rejected_and_the_rest_credited(live: LiveServer) -> None:
    partner = setup(live)
    assert partner.consent("u1").status_code == 201
    good = [event(f"good-{i}", "u1", "bus_ride", {"trip_id": f"T-{i}"}, when=timedelta(minutes=-30 - i)) for i in range(3)]
    bad = [
        ({**event("surrogate-id-\ud800", "u1", "walking", {"steps": 100})}, "invalid_data"),
        ({**event("surrogate-data", "u1", "walking", {"steps": 100, "note": "\udc80"})}, "invalid_data"),
        ({**event("surrogate-user", "u\ud801", "walking", {"steps": 100})}, "invalid_data"),
        ({**event("y9999", "u1", "walking", {"steps": 100}), "occurred_at": "9999-12-31T23:00:00-05:00"}, "in_future"),
        ({**event("y9999z", "u1", "walking", {"steps": 100}), "occurred_at": "9999-12-31T23:59:59Z"}, "in_future"),
        ({**event("y1", "u1", "walking", {"steps": 100}), "occurred_at": "0001-01-01T00:00:00+05:00"}, "too_old"),
        ({**event("y1z", "u1", "walking", {"steps": 100}), "occurred_at": "0001-01-01T00:00:00Z"}, "too_old"),
        ({**event("week", "u1", "walking", {"steps": 100}), "occurred_at": "2026-W48-1T07:00:00Z"}, "invalid_data"),
        ({**event("basic", "u1", "walking", {"steps": 100}), "occurred_at": "20261130T070000Z"}, "invalid_data"),
    ]
    batch = [good[0], *(b for b, _ in bad[:4]), good[1], *(b for b, _ in bad[4:]), good[2]]
    answer = partner.request("POST", "/v1/partner/events", raw=json.dumps({"events": batch}).encode("ascii"))
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert len(results) == len(batch)
    by_position = {i: r for i, r in enumerate(results)}
    for i, item in enumerate(batch):
        expected = next((reason for b, reason in bad if b is item), None)
        got = by_position[i]
        if expected is None:
            assert got["status"] == "credited", got
        else:
            assert (got["status"], got["reason"]) == ("rejected", expected), (item["occurred_at"], got)
    # echoed with U+FFFD where the lone surrogate was (a response is UTF-8)
    assert results[1]["event_id"] == "surrogate-id-\ufffd" and results[1]["details"]["event_id"] == "invalid"
    assert results[2]["details"] == {"data": "invalid"}
    assert answer.json()["summary"]["credited"] == 3
    assert events_count(live) == len(batch) - 1  # the surrogate id has no id to keep it by
    again = partner.request("POST", "/v1/partner/events", raw=json.dumps({"events": batch}).encode("ascii"))
    assert again.status_code == 200 and again.json()["summary"]["credited"] == 0


def test_a_chunked_body_over_4_mb_is_413(live: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"events": ["'
        for _ in range(80):
            yield b"x" * 65536
        yield b'"]}'

    answer = httpx.post(
        live.base_url + "/v1/partner/events", content=chunks(), headers={"Content-Type": "application/json"}, timeout=60
    )
    assert "content-length" not in {k.lower() for k in answer.request.headers}
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert httpx.get(live.base_url + "/healthz").status_code == 200


def test_a_quantity_of_superscript_two_is_refused_not_a_500(live: LiveServer, tmp_path: Path) -> None:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=1, days=1)
        fund(store, "luzhou", city.people[0], 5000)
        item = coupon_item(store, "luzhou")
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            assert client.get(web_login(store, city.people[0]), follow_redirects=True).status_code == 200
            csrf = csrf_of(client.get("/me").text)
            confirm = client.get(f"/market/items/{item}/confirm")
            key = re.search(r'name="key" value="([^"]+)"', confirm.text).group(1)  # type: ignore[union-attr]
            for quantity in ("²", "٣"):
                answer = client.post(f"/market/items/{item}/redeem", data={"csrf": csrf, "key": key, "quantity": quantity})
                assert answer.status_code == 422, (quantity, answer.status_code)
            assert "/me/orders/" not in client.get("/me/orders").text
    finally:
        store.dispose()


def test_a_form_with_more_than_50_fields_is_413_before_the_csrf_check(live: LiveServer) -> None:
    fields = "&".join(f"f{i}=x" for i in range(60))
    for path in ("/login", "/register", "/admin/login"):
        answer = httpx.post(
            live.base_url + path,
            content=fields,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
            timeout=30,
        )
        assert answer.status_code == 413, (path, answer.status_code, answer.text[:200])
        assert "text/html" in answer.headers["content-type"] and "表单字段过多" in answer.text
    assert httpx.get(live.base_url + "/healthz").status_code == 200
