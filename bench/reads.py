"""Read latency at scale: the account summary and history, and the operator stats.

    python -m bench.reads --engine sqlite --accounts 1000000 --events 10000000 [--append-docs]

The store is filled with the same row shapes the pipeline writes (accounts and their ledger accounts
in bulk, events and their ledger rows with bench.limit's raw insert), then each read is timed over
random accounts: p50 and p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

from sqlalchemy import text

from bench.common import append_report, engine_version, fresh_database, machine, setup_city
from bench.limit import insert_raw
from tanhui.store import Store


def add_accounts(store: Store, scheme_id: str, count: int) -> None:
    """Accounts with their two holdings ledger accounts, inserted in bulk (what consents create)."""
    with store.engine.connect() as conn:
        start = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM accounts")).scalar_one()) + 1
        ledger_start = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM ledger_accounts")).scalar_one()) + 1
    pg = store.dialect.name == "postgresql"
    mark = "%s" if pg else "?"
    stamp = "2026-01-01 00:00:00.000000" if not pg else None
    from datetime import datetime

    when = datetime(2026, 1, 1, tzinfo=UTC) if pg else stamp
    for offset in range(0, count, 20000):
        n = min(20000, count - offset)
        ids = range(start + offset, start + offset + n)
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                f"INSERT INTO accounts (id, scheme_id, kind, created_at) VALUES ({mark}, {mark}, {mark}, {mark})",
                [(i, scheme_id, "person", when) for i in ids],
            )
            rows = []
            for k, i in enumerate(ids):
                base = ledger_start + 2 * (offset + k)
                rows.append((base, scheme_id, "CO2E", "holdings", i, True, True, 0))
                rows.append((base + 1, scheme_id, "POINTS", "holdings", i, True, True, 0))
            conn.exec_driver_sql(
                "INSERT INTO ledger_accounts (id, scheme_id, asset, code, owner_account_id, non_negative, tracked, balance) "
                f"VALUES ({', '.join([mark] * 8)})",
                rows,
            )
    if pg:
        with store.engine.begin() as conn:
            for table in ("accounts", "ledger_accounts"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            conn.exec_driver_sql("ANALYZE")


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--append-docs", action="store_true")
    args = parser.parse_args()
    from tanhui.services import accounts as account_service
    from tanhui.services.ingest import find_partner

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.engine, Path(tmp)) as url:
        partner = setup_city(url, 10)
        store = Store(url)
        started = time.perf_counter()
        add_accounts(store, "city", args.accounts)
        print(f"{args.accounts:,} accounts in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        insert_raw(store, "city", find_partner(store, partner["partner_id"]).pk, args.events)
        print(f"{args.events:,} credited events in {time.perf_counter() - started:.0f} s")
        # Raw rows bypass the writers that keep the operator reports' counters: rebuild them once,
        # as `tanhui db rebuild-reports` (and migration 0008) would.
        started = time.perf_counter()
        with store.unit_of_work() as uow:
            written = uow.reports.rebuild()
        print(f"report counters rebuilt in {time.perf_counter() - started:.0f} s: {written}")
        if store.dialect.name == "postgresql":
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        with store.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM accounts WHERE scheme_id = 'city' ORDER BY id"))]
        rng = random.Random(5)
        lines = ["| read | p50 ms | p99 ms | runs |", "| --- | --- | --- | --- |"]
        reads: list[tuple[str, Callable[[], object]]] = [
            (
                "account summary (`GET /v1/me`: totals, by scenario, rank, streak, badges)",
                lambda: account_service.summary(store, rng.choice(ids)),
            ),
            (
                "account history (`GET /v1/me/events`, 20 newest with explanations)",
                lambda: account_service.history(store, rng.choice(ids)),
            ),
        ]
        try:
            from tanhui.services import reports

            reads.append(
                ("operator stats (`GET /v1/admin/schemes/{id}/stats`, whole history)", lambda: reports.stats(store, "city"))
            )
        except (ImportError, AttributeError) as error:
            print(f"operator stats not measured: {error}")
        for name, call in reads:
            runs = args.runs if "operator" not in name else max(5, args.runs // 20)
            p50, p99 = timed(call, runs)
            line = f"| {name} | {p50:.1f} | {p99:.1f} | {runs} |"
            print(line)
            lines.append(line)
        lines.insert(
            0,
            f"{engine_version(url)}; {args.accounts:,} accounts, {args.events:,} credited events (rows of the pipeline's shape, inserted raw).\n",
        )
        store.dispose()
    if args.append_docs:
        append_report(f"Read latency ({args.engine})", "python -m bench.reads " + " ".join(sys.argv[1:]), lines)


if __name__ == "__main__":
    main()
