"""Issue 18, findings 4, 6 and 16, as pure rules: occurred_at is RFC 3339 only and never overflows, a lone
surrogate is one event's invalid_data, JSON nesting is bounded, an import line's problem is that line's,
a form quantity is ASCII digits, and the body limit answers 413 for a chunked body and keeps the
connection after an error the app already answered."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tanhui.domain import events as ev
from tanhui.domain import jsontext
from tanhui.errors import InvalidInput
from tanhui.http.limits import BodySizeLimit
from tanhui.importers import read_csv, read_jsonl
from tests.unit.test_decide_batch import decide, outcome, ride


@pytest.mark.parametrize(
    "text",
    [
        "2026-W48-1T07:00:00Z",  # ISO 8601 week date
        "20261130T070000Z",  # ISO 8601 basic format
        "2026-11-30T07:00Z",  # no seconds
        "2026-11-30 07:00:00Z",  # a space for the T
        "2026-11-30T07:00:00+0800",  # offset without its colon
        "2026-11-30T07:00:00",  # no offset
        "２０２６-11-30T07:00:00Z",  # full-width digits
    ],
)
def test_occurred_at_outside_rfc_3339_is_invalid(text: str) -> None:
    assert ev.parse_time(text) is None
    assert ev.parse_event({**ride(), "occurred_at": text}).problems == {"occurred_at": "invalid"}


@pytest.mark.parametrize("text", ["2026-11-30T07:00:00Z", "2026-11-30t07:00:00z", "2026-11-30T15:00:00.123456789+08:00"])
def test_rfc_3339_date_times_are_read(text: str) -> None:
    moment = ev.parse_time(text)
    assert moment is not None and moment.replace(microsecond=0) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def test_the_ends_of_the_calendar_are_too_old_or_in_future_not_an_overflow() -> None:
    far = ["9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59+14:00"]
    early = ["0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-12:00"]
    for text in far + early:
        moment = ev.parse_time(text)
        assert moment is not None and ev.INSTANT_MIN <= moment <= ev.INSTANT_MAX
    decided = decide(
        *({**ride(f"e{i}", trip=f"T{i}"), "occurred_at": t} for i, t in enumerate(far + early)), ride("ok", trip="OK")
    )
    assert [outcome(d) for d in decided] == [("rejected", "in_future")] * 3 + [("rejected", "too_old")] * 3 + [("credited", None)]


def test_a_lone_surrogate_is_that_events_invalid_data() -> None:
    for field, value in [
        ("event_id", "e\ud800"),
        ("user_ref", "\udfff"),
        ("scenario", "bus\ud800"),
        ("data", {"trip_id": "\ud800"}),
    ]:
        event = ev.parse_event({**ride(), field: value})
        assert event.problems.get(field) == "invalid", (field, event.problems)
        assert len(event.content_hash()) == 64  # hashable: the kept copy is UTF-8
    key = ev.parse_event({**ride(), "\ud800": 1})
    assert key.problems == {"event": "invalid"}
    decided = decide(ride("a", trip="A"), {**ride("b", trip="B"), "data": {"trip_id": "\ud800"}}, ride("c", trip="C"))
    assert [outcome(d) for d in decided] == [("credited", None), ("rejected", "invalid_data"), ("credited", None)]


def test_json_nesting_is_bounded() -> None:
    ok = "[" * jsontext.DEPTH_MAX + "]" * jsontext.DEPTH_MAX
    assert jsontext.depth(jsontext.loads(ok)) == jsontext.DEPTH_MAX
    for levels in (jsontext.DEPTH_MAX + 1, 1000, 100_000):
        with pytest.raises(ValueError, match="nested deeper"):
            jsontext.loads("[" * levels + "]" * levels)
    assert jsontext.bad_text(json.loads('{"a": [1, "x\\ud800"]}')) == "a.1"
    assert jsontext.bad_text({"user_ref": "a\x00b"}) == "user_ref"
    assert jsontext.bad_text({"user_ref": "a\x00b"}, nul=False) is None
    assert jsontext.bad_text({"name": "泸州公交", "n": [1, 2.5, None, True]}) is None


def test_an_import_line_that_cannot_be_read_is_that_lines_problem() -> None:
    lines = [
        json.dumps(ride("a")).encode(),
        b"[" * 5000 + b"]" * 5000,
        '{"x": "绿色"}'.encode("gbk"),
        json.dumps(ride("b")).encode(),
    ]
    read = list(read_jsonl(io.BytesIO(b"\n".join(lines))))
    assert [(n, e is not None) for n, e, _ in read] == [(1, True), (2, False), (3, False), (4, True)]
    assert "nested deeper" in str(read[1][2])
    header = b"event_id,user_ref,scenario,occurred_at,data.trip_id\n"
    rows = b"a,u1,bus_ride,2026-11-30T07:00:00Z,T1\n" + "b,u1,bus_ride,2026-11-30T07:00:00Z,公交\n".encode("gbk")
    rows += b"c,u1,bus_ride,2026-11-30T07:00:00Z," + b"x" * 200_000 + b"\nd,u1,bus_ride,2026-11-30T07:00:00Z,T4\n"
    read = list(read_csv(io.BytesIO(header + rows)))
    assert [e["event_id"] if e else p for _, e, p in read] == [
        "a", "invalid_csv: not UTF-8 text", "invalid_csv: field larger than field limit (131072)", "d",
    ]  # fmt: skip


def test_a_form_quantity_is_ascii_digits() -> None:
    from tanhui.web.pages.market import form_quantity

    assert form_quantity("") == 1 and form_quantity(" 3 ") == 3
    for text in ("²", "٣", "３", "1e3", "-1", "9" * 5000):
        with pytest.raises(InvalidInput):
            form_quantity(text)


def _call(app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers or []}
    asyncio.run(BodySizeLimit(app, max_bytes=100)(scope, receive, send))
    return sent


def test_a_chunked_body_over_the_limit_is_413_and_the_apps_answer_is_dropped() -> None:
    async def reads_all_then_answers(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client gone")  # what Starlette's request.body() does
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = _call(reads_all_then_answers, [b"x" * 60, b"x" * 60, b"x" * 60])
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert json.loads(sent[-1]["body"])["error"]["code"] == "payload_too_large"
    assert [m.get("status") for m in _call(reads_all_then_answers, [b"x" * 50, b"x" * 50]) if "status" in m] == [200]


def test_an_error_raised_after_the_answer_does_not_reach_the_server() -> None:
    """Starlette re-raises what its 500 handler answered; uvicorn then closes the keep-alive connection."""

    async def answers_500_then_raises(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b'{"error": {"code": "internal_error"}}'})
        raise RuntimeError("already answered")

    assert [m.get("status") for m in _call(answers_500_then_raises, [b"{}"]) if "status" in m] == [500]

    async def raises_before_answering(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("not answered")

    with pytest.raises(RuntimeError):
        _call(raises_before_answering, [b"{}"])
