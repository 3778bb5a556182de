"""The clock lives here, outside the domain; services pass the instant down."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
