"""Schemes are the tenants: a city's 绿芽积分, a bank's carbon account, an employer's scheme."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tanhui.domain.scheme_settings import validate_settings
from tanhui.errors import InvalidInput

DEFAULT_TIMEZONE = "Asia/Shanghai"
SCHEME_ID_RE = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
NAME_LEN_MAX = 200

# Defaults a scheme starts with; every other setting (points_rules, checkin, campaigns, retention, ...)
# is read, with its own default, by the module that uses it.
DEFAULT_SETTINGS: dict[str, Any] = {
    "ledger_chains": 4,  # hash chains per scheme: concurrent writers on PostgreSQL use different ones
}


@dataclass(frozen=True, slots=True)
class Scheme:
    id: str
    name: str
    timezone: str
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "timezone": self.timezone,
            "settings": dict(self.settings),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    @property
    def ledger_chains(self) -> int:
        return int(self.settings.get("ledger_chains", DEFAULT_SETTINGS["ledger_chains"]))


def validate_scheme_id(scheme_id: str) -> str:
    if not SCHEME_ID_RE.match(scheme_id or ""):
        raise InvalidInput("invalid_scheme_id", details={"field": "id"}, scheme_id=scheme_id)
    return scheme_id


def validate_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > NAME_LEN_MAX:
        raise InvalidInput("invalid_name", details={"field": "name"}, max_len=NAME_LEN_MAX)
    return cleaned


def validate_timezone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput("invalid_timezone", details={"field": "timezone"}, timezone=tz) from None
    return tz


def new_scheme(scheme_id: str, name: str, timezone: str = DEFAULT_TIMEZONE, settings: dict[str, Any] | None = None) -> Scheme:
    """A scheme whose every setting has its type and range (domain/scheme_settings.py)."""
    merged = {**DEFAULT_SETTINGS, **validate_settings(settings if settings is not None else {})}
    return Scheme(validate_scheme_id(scheme_id), validate_name(name), validate_timezone(timezone), merged)
