"""Behaviour events: the shape partners send, and the rules that decide each event's outcome.

Everything here is pure; the ingest service feeds it what the store knows (consents, earlier
events, today's usage) and writes what it decides.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from tanhui.domain import identifiers
from tanhui.domain.canonical import canonical_json, sha256_hex
from tanhui.domain.jsontext import bad_text, without_surrogates

EVENT_ID_LEN_MAX = 128
USER_REF_LEN_MAX = 128
SCENARIO_LEN_MAX = 64
BATCH_SIZE_MAX = 1000
DEFAULT_ACCEPTANCE_WINDOW_DAYS = 7
FUTURE_TOLERANCE = timedelta(minutes=5)
# RFC 3339 section 5.6 date-time, offset required; Python's fromisoformat alone also takes ISO 8601's
# week dates, basic format and missing seconds (issue 18, finding 16)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII)
# instants a day inside datetime's range, so that any zone's local day of them exists: a time beyond
# (year 1 or 9999 with an offset) is held at the bound, which is too old or in the future either way
INSTANT_MIN = datetime(1, 1, 3, tzinfo=UTC)
INSTANT_MAX = datetime(9999, 12, 29, tzinfo=UTC)

CREDITED = "credited"
DUPLICATE = "duplicate"
REJECTED = "rejected"

# api-v1.md: when several reasons apply, the first in this order is given. domain/ingest.py runs its
# checks (CHECKS, one per reason) in this order; tests/unit/test_decide_batch.py holds it to api-v1.
REASON_ORDER = (
    "duplicate_event",
    "event_id_reused",
    "unknown_scenario",
    "scenario_not_allowed",
    "invalid_data",
    "no_consent",
    "too_old",
    "in_future",
    "implausible",
    "duplicate_behaviour",
    "cap_reached",
)


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """One event as parsed from a partner's batch; ``problems`` non-empty means invalid_data."""

    event_id: str | None
    user_ref: str | None
    scenario: str | None
    occurred_at: datetime | None
    data: Mapping[str, Any]
    raw: Any
    problems: Mapping[str, str] = field(default_factory=dict)
    # the user_ref exactly as sent when that is not its canonical form (identifiers.user_ref): a partner
    # link recorded before user_refs were canonical is found by it (issue 18, finding 10)
    user_ref_sent: str | None = None

    def content_hash(self) -> str:
        """What makes a replay the same event: everything the partner sent for it."""
        return sha256_hex(canonical_json(self.raw if isinstance(self.raw, dict) else {"raw": repr(self.raw)}))


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 date-time with an offset ("Z" allowed), in UTC; None when absent, naive or malformed.

    Instants beyond INSTANT_MIN..INSTANT_MAX are held at the bound (they overflow a zone conversion).
    """
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        return INSTANT_MAX if moment.year > 1 else INSTANT_MIN
    return min(max(moment, INSTANT_MIN), INSTANT_MAX)


def parse_event(raw: Any) -> IncomingEvent:
    problems: dict[str, str] = {}
    if not isinstance(raw, dict):
        return IncomingEvent(None, None, None, None, {}, raw, {"event": "not_an_object"})
    tainted = _surrogate_fields(raw)
    if tainted:  # invalid_data; the copy kept (and hashed) has U+FFFD where the lone surrogates were
        raw = without_surrogates(raw)
        problems.update(dict.fromkeys(tainted, "invalid"))

    def text(name: str, max_len: int) -> str | None:
        value = raw.get(name)
        # NUL: PostgreSQL cannot store it in text and SQLite's C strings end at it
        if not isinstance(value, str) or not 1 <= len(value) <= max_len or "\x00" in value or name in tainted:
            problems[name] = "missing" if value is None else "invalid"
            return None
        return value

    event_id = text("event_id", EVENT_ID_LEN_MAX)
    user_ref = text("user_ref", USER_REF_LEN_MAX)
    user_ref_sent = None
    if user_ref is not None:
        canonical = canonical_user_ref(user_ref)
        if canonical is None:
            problems["user_ref"] = "invalid"
        elif canonical != user_ref:
            user_ref_sent = user_ref
        user_ref = canonical
    scenario = text("scenario", SCENARIO_LEN_MAX)
    occurred_at = parse_time(raw.get("occurred_at"))
    if occurred_at is None:
        problems["occurred_at"] = "missing" if raw.get("occurred_at") is None else "invalid"
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict) or "data" in tainted:
        problems["data"] = "invalid"
        data = {}
    return IncomingEvent(event_id, user_ref, scenario, occurred_at, data, raw, problems, user_ref_sent)


def canonical_user_ref(value: str) -> str | None:
    """``identifiers.user_ref`` within the length a user_ref may have (NFKC can lengthen a text)."""
    canonical = identifiers.user_ref(value)
    if canonical is None or len(canonical) > USER_REF_LEN_MAX:
        return None
    return canonical


def _surrogate_fields(raw: dict[Any, Any]) -> list[str]:
    """The top-level fields of an event holding a lone surrogate (not UTF-8: cannot be hashed or stored)."""
    try:
        # orjson writes UTF-8 and refuses a lone surrogate (and a key that is not text): an event it
        # writes has none, found in one pass in C instead of a walk per field (~10 a batch's event)
        orjson.dumps(raw)
        return []
    except (TypeError, orjson.JSONEncodeError):
        pass  # a surrogate, or something orjson does not write (a very large integer): walk the fields
    fields = []
    for key, value in raw.items():
        name = key if isinstance(key, str) and bad_text(key, nul=False) is None else "event"
        if name == "event" or bad_text(value, nul=False) is not None:
            fields.append(name)
    return fields


def time_window_reason(occurred_at: datetime, received_at: datetime, window_days: int) -> str | None:
    if occurred_at > received_at + FUTURE_TOLERANCE:
        return "in_future"
    if occurred_at < received_at - timedelta(days=window_days):
        return "too_old"
    return None


def fingerprint(scenario: str, scope: str, parts: tuple[str, ...], account_id: int | None) -> str:
    """A behaviour's identity: the same trip, meal, session or person-day gives the same value.

    ``global`` identities (a trip id, an order id) are the same whichever partner or scheme reports
    them; ``account`` identities (a day's step total) are per person. Each part is taken in its
    canonical form (identifiers.behaviour_id: NFKC, no invisible characters, trimmed, case-folded), so
    ``T1``, ``t1``, ``Ｔ１`` and ``T\u200b1`` are one trip. 128 bits of SHA-256, as hex.
    """
    return fingerprints(scenario, scope, parts, account_id)[0]


def earlier_fingerprints(scenario: str, scope: str, parts: tuple[str, ...], account_id: int | None) -> tuple[str, ...]:
    """The fingerprints the same behaviour may have been stored under before parts were canonical
    (issue 18, finding 10), other than ``fingerprint``'s: the parts as sent (a resend of an id with
    capitals is still that behaviour) and the values in capitals (an id stored as ``ABC1`` is met by
    ``abc1`` or ``ＡＢＣ１``); ``parts[0]`` is the identity's kind, from the methodology file, and stays
    as it is. Ids without letters (digits, dates) add none. Ids stored in mixed case before the
    change are recognised when sent the same way again, not as variants."""
    return fingerprints(scenario, scope, parts, account_id)[1]


def fingerprints(scenario: str, scope: str, parts: tuple[str, ...], account_id: int | None) -> tuple[str, tuple[str, ...]]:
    """(``fingerprint``, ``earlier_fingerprints``), the canonical parts computed once."""
    canonical = tuple(identifiers.behaviour_id(p) for p in parts)
    found = _digest(scenario, scope, account_id, canonical)
    capitals = (*parts[:1], *(p.upper() for p in canonical[1:]))
    if parts == canonical and capitals == canonical:
        return found, ()
    earlier = [_digest(scenario, scope, account_id, parts)] if parts != canonical else []
    if capitals != canonical and capitals != parts:
        earlier.append(_digest(scenario, scope, account_id, capitals))
    return found, tuple(earlier)


def _digest(scenario: str, scope: str, account_id: int | None, parts: tuple[str, ...]) -> str:
    owner = "" if scope == "global" else str(account_id)
    body = "\x1f".join((scenario, scope, owner, *parts))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


def local_day(moment: datetime, tz: Any) -> date:
    return moment.astimezone(tz).date()


def month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


@dataclass(slots=True)
class Usage:
    """What a person already earned from one scenario in one period (day or month)."""

    events: int = 0
    carbon_g: int = 0
    points: int = 0


def cap_allows(max_events: int | None, max_carbon_g: int | None, used: Usage, carbon_g: int) -> tuple[bool, int]:
    """Whether one more event fits the cap, and how many grams of it do.

    An event cap refuses the event once used up; a grams cap credits what is left of it (so a
    day's step total is credited up to the cap) and refuses only when nothing is left.
    """
    if max_events is not None and used.events >= max_events:
        return False, 0
    if max_carbon_g is not None:
        left = max_carbon_g - used.carbon_g
        if left <= 0:
            return False, 0
        return True, min(carbon_g, left)
    return True, carbon_g


def result(
    event_id: str | None,
    status: str,
    reason: str | None = None,
    carbon_g: int = 0,
    points: int = 0,
    methodology: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry of the events endpoint's `results` (api-v1.md)."""
    item: dict[str, Any] = {
        "event_id": event_id,
        "status": status,
        "reason": reason,
        "carbon_g": carbon_g,
        "points": points,
        "methodology": methodology,
    }
    if details:
        item["details"] = dict(details)
    return item


def summarise(results: list[dict[str, Any]]) -> dict[str, int]:
    summary = {"credited": 0, "duplicate": 0, "rejected": 0, "carbon_g": 0, "points": 0}
    for item in results:
        summary[item["status"]] += 1
        if item["status"] == CREDITED:
            summary["carbon_g"] += item["carbon_g"]
            summary["points"] += item["points"]
    return summary
