"""Credited behaviour events through the real ingestion service, for registry tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tanhui.services import consent, ingest, partners, schemes
from tanhui.store import Store
from tanhui.store.repositories.partners import PartnerRow

NOW = datetime.now(UTC).replace(microsecond=0)
TZ = ZoneInfo("Asia/Shanghai")
# Behaviours are reported 31 days before NOW, so that NOW's local day is past the 30-day holding
# period: an issuance "as of" a day later than today is refused (issue 18, finding 15).
REPORTED = NOW - timedelta(days=31)
CREATED = REPORTED - timedelta(days=2)  # the scheme and its partner
OCCURRED = REPORTED - timedelta(hours=1)
VINTAGE = OCCURRED.astimezone(TZ).year
ISSUE_DAY = REPORTED.astimezone(TZ).date() + timedelta(days=31)  # past the 30-day holding period


@dataclass
class City:
    store: Store
    scheme_id: str
    partner: PartnerRow
    users: set[str] = field(default_factory=set)
    credited: dict[str, dict[str, Any]] = field(default_factory=dict)  # event_id -> result

    def consent(self, user_ref: str) -> None:
        if user_ref not in self.users:
            body = {
                "user_ref": user_ref,
                "scopes": ["behaviour:report"],
                "granted_at": (REPORTED - timedelta(days=1)).isoformat(),
            }
            consent.grant(self.store, self.partner, uuid.uuid4().hex, body, now=REPORTED)
            self.users.add(user_ref)

    def report(self, events: list[dict[str, Any]], now: datetime = REPORTED) -> list[dict[str, Any]]:
        for e in events:
            self.consent(e["user_ref"])
        outcome = ingest.ingest_events(self.store, self.partner, events, now=now)
        for r in outcome.results:
            if r["status"] == "credited":
                self.credited[r["event_id"]] = r
        return outcome.results

    def electricity(self, user_ref: str, kwh: int, period: str, event_id: str | None = None) -> dict[str, Any]:
        """One household electricity saving: about 530 g per kWh; 1,000 kWh is about 0.53 t."""
        [r] = self.report(
            [
                {
                    "event_id": event_id or f"el-{user_ref}-{period}",
                    "user_ref": user_ref,
                    "scenario": "electricity_saving",
                    "occurred_at": OCCURRED.isoformat(),
                    "data": {"saved_kwh": str(kwh), "period": period},
                }
            ]
        )
        assert r["status"] == "credited", r
        return r

    def bus(self, user_ref: str, trip: str) -> dict[str, Any]:
        [r] = self.report(
            [
                {
                    "event_id": f"bus-{trip}",
                    "user_ref": user_ref,
                    "scenario": "bus_ride",
                    "occurred_at": OCCURRED.isoformat(),
                    "data": {"trip_id": trip},
                }
            ]
        )
        assert r["status"] == "credited", r
        return r

    def tonnes(self, count: int, prefix: str = "u") -> int:
        """Credit at least ``count`` tonnes of electricity savings; returns the grams credited."""
        grams = 0
        i = 0
        while grams < count * 1_000_000:
            user = f"{prefix}{i // 2}"
            grams += self.electricity(user, 1000, f"2026-{(i % 2) + 1:02d}", event_id=f"el-{prefix}-{i}")["carbon_g"]
            i += 1
        return grams


def city(store: Store, scheme_id: str, settings: dict[str, Any] | None = None) -> City:
    schemes.create_scheme(store, scheme_id, "绿芽积分", settings=settings, now=CREATED)
    created = partners.create_partner(store, scheme_id, "城市电网", ["electricity_saving", "bus_ride"], now=CREATED)
    return City(store, scheme_id, created.partner)


def issue_day(days_after: int = 31) -> date:
    """The local day ``days_after`` days after the behaviours were reported (31: today)."""
    return REPORTED.astimezone(TZ).date() + timedelta(days=days_after)


def retired_city(store: Store, scheme_id: str = "city") -> dict[str, Any]:
    """A scheme with 4 credits issued, 3 of them bought and retired by an organisation for a named event: what
    the public registry and a certificate show."""
    from tanhui.services import organisations
    from tanhui.services.registry import issuance, movements

    c = city(store, scheme_id)
    c.tonnes(4)
    issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW)
    org = organisations.create(store, scheme_id, "城市马拉松组委会")
    cert = movements.buy_and_neutralise(
        store,
        scheme_id,
        organisation=org.public_id,
        event_name="2026 城市马拉松",
        emission_t="2.4",
        idempotency_key=f"marathon-2026-{scheme_id}",
        now=NOW,
    )
    return {"city": c, "organisation": org, "certificate": cert}
