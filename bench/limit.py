"""The physical limit: the rows the pipeline writes per event, inserted raw into the same schema.

Per event the pipeline writes one `events` row (with a random 128-bit behaviour fingerprint) and its
two claims (`event_claims`, `behaviour_claims`), one `journal_entries` row and two `postings` rows,
updates two balances and marks the person active that day (`report_active`); per batch it adds to the
report counters (`report_facts`, `report_days`, `report_flows`) and moves the head of each person
key's chain it appended to (every row carries the person key). Here the same rows, built in Python with
no validation, consent, de-duplication, quantification or hashing, go straight in: executemany in
batches of 1,000 per transaction on SQLite, COPY on PostgreSQL. On PostgreSQL the balances, the chain
heads and `report_active` are one statement each, over arrays, as the pipeline writes them (they were an
executemany, a statement per row: ~1,800 a batch at 5,000 people made the "limit" slower than the
pipeline, docs/benchmarks.md); SQLite's are executemany.
events/s of this is the ceiling the pipeline is compared with ("ratio to the limit").
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tanhui.store import Store
from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.ledger import ENTRY_COLUMNS, POSTING_COLUMNS
from tanhui.store.rows import EVENT_COLUMNS, chain_name, lane_name

BATCH = 1000


def accounts(store: Store, scheme_id: str) -> list[tuple[int, int, int]]:
    """(account, CO2E ledger account, POINTS ledger account) of every person in the scheme."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT owner_account_id, asset, id FROM ledger_accounts WHERE scheme_id = :s AND owner_account_id IS NOT NULL"),
            {"s": scheme_id},
        ).all()
    found: dict[int, dict[str, int]] = {}
    for owner, asset, ledger_id in rows:
        found.setdefault(owner, {})[asset] = ledger_id
    return [(owner, a["CO2E"], a["POINTS"]) for owner, a in found.items()]


def insert_raw(store: Store, scheme_id: str, partner_pk: int, events: int, seed: int = 11, start_id: int = 10**9) -> float:
    """Insert `events` events' rows raw; returns seconds taken."""
    people = accounts(store, scheme_id)
    rng = random.Random(seed)
    with store.engine.connect() as conn:
        issuance = {
            asset: conn.execute(
                text("SELECT id FROM ledger_accounts WHERE scheme_id=:s AND code='issuance' AND asset=:a"),
                {"s": scheme_id, "a": asset},
            ).scalar_one()
            for asset in ("CO2E", "POINTS")
        }
        next_entry = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM journal_entries")).scalar_one()) + 1
    # Lane 0's chain of every person key in the scheme, made before the clock starts (the pipeline
    # makes each once, at its first entry).
    chains = {pkey_of(owner): chain_name(scheme_id, pkey_of(owner), 0) for owner, _, _ in people}
    with store.engine.begin() as conn:
        for pkey, chain in chains.items():
            conn.execute(
                text(
                    "INSERT INTO journal_chains (id, pkey, scheme_id, seq, head_hash, updated_at)"
                    " VALUES (:c, :k, :s, 0, :h, :t) ON CONFLICT DO NOTHING"
                ),
                {"c": chain, "k": pkey, "s": scheme_id, "h": "0" * 64, "t": datetime.now(UTC)},
            )
    seqs = dict.fromkeys(chains.values(), 1_000_000_000)
    lane = lane_name(scheme_id, 0)
    pg = store.dialect.name == "postgresql"
    now = datetime.now(UTC)
    started = time.perf_counter()
    for offset in range(0, events, BATCH):
        n = min(BATCH, events - offset)
        ev_rows: list[tuple[Any, ...]] = []
        entry_rows: list[tuple[Any, ...]] = []
        posting_rows: list[tuple[Any, ...]] = []
        claim_rows: list[tuple[Any, ...]] = []
        fingerprint_rows: list[tuple[Any, ...]] = []
        balances: dict[int, int] = {}
        active: set[tuple[int, int, int]] = set()
        moved: set[str] = set()
        for i in range(n):
            k = offset + i
            owner, co2e, points = people[rng.randrange(len(people))]
            pkey = pkey_of(owner)
            chain = chains[pkey]
            seqs[chain] += 1
            moved.add(chain)
            fingerprint = rng.getrandbits(128).to_bytes(16, "big").hex()
            entry_id = next_entry + k
            when = now - timedelta(minutes=k % 10000)
            stamp = when if pg else when.strftime("%Y-%m-%d %H:%M:%S.%f")
            day = when.date().toordinal()
            ev_rows.append(
                (
                    scheme_id,
                    partner_pk,
                    f"raw-{start_id + k}",
                    f"u{owner}",
                    owner,
                    "bus_ride",
                    stamp,
                    stamp,
                    day,
                    "credited",
                    None,
                    80,
                    10,
                    "bus-ride-cn@1",
                    "0" * 64,
                    fingerprint,
                    entry_id,
                    '{"trip_id":"T"}',
                    '{"carbon_g":80,"methodology":"bus-ride-cn@1"}',
                    None,
                    pkey,
                )
            )
            claim_rows.append((f"raw-{start_id + k}", partner_pk))
            fingerprint_rows.append((fingerprint,))
            entry_rows.append(
                (
                    entry_id,
                    pkey,
                    scheme_id,
                    chain,
                    seqs[chain],
                    "behaviour_credit",
                    None,
                    "",
                    '{"event_id":"x"}',
                    None,
                    stamp,
                    "0" * 64,
                    "1" * 64,
                )
            )
            posting_rows.append((pkey, entry_id, issuance["CO2E"], co2e, 80, None, 80))
            posting_rows.append((pkey, entry_id, issuance["POINTS"], points, 10, None, 10))
            balances[co2e] = balances.get(co2e, 0) + 80
            balances[points] = balances.get(points, 0) + 10
            active.add((pkey, owner, day))
        counters = [
            ("INSERT INTO report_active (pkey, account_id, local_day) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", sorted(active)),
            (
                "INSERT INTO report_facts (scheme_id, local_day, scenario, partner_pk, status, reason, events, carbon_g, points)"
                " VALUES (?, ?, 'bus_ride', ?, 'credited', '', ?, ?, ?) ON CONFLICT (scheme_id, local_day, scenario, partner_pk, status, reason)"
                " DO UPDATE SET events = report_facts.events + excluded.events",
                [(scheme_id, now.date().toordinal(), partner_pk, n, 80 * n, 10 * n)],
            ),
            (
                "INSERT INTO report_days (scheme_id, local_day, shard, active_users) VALUES (?, ?, ?, ?) ON CONFLICT (scheme_id, local_day, shard)"
                " DO UPDATE SET active_users = report_days.active_users + excluded.active_users",
                [(scheme_id, now.date().toordinal(), lane, len(active))],
            ),
            (
                "INSERT INTO report_flows (ledger_account_id, bucket, shard, amount_out, amount_in) VALUES (?, ?, ?, ?, 0) "
                "ON CONFLICT (ledger_account_id, bucket, shard)"
                " DO UPDATE SET amount_out = report_flows.amount_out + excluded.amount_out",
                [(issuance["CO2E"], 1, lane, 80 * n), (issuance["POINTS"], 1, lane, 10 * n)],
            ),
            ("UPDATE journal_chains SET seq = ?, head_hash = ? WHERE id = ?", [(seqs[c], "2" * 64, c) for c in sorted(moved)]),
        ]
        with store.engine.begin() as conn:
            if pg:
                raw = conn.connection.driver_connection
                with raw.cursor() as cur:
                    for table, cols, rows in (
                        ("events", (*EVENT_COLUMNS, "pkey"), ev_rows),
                        ("event_claims", ("event_id", "partner_pk"), claim_rows),
                        ("behaviour_claims", ("fingerprint",), fingerprint_rows),
                        ("journal_entries", ENTRY_COLUMNS, entry_rows),
                        ("postings", POSTING_COLUMNS, posting_rows),
                    ):
                        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                    # one statement per table, as the pipeline writes them (an executemany is a
                    # statement per row: the limit was slower than the pipeline at 5,000 people)
                    moved_balances = sorted(balances.items())
                    cur.execute(
                        "UPDATE ledger_accounts SET balance = ledger_accounts.balance + v.amount"
                        " FROM unnest(%b::BIGINT[], %b::BIGINT[]) AS v(id, amount) WHERE ledger_accounts.id = v.id",
                        ([k for k, _ in moved_balances], [v for _, v in moved_balances]),
                    )
                    heads = sorted(moved)
                    cur.execute(
                        "UPDATE journal_chains SET seq = v.seq, head_hash = v.head_hash"
                        " FROM unnest(%b::BIGINT[], %b::VARCHAR(64)[], %b::VARCHAR(48)[]) AS v(seq, head_hash, id)"
                        " WHERE journal_chains.id = v.id",
                        ([seqs[c] for c in heads], ["2" * 64] * len(heads), heads),
                    )
                    cur.execute(
                        "INSERT INTO report_active (pkey, account_id, local_day)"
                        " SELECT * FROM unnest(%b::INTEGER[], %b::BIGINT[], %b::INTEGER[]) ON CONFLICT DO NOTHING",
                        tuple(list(column) for column in zip(*sorted(active), strict=True)) if active else ([], [], []),
                    )
                    for sql, params in counters[1:4]:  # one row each (report_facts, report_days, report_flows)
                        cur.executemany(sql.replace("?", "%s"), params)
            else:
                for table, cols, rows in (
                    ("events", (*EVENT_COLUMNS, "pkey"), ev_rows),
                    ("event_claims", ("event_id", "partner_pk"), claim_rows),
                    ("behaviour_claims", ("fingerprint",), fingerprint_rows),
                    ("journal_entries", ENTRY_COLUMNS, entry_rows),
                    ("postings", POSTING_COLUMNS, posting_rows),
                ):
                    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
                conn.exec_driver_sql(
                    "UPDATE ledger_accounts SET balance = balance + ? WHERE id = ?", [(v, k) for k, v in sorted(balances.items())]
                )
                for sql, params in counters:
                    conn.exec_driver_sql(sql, params)
    return time.perf_counter() - started


# the pipeline's own column lists: the limit writes exactly the rows the pipeline writes
