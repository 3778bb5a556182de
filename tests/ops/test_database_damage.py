"""Issue 18, finding 9 (and 8 for `tanhui verify`): a damaged database is named, never believed.

Real bytes in a real SQLite file (tests/ops/sqlite_pages.py): one flipped bit in a postings index cell (every
row still reads and the ledger verifies, while the index no longer finds a row), a page of garbage, a file
that is not a database. `tanhui verify` runs the engine's structural check and names the first problem; the
CLI answers one line, never a traceback; /readyz is not ready and the API answers a structured 503. On
PostgreSQL `tanhui verify` runs amcheck, and on both engines it names a schema object the migrations did not
make."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tanhui.services import ingest, ledger, partners
from tanhui.store import Store
from tests.conftest import IN_CI
from tests.live import LiveServer, Partner, cli
from tests.ops import sqlite_pages
from tests.ops.test_backup import batch, populate


def built(path: Path, events: int = 30) -> tuple[str, Any]:
    """A database with a scheme, 200 people and ``events`` credited bus rides; (url, the partner and its secret)."""
    store, partner = populate(path)
    ingest.ingest_events(store, partner, batch("x", events))
    rotated = partners.rotate_secret(store, partner.id)
    store.dispose()
    return f"sqlite:///{path}", (partner, rotated)


def one_line(result: Any) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return str(lines[0])


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_verify_names_an_index_that_disagrees_with_its_table(tmp_path: Path) -> None:
    url, _ = built(tmp_path / "flip.db")
    assert cli(url, "verify").returncode == 0
    where = sqlite_pages.flip_index_key_bit(tmp_path / "flip.db", "ix_postings_to_account_id")

    store = Store(url)
    try:
        assert ledger.verify(store).ok  # every row reads: the ledger alone cannot see it
    finally:
        store.dispose()
    result = cli(url, "verify", check=False)
    assert result.returncode == 1, (where, result.stdout, result.stderr)
    line = one_line(result)
    assert line.startswith("BROKEN: ") and "missing from index ix_postings_to_account_id" in line, line
    report = json.loads(cli(url, "verify", "--json", check=False).stdout)
    assert report["ok"] is False and report["database"]["structure"] == "PRAGMA integrity_check"
    assert any("missing from index ix_postings_to_account_id" in p for p in report["problems"]), report


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_garbage_pages_and_files_that_are_not_databases_are_one_line(tmp_path: Path) -> None:
    url, _ = built(tmp_path / "live.db")
    shutil.copy(tmp_path / "live.db", tmp_path / "garbage.db")
    sqlite_pages.garbage_page(tmp_path / "garbage.db", "postings")
    garbage = f"sqlite:///{tmp_path / 'garbage.db'}"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00not a database, but a file where one should be\n" * 200)

    for database, args in (
        (garbage, ("verify",)),
        (garbage, ("verify", "--json")),
        (f"sqlite:///{junk}", ("verify",)),
        (f"sqlite:///{junk}", ("scheme", "list")),
        (f"sqlite:///{junk}", ("db", "upgrade")),
    ):
        result = cli(database, *args, check=False)
        assert result.returncode != 0, (database, args, result.stdout)
        line = one_line(result)
        assert "database_damaged" in line or line.startswith("BROKEN"), (args, line)
    restored = cli(f"sqlite:///{tmp_path / 'target.db'}", "db", "restore", str(tmp_path / "garbage.db"), check=False)
    assert restored.returncode == 2 and "failed verification" in one_line(restored)
    assert not (tmp_path / "target.db").exists()


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_readyz_and_the_api_on_a_damaged_database(tmp_path: Path, live_server_factory: Any) -> None:
    path = tmp_path / "served.db"
    url, created = built(path)
    server: LiveServer = live_server_factory(url, env={"TANHUI_READY_CHECK_SECONDS": "1"})
    partner = Partner(server.base_url, created[0].id, created[1])
    ready = httpx.get(server.base_url + "/readyz")
    assert ready.status_code == 200, ready.text
    assert partner.events(batch("before", 2)).json()["summary"]["credited"] == 2
    server.stop()

    sqlite_pages.garbage_page(path, "postings")
    server = live_server_factory(url, env={"TANHUI_READY_CHECK_SECONDS": "1"})
    partner = Partner(server.base_url, created[0].id, created[1])
    answer = httpx.get(server.base_url + "/readyz", headers={"Accept-Language": "en"})
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "not_ready" and "database_damaged" in error["message"]
    assert error["details"]["database"] == "damaged" and error["details"]["problems"], error
    assert httpx.get(server.base_url + "/healthz").status_code == 200  # alive, not ready

    refused = partner.events(batch("after", 2))  # the write reads the damaged postings page
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "database_damaged" and refused.json()["error"]["message"]
    assert "Traceback" not in server.log()


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_readyz_turns_not_ready_when_the_file_is_damaged_while_serving(tmp_path: Path, live_server_factory: Any) -> None:
    path = tmp_path / "served.db"
    url, _ = built(path, events=5)
    server: LiveServer = live_server_factory(url, env={"TANHUI_READY_CHECK_SECONDS": "1"})
    assert httpx.get(server.base_url + "/readyz").status_code == 200
    sqlite_pages.garbage_page(path, "events", served=True)
    deadline = time.monotonic() + 20
    statuses = []
    while time.monotonic() < deadline:  # the cached result is refreshed at most a second later
        statuses.append(httpx.get(server.base_url + "/readyz").status_code)
        if statuses[-1] == 503:
            break
        time.sleep(0.3)
    assert statuses[-1] == 503, statuses


def test_verify_names_schema_objects_the_migrations_did_not_make(fresh_store_url: str) -> None:
    """The PostgreSQL side of finding 8 (a dump restored with pg_restore is checked by `tanhui verify`), and the
    same on SQLite: an extra trigger and view, and the append-only guard's function or trigger altered."""
    cli(fresh_store_url, "db", "upgrade")
    clean = json.loads(cli(fresh_store_url, "verify", "--json").stdout)
    assert clean["ok"] and clean["database"]["schema_skipped"] is None, clean
    store = Store(fresh_store_url)
    try:
        on_postgresql = store.dialect.name == "postgresql"
        with store.engine.begin() as conn:
            if on_postgresql:
                conn.execute(text("CREATE FUNCTION mint() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"))
                conn.execute(
                    text("CREATE TRIGGER mint_operator_token AFTER INSERT ON user_tokens FOR EACH ROW EXECUTE FUNCTION mint()")
                )
                conn.execute(
                    text(
                        "CREATE OR REPLACE FUNCTION tanhui_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
                    )
                )
            else:
                conn.execute(text("CREATE TRIGGER mint_operator_token AFTER INSERT ON user_tokens BEGIN SELECT 1; END"))
                conn.execute(text("DROP TRIGGER postings_no_update"))
                conn.execute(text("CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings BEGIN SELECT 1; END"))
            conn.execute(text("CREATE VIEW balances_for_export AS SELECT id, balance FROM ledger_accounts"))
    finally:
        store.dispose()
    result = cli(fresh_store_url, "verify", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    named = result.stderr
    expected = ["view balances_for_export (extra)"]
    if on_postgresql:
        expected += [
            "trigger mint_operator_token on user_tokens (extra)",
            "function mint() (extra)",
            "function tanhui_append_only() (altered)",
        ]
    else:
        expected += ["trigger mint_operator_token (extra)", "trigger postings_no_update (altered)"]
    for name in expected:
        assert f"schema object {name}" in named, (name, named)


@pytest.mark.postgres
def test_verify_runs_amcheck_on_postgresql(pg_databases: Any) -> None:
    url = pg_databases.create()
    try:
        cli(url, "db", "upgrade")
        report = json.loads(cli(url, "verify", "--json").stdout)
        structure = report["database"]["structure"]
        assert report["ok"] and structure.startswith("amcheck (bt_index_check with heapallindexed on "), report
        assert report["database"]["structure_skipped"] is None
        human = cli(url, "verify", env={"TANHUI_LANG": "en"}).stdout
        assert "amcheck" in human and "clean" in human and "schema as the migrations make it" in human, human
    finally:
        pg_databases.drop(url)


@pytest.mark.postgres
def test_amcheck_that_cannot_run_says_it_was_skipped_and_why(pg_databases: Any) -> None:
    """A role that may not create the extension (nor a schema): verify still runs, and says what it could not do."""
    url = pg_databases.create()
    role = "tanhui_h18_" + os.urandom(4).hex()
    admin = Store(url)
    try:
        cli(url, "db", "upgrade")
        with admin.engine.begin() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN"))
            conn.execute(text(f"GRANT ALL ON SCHEMA public TO {role}"))
            conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
        limited = url.replace("//postgres@", f"//{role}@", 1)
        result = cli(limited, "verify", "--json", check=False)
        report = json.loads(result.stdout)
        assert report["database"]["structure_skipped"].startswith("amcheck is not installed and could not be created"), report
        skipped = report["database"]["schema_skipped"]  # no CREATE on the database: no scratch schema either
        assert skipped.startswith("no reference schema could be built") and "permission denied" in skipped, report
        assert report["ok"], report
        assert "skipped" in cli(limited, "verify", env={"TANHUI_LANG": "en"}).stdout
    finally:
        with admin.engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
        pg_databases.drop(url)
        with pg_databases.admin.connect() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def _flip_btree_key_bit(path: Path) -> None:
    """Flip the lowest bit of the key of the last item on a PostgreSQL B-tree index's root page, which must
    be a leaf (a small index). Layout: src/include/storage/bufpage.h, access/nbtree.h, access/itup.h."""
    block = 8192
    data = bytearray(path.read_bytes())
    root = int.from_bytes(data[32:36], "little")  # BTMetaPageData.btm_root, after the 24-byte page header of block 0
    page = root * block
    lower = int.from_bytes(data[page + 12 : page + 14], "little")
    special = int.from_bytes(data[page + 16 : page + 18], "little")
    flags = int.from_bytes(data[page + special + 12 : page + special + 14], "little")
    assert flags & 1, "the root is not a leaf: the index is too big for this test"
    last = int.from_bytes(data[page + lower - 4 : page + lower], "little")  # the last line pointer
    offset = last & 0x7FFF
    data[page + offset + 8] ^= 0x01  # after t_tid (6 bytes) and t_info (2): the key's least significant byte
    path.write_bytes(bytes(data))


@pytest.mark.slow
@pytest.mark.postgres
def test_amcheck_names_a_damaged_index_on_postgresql(pg_databases: Any, tmp_path: Path) -> None:
    """A bit flipped in the index file on disk, read by a database copied from it file by file (the server's
    buffers still hold the original page of the first one); needs the server's data directory on this machine."""
    source = pg_databases.create()
    store = Store(source)
    try:
        from tanhui.services import consent, schemes
        from tanhui.store import migrate

        migrate.upgrade(store)
        schemes.create_scheme(store, "city", "损坏测试")
        partner = partners.create_partner(store, "city", "公交", ["bus_ride"]).partner
        for n in range(10):
            body = {"user_ref": f"u{n}", "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00"}
            consent.grant(store, partner, f"damage-{n}", body)
        ingest.ingest_events(store, partner, batch("pg", 10)[:10])
        with store.engine.connect() as conn:
            relative = conn.execute(text("SELECT pg_relation_filepath('ix_postings_to_account_id')")).scalar_one()
    finally:
        store.dispose()
    with pg_databases.admin.connect() as conn:
        home = conn.execute(text("SHOW data_directory")).scalar_one()
        conn.execute(text("CHECKPOINT"))  # the index's pages on disk, its buffers clean
    index_file = Path(home) / relative
    if not os.access(index_file, os.W_OK):
        # Flipping a bit on disk needs the server's files (a local server, run as its owner or root);
        # CI runs on such a machine, so there a missing permission is a failure, not a skip.
        reason = f"the PostgreSQL data directory is not writable by this user ({index_file})"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason + ": run the tests as the server's owner or root to damage an index on disk")
    _flip_btree_key_bit(index_file)
    copy = pg_databases.create_from(source)
    try:
        result = cli(copy, "verify", "--json", check=False)
        report = json.loads(result.stdout)
        assert result.returncode == 1 and report["ok"] is False, report
        assert any(p.startswith("amcheck") and "index ix_postings_to_account_id" in p for p in report["problems"]), report
        line = one_line(cli(copy, "verify", check=False))
        assert line.startswith("BROKEN: the database file is damaged: amcheck") and "ix_postings_to_account_id" in line, line
    finally:
        pg_databases.drop(copy)
        pg_databases.drop(source)
