"""Logging, configured in one place: one JSON object per line, level from TANHUI_LOG_LEVEL.

Every record carries ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, inside a
request, ``request_id``. Structured fields go in ``extra={"fields": {...}}``. What never goes into a
log line: query strings, headers, bodies, secrets, tokens, login tickets (see docs/operations.md).
As a second line of defence the formatter replaces the current request's raw path by its route
template wherever it appears in a message, and hides SQL parameters in exception texts.
"""

from __future__ import annotations

import json
import logging
import os
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

LEVEL_ENV = "TANHUI_LOG_LEVEL"
DEFAULT_LEVEL = "INFO"

# Set by the request middleware (tanhui.http.observability) for the duration of one request.
# Any object with ``request_id``, ``raw_path``, ``path`` and ``route`` attributes.
request_context: ContextVar[Any] = ContextVar("tanhui_request", default=None)

_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\(Background on this error|$))", re.S)


def level_from_env() -> str:
    level = os.environ.get(LEVEL_ENV, DEFAULT_LEVEL).strip().upper() or DEFAULT_LEVEL
    return level if level in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else DEFAULT_LEVEL


def _scrub(text: str, context: Any) -> str:
    if context is not None:
        for path in {getattr(context, "raw_path", None), getattr(context, "path", None)}:
            if path and len(path) > 1 and path in text:
                text = text.replace(path, getattr(context, "route", None) or "<path>")
    return _SQL_PARAMETERS.sub("[parameters: hidden]", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never raises (a broken record is logged as its type name)."""

    def format(self, record: logging.LogRecord) -> str:
        context = request_context.get()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
        }
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = str(record.msg)
        entry["message"] = _scrub(message, context)
        request_id = getattr(context, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = _scrub(self.formatException(record.exc_info), context)
        return json.dumps(entry, ensure_ascii=False, default=str)


def dict_config(level: str | None = None) -> dict[str, Any]:
    """A logging.config.dictConfig for the server processes (also handed to uvicorn's workers)."""
    level = level or level_from_env()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "tanhui.logging.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            # the access log would print raw paths (user_refs, login tickets): our own line replaces it
            "uvicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            "alembic": {"level": "WARNING", "handlers": [], "propagate": True},
            "httpx": {"level": "WARNING", "handlers": [], "propagate": True},  # would log full URLs
            "httpcore": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def configure(level: str | None = None) -> None:
    """Configure this process's logging (idempotent)."""
    import logging.config

    logging.config.dictConfig(dict_config(level))
    logging.captureWarnings(True)
