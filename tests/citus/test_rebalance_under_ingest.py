"""Adding a worker and moving shards to it while a partner keeps sending (issue 15, "Moving data").

The database starts on one worker; a thread sends batches of new events through the ingest service
without pause while the operator's runbook runs: `citus_add_node` for the second worker, then
`citus_rebalance_start` and `citus_rebalance_wait`. A batch refused while its shard moves is sent again,
unchanged, as a partner would. Afterwards every event sent is credited exactly once, the rows stand on
both workers, and `verify` finds the hash chains, sums and claims whole.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tanhui.services import consent, ingest, ledger, partners, schemes
from tanhui.store import Store, migrate
from tests.citus.conftest import CitusDatabases

pytestmark = pytest.mark.slow

PEOPLE = 200
BATCH = 40


@pytest.fixture
def one_worker_store(citus_databases: CitusDatabases) -> Any:
    url = citus_databases.create(workers=1)
    store = Store(url)
    migrate.upgrade(store)
    yield store, citus_databases.workers[1]
    store.dispose()
    citus_databases.drop(url)


def _nodes_holding(store: Store, table: str) -> dict[int, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.nodeport, sum(r.result::bigint) FROM run_command_on_shards(CAST(:t AS regclass), 'SELECT count(*) FROM %s') r"
                " JOIN citus_shards s ON s.shardid = r.shardid GROUP BY s.nodeport"
            ),
            {"t": table},
        ).all()
    return {int(port): int(n) for port, n in rows}


def _ride_time(now: datetime, batch_no: int) -> str:
    """Every PEOPLE // BATCH batches each person rides once; six rides a day keeps under the methodology's
    daily cap of eight, so every event is credited and a loss or a double shows in the counts."""
    rounds = batch_no // (PEOPLE // BATCH)
    return (now - timedelta(days=1 + rounds // 6, minutes=rounds % 6)).isoformat()


def test_a_rebalance_while_events_stream_in_loses_and_doubles_nothing(one_worker_store: Any) -> None:
    store, (new_host, new_port) = one_worker_store
    schemes.create_scheme(store, "city", "城市", settings={"acceptance_window_days": 60})
    partner = partners.create_partner(store, "city", "公交", ["bus_ride"]).partner
    for i in range(PEOPLE):
        body = {"user_ref": f"u{i}", "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00"}
        consent.grant(store, partner, f"n{i}", body)
    assert set(_nodes_holding(store, "events")) <= {9701} or len(_nodes_holding(store, "accounts")) == 1

    now = datetime.now(UTC)
    sent: list[str] = []
    retries: list[str] = []
    done = threading.Event()
    failure: list[BaseException] = []

    def stream() -> None:
        batch_no = 0
        try:
            while not done.is_set() or batch_no < 5:
                events = [
                    {
                        "event_id": f"b{batch_no}-{k}",
                        "user_ref": f"u{(batch_no * BATCH + k) % PEOPLE}",
                        "scenario": "bus_ride",
                        "occurred_at": _ride_time(now, batch_no),
                        "data": {"trip_id": f"T{batch_no}-{k}"},
                    }
                    for k in range(BATCH)
                ]
                for attempt in range(50):
                    try:
                        outcome = ingest.ingest_events(store, partner, events, nonce=f"batch-{batch_no}")
                        break
                    except Exception as error:  # a move in progress: the partner sends the same batch again
                        retries.append(f"{batch_no}: {type(error).__name__}: {str(error)[:120]}")
                        time.sleep(0.2 * (attempt + 1))
                else:
                    raise AssertionError(f"batch {batch_no} never went through: {retries[-3:]}")
                assert outcome.summary["credited"] == BATCH, outcome.summary
                sent.extend(e["event_id"] for e in events)
                batch_no += 1
        except BaseException as error:
            failure.append(error)

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        time.sleep(2)
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT citus_add_node(:h, :p)"), {"h": new_host, "p": new_port})
            conn.execute(text("SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes')"))
            # a rebalance starved of background workers waits forever (max_worker_processes: ./run sets 64)
            conn.execute(text("SET statement_timeout = '300s'"))
            conn.execute(text("SELECT citus_rebalance_wait()"))
            conn.execute(text("RESET statement_timeout"))
            state = conn.execute(text("SELECT state FROM citus_rebalance_status() ORDER BY job_id DESC LIMIT 1")).scalar_one()
    finally:
        done.set()
        streamer.join(timeout=600)
    assert not failure, failure
    assert state == "finished"

    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT event_id, status FROM events")).all()
        claims = conn.execute(text("SELECT count(*) FROM event_claims")).scalar_one()
    assert sorted(e for e, _ in stored) == sorted(sent)  # none lost, none stored twice
    assert {s for _, s in stored} == {"credited"} and claims == len(sent)
    for table in ("accounts", "events", "journal_entries", "postings"):
        spread = _nodes_holding(store, table)
        assert set(spread) == {9701, new_port} and all(n > 0 for n in spread.values()), (table, spread)
    report = ledger.verify(store, "city")
    assert report.ok, report.problems
    print(f"\nrebalance under ingest: {len(sent)} events in {len(sent) // BATCH} batches, {len(retries)} resent: {retries[:3]}")
