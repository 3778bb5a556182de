"""Canonical JSON and hashing: the same content always gives the same bytes and the same hash.

Used for idempotency content hashes, the journal's hash chain and the registry's Merkle trees.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return utc_text(value)
    raise TypeError(f"not canonicalisable: {type(value).__name__}")


def canonical_bytes(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8; Decimals as strings, datetimes as UTC text.

    The same bytes as ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
    (a test holds the two equal), made by orjson because this runs several times per event.
    """
    try:
        return orjson.dumps(value, option=_OPTIONS, default=_default)
    except orjson.JSONEncodeError as error:
        if "64-bit" not in str(error):
            raise
        # orjson refuses integers beyond 64 bits (a partner may send any JSON number); the standard
        # library writes them, in the same canonical form (found by tests/fuzz).
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default).encode("utf-8")


def canonical_json(value: Any) -> str:
    return canonical_bytes(value).decode("utf-8")


def sha256_hex(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


_last_utc_text: tuple[datetime | None, str] = (None, "")


def utc_text(moment: datetime) -> str:
    """One textual form for an instant, microsecond precision, as both engines store it."""
    global _last_utc_text
    last = _last_utc_text  # a batch's entries share one moment: its text is made once
    if last[0] is moment:
        return last[1]
    text = _utc_text(moment)
    _last_utc_text = (moment, text)
    return text


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every instant in Tanhui carries a time zone")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"
