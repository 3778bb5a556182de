"""Retention of raw partner payloads: `tanhui events purge-payloads` nulls `events.data` past the
scheme's window, keeps outcomes, explanations and the ledger; verify and the registry still pass."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from tanhui.services import consent, ingest, ledger, partners, retention, schemes
from tanhui.services.registry import verify
from tanhui.store import Store
from tests.live import cli

RECEIVED = datetime(2026, 1, 10, 4, 0, tzinfo=UTC)


def _report(store: Store, partner: object, event_id: str, when: datetime) -> None:
    body = {"user_ref": "u1", "scopes": ["behaviour:report"], "granted_at": (RECEIVED - timedelta(days=1)).isoformat()}
    consent.grant(store, partner, f"n-{event_id}", body, now=when)  # type: ignore[arg-type]
    batch = [
        {
            "event_id": event_id,
            "user_ref": "u1",
            "scenario": "bus_ride",
            "occurred_at": (when - timedelta(hours=1)).isoformat(),
            "data": {"trip_id": f"{event_id}-trip", "line": "K12", "city": "泸州"},
        }
    ]
    [result] = ingest.ingest_events(store, partner, batch, now=when).results  # type: ignore[arg-type]
    assert result["status"] == "credited"


def _payloads(store: Store, scheme_id: str) -> dict[str, object]:
    with store.engine.connect() as conn:
        return {
            r[0]: (r[1], r[2] is not None, r[3])
            for r in conn.execute(
                text("SELECT event_id, data, explanation, status FROM events WHERE scheme_id = :s"), {"s": scheme_id}
            )
        }


def test_purge_nulls_old_payloads_only_and_keeps_everything_else(store: Store, scheme_id: str) -> None:
    schemes.create_scheme(
        store, scheme_id, "留存", settings={"retention": {"raw_payload_days": 30}}, now=RECEIVED - timedelta(days=2)
    )
    partner = partners.create_partner(store, scheme_id, "公交", ["bus_ride"], now=RECEIVED - timedelta(days=2)).partner
    _report(store, partner, "old", RECEIVED)
    _report(store, partner, "new", RECEIVED + timedelta(days=40))
    before = ledger.verify(store, scheme_id)
    report = retention.purge_payloads(store, scheme_id, as_of=date(2026, 2, 15))  # window starts 2026-01-16
    assert report.purged == 1 and report.days == 30
    stored = _payloads(store, scheme_id)
    assert stored["old"][0] is None and stored["old"][1] and stored["old"][2] == "credited"  # explanation and outcome stay
    assert stored["new"][0] is not None
    assert retention.purge_payloads(store, scheme_id, as_of=date(2026, 2, 15)).purged == 0  # again: nothing more
    after = ledger.verify(store, scheme_id)
    assert after.ok and before.ok and after.entries == before.entries
    assert verify.verify(store, scheme_id).ok


@pytest.mark.slow  # a CLI workflow
def test_purge_payloads_command(fresh_store_url: str) -> None:
    cli(fresh_store_url, "db", "upgrade")
    store = Store(fresh_store_url)
    try:
        schemes.create_scheme(store, "city", "留存", now=RECEIVED - timedelta(days=2))  # default window: 180 days
        partner = partners.create_partner(store, "city", "公交", ["bus_ride"], now=RECEIVED - timedelta(days=2)).partner
        _report(store, partner, "e1", RECEIVED)
    finally:
        store.dispose()
    kept = json.loads(
        cli(fresh_store_url, "events", "purge-payloads", "--scheme", "city", "--as-of", "2026-07-01", "--json").stdout
    )
    assert kept["purged"] == 0 and kept["raw_payload_days"] == 180
    done = json.loads(
        cli(fresh_store_url, "events", "purge-payloads", "--scheme", "city", "--as-of", "2026-07-10", "--json").stdout
    )
    assert done["purged"] == 1
    assert cli(fresh_store_url, "verify", check=False).returncode == 0
    bad = cli(fresh_store_url, "events", "purge-payloads", "--scheme", "nope", check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
