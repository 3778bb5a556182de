"""The federation's claims log: how long the sequencer takes to log N claims under a signed head, and
a peer to pull and verify them (issue 16 part 2, docs/interop.md section 5).

    python -m bench.claims_log URL_A URL_B [--claims 20000] [--rounds 3]

URL_A and URL_B are two empty databases (two platforms). Each round writes ``--claims`` new claims on A
as ingest writes them (seq NULL), times ``interop_log.sequence`` on A, then times B's
``interop_sync.sync`` of A through an in-process transport that calls A's own services (what A's HTTP
handlers run, without the network): B checks A's signed head, pulls the pages, folds every leaf onto
its stored Merkle frontier and stores the entries once the root matches. Prints one line per round.
TANHUI_SECRET_KEY (or the key file beside an SQLite database) seals the platforms' keys.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tanhui import secretbox
from tanhui.services import interop, interop_log, interop_sync
from tanhui.store import Store, migrate
from tanhui.store.rows import PeerRow


class InProcess:
    """A's services on A's store, as its HTTP handlers run them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def head(self, peer: PeerRow) -> Any:
        return interop_log.own_head(self.store)

    def claims(self, peer: PeerRow, after: int, limit: int) -> Any:
        return interop_log.entries(self.store, after, limit)


def _claims(store: Store, first: int, count: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with store.unit_of_work() as uow:
        rows = [
            (f"{n:064x}", "bus_ride", uow.dialect.bind_time(start + timedelta(milliseconds=n)), 1, 1, n)
            for n in range(first, first + count)
        ]
        uow.interop_claims.add_own_claims(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url_a")
    parser.add_argument("url_b")
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    key_file = Path(tempfile.mkdtemp()) / "federation.key"
    secretbox.write_key_file(key_file, [secretbox.new_key_text()], replace=False)
    a, b = Store(args.url_a), Store(args.url_b)
    for store, name in ((a, "cn-a"), (b, "cn-b")):
        migrate.upgrade(store)
        interop.init_platform(store, name, name, key_file)
    interop.add_peer(b, "cn-a", "http://127.0.0.1:9", interop.public_info(a)["public_key"])
    transport = InProcess(a)
    print(f"load {os.getloadavg()[0]:.2f} before; {args.claims} claims a round")
    for round_no in range(args.rounds):
        _claims(a, 1 + round_no * args.claims, args.claims)
        started = time.perf_counter()
        head = interop_log.sequence(a)
        sequenced = time.perf_counter() - started
        started = time.perf_counter()
        [pulled] = interop_sync.sync(b, "cn-a", transport=transport)
        synced = time.perf_counter() - started
        print(
            f"round {round_no + 1}: tree {head.tree_size}; sequence {sequenced:.2f} s "
            f"({args.claims / sequenced:,.0f} claims/s); sync {synced:.2f} s ({pulled.new_entries} entries, "
            f"{pulled.new_entries / synced:,.0f}/s, {pulled.trust})"
        )
    print(f"load {os.getloadavg()[0]:.2f} after")
    a.dispose()
    b.dispose()


if __name__ == "__main__":
    main()
