"""The operator reports' counters (report_* tables) agree with the rows they count.

The writers keep them in their own transactions (ingest, check-ins, ledger appends, sign-ups,
erasure); these tests compare every figure of the stats with the same figure computed here from
the source rows, show that `tanhui verify` notices a counter that drifted, and that a rebuild
gives back the same figures.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ISSUANCE, SYSTEM_REDEEMED
from tanhui.services import engagement, ledger, market, privacy, reports
from tanhui.store import Store
from tanhui.store.repositories.reports import bucket
from tanhui.store.schema import accounts, checkins, events, journal_entries, postings, report_facts
from tests.live import cli
from tests.web.helpers import build_city, coupon_item, fund

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _city(store: Store, tmp_path: Path) -> Any:
    scheme_id = "r" + uuid.uuid4().hex[:10]
    city = build_city(store, tmp_path, scheme_id, people=4, days=4)
    for account_id in city.people[:3]:
        engagement.checkin(store, account_id)
    fund(store, scheme_id, city.people[0], 5000)
    market.place_order(store, city.people[0], coupon_item(store, scheme_id), 1, idempotency_key=f"k-{scheme_id}")
    privacy.erase_person(store, city.people[3])
    return city


def _expected(store: Store, scheme_id: str, start: date | None, end: date) -> dict[str, Any]:
    """The stats' figures straight from events, check-ins, postings and accounts."""
    lo = start.toordinal() if start else 0
    hi = end.toordinal()
    t1 = datetime.combine(end + timedelta(days=1), datetime.min.time(), SHANGHAI).astimezone(UTC)
    t0 = datetime.combine(start, datetime.min.time(), SHANGHAI).astimezone(UTC) if start else None
    with store.unit_of_work(write=False) as uow:
        conn = uow.conn
        credited = conn.execute(
            select(func.count(), func.coalesce(func.sum(events.c.carbon_g), 0)).where(
                events.c.scheme_id == scheme_id, events.c.status == "credited", events.c.local_day.between(lo, hi)
            )
        ).one()
        people = {
            a
            for (a,) in conn.execute(
                select(events.c.account_id).where(
                    events.c.scheme_id == scheme_id, events.c.status == "credited", events.c.local_day == hi
                )
            )
        } | {
            a
            for (a,) in conn.execute(
                select(checkins.c.account_id)
                .select_from(
                    checkins.join(accounts, (accounts.c.pkey == checkins.c.pkey) & (accounts.c.id == checkins.c.account_id))
                )
                .where(accounts.c.scheme_id == scheme_id, checkins.c.local_day == hi)
            )
        }
        registered = conn.execute(
            select(func.count()).where(
                accounts.c.scheme_id == scheme_id,
                accounts.c.kind == "person",
                accounts.c.created_at < t1,
                (accounts.c.erased_at.is_(None)) | (accounts.c.erased_at >= t1),
            )
        ).scalar_one()

        def flow(account_id: int) -> int:
            moved = 0
            for column, sign in ((postings.c.from_account_id, 1), (postings.c.to_account_id, -1)):
                query = (
                    select(func.coalesce(func.sum(postings.c.amount), 0))
                    .select_from(
                        postings.join(
                            journal_entries,
                            (journal_entries.c.pkey == postings.c.pkey) & (journal_entries.c.id == postings.c.entry_id),
                        )
                    )
                    .where(column == account_id, journal_entries.c.created_at < t1)
                )
                if t0 is not None:
                    query = query.where(journal_entries.c.created_at >= t0)
                moved += sign * int(conn.execute(query).scalar_one())
            return moved

        issuance = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_ISSUANCE).id
        redeemed = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id
        return {
            "events_credited": int(credited[0]),
            "carbon_g_total": int(credited[1]),
            "daily_active_users": len(people - {None}),
            "registered_users": int(registered),
            "points_issued": flow(issuance),
            "points_redeemed": -flow(redeemed),
        }


def test_stats_from_the_counters_equal_the_figures_from_the_source_rows(store: Store, tmp_path: Path) -> None:
    city = _city(store, tmp_path)
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    with store.unit_of_work(write=False) as uow:
        assert uow.reports.check(city.scheme_id) == []
    for start in (None, today - timedelta(days=2), today):
        got = reports.stats(store, city.scheme_id, start, today if start else None)
        want = _expected(store, city.scheme_id, start, today)
        assert {k: got[k] for k in want} == want, start
        # the city's events happened an hour or more ago: in the first hour of a Shanghai day, today has none
        assert (got["events_credited"] > 0 or start == today) and got["points_issued"] > 0 and got["points_redeemed"] > 0
    assert reports.stats(store, city.scheme_id)["registered_users"] == len(city.people) - 1  # one erased
    assert ledger.verify(store, city.scheme_id).ok


def test_verify_names_a_drifted_counter_and_a_rebuild_restores_the_figures(tmp_path: Path) -> None:
    from tests.conftest import new_sqlite_store

    store = new_sqlite_store(tmp_path / "drift.db")
    city = _city(store, tmp_path)
    before = reports.stats(store, city.scheme_id)
    with store.engine.begin() as conn:
        conn.execute(
            report_facts.update()
            .where(report_facts.c.scheme_id == city.scheme_id, report_facts.c.status == "credited")
            .values(events=report_facts.c.events + 1)
        )
        conn.execute(text("DELETE FROM report_flows WHERE rowid = (SELECT min(rowid) FROM report_flows)"))
    report = ledger.verify(store, city.scheme_id)
    assert not report.ok
    assert any(p.startswith("report_facts") for p in report.problems)
    assert any(p.startswith("report_flows") for p in report.problems)
    url = f"sqlite:///{tmp_path / 'drift.db'}"
    broken = cli(url, "verify", check=False)
    assert broken.returncode == 1 and "report_facts" in broken.stderr
    rebuilt = cli(url, "db", "rebuild-reports")
    assert "report_facts" in rebuilt.stdout
    assert cli(url, "verify").returncode == 0
    assert ledger.verify(store, city.scheme_id).ok
    assert reports.stats(store, city.scheme_id) == before


def test_a_quarter_hour_bucket_edge_is_every_time_zones_midnight() -> None:
    for zone in ("Asia/Shanghai", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "UTC"):
        midnight = datetime(2026, 11, 25, tzinfo=ZoneInfo(zone))
        assert int(midnight.timestamp()) % 900 == 0, zone
        assert bucket(midnight - timedelta(microseconds=1)) == bucket(midnight) - 1


def test_strings_with_control_characters_are_looked_up_exactly(store: Store) -> None:
    """Batch lookups bind their lists as one JSON (SQLite) or array (PostgreSQL) parameter: a
    replayed event id with control characters must still be found (a NUL once made it a 500)."""
    from tanhui.services import consent, ingest, partners, schemes

    scheme_id = "c" + uuid.uuid4().hex[:10]
    schemes.create_scheme(store, scheme_id, "控制字符")
    partner = partners.create_partner(store, scheme_id, "bus", ["bus_ride"]).partner
    when = datetime.now(UTC) - timedelta(hours=1)
    ref = 'u "\\é中'  # quote, backslash, non-ASCII; a control character in a user_ref is refused (issue 18, finding 10)
    consent.grant(
        store,
        partner,
        f"n-{scheme_id}",
        {"user_ref": ref, "scopes": ["behaviour:report"], "granted_at": (when - timedelta(days=1)).isoformat()},
    )
    batch = [
        {
            "event_id": f'e\x01\x1f"\\{i}',
            "user_ref": ref,
            "scenario": "bus_ride",
            "occurred_at": when.isoformat(),
            "data": {"trip_id": f"t\x02{i}"},
        }
        for i in range(3)
    ] + [{"event_id": "nul\x00id", "user_ref": ref, "scenario": "bus_ride", "occurred_at": when.isoformat(), "data": {}}]
    first = ingest.ingest_events(store, partner, batch).results
    again = ingest.ingest_events(store, partner, batch).results
    assert [r["status"] for r in first] == ["credited"] * 3 + ["rejected"]
    assert first[3]["reason"] == "invalid_data"
    assert [r["status"] for r in again[:3]] == ["duplicate"] * 3 and again[3]["reason"] == "invalid_data"
