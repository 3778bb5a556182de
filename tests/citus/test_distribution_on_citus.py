"""The distribution plan applied on a real Citus cluster (issue 15): placement, spread, plan shapes, guards."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tanhui.services import consent, ingest, ledger, partners, schemes
from tanhui.store import Store, migrate
from tanhui.store.distribution import PLAN, Distributed, Reference, pkey_of
from tests.live import cli
from tests.store.helpers import build

pytestmark = pytest.mark.slow


@pytest.fixture
def citus_store(citus_url: str) -> Any:
    store = Store(citus_url)
    migrate.upgrade(store)
    yield store
    store.dispose()


def _placed(store: Store) -> dict[str, tuple[str, str, int]]:
    with store.engine.connect() as conn:
        return {
            name: (method, model, colocation)
            for name, method, model, colocation in conn.execute(
                text("SELECT logicalrelid::regclass::text, partmethod, repmodel, colocationid FROM pg_dist_partition")
            )
        }


@pytest.fixture
def unmigrated_url(citus_databases: Any) -> Any:
    """A database with the extension and the workers and nothing else (the others copy a migrated one)."""
    url = citus_databases.create()
    yield url
    citus_databases.drop(url)


def test_upgrade_places_every_table_as_planned_and_a_second_run_changes_nothing(unmigrated_url: str) -> None:
    citus_store, citus_url = Store(unmigrated_url), unmigrated_url
    placed_now = migrate.upgrade(citus_store)
    planned = {n for n, p in PLAN.items() if isinstance(p, Reference | Distributed)}
    assert {a.split()[1] for a in placed_now if a.startswith(("reference ", "distributed "))} == planned
    placed = _placed(citus_store)
    for name, placement in PLAN.items():
        if isinstance(placement, Reference):
            assert placed[name][:2] == ("n", "t"), name
        elif isinstance(placement, Distributed):
            assert placed[name][0] == "h", name
    person = {placed[n][2] for n, p in PLAN.items() if isinstance(p, Distributed) and p.group == "person"}
    assert len(person) == 1  # one co-location group: a person's rows on one node
    assert migrate.upgrade(citus_store) == []
    report = json.loads(cli(citus_url, "db", "distribution", "--json").stdout)
    assert report["citus"] is True
    accounts = next(t for t in report["tables"] if t["table"] == "accounts")
    with citus_store.engine.connect() as conn:
        shards = int(conn.execute(text("SELECT current_setting('citus.shard_count')")).scalar_one())  # the tests' 4 (conftest.py)
    assert accounts["actual"] == "distributed" and accounts["shards"] == shards and len(accounts["rows_by_node"]) == 2
    citus_store.dispose()


@pytest.fixture
def plain_url(citus_databases: Any) -> Any:
    """A plain PostgreSQL database on the coordinator (no extension yet; the workers' have it)."""
    url = citus_databases.create(plain=True)
    yield url
    citus_databases.drop(url)


def _statement_checks(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%\\_references'")).scalar_one())


def test_a_database_grown_on_plain_postgresql_moves_onto_citus(citus_databases: Any, plain_url: str) -> None:
    """One node to a cluster: a database migrated and used on plain PostgreSQL (its ingest keys checked
    per statement, 0021) gets the extension and the workers, and `tanhui db upgrade` distributes it. The
    keys are Citus's constraints again, the schema is what the migrations and the plan make on Citus,
    the balances carry on and the ledger verifies."""
    store = Store(plain_url)
    migrate.upgrade(store)
    assert not store.dialect.distributed and _statement_checks(store) == 4
    f = build(store, "city")
    ledger.transfer(store, "city", [(f.issuance, f.people[0], 10)], kind="reward", idempotency_key="r1")
    store.dispose()
    citus_databases.add_citus(plain_url)
    store = Store(plain_url)
    try:
        actions = migrate.upgrade(store)
        assert store.dialect.distributed and "distributed postings by pkey" in actions, actions
        assert "statement check postings_references dropped" in actions and _statement_checks(store) == 0
        migrate.check(store)  # exactly what a database made on Citus has
        assert migrate.upgrade(store) == []
        ledger.transfer(store, "city", [(f.issuance, f.people[1], 5)], kind="reward", idempotency_key="r2")
        assert [ledger.balance(store, p) for p in f.people[:2]] == [10, 5]
        assert ledger.verify(store, "city").ok
        with pytest.raises(DBAPIError, match="foreign key"), store.engine.begin() as conn:  # Citus's co-located key on the entry
            conn.execute(
                text("INSERT INTO postings (pkey, entry_id, from_account_id, to_account_id, amount) VALUES (0, -1, 1, 2, 1)")
            )
    finally:
        store.dispose()


def test_one_scheme_of_2000_people_spreads_over_both_workers(citus_store: Store) -> None:
    schemes.create_scheme(citus_store, "city", "城市")
    partner = partners.create_partner(citus_store, "city", "公交", ["bus_ride"]).partner
    people = 2000

    def grant(i: int) -> None:
        body = {"user_ref": f"u{i}", "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00"}
        consent.grant(citus_store, partner, f"n{i}", body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(grant, range(people)))
    when = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for start in range(0, people, 1000):
        events = [
            {"event_id": f"e{i}", "user_ref": f"u{i}", "scenario": "bus_ride", "occurred_at": when, "data": {"trip_id": f"T{i}"}}
            for i in range(start, start + 1000)
        ]
        assert ingest.ingest_events(citus_store, partner, events).summary["credited"] == 1000
    with citus_store.engine.connect() as conn:
        for table in (
            "accounts",
            "ledger_accounts",
            "events",
            "journal_entries",
            "postings",
            "partner_links",
            "consents",
            "event_claims",
        ):
            rows = conn.execute(
                text(
                    "SELECT s.nodeport, sum(r.result::bigint) FROM run_command_on_shards(CAST(:t AS regclass), 'SELECT count(*) FROM %s') r"
                    " JOIN citus_shards s ON s.shardid = r.shardid GROUP BY s.nodeport"
                ),
                {"t": table},
            ).all()
            total = sum(int(n) for _, n in rows)
            assert len(rows) == 2 and all(int(n) >= 0.2 * total for _, n in rows), (table, rows)
    assert ledger.verify(citus_store, "city").ok


def _tasks(conn: Any, sql: str, params: dict[str, Any]) -> int:
    plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql), params))
    if "Task Count:" not in plan:
        return 0  # a reference or local table: no distributed plan
    return int(plan.split("Task Count:")[1].split()[0])


def test_the_hot_statements_run_on_one_shard(citus_store: Store) -> None:
    """Each statement a person's request runs, filtered by the person key, is planned as one task."""
    schemes.create_scheme(citus_store, "city", "城市")
    partner = partners.create_partner(citus_store, "city", "公交", ["bus_ride"]).partner
    consent.grant(
        citus_store, partner, "n1", {"user_ref": "u1", "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00"}
    )
    with citus_store.engine.connect() as conn:
        account = conn.execute(text("SELECT account_id FROM partner_links WHERE user_ref = 'u1'")).scalar_one()
    key = {"k": pkey_of(account), "a": account}
    hot = {
        "account": "SELECT * FROM accounts WHERE pkey = :k AND id = :a",
        "holdings": "SELECT * FROM ledger_accounts WHERE pkey = :k AND owner_account_id = :a",
        "history": "SELECT e.* FROM events e WHERE e.pkey = :k AND e.account_id = :a AND e.status = 'credited' ORDER BY e.id DESC LIMIT 20",
        "history with postings": "SELECT p.* FROM postings p JOIN journal_entries j ON j.pkey = p.pkey AND j.id = p.entry_id WHERE p.pkey = :k",
        "usage": "SELECT scenario, count(*) FROM events WHERE pkey = :k AND account_id = :a AND local_day = 1 GROUP BY scenario",
        "consents": "SELECT c.* FROM consents c JOIN partner_links l ON l.pkey = c.pkey AND l.id = c.link_id WHERE l.pkey = :k AND l.account_id = :a",
        "orders": "SELECT * FROM orders WHERE pkey = :k AND account_id = :a ORDER BY id DESC LIMIT 100",
        "check-ins": "SELECT * FROM checkins WHERE pkey = :k AND account_id = :a ORDER BY local_day DESC LIMIT 1",
        "credentials": "SELECT * FROM credentials WHERE pkey = :k AND account_id = :a",
        "chain head": "SELECT * FROM journal_chains WHERE pkey = :k AND id = 'city/1/0'",
        "session": "SELECT * FROM user_tokens WHERE token_hash = 'x'",
        "event claim": "SELECT * FROM event_claims WHERE event_id = 'e1' AND partner_pk = 1",
        "behaviour claim": "SELECT * FROM behaviour_claims WHERE fingerprint = 'f'",
        "username": "SELECT * FROM username_claims WHERE username = 'alice'",
        # the federation (issue 16): ingest's look-up of peers' claims, resolve's read of its own claim
        "peer claims": "SELECT * FROM interop_peer_claims WHERE fingerprint = 'f'",
        "own claim": "SELECT * FROM interop_claims WHERE fingerprint = 'f'",
        "withdrawal": "SELECT * FROM interop_withdrawals WHERE fingerprint = 'f'",
    }
    with citus_store.engine.connect() as conn:
        tasks = {name: _tasks(conn, sql, key) for name, sql in hot.items()}
    assert tasks == dict.fromkeys(hot, 1), tasks


def test_the_append_only_guard_holds_on_the_workers_shards(citus_store: Store, citus_url: str) -> None:
    schemes.create_scheme(citus_store, "city", "城市")
    partner = partners.create_partner(citus_store, "city", "公交", ["bus_ride"]).partner
    consent.grant(
        citus_store, partner, "n1", {"user_ref": "u1", "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00"}
    )
    when = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    ingest.ingest_events(
        citus_store,
        partner,
        [{"event_id": "e1", "user_ref": "u1", "scenario": "bus_ride", "occurred_at": when, "data": {"trip_id": "T1"}}],
    )
    with citus_store.engine.connect() as conn:
        with pytest.raises(Exception, match="append-only"):
            conn.execute(text("UPDATE postings SET amount = amount + 1"))
        conn.rollback()
        shard, port = conn.execute(
            text(
                "SELECT s.shard_name, s.nodeport FROM citus_shards s WHERE s.table_name = 'postings'::regclass AND s.shard_size > 8192 LIMIT 1"
            )
        ).one()
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    worker = create_engine(make_url(citus_url).set(drivername="postgresql+psycopg", port=int(port)))
    try:
        with worker.connect() as conn, pytest.raises(Exception, match="append-only"):
            conn.execute(text(f"UPDATE {shard} SET amount = amount + 1"))
    finally:
        worker.dispose()
