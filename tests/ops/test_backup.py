"""`tanhui db backup` / `tanhui db restore` on SQLite: an online backup while a writer keeps ingesting,
restored into a fresh path and verified; and every refusal (overwrite, not Tanhui, broken ledger,
PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tanhui.services import consent, ingest, partners, schemes
from tanhui.store import Store
from tests.conftest import new_sqlite_store
from tests.live import cli

WHEN = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
USERS = 200


def populate(path: Path) -> tuple[Store, Any]:
    store = new_sqlite_store(path)
    schemes.create_scheme(store, "city", "备份测试")
    created = partners.create_partner(store, "city", "公交", ["bus_ride", "walking"])
    for n in range(USERS):
        consent.grant(
            store,
            created.partner,
            f"consent-nonce-{n:05d}",
            {"user_ref": f"u{n}", "scopes": ["behaviour:report"], "granted_at": WHEN},
        )
    return store, created.partner


def batch(prefix: str, size: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "user_ref": f"u{i % USERS}",
            "scenario": "bus_ride",
            "occurred_at": WHEN,
            "data": {"trip_id": f"{prefix}-{i}"},
        }
        for i in range(size)
    ]


def counts(url: str) -> dict[str, int]:
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            return {
                "events": conn.execute(text("SELECT count(*) FROM events")).scalar_one(),
                "credited_with_entry": conn.execute(text("SELECT count(*) FROM events WHERE entry_id IS NOT NULL")).scalar_one(),
                "entries": conn.execute(text("SELECT count(*) FROM journal_entries")).scalar_one(),
            }
    finally:
        store.dispose()


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_online_backup_under_writes_restores_and_verifies(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    source_url = f"sqlite:///{source}"
    store, partner = populate(source)
    outcome = ingest.ingest_events(store, partner, batch("seed", 400))
    assert outcome.summary["credited"] == 400
    before = counts(source_url)

    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        n = 0
        try:
            while not stop.is_set():
                ingest.ingest_events(store, partner, batch(f"w{n}", 50))
                written.append(50)
                n += 1
        except BaseException as error:  # surfaced by the main thread
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 3 and not errors:  # the writer is really writing when the backup starts
            threading.Event().wait(0.01)
        out = tmp_path / "backups" / "tanhui-backup.db"
        made = cli(source_url, "db", "backup", str(out))
        during = len(written)
        while len(written) < during + 3 and not errors:  # ... and still writing after it
            threading.Event().wait(0.01)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    store.dispose()
    match = re.search(r"(\d+) bytes, (\d+) tables, (\d+) ledger entries, (\d+) events, schema revision (\w+)", made.stdout)
    assert match, made.stdout
    size, tables, entries, events = (int(g) for g in match.groups()[:4])
    assert size == out.stat().st_size and tables >= 10
    after = counts(source_url)
    assert before["events"] < events < after["events"]  # a snapshot taken in the middle of the writes
    assert list(out.parent.iterdir()) == [out]  # no temporary file or -wal left beside it

    restored = tmp_path / "restored" / "tanhui.db"
    restored_url = f"sqlite:///{restored}"
    done = cli(restored_url, "db", "restore", str(out))
    assert "verified consistent" in done.stdout and f"{entries} ledger entries" in done.stdout, done.stdout
    report = json.loads(cli(restored_url, "verify", "--json").stdout)
    assert (
        report["ok"] and report["entries"] == entries and entries <= report["postings"] <= 2 * entries
    )  # CO2E, and points until the daily cap
    got = counts(restored_url)
    assert got["events"] == events and got["entries"] == entries
    assert got["credited_with_entry"] == entries  # every entry belongs to a stored event: one consistent snapshot
    assert sorted(p.name for p in restored.parent.iterdir()) == ["tanhui.db"]


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_refusals(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    url = f"sqlite:///{source}"
    store, partner = populate(source)
    ingest.ingest_events(store, partner, batch("x", 20))
    store.dispose()
    out = tmp_path / "b.db"
    cli(url, "db", "backup", str(out))

    again = cli(url, "db", "backup", str(out), check=False)
    assert again.returncode == 2 and "add --force" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert cli(url, "db", "backup", str(out), "--force").returncode == 0

    target = tmp_path / "target.db"
    target_url = f"sqlite:///{target}"
    cli(target_url, "db", "restore", str(out))
    exists = cli(target_url, "db", "restore", str(out), check=False)
    assert exists.returncode == 2 and "add --force" in exists.stderr

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    refused = cli(target_url, "db", "restore", str(junk), "--force", check=False)
    assert refused.returncode == 2 and "not a Tanhui database" in refused.stderr
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    refused = cli(target_url, "db", "restore", str(empty), "--force", check=False)
    assert refused.returncode == 2 and "not a Tanhui database" in refused.stderr

    unknown = tmp_path / "unknown.db"
    cli(url, "db", "backup", str(unknown))
    with sqlite3.connect(unknown) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    refused = cli(target_url, "db", "restore", str(unknown), "--force", check=False)
    assert refused.returncode == 2 and "9999_future" in refused.stderr

    tampered = tmp_path / "tampered.db"
    cli(url, "db", "backup", str(tampered))
    with sqlite3.connect(tampered) as conn:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute("UPDATE postings SET amount = amount + 1 WHERE id = (SELECT min(id) FROM postings)")
    untouched = target.read_bytes()
    refused = cli(target_url, "db", "restore", str(tampered), "--force", check=False)
    assert refused.returncode == 2 and "failed verification" in refused.stderr, refused.stderr
    assert target.read_bytes() == untouched
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file left

    cli(target_url, "db", "restore", str(out), "--force")
    assert json.loads(cli(target_url, "verify", "--json").stdout)["ok"]


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_restore_upgrades_an_older_backup(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    cli(f"sqlite:///{old}", "db", "upgrade", "0002")
    target = tmp_path / "new.db"
    done = cli(f"sqlite:///{target}", "db", "restore", str(old))
    assert "upgraded from 0002" in done.stdout
    assert json.loads(cli(f"sqlite:///{target}", "verify", "--json").stdout)["ok"]


def test_postgresql_gets_the_pg_dump_command(tmp_path: Path) -> None:
    url = "postgresql://tanhui:s3cret-pw@db.internal:5432/tanhui"
    result = cli(url, "db", "backup", str(tmp_path / "x.dump"), check=False)
    assert result.returncode == 2
    assert result.stdout.startswith("pg_dump --format=custom --no-owner --file=")
    assert "postgresql://tanhui@db.internal:5432/tanhui" in result.stdout
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "pg_dump" in result.stderr
    restore = cli(url, "db", "restore", str(tmp_path / "x.dump"), check=False)
    assert restore.returncode == 2 and "pg_restore" in restore.stderr and len(restore.stderr.strip().splitlines()) == 1


KNOWN_TOKEN_HASH = hashlib.sha256(b"attacker-knows-this-token").hexdigest()
# Issue 18, finding 8: what an attacker slips into a backup. The trigger mints an operator token the attacker
# knows as soon as anyone is issued a token; the others show every kind of object is compared.
INJECTIONS = {
    "trigger mint_operator_token": (
        "CREATE TRIGGER mint_operator_token AFTER INSERT ON user_tokens BEGIN"
        " INSERT OR IGNORE INTO operator_tokens (token_hash, scheme_id, role, kind, created_at)"
        f" SELECT '{KNOWN_TOKEN_HASH}', id, 'operator', 'api', datetime('now') FROM schemes; END"
    ),
    "view balances_for_export": "CREATE VIEW balances_for_export AS SELECT id, balance FROM ledger_accounts",
    "trigger postings_no_update": (  # the append-only guard, its body altered to let updates through
        "DROP TRIGGER postings_no_update; CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings BEGIN SELECT 1; END"
    ),
    "index ix_events_user_ref": "CREATE INDEX ix_events_user_ref ON events (user_ref)",
}


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_restore_refuses_schema_objects_the_migrations_do_not_make(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    url = f"sqlite:///{source}"
    store, partner = populate(source)
    ingest.ingest_events(store, partner, batch("x", 20))
    store.dispose()
    clean = tmp_path / "clean.db"
    cli(url, "db", "backup", str(clean))
    target = tmp_path / "target.db"
    target_url = f"sqlite:///{target}"
    cli(target_url, "db", "restore", str(clean))
    untouched = target.read_bytes()

    for name, sql in INJECTIONS.items():
        tampered = tmp_path / f"tampered-{name.split()[1]}.db"
        tampered.write_bytes(clean.read_bytes())
        with sqlite3.connect(tampered) as conn:
            conn.executescript(sql)
        refused = cli(target_url, "db", "restore", str(tampered), "--force", check=False)
        assert refused.returncode == 2, (name, refused.stdout, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert f"schema object {name} (" in refused.stderr and "failed verification" in refused.stderr, refused.stderr
        assert target.read_bytes() == untouched, name
        checked = json.loads(cli(f"sqlite:///{tampered}", "verify", "--json", check=False).stdout)  # verify names it too
        assert checked["ok"] is False and any(f"schema object {name} (" in p for p in checked["problems"]), checked
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file left
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'mint_operator_token'").fetchone() == (0,)

    done = cli(target_url, "db", "restore", str(clean), "--force")  # the clean backup still restores
    assert "verified consistent" in done.stdout
    assert json.loads(cli(target_url, "verify", "--json").stdout)["ok"]
