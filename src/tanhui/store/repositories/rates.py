from __future__ import annotations

from sqlalchemy import select, update

from tanhui.store.repositories.base import Repository
from tanhui.store.schema import rate_buckets

MICRO = 1_000_000  # a request costs 1,000,000 micro-tokens: integer arithmetic, no rounding drift
REFILL_CAP_MS = 3_600_000  # an idle hour refills any bucket (a burst is at most an hour's rate)


class RateRepository(Repository):
    def take(self, bucket: str, per_minute: int, burst: int, now_ms: int) -> int:
        """Spend one request from the bucket: 0 when allowed, else milliseconds until one is there.

        The row is locked for the rest of the transaction, so concurrent processes take in turn.
        A clock that steps back refills nothing and does not move the bucket's time back.
        """
        self.conn.execute(
            self.dialect.insert_ignore(rate_buckets, ["bucket"]).values(bucket=bucket, tokens=burst * MICRO, updated_ms=now_ms)
        )
        tokens, updated_ms = self.conn.execute(
            self.dialect.for_update(
                select(rate_buckets.c.tokens, rate_buckets.c.updated_ms).where(rate_buckets.c.bucket == bucket)
            )
        ).one()
        elapsed = min(max(0, now_ms - updated_ms), REFILL_CAP_MS)
        tokens = min(burst * MICRO, tokens + elapsed * per_minute * MICRO // 60_000)
        allowed = tokens >= MICRO
        self.conn.execute(
            update(rate_buckets)
            .where(rate_buckets.c.bucket == bucket)
            .values(tokens=tokens - MICRO if allowed else tokens, updated_ms=max(now_ms, updated_ms))
        )
        if allowed:
            return 0
        return -(-(MICRO - tokens) * 60_000 // (per_minute * MICRO)) if per_minute > 0 else 60_000
