"""The partner SDK against httpx.MockTransport: what goes on the wire, batching, retries, errors.

Signatures are recomputed here with hmac/hashlib straight from api-v1.md, not with
tanhui.domain.signing, so a mistake shared by the SDK and the signing module would still show.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tanhui.client import EventsReport, PartnerClient, TanhuiAPIError

PARTNER_ID = "ptn_0123456789abcdef"
SECRET = "sk_test-secret-密钥"  # non-ASCII on purpose: the key is the secret's UTF-8 bytes
BASE_URL = "https://tanhui.example.cn"
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def expected_signature(secret: str, request: httpx.Request) -> str:
    """api-v1.md, by hand: HMAC-SHA256 over timestamp\\nnonce\\nMETHOD\\npath?query\\nsha256(body)."""
    canonical = "\n".join(
        (
            request.headers["Tanhui-Timestamp"],
            request.headers["Tanhui-Nonce"],
            request.method.upper(),
            request.url.raw_path.decode("ascii"),  # the request target as sent on the wire
            hashlib.sha256(request.content).hexdigest(),
        )
    )
    return "v1=" + hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256).hexdigest()


class Recorder:
    """A fake server: records each request and answers with ``reply(request)``."""

    def __init__(self, reply: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.reply(request)


def ok(payload: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=payload)


def events_reply(request: httpx.Request) -> httpx.Response:
    """Credit every even event (80 g, 10 points), reject every odd one no_consent."""
    events = json.loads(request.content)["events"]
    results = []
    for event in events:
        n = int(event["event_id"].removeprefix("e"))
        if n % 2 == 0:
            results.append(
                {
                    "event_id": event["event_id"],
                    "status": "credited",
                    "reason": None,
                    "carbon_g": 80,
                    "points": 10,
                    "methodology": "bus-ride-cn@1",
                }
            )
        else:
            results.append(
                {
                    "event_id": event["event_id"],
                    "status": "rejected",
                    "reason": "no_consent",
                    "carbon_g": 0,
                    "points": 0,
                    "methodology": "bus-ride-cn@1",
                }
            )
    credited = sum(r["status"] == "credited" for r in results)
    summary = {
        "credited": credited,
        "duplicate": 0,
        "rejected": len(results) - credited,
        "carbon_g": 80 * credited,
        "points": 10 * credited,
    }
    return httpx.Response(200, json={"results": results, "summary": summary})


def error_body(
    status: int, code: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": f"msg {code}", "details": details or {}}}, headers=headers
    )


def client_for(recorder: Recorder, sleeps: list[float] | None = None, base_url: str = BASE_URL) -> PartnerClient:
    return PartnerClient(
        base_url,
        PARTNER_ID,
        SECRET,
        transport=httpx.MockTransport(recorder),
        sleep=(sleeps.append if sleeps is not None else _no_sleep),
    )


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected sleep({seconds})")


def event(n: int) -> dict[str, Any]:
    return {
        "event_id": f"e{n}",
        "user_ref": f"u{n % 7}",
        "scenario": "bus_ride",
        "occurred_at": "2026-01-01T08:00:00+08:00",
        "data": {},
    }


# -- signing -----------------------------------------------------------------------------------


def test_signed_headers_quoted_user_ref_and_body_bytes() -> None:
    recorder = Recorder(ok({"consent_id": "cns_1", "status": "active"}, 201))
    with client_for(recorder) as client:
        client.grant_consent("张三 #1", granted_at="2026-01-01T08:00:00+08:00", display_name="张三")
        client.account("u 1/中?x=%")
    post, get = recorder.requests

    expected_body = {
        "user_ref": "张三 #1",
        "scopes": ["behaviour:report"],
        "granted_at": "2026-01-01T08:00:00+08:00",
        "display_name": "张三",
    }
    assert post.content == json.dumps(expected_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert "张三".encode() in post.content  # UTF-8, not \\u escapes: the bytes signed are the bytes sent
    assert post.headers["Content-Type"] == "application/json"
    assert post.url.raw_path == b"/v1/partner/consents"

    # '/', '?', '%', space and non-ASCII are quoted into one path segment, and signed as quoted.
    assert get.url.raw_path == b"/v1/partner/accounts/u%201%2F%E4%B8%AD%3Fx%3D%25"
    assert get.content == b""
    for request in (post, get):
        assert request.headers["Tanhui-Partner"] == PARTNER_ID
        assert abs(int(request.headers["Tanhui-Timestamp"]) - time.time()) < 5
        assert re.fullmatch(r"\d+", request.headers["Tanhui-Timestamp"])
        assert NONCE.match(request.headers["Tanhui-Nonce"])
        assert request.headers["Tanhui-Signature"] == expected_signature(SECRET, request)
    assert post.headers["Tanhui-Nonce"] != get.headers["Tanhui-Nonce"]


def test_signature_covers_query_string_and_base_url_prefix_as_sent() -> None:
    recorder = Recorder(ok({"ok": True}))
    with client_for(recorder, base_url="https://gw.example.cn/tanhui/") as client:
        client.request("GET", "/v1/partner/accounts/u1", params={"from": "2026-01-01", "q": "中 文"})
        client.request("GET", "/v1/partner/accounts/u1?b=2&a=1")
    with_params, written = recorder.requests
    assert with_params.url.raw_path == b"/tanhui/v1/partner/accounts/u1?from=2026-01-01&q=%E4%B8%AD+%E6%96%87"
    assert written.url.raw_path == b"/tanhui/v1/partner/accounts/u1?b=2&a=1"  # order kept, not re-sorted
    for request in recorder.requests:
        assert request.headers["Tanhui-Signature"] == expected_signature(SECRET, request)
    assert expected_signature("another secret", written) != written.headers["Tanhui-Signature"]


def test_delete_signs_the_empty_body_and_sessions_post_without_body() -> None:
    recorder = Recorder(ok({"status": "revoked", "revoked_at": "2026-01-01T00:00:00+00:00"}))
    with client_for(recorder) as client:
        assert client.revoke_consent("u1")["status"] == "revoked"
        client.session("u1")
    delete, session = recorder.requests
    assert (delete.method, delete.url.raw_path, delete.content) == ("DELETE", b"/v1/partner/consents/u1", b"")
    assert (session.method, session.url.raw_path, session.content) == ("POST", b"/v1/partner/accounts/u1/sessions", b"")
    for request in recorder.requests:
        assert request.headers["Tanhui-Signature"] == expected_signature(SECRET, request)


def test_grant_consent_defaults_granted_at_to_now_in_utc() -> None:
    recorder = Recorder(ok({"status": "active"}, 201))
    with client_for(recorder) as client:
        client.grant_consent("u1", binding_code="ABCD234567")
        client.grant_consent("u2", granted_at=datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))))
        with pytest.raises(ValueError, match="time zone"):
            client.grant_consent("u3", granted_at=datetime(2026, 1, 1, 8))
    first, second = (json.loads(r.content) for r in recorder.requests)
    assert first["binding_code"] == "ABCD234567" and "display_name" not in first
    granted = datetime.strptime(first["granted_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((granted - datetime.now(UTC)).total_seconds()) < 5
    assert second["granted_at"] == "2026-01-01T08:00:00+08:00"


# -- batching ----------------------------------------------------------------------------------


def test_a_generator_is_sent_in_batches_of_at_most_1000_lazily() -> None:
    pulled = 0

    def generate() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for n in range(2345):
            pulled += 1
            yield event(n)

    pulled_when_sent: list[int] = []
    recorder = Recorder(lambda request: (pulled_when_sent.append(pulled), events_reply(request))[1])
    with client_for(recorder) as client:
        report = client.send_events(generate())

    sizes = [len(json.loads(r.content)["events"]) for r in recorder.requests]
    assert sizes == [1000, 1000, 345]
    assert pulled_when_sent == [1000, 2000, 2345]  # read one batch at a time, never the whole stream
    sent_ids = [e["event_id"] for r in recorder.requests for e in json.loads(r.content)["events"]]
    assert sent_ids == [f"e{n}" for n in range(2345)]
    for request in recorder.requests:
        assert request.url.raw_path == b"/v1/partner/events"
        assert request.headers["Tanhui-Signature"] == expected_signature(SECRET, request)
    assert len({r.headers["Tanhui-Nonce"] for r in recorder.requests}) == 3

    assert isinstance(report, EventsReport)
    assert (report.batches, report.events, report.retries) == (3, 2345, 0)
    assert report.summary == {"credited": 1173, "duplicate": 0, "rejected": 1172, "carbon_g": 1173 * 80, "points": 1173 * 10}
    assert report.reasons == {"no_consent": 1172}
    assert report.results is None  # not kept unless asked: a run may have millions


def test_keep_results_in_input_order_and_on_results_per_batch() -> None:
    batches: list[list[dict[str, Any]]] = []
    with client_for(Recorder(events_reply)) as client:
        report = client.send_events((event(n) for n in range(5)), batch_size=2, keep_results=True, on_results=batches.append)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert report.results is not None
    assert [r["event_id"] for r in report.results] == ["e0", "e1", "e2", "e3", "e4"]
    assert [r["status"] for r in report.results] == ["credited", "rejected", "credited", "rejected", "credited"]


def test_nothing_to_send_sends_nothing_and_batch_size_is_checked() -> None:
    recorder = Recorder(events_reply)
    with client_for(recorder) as client:
        assert client.send_events([]).batches == 0
        for bad in (0, 1001):
            with pytest.raises(ValueError, match="batch_size"):
                client.send_events([event(1)], batch_size=bad)
    assert recorder.requests == []


# -- retries -----------------------------------------------------------------------------------


def test_429_resends_the_same_batch_after_retry_after_with_a_new_nonce() -> None:
    answers = iter([error_body(429, "rate_limited", {"retry_after": 7}, {"Retry-After": "7"})])
    recorder = Recorder(lambda request: next(answers, None) or events_reply(request))
    sleeps: list[float] = []
    with client_for(recorder, sleeps) as client:
        report = client.send_events([event(0), event(1)])

    first, second = recorder.requests
    assert sleeps == [7.0]
    assert first.content == second.content  # the same events: event ids make the resend safe
    assert first.headers["Tanhui-Nonce"] != second.headers["Tanhui-Nonce"]
    assert second.headers["Tanhui-Signature"] == expected_signature(SECRET, second)
    assert (report.batches, report.retries, report.credited, report.rejected) == (1, 1, 1, 1)


def test_5xx_and_connection_errors_back_off_then_succeed() -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if calls == 2:
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        if calls == 3:
            return error_body(503, "internal_error")
        return events_reply(request)

    sleeps: list[float] = []
    with client_for(Recorder(flaky), sleeps) as client:
        report = client.send_events([event(0)])
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff when the server gives no Retry-After
    assert (report.credited, report.retries) == (1, 3)


def test_retries_are_bounded_and_the_last_error_raised() -> None:
    recorder = Recorder(lambda request: error_body(429, "rate_limited", headers={"Retry-After": "1"}))
    sleeps: list[float] = []
    with client_for(recorder, sleeps) as client, pytest.raises(TanhuiAPIError) as raised:
        client.send_events([event(0)], retries=2)
    assert len(recorder.requests) == 3 and sleeps == [1.0, 1.0]
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (429, "rate_limited", 1.0)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with client_for(Recorder(refuse), []) as client, pytest.raises(httpx.ConnectError):
        client.send_events([event(0)], retries=1)


def test_client_errors_are_not_retried() -> None:
    recorder = Recorder(lambda request: error_body(401, "stale_request"))
    with client_for(recorder) as client, pytest.raises(TanhuiAPIError) as raised:
        client.send_events([event(n) for n in range(3000)])
    assert len(recorder.requests) == 1  # the first batch failed; nothing else was sent
    assert raised.value.code == "stale_request"


# -- errors ------------------------------------------------------------------------------------


def test_error_body_is_parsed_into_tanhui_api_error() -> None:
    body = error_body(422, "invalid_request", {"granted_at": "invalid"})
    with client_for(Recorder(lambda request: body)) as client, pytest.raises(TanhuiAPIError) as raised:
        client.grant_consent("u1", granted_at="yesterday")
    error = raised.value
    assert (error.status, error.code, error.message, error.details, error.retry_after) == (
        422,
        "invalid_request",
        "msg invalid_request",
        {"granted_at": "invalid"},
        None,
    )
    assert "422 invalid_request" in str(error)


def test_non_api_error_bodies_and_http_date_retry_after() -> None:
    later = (datetime.now(UTC) + timedelta(seconds=120)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    reply = lambda request: httpx.Response(429, text="slow down", headers={"Retry-After": later})  # noqa: E731
    with client_for(Recorder(reply)) as client, pytest.raises(TanhuiAPIError) as raised:
        client.account("u1")  # only send_events retries
    assert (raised.value.code, raised.value.message) == ("http_429", "slow down")
    assert raised.value.retry_after is not None and 100 < raised.value.retry_after <= 120

    not_json = Recorder(lambda request: httpx.Response(200, text="not json"))
    with client_for(not_json) as client, pytest.raises(TanhuiAPIError) as raised:
        client.account("u1")
    assert raised.value.code == "invalid_response"


def test_the_secret_is_not_in_repr() -> None:
    client = PartnerClient(BASE_URL, PARTNER_ID, SECRET)
    try:
        assert SECRET not in repr(client) and PARTNER_ID in repr(client)
    finally:
        client.close()
