"""The JSON formatter on its own: fields, request context, and its second line of defence."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from tanhui import logging as tanhui_logging


class Context:
    request_id = "req-0123456789"
    raw_path = "/login/ticket/TICKET-VALUE-abc"
    path = "/login/ticket/TICKET-VALUE-abc"
    route = "/login/ticket/{ticket}"


def record(message: str, *args: object, exc: bool = False, **fields: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(
                "(sqlite3.IntegrityError) UNIQUE failed\n[SQL: INSERT INTO t VALUES (?)]\n[parameters: ('sk_secret-value',)]\n"
                "(Background on this error at: https://sqlalche.me/e/20/gkpj)"
            )
        except RuntimeError:
            exc_info = sys.exc_info()
    rec = logging.LogRecord("tanhui.test", logging.ERROR, __file__, 1, message, args, exc_info)
    if fields:
        rec.fields = fields  # type: ignore[attr-defined]
    return rec


def test_fields_context_and_scrubbing() -> None:
    formatter = tanhui_logging.JsonFormatter()
    token = tanhui_logging.request_context.set(Context())
    try:
        line = json.loads(formatter.format(record("unhandled error on %s %s", "GET", Context.raw_path, exc=True, status=500)))
    finally:
        tanhui_logging.request_context.reset(token)
    assert line["request_id"] == "req-0123456789" and line["level"] == "ERROR" and line["status"] == 500
    assert line["message"] == "unhandled error on GET /login/ticket/{ticket}"
    assert "TICKET-VALUE" not in json.dumps(line) and "sk_secret-value" not in line["exception"]
    assert "[parameters: hidden]" in line["exception"] and line["time"].endswith("Z")
    outside = json.loads(formatter.format(record("plain")))
    assert "request_id" not in outside and outside["message"] == "plain"


@pytest.mark.parametrize(("value", "level"), [(None, "INFO"), ("debug", "DEBUG"), ("WARNING", "WARNING"), ("loud", "INFO")])
def test_level_from_env(monkeypatch: pytest.MonkeyPatch, value: str | None, level: str) -> None:
    if value is None:
        monkeypatch.delenv("TANHUI_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("TANHUI_LOG_LEVEL", value)
    assert tanhui_logging.level_from_env() == level
    assert tanhui_logging.dict_config()["root"]["level"] == level
