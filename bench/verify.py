"""`tanhui verify` in one pass against in parts (one per shard on Citus), on the same journal.

    python -m bench.verify DATABASE_URL [--people 2000] [--days 5] [--rounds 2]

Builds one scheme on an empty database (consents through the service, a bus ride a day per person
through the ingest service), then times `ledger.verify` alternately in one pass and in its default
split (on Citus one part per shard of `journal_entries`; elsewhere the split is `--parts`). Prints one
line per run: parts, ok, entries, seconds.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from tanhui.services import consent, ingest, ledger, partners, schemes
from tanhui.store import Store, migrate


def build(store: Store, people: int, days: int) -> int:
    schemes.create_scheme(store, "city", "城市", settings={"acceptance_window_days": max(30, days + 2)})
    partner = partners.create_partner(store, "city", "公交", ["bus_ride"]).partner

    def grant(i: int) -> None:
        body = {"user_ref": f"u{i}", "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00"}
        consent.grant(store, partner, f"n{i}", body)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(grant, range(people)))
    now, credited = datetime.now(UTC), 0
    for day in range(days):
        occurred = (now - timedelta(days=day + 1)).isoformat()
        for start in range(0, people, 1000):
            batch = [
                {
                    "event_id": f"e{day}-{i}",
                    "user_ref": f"u{i}",
                    "scenario": "bus_ride",
                    "occurred_at": occurred,
                    "data": {"trip_id": f"T{day}-{i}"},
                }
                for i in range(start, min(people, start + 1000))
            ]
            credited += ingest.ingest_events(store, partner, batch).summary["credited"]
    return credited


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parts", type=int, default=None, help="the split on an engine that is not Citus")
    args = parser.parse_args(argv)
    store = Store(args.database_url)
    migrate.upgrade(store)
    print(f"credited {build(store, args.people, args.days)}")
    for _ in range(args.rounds):
        for parts in (1, args.parts):
            started = time.perf_counter()
            report = ledger.verify(store, "city", parts=parts)
            print(f"parts={report.parts} ok={report.ok} entries={report.entries} {time.perf_counter() - started:.2f}s")
    store.dispose()


if __name__ == "__main__":
    main()
