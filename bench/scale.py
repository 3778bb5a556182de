"""Does the per-event cost stay flat as the store grows? And reads at the largest size.

    python -m bench.scale --engine sqlite --accounts 1000000 --sizes 100000,1000000,10000000 [--append-docs]

Fills one database in steps (rows of the pipeline's shape inserted raw, bench.limit), and at each
size sends 50,000 fresh events through the real pipeline (the bulk path's service call, batches of
1,000) for people among the million accounts: events/s per stored size. At the largest size it also
times the reads of bench.reads.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.common import append_report, engine_version, fresh_database, machine, setup_city, synthetic_events
from bench.limit import insert_raw
from bench.reads import add_accounts, timed
from tanhui.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--probe", type=int, default=50_000, help="events sent through the pipeline at each size")
    parser.add_argument("--append-docs", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    from tanhui.services import accounts as account_service
    from tanhui.services import ingest

    print(f"machine: {machine()}")
    lines = [
        "| stored events | pipeline events/s (50,000 new events, 1,000 per batch) | seconds to fill to this size (raw) |",
        "| --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.engine, Path(tmp)) as url:
        probe_people = 5000
        partner = setup_city(url, probe_people)  # the probe's people consent through the real service
        store = Store(url)
        row = ingest.find_partner(store, partner["partner_id"])
        started = time.perf_counter()
        add_accounts(store, "city", args.accounts)
        print(f"{args.accounts:,} accounts in {time.perf_counter() - started:.0f} s")
        stored = 0
        for size in sizes:
            started = time.perf_counter()
            insert_raw(store, "city", row.pk, size - stored, seed=size, start_id=10**9 + stored)
            fill = time.perf_counter() - started
            stored = size
            if store.dialect.name == "postgresql":
                with store.engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
            events = [
                dict(e, event_id=f"probe-{size}-{i}") for i, e in enumerate(synthetic_events(args.probe, probe_people, seed=size))
            ]
            started = time.perf_counter()
            for i in range(0, len(events), 1000):
                ingest.ingest_events(store, row, events[i : i + 1000])
            rate = len(events) / (time.perf_counter() - started)
            stored += len(events)
            line = f"| {size:,} | **{rate:,.0f}** | {fill:.0f} |"
            print(line, flush=True)
            lines.append(line)
        rng = random.Random(5)
        from sqlalchemy import text

        with store.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM accounts WHERE scheme_id = 'city'"))]
        reads = [
            "",
            f"Reads at {stored:,} stored events and {len(ids):,} accounts:",
            "",
            "| read | p50 ms | p99 ms | runs |",
            "| --- | --- | --- | --- |",
        ]
        checks = [
            ("account summary (`GET /v1/me`)", lambda: account_service.summary(store, rng.choice(ids)), 300),
            ("account history (`GET /v1/me/events`)", lambda: account_service.history(store, rng.choice(ids)), 300),
        ]
        try:
            from tanhui.services import reports

            checks.append(("operator stats (whole history)", lambda: reports.stats(store, "city"), 10))
        except (ImportError, AttributeError) as error:
            print(f"operator stats not measured: {error}")
        account_service.summary(store, ids[0])  # the rank snapshot is built once per process
        for name, call, runs in checks:
            p50, p99 = timed(call, runs)
            line = f"| {name} | {p50:.1f} | {p99:.1f} | {runs} |"
            print(line, flush=True)
            reads.append(line)
        lines += reads
        lines.insert(0, f"{engine_version(url)}; {args.accounts:,} accounts.\n")
        store.dispose()
    if args.append_docs:
        append_report(f"Scaling and reads ({args.engine})", "python -m bench.scale " + " ".join(sys.argv[1:]), lines)


if __name__ == "__main__":
    main()
