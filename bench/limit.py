"""The physical limit: the rows the pipeline writes per event, inserted raw into the same schema.

Per event the pipeline writes one `events` row (with a random 128-bit behaviour fingerprint), one
`journal_entries` row and two `postings` rows, updates two balances and marks the person active
that day (`report_active`); per batch it adds to the report counters (`report_facts`,
`report_days`, `report_flows`) and moves the chain head. Here the same rows, built in Python with
no validation, consent, de-duplication, quantification or hashing, go straight in: executemany in
batches of 1,000 per transaction on SQLite, COPY on PostgreSQL (upserts by executemany on both).
events/s of this is the ceiling the pipeline is compared with ("ratio to the limit").
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tanhui.store import Store
from tanhui.store.repositories.ledger import ENTRY_COLUMNS, POSTING_COLUMNS
from tanhui.store.rows import EVENT_COLUMNS

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
        chain = conn.execute(
            text("SELECT id FROM journal_chains WHERE scheme_id=:s ORDER BY id LIMIT 1"), {"s": scheme_id}
        ).scalar_one()
        next_entry = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM journal_entries")).scalar_one()) + 1
        seq = (
            int(
                conn.execute(
                    text("SELECT coalesce(max(seq), 0) FROM journal_entries WHERE chain_id = :c"), {"c": chain}
                ).scalar_one()
            )
            + 1_000_000_000
        )
    pg = store.dialect.name == "postgresql"
    now = datetime.now(UTC)
    started = time.perf_counter()
    for offset in range(0, events, BATCH):
        n = min(BATCH, events - offset)
        ev_rows: list[tuple[Any, ...]] = []
        entry_rows: list[tuple[Any, ...]] = []
        posting_rows: list[tuple[Any, ...]] = []
        balances: dict[int, int] = {}
        active: set[tuple[int, int]] = set()
        for i in range(n):
            k = offset + i
            owner, co2e, points = people[rng.randrange(len(people))]
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
                    rng.getrandbits(128).to_bytes(16, "big").hex(),
                    entry_id,
                    '{"trip_id":"T"}',
                    '{"carbon_g":80,"methodology":"bus-ride-cn@1"}',
                    None,
                )
            )
            entry_rows.append(
                (
                    entry_id,
                    scheme_id,
                    chain,
                    seq + k,
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
            posting_rows.append((entry_id, issuance["CO2E"], co2e, 80, None, 80))
            posting_rows.append((entry_id, issuance["POINTS"], points, 10, None, 10))
            balances[co2e] = balances.get(co2e, 0) + 80
            balances[points] = balances.get(points, 0) + 10
            active.add((owner, day))
        counters = [
            ("INSERT INTO report_active (account_id, local_day) VALUES (?, ?) ON CONFLICT DO NOTHING", sorted(active)),
            (
                "INSERT INTO report_facts (scheme_id, local_day, scenario, partner_pk, status, reason, events, carbon_g, points)"
                " VALUES (?, ?, 'bus_ride', ?, 'credited', '', ?, ?, ?) ON CONFLICT (scheme_id, local_day, scenario, partner_pk, status, reason)"
                " DO UPDATE SET events = report_facts.events + excluded.events",
                [(scheme_id, now.date().toordinal(), partner_pk, n, 80 * n, 10 * n)],
            ),
            (
                "INSERT INTO report_days (scheme_id, local_day, shard, active_users) VALUES (?, ?, ?, ?) ON CONFLICT (scheme_id, local_day, shard)"
                " DO UPDATE SET active_users = report_days.active_users + excluded.active_users",
                [(scheme_id, now.date().toordinal(), chain, len(active))],
            ),
            (
                "INSERT INTO report_flows (ledger_account_id, bucket, shard, amount_out, amount_in) VALUES (?, ?, ?, ?, 0) "
                "ON CONFLICT (ledger_account_id, bucket, shard)"
                " DO UPDATE SET amount_out = report_flows.amount_out + excluded.amount_out",
                [(issuance["CO2E"], 1, chain, 80 * n), (issuance["POINTS"], 1, chain, 10 * n)],
            ),
            ("UPDATE journal_chains SET seq = ?, head_hash = ? WHERE id = ?", [(seq + offset + n, "2" * 64, chain)]),
        ]
        with store.engine.begin() as conn:
            if pg:
                raw = conn.connection.driver_connection
                with raw.cursor() as cur:
                    for table, cols, rows in (
                        ("events", EVENT_COLUMNS, ev_rows),
                        ("journal_entries", ENTRY_COLUMNS, entry_rows),
                        ("postings", POSTING_COLUMNS, posting_rows),
                    ):
                        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                    cur.executemany(
                        "UPDATE ledger_accounts SET balance = balance + %s WHERE id = %s",
                        [(v, k) for k, v in sorted(balances.items())],
                    )
                    for sql, params in counters:
                        cur.executemany(sql.replace("?", "%s"), params)
            else:
                for table, cols, rows in (
                    ("events", EVENT_COLUMNS, ev_rows),
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
