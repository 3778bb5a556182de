"""Issue 18 (2): erasure leaves no partner-sent personal value behind, on SQLite and PostgreSQL.

A unique marker is planted in every field a partner supplies about a person (event ids, the user_ref,
every data field, the consent's display_name), the events go in through the real API (one rejected,
two pooled into an issued credit batch), the person is erased with DELETE /v1/me, and then:
- SQLite: the raw bytes of the database file, its -wal file and a backup taken afterwards
  (`tanhui db backup`) hold no marker;
- PostgreSQL: no live row of any table holds a marker in any text or JSON column (old row versions
  remain in dead tuples until VACUUM: docs/operations.md);
- `tanhui verify` and `tanhui credits verify` are clean, and another person's public Merkle proof in
  the same batch still verifies.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tanhui.services.consent import token_hash
from tanhui.store import Store
from tests.live import LiveServer, create_partner
from tests.registry.helpers import NOW, OCCURRED, VINTAGE, issue_day

MARK = "QZXMARK"  # appears nowhere else: every planted value starts with it


def m(field: str) -> str:
    return f"{MARK}-{field}"


def _events(user_ref: str, other: str) -> list[dict[str, Any]]:
    at = OCCURRED.isoformat()
    bus = {"distance_km": "5", "trip_id": m("trip"), "line": m("line"), "city": m("city")}
    return [
        {"event_id": m("bus-event"), "user_ref": user_ref, "scenario": "bus_ride", "occurred_at": at, "data": bus},
        {
            "event_id": m("bus-too-far"),
            "user_ref": user_ref,
            "scenario": "bus_ride",
            "occurred_at": at,  # rejected: implausible
            "data": {**bus, "distance_km": "200", "trip_id": m("trip-2")},
        },
        {
            "event_id": m("el-event-1"),
            "user_ref": user_ref,
            "scenario": "electricity_saving",
            "occurred_at": at,
            "data": {"saved_kwh": "1000", "period": m("p1"), "province": m("province")},
        },
        {
            "event_id": m("el-event-2"),
            "user_ref": user_ref,
            "scenario": "electricity_saving",
            "occurred_at": at,
            "data": {"saved_kwh": "1000", "period": m("p2"), "province": m("province")},
        },
        {
            "event_id": "other-el-1",
            "user_ref": other,
            "scenario": "electricity_saving",
            "occurred_at": at,
            "data": {"saved_kwh": "1000", "period": "2026-01"},
        },
        {
            "event_id": "other-el-2",
            "user_ref": other,
            "scenario": "electricity_saving",
            "occurred_at": at,
            "data": {"saved_kwh": "1000", "period": "2026-02"},
        },
    ]


def _own_token(url: str, account_id: int) -> str:
    """The person's own sign-in (a partner's session may not erase). Accounts a partner's consent opened have
    no password, so the test stores a token of the kind POST /v1/auth/token gives, without a partner."""
    token = "ut_" + secrets.token_urlsafe(32)
    store = Store(url)
    try:
        with store.unit_of_work() as uow:
            uow.consents.add_token(token_hash(token), account_id, "session", NOW, NOW + timedelta(hours=1))
    finally:
        store.dispose()
    return token


def _files(database: Path) -> dict[str, bytes]:
    found = {}
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-journal")):
        if path.exists():
            found[path.name] = path.read_bytes()
    return found


def _live_rows_with_marker(url: str) -> list[str]:
    """table.column of every live row value (text or JSON) holding the marker, on PostgreSQL."""
    store = Store(url)
    hits = []
    try:
        with store.engine.connect() as conn:
            columns = conn.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                    " AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'character')"
                )
            ).all()
            for table, column in columns:
                n = conn.execute(
                    text(f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE :mark'), {"mark": f"%{MARK}%"}
                )
                if n.scalar_one():
                    hits.append(f"{table}.{column}")
    finally:
        store.dispose()
    return hits


def test_erasure_leaves_no_partner_sent_value_in_the_database_or_a_backup(live: LiveServer, tmp_path: Path) -> None:
    # The behaviours are a month old and reported now: the scheme accepts reports up to 40 days late and
    # holds nothing back before issuance, so they can be pooled today (an issuance "as of" a later day is
    # refused).
    scheme_file = tmp_path / "city.toml"
    scheme_file.write_text(
        '[scheme]\nid = "city"\nname = "绿芽积分"\ntimezone = "Asia/Shanghai"\n\n'
        "[settings]\nacceptance_window_days = 40\n\n[settings.registry]\nholding_days = 0\n",
        encoding="utf-8",
    )
    live.tanhui("scheme", "apply", str(scheme_file))
    partner = create_partner(live, "city", "城市服务", "bus_ride,electricity_saving")
    http = httpx.Client(base_url=live.base_url, timeout=60)
    sqlite = live.database_url.startswith("sqlite")
    try:
        granted = partner.consent(m("user-ref"), display_name=m("display-name"))
        assert granted.status_code == 201, granted.text
        account_id = int(granted.json()["account_id"])
        assert partner.consent("other-person").status_code == 201
        results = {r["event_id"]: r for r in partner.events(_events(m("user-ref"), "other-person")).json()["results"]}
        assert results[m("bus-too-far")]["status"] == "rejected"
        assert all(r["status"] == "credited" for k, r in results.items() if k != m("bus-too-far")), results
        live.tanhui("credits", "issue", "--scheme", "city", "--vintage", str(VINTAGE), "--as-of", issue_day().isoformat())
        proof = http.get("/v1/registry/proof", params={"partner": partner.partner_id, "event": m("el-event-1")}).json()
        assert proof["included"] and proof["verified"], proof  # the marked person's event is in an issued batch
        other_proof = {"partner": partner.partner_id, "event": "other-el-1"}
        assert http.get("/v1/registry/proof", params=other_proof).json()["verified"]

        # The markers are there before the erasure (so their absence afterwards means something).
        if sqlite:
            database = Path(live.database_url.removeprefix("sqlite:///"))
            assert any(MARK.encode() in blob for blob in _files(database).values())
        else:
            assert _live_rows_with_marker(live.database_url)

        me = {"Authorization": f"Bearer {_own_token(live.database_url, account_id)}"}
        assert MARK in http.get("/v1/me/export", headers=me).text
        erased = http.delete("/v1/me", headers=me)
        assert erased.status_code == 200 and erased.json()["status"] == "erased", erased.text

        if sqlite:
            for name, blob in _files(database).items():
                assert MARK.encode() not in blob, f"{name} still holds a marker at byte {blob.find(MARK.encode())}"
            backup = tmp_path / "after-erasure.db"
            live.tanhui("db", "backup", str(backup))
            assert backup.stat().st_size > 0 and MARK.encode() not in backup.read_bytes()
        else:
            assert _live_rows_with_marker(live.database_url) == []

        verify = live.tanhui("verify", check=False)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        credits = live.tanhui("credits", "verify", check=False)
        assert credits.returncode == 0, credits.stdout + credits.stderr
        # Other people's public proofs in the same batch are untouched.
        assert http.get("/v1/registry/proof", params=other_proof).json()["verified"]
    finally:
        http.close()
        partner.close()
