"""The clock lives here, outside the domain; services pass the instant down."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tanhui.errors import InvalidInput


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today(now: datetime, timezone_name: str) -> date:
    """The scheme-local date of the instant ``now``."""
    return now.astimezone(ZoneInfo(timezone_name)).date()


def check_as_of(as_of: date, timezone_name: str, now: datetime) -> date:
    """An operator's "as of" date (expiry, issuance, retention) may be today or earlier, never later:
    a date ahead would expire points, serve holding periods or purge payloads before their time."""
    today = local_today(now, timezone_name)
    if as_of > today:
        raise InvalidInput(
            "as_of_in_future", details={"as_of": "today or earlier"}, as_of=as_of.isoformat(), today=today.isoformat()
        )
    return as_of
