"""Retention of raw partner payloads (PIPL: keep personal data no longer than needed).

`events.data` is the partner's raw `data` object as received. A scheme keeps it for
`[retention] raw_payload_days` days (default 180) after the event was received; `purge_payloads`
then sets it to NULL. The event row keeps its outcome, grams, points, methodology and the
explanation of the calculation (inputs, factors, formula), and the ledger is not touched, so
`tanhui verify` and `tanhui credits verify` still pass. Running it again purges nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tanhui.errors import InvalidInput, NotFound
from tanhui.services import audit
from tanhui.services.clock import check_as_of, utcnow
from tanhui.store import Store

DEFAULT_RAW_PAYLOAD_DAYS = 180


@dataclass(frozen=True, slots=True)
class PurgeReport:
    scheme_id: str
    days: int
    before: datetime  # payloads of events received before this instant were purged
    purged: int

    def to_dict(self) -> dict[str, object]:
        return {
            "scheme_id": self.scheme_id,
            "raw_payload_days": self.days,
            "received_before": self.before.isoformat(),
            "purged": self.purged,
        }


def raw_payload_days(settings: dict[str, object]) -> int:
    retention = settings.get("retention") or {}
    days = retention.get("raw_payload_days", DEFAULT_RAW_PAYLOAD_DAYS) if isinstance(retention, dict) else None
    if type(days) is not int or days < 0:
        raise InvalidInput(
            "invalid_settings",
            details={"retention.raw_payload_days": "a whole number of days >= 0"},
            field="retention.raw_payload_days",
        )
    return days


def purge_payloads(
    store: Store, scheme_id: str, as_of: date | None = None, now: datetime | None = None, *, actor: str = "system"
) -> PurgeReport:
    """Null the raw payload of the scheme's events received before the start of (as_of - days)."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        scheme = uow.schemes.get(scheme_id)
        if scheme is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        days = raw_payload_days(scheme.settings)
        tz = ZoneInfo(scheme.timezone)
        day = check_as_of(as_of, scheme.timezone, now) if as_of else now.astimezone(tz).date()
        before = datetime.combine(day - timedelta(days=days), time(), tz)
        report = PurgeReport(scheme_id, days, before, uow.events.purge_payloads(scheme_id, before))
        audit.record(uow, actor, "events.purge_payloads", f"as_of:{day.isoformat()}", report.to_dict(), scheme_id, now=now)
        return report
