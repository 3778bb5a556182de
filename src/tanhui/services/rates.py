"""Request budgets shared by every server process.

A partner's budget (`TANHUI_PARTNER_RATE_PER_MINUTE`) is a token bucket kept in the database, not in
a process: two or ten `tanhui serve` processes, on one host or many, let the configured rate through
in total. Each request costs one short write (an UPSERT on the partner's row), taken before any work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tanhui.errors import InvalidInput
from tanhui.services.clock import utcnow
from tanhui.store import Store


@dataclass(frozen=True, slots=True)
class RateRule:
    """`per_minute` requests a minute, of which up to `burst` at once (default: a sixth of a minute's)."""

    per_minute: int
    burst: int

    @classmethod
    def per_minute_with_default_burst(cls, per_minute: int) -> RateRule:
        if per_minute < 1:
            raise InvalidInput("invalid_rate", details={"per_minute": "at least 1"})
        return cls(per_minute, max(1, per_minute // 6))


def take(store: Store, bucket: str, rule: RateRule, now: datetime | None = None) -> float:
    """Spend one request of `bucket`: 0 when allowed, else the seconds until the next one is."""
    now_ms = int((now or utcnow()).timestamp() * 1000)
    with store.unit_of_work() as uow:
        wait_ms = uow.rates.take(bucket, rule.per_minute, rule.burst, now_ms)
    return wait_ms / 1000
