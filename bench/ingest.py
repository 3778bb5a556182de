"""Ingestion throughput, end to end, through the bulk importer and through the HTTP API.

    python -m bench.ingest --engine sqlite --events 100000 [--http] [--bulk] [--append-docs]

Each run builds a fresh database with a scheme, a partner and consenting people, then sends the
same synthetic city events through the path(s) chosen, and reports events/s and what happened; on
PostgreSQL also the rows written and the WAL bytes per credited event (`pg_current_wal_lsn()` before
and after the run).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.common import append_report, engine_version, fresh_database, machine, setup_city, synthetic_events, tanhui
from tanhui.domain import signing


def bulk(url: str, partner: dict[str, str], events: int, people: int, workdir: Path, workers: int = 2) -> dict[str, Any]:
    path = workdir / "events.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for event in synthetic_events(events, people):
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
    size_mb = path.stat().st_size / 1024 / 1024
    started = time.perf_counter()
    importer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tanhui.cli.main",
            "import",
            "events",
            str(path),
            "--partner",
            partner["partner_id"],
            "--json",
            "--workers",
            str(workers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TANHUI_DATABASE_URL": url},
    )
    samples: list[tuple[float, float]] = []  # (seconds, MB): the importer and its processes together
    while importer.poll() is None:
        samples.append((time.perf_counter() - started, tree_rss_mb(importer.pid)))
        time.sleep(0.5)
    out, err = importer.communicate()
    elapsed = time.perf_counter() - started
    if importer.returncode != 0:
        raise SystemExit(f"import failed: {err.strip()}")
    summary = json.loads(out)
    peak = max((mb for _, mb in samples), default=0.0)
    # how the resident set moved over the run: the peak in each tenth of it (flat = does not grow with the file)
    tenths = [max((mb for t, mb in samples if elapsed * k / 10 <= t < elapsed * (k + 1) / 10), default=0.0) for k in range(10)]
    print("importer RSS (MB, peak per tenth of the run): " + " ".join(f"{mb:,.0f}" for mb in tenths))
    return {
        "path": f"bulk importer (tanhui import events, {workers} process(es) + reader; {size_mb:,.0f} MB file, "
        f"peak RSS of all its processes {peak:,.0f} MB)",
        "seconds": elapsed,
        "summary": summary,
        "rss_tenths": tenths,
    }


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total_kb, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def http(
    url: str, partner: dict[str, str], events: int, people: int, workdir: Path, workers: int, clients: int
) -> dict[str, Any]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tanhui.cli.main", "serve", "--port", str(port), "--workers", str(workers)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TANHUI_DATABASE_URL": url, "TANHUI_PARTNER_RATE_PER_MINUTE": "1000000"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        all_events = list(synthetic_events(events, people))
        batches = [all_events[i : i + 1000] for i in range(0, len(all_events), 1000)]
        bodies = [json.dumps({"events": b}, ensure_ascii=False, separators=(",", ":")).encode() for b in batches]
        totals = {"credited": 0, "duplicate": 0, "rejected": 0}

        def send(body: bytes, http_client: httpx.Client) -> dict[str, int]:
            ts, nonce = str(int(time.time())), os.urandom(16).hex()
            headers = {
                "Tanhui-Partner": partner["partner_id"],
                "Tanhui-Timestamp": ts,
                "Tanhui-Nonce": nonce,
                "Tanhui-Signature": signing.sign(partner["secret"], ts, nonce, "POST", "/v1/partner/events", body),
                "Content-Type": "application/json",
            }
            response = http_client.post("/v1/partner/events", content=body, headers=headers)
            response.raise_for_status()
            return response.json()["summary"]

        clients_ = [httpx.Client(base_url=base, timeout=300) for _ in range(clients)]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            for summary in pool.map(lambda ib: send(ib[1], clients_[ib[0] % clients]), enumerate(bodies)):
                for key in totals:
                    totals[key] += summary[key]
        elapsed = time.perf_counter() - started
        for c in clients_:
            c.close()
        return {
            "path": f"HTTP API (batches of 1,000, {clients} concurrent clients, {workers} server worker(s))",
            "seconds": elapsed,
            "summary": totals,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


class DatabaseWal:
    """The WAL this database's own relations got over a run, from `pg_waldump --follow` on the server's
    log (a local server whose files this user can read); None elsewhere.

    `pg_current_wal_lsn()` differences count every database on the server: on a shared server they
    include other clients' writes. Here only records with a block of this database count (heap and
    index changes with their full-page images); commit records, which name no block, do not (one per
    batch, tens of bytes).
    """

    def __init__(self, url: str) -> None:
        from sqlalchemy import text

        from tanhui.store import Store

        self.bytes = 0
        self.last_lsn = 0
        self.process: subprocess.Popen[str] | None = None
        store = Store(url)
        try:
            with store.engine.connect() as conn:
                oid = conn.execute(text("SELECT oid FROM pg_database WHERE datname = current_database()")).scalar_one()
                data = conn.execute(text("SHOW data_directory")).scalar_one()
                version = conn.execute(text("SHOW server_version_num")).scalar_one()
                start = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        except Exception:  # noqa: BLE001 - not a superuser, or no such setting: no per-database figure
            return
        finally:
            store.dispose()
        tool = Path(f"/usr/lib/postgresql/{int(version) // 10000}/bin/pg_waldump")
        wal = Path(data) / "pg_wal"
        if not tool.exists() or not os.access(wal, os.R_OK):
            return
        self.marker = f" rel 1663/{oid}/"
        self.start = _lsn(start)
        # from the start of the current segment: the tool finds no record at the very end of the log
        segment = self.start & ~(16 * 1024 * 1024 - 1)
        # into a file, read after the run: parsing while the pipeline runs took its CPU (2 cores)
        self.dump = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - open until stop()
        self.process = subprocess.Popen(
            ["nice", "-n", "19", str(tool), "-p", str(wal), "-s", f"{segment >> 32:X}/{segment & 0xFFFFFFFF:X}", "-f"],
            stdout=self.dump,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def _read(self, target: int) -> None:
        self.dump.seek(0)
        for line in self.dump:
            # "rmgr: Heap len (rec/tot): 54/ 54, tx: 1, lsn: 0/01000028, prev ..., desc: ..., blkref #0: rel 1663/5/1 blk 0"
            try:
                total = int(line.split("len (rec/tot):", 1)[1].split("/", 1)[1].split(",", 1)[0])
                self.last_lsn = _lsn(line.split(" lsn: ", 1)[1].split(",", 1)[0])
            except (IndexError, ValueError):
                continue
            if self.last_lsn > target:
                break
            if self.marker in line and self.last_lsn >= self.start:
                self.bytes += total

    def stop(self, url: str) -> int | None:
        """This database's WAL bytes from the start to now (None without pg_waldump, or when the tool
        stopped early: the server recycled a segment it had not read yet)."""
        if self.process is None:
            return None
        from sqlalchemy import text

        from tanhui.store import Store

        store = Store(url)
        try:
            with store.engine.connect() as conn:
                end = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        finally:
            store.dispose()
        target = _lsn(end)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(1)  # the tool catches up (niced); the file's last line tells how far it got
            self.dump.seek(0, os.SEEK_END)
            self.dump.seek(max(0, self.dump.tell() - 4096))
            tail = self.dump.read().splitlines()
            if len(tail) > 1 and " lsn: " in tail[-2] and _lsn(tail[-2].split(" lsn: ", 1)[1].split(",", 1)[0]) >= target - 8192:
                break
        self.process.terminate()
        self.process.wait(timeout=10)
        self._read(target)
        self.dump.close()
        if self.last_lsn < target - 8192:
            print(
                f"pg_waldump stopped before the end of the run (at {self.last_lsn:X}, end {target:X}): no per-database WAL figure"
            )
            return None
        return self.bytes


def _lsn(text_form: str) -> int:
    high, low = text_form.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def write_counters(url: str) -> dict[str, Any]:
    """PostgreSQL only: the WAL position and the rows inserted and updated per table so far.

    The WAL position is the server's (every database on it): run on an otherwise idle server, or the
    figure includes other clients' writes. Row counts are this database's own (pg_stat_user_tables,
    read after the statistics are flushed).
    """
    from sqlalchemy import text

    from tanhui.store import Store

    time.sleep(1.5)  # backends flush their table statistics about once a second
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            lsn = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
            tables = {
                r.relname: (int(r.n_tup_ins), int(r.n_tup_upd))
                for r in conn.execute(text("SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables"))
            }
    finally:
        store.dispose()
    return {"lsn": lsn, "tables": tables}


def write_cost(url: str, before: dict[str, Any], after: dict[str, Any], credited: int, own_wal: int | None = None) -> str:
    """Rows and WAL bytes per credited event between two `write_counters` readings."""
    from sqlalchemy import text

    from tanhui.store import Store

    store = Store(url)
    try:
        with store.engine.connect() as conn:
            wal = int(conn.execute(text("SELECT pg_wal_lsn_diff(:a, :b)"), {"a": after["lsn"], "b": before["lsn"]}).scalar_one())
    finally:
        store.dispose()
    per = max(1, credited)
    rows = []
    for table in sorted(after["tables"]):
        ins = after["tables"][table][0] - before["tables"].get(table, (0, 0))[0]
        upd = after["tables"][table][1] - before["tables"].get(table, (0, 0))[1]
        if ins or upd:
            rows.append((table, ins / per, upd / per))
    inserted = sum(r[1] for r in rows)
    updated = sum(r[2] for r in rows)
    detail = ", ".join(f"{t} {i:.2f}+{u:.2f}" for t, i, u in sorted(rows, key=lambda r: -(r[1] + r[2])))
    own = "" if own_wal is None else f", {own_wal / per:,.0f} of them this database's (pg_waldump)"
    return (
        f"per credited event: {inserted:.2f} rows inserted, {updated:.2f} updated, {wal / per:,.0f} WAL bytes "
        f"server-wide{own} ({wal / 1024 / 1024:,.1f} MiB over {credited:,} credited); by table (inserted+updated): {detail}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=0, help="consenting people (default: events / 20, at most 20,000)")
    parser.add_argument("--bulk", action="store_true")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--import-workers", type=int, default=2, help="tanhui import events --workers")
    parser.add_argument("--no-limit", action="store_true", help="skip the raw-insert limit (e.g. a memory run at 10^7)")
    parser.add_argument("--append-docs", action="store_true")
    args = parser.parse_args()
    paths = [p for p, on in (("bulk", args.bulk), ("http", args.http)) if on] or ["bulk", "http"]
    people = args.people or min(20_000, max(100, args.events // 20))
    lines = [
        "| engine | path | events | people | seconds | events/s | ratio to the limit | credited | duplicate | rejected |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    print(f"machine: {machine()}")
    limit_rate = 0.0
    if not args.no_limit:
        with tempfile.TemporaryDirectory() as tmp, fresh_database(args.engine, Path(tmp)) as url:
            partner = setup_city(url, people)
            from bench.limit import insert_raw
            from tanhui.services.ingest import find_partner
            from tanhui.store import Store

            store = Store(url)
            seconds = insert_raw(store, "city", find_partner(store, partner["partner_id"]).pk, args.events)
            store.dispose()
            limit_rate = args.events / seconds
            version = engine_version(url)
            method = "COPY" if args.engine == "postgresql" else "executemany"
            line = (
                f"| {version} | raw insert of the same rows (the limit: {method}, 1,000 per transaction) "
                f"| {args.events:,} | {people:,} | {seconds:.1f} | **{limit_rate:,.0f}** | 1.00 | — | — | — |"
            )
            print(line)
            lines.append(line)
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp, fresh_database(args.engine, Path(tmp)) as url:
            setup_started = time.perf_counter()
            partner = setup_city(url, people)
            print(f"[{args.engine}/{path}] set up {people} consenting people in {time.perf_counter() - setup_started:.1f} s")
            before = write_counters(url) if args.engine == "postgresql" else None
            own_wal = DatabaseWal(url) if before is not None else None
            if path == "bulk":
                result = bulk(url, partner, args.events, people, Path(tmp), args.import_workers)
            else:
                result = http(url, partner, args.events, people, Path(tmp), args.workers, args.clients)
            if before is not None:
                after = write_counters(url)
                own = own_wal.stop(url) if own_wal is not None else None
                cost = write_cost(url, before, after, result["summary"]["credited"], own)
                print(cost)
                result["path"] += f"; {cost}"
            version = engine_version(url)
            rate = args.events / result["seconds"]
            ratio = f"{rate / limit_rate:.2f}" if limit_rate else "—"
            s = result["summary"]
            line = (
                f"| {version} | {result['path']} | {args.events:,} | {people:,} | {result['seconds']:.1f} | **{rate:,.0f}** "
                f"| {ratio} | {s['credited']:,} | {s['duplicate']:,} | {s['rejected']:,} |"
            )
            print(line)
            lines.append(line)
            verify = tanhui(url, "verify")
            print(verify.stdout.strip())
    command = "python -m bench.ingest " + " ".join(sys.argv[1:])
    if args.append_docs:
        append_report(f"Ingestion throughput ({args.engine})", command, lines)


if __name__ == "__main__":
    main()
