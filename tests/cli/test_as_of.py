"""Finding 15 of issue 18: an `--as-of` later than today is refused.

`tanhui points expire --as-of 2028-01-01` expired points that still had a year to live, and
`tanhui credits issue --as-of` a month ahead skipped the holding period. Every command that takes
`--as-of` now refuses a date after today (in the scheme's time zone) with one line and a non-zero
exit, writing nothing; today and earlier days still work.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ISSUANCE
from tanhui.services import accounts, ledger
from tanhui.store import Store
from tanhui.store.schema import audit_log, credit_batches, events, journal_entries
from tests.live import cli
from tests.registry.helpers import VINTAGE, city

TZ = ZoneInfo("Asia/Shanghai")


def _snapshot(url: str) -> dict[str, int]:
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            return {
                "journal_entries": conn.execute(select(func.count()).select_from(journal_entries)).scalar_one(),
                "credit_batches": conn.execute(select(func.count()).select_from(credit_batches)).scalar_one(),
                "audit_log": conn.execute(select(func.count()).select_from(audit_log)).scalar_one(),
                "payloads": conn.execute(select(func.count()).select_from(events).where(events.c.data.is_not(None))).scalar_one(),
            }
    finally:
        store.dispose()


def _refused(url: str, *args: str) -> None:
    before = _snapshot(url)
    result = cli(url, *args, check=False)
    assert result.returncode != 0, result.stdout
    assert result.stderr.startswith("error[as_of_in_future]") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert _snapshot(url) == before, "a refused command wrote something"


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_every_as_of_command_refuses_a_future_date_and_accepts_today_and_earlier(fresh_store_url: str) -> None:
    url = fresh_store_url
    cli(url, "db", "upgrade")
    now = datetime.now(UTC)
    store = Store(url)
    try:
        c = city(store, "city")
        # points earned two years ago (they expire at the end of last year) and a behaviour reported
        # yesterday (its 30-day holding period has not been served)
        points_account = ledger.holdings(store, accounts.open_account(store, "city")).points_account_id
        with store.unit_of_work(write=False) as uow:
            issuance_account = uow.ledger.system_account("city", ASSET_POINTS, SYSTEM_ISSUANCE).id
        ledger.transfer(
            store,
            "city",
            [(issuance_account, points_account, 700)],
            kind="reward",
            idempotency_key="old",
            now=datetime(now.year - 2, 6, 1, tzinfo=UTC),
        )
        c.report(
            [
                {
                    "event_id": "fresh",
                    "user_ref": "fresh-user",
                    "scenario": "electricity_saving",
                    "occurred_at": (now - timedelta(days=1, hours=1)).isoformat(),
                    "data": {"saved_kwh": "3000", "period": "2026-03"},
                }
            ],
            now=now - timedelta(days=1),
        )
    finally:
        store.dispose()
    today = now.astimezone(TZ).date()
    tomorrow, far = today + timedelta(days=1), date(today.year + 2, 1, 1)
    balance = _balance(url, points_account)
    _refused(url, "points", "expire", "--scheme", "city", "--as-of", tomorrow.isoformat())
    _refused(url, "points", "expire", "--scheme", "city", "--as-of", far.isoformat())
    _refused(
        url,
        "credits",
        "issue",
        "--scheme",
        "city",
        "--vintage",
        str(VINTAGE),
        "--as-of",
        (today + timedelta(days=31)).isoformat(),
    )
    _refused(url, "credits", "issue", "--scheme", "city", "--vintage", str(VINTAGE), "--as-of", tomorrow.isoformat(), "--dry-run")
    _refused(url, "events", "purge-payloads", "--scheme", "city", "--as-of", (today + timedelta(days=400)).isoformat())
    _refused(url, "events", "purge-payloads", "--scheme", "city", "--as-of", tomorrow.isoformat())
    assert _balance(url, points_account) == balance

    # earlier days and today work
    past = json.loads(
        cli(url, "points", "expire", "--scheme", "city", "--as-of", date(today.year - 1, 6, 1).isoformat(), "--json").stdout
    )
    assert past["points"] == 0  # two years ago's points live until the end of last year
    done = json.loads(cli(url, "points", "expire", "--scheme", "city", "--as-of", today.isoformat(), "--json").stdout)
    assert done["points"] == 700
    issued = json.loads(
        cli(url, "credits", "issue", "--scheme", "city", "--vintage", str(VINTAGE), "--as-of", today.isoformat(), "--json").stdout
    )
    assert issued["issued"] == 0  # yesterday's behaviour still serves its holding period
    purged = json.loads(cli(url, "events", "purge-payloads", "--scheme", "city", "--as-of", today.isoformat(), "--json").stdout)
    assert purged["purged"] == 0
    assert cli(url, "events", "purge-payloads", "--scheme", "city", "--json").returncode == 0  # default: today


def _balance(url: str, points_account: int) -> int:
    store = Store(url)
    try:
        return ledger.balance(store, points_account)
    finally:
        store.dispose()
