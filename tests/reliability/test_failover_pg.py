"""PostgreSQL failover without loss (issue 18): a primary and a synchronous standby, Tanhui on a
multi-host URL, the primary SIGKILLed in the middle of a partner's stream, the standby promoted.

The test makes both clusters itself (initdb in a temporary directory, free ports; the standby by
``pg_basebackup -R``; ``synchronous_standby_names`` names it and ``synchronous_commit = on``), so it
needs only PostgreSQL's own binaries (Debian: /usr/lib/postgresql/<version>/bin). As root it runs
them as the ``postgres`` user (``runuser``). A real `tanhui serve` connects with
``postgresql://postgres@127.0.0.1:P1,127.0.0.1:P2/tanhui?target_session_attrs=read-write``; the
partner SDK streams bus rides in batches and every acknowledged answer is recorded. A thread
holds the primary's WAL sender still (SIGSTOP) for half a second part-way through the stream, so
commits are in flight that the standby does not have, SIGKILLs the primary's postmaster and its
processes, and runs ``pg_ctl promote`` on the standby; the stream resends every batch that got no
answer (a fresh signature each time; the event id is the idempotency key). Then:

- every event has exactly one stored row, and every acknowledged answer agrees with it (an
  acknowledged credit is there; a resent batch whose first attempt had committed answers
  ``duplicate`` with the original figures);
- nothing is credited twice: each person's balances are exactly credited rides x 80 g and x 10 points;
- `tanhui verify` is clean on the promoted server.

It prints the figures for docs/reliability.md: events acknowledged, events present, seconds from the
kill to the end of the promotion, and to the first acknowledged batch after the kill.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tanhui.client import PartnerClient, TanhuiAPIError
from tanhui.store.dialect import normalise_url, parse_url
from tanhui.store.engine import server_address
from tests.conftest import IN_CI
from tests.live import LiveServer, cli, create_partner, free_port
from tests.reliability.test_crash import BUS_G, BUS_POINTS, PER_PERSON, stream

EVENTS = int(os.environ.get("TANHUI_FAILOVER_EVENTS", 4_000))
BATCH = 50
KILL_AFTER_BATCHES = int(os.environ.get("TANHUI_FAILOVER_KILL_AFTER", 25))
RESEND_EVERY_S = 0.2
STALL_S = 0.5  # the primary's WAL sender held still before the kill
OUTAGE_LIMIT_S = 120


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Cluster:
    """One PostgreSQL cluster in a directory of its own, on its own port, run by pg_ctl."""

    def __init__(self, bin_dir: Path, data: Path, port: int, as_user: list[str]) -> None:
        self.bin, self.data, self.port, self.as_user = bin_dir, data, port, as_user

    def run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True, timeout=timeout, cwd="/"
        )
        if done.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} exited {done.returncode}: {done.stdout}{done.stderr}")
        return done

    def configure(self, **settings: str | int) -> None:
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            for name, value in settings.items():
                conf.write(f"{name} = '{value}'\n")

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-t", "60", "start")

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def kill(self) -> None:
        """SIGKILL the postmaster and every process of it at once, as the loss of its machine would."""
        pid = self.postmaster_pid()
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
                cwd="/",
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def query(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        engine = create_engine(self.url(database), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 10})
        try:
            with engine.connect() as conn:
                result = conn.execute(text(sql))
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.fixture
def pg_pair() -> Iterator[tuple[Cluster, Cluster]]:
    """A primary and its synchronous standby, made here and removed at the end."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        reason = "PostgreSQL's binaries (initdb, pg_ctl, pg_basebackup) are not installed"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason + ": apt-get install postgresql to run the failover test")
    as_user: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no postgres user to run the clusters as")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="tanhui-failover-"))
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    primary = Cluster(bin_dir, base / "primary", free_port(), as_user)
    standby = Cluster(bin_dir, base / "standby", free_port(), as_user)
    try:
        # --no-sync: the clusters' files need not reach the disk before the test (a SIGKILL of the server
        # loses no page the kernel holds); it was most of initdb's time here
        primary.run(
            "initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"
        )
        primary.configure(
            port=primary.port,
            listen_addresses="127.0.0.1",
            unix_socket_directories=str(base),
            wal_level="replica",
            max_wal_senders=4,
            synchronous_commit="on",
        )
        primary.start()
        primary.query("CREATE DATABASE tanhui")
        primary.run(
            "pg_basebackup",
            "-d",
            f"host=127.0.0.1 port={primary.port} user=postgres application_name=standby1",
            "-D",
            str(standby.data),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",  # the default, spread, paced the backup's checkpoint over most of a minute here
            "--no-sync",
        )
        # The standby's own settings, used once it is promoted: its port, and no synchronous standby
        # of its own (else every commit on the new primary would wait for a standby that does not exist).
        standby.configure(port=standby.port, synchronous_standby_names="")
        standby.start()
        # Synchronous from now on (set earlier, CREATE DATABASE would wait for a standby not yet there):
        # a commit is acknowledged only once the standby has it.
        primary.query("ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        primary.query("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 60
        while primary.query("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'") != [("sync",)]:
            assert time.monotonic() < deadline, "the standby never became synchronous"
            time.sleep(0.2)
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_a_multi_host_url_becomes_what_sqlalchemy_and_libpq_take() -> None:
    url = "postgresql://postgres@127.0.0.1:5432,127.0.0.1:5433/tanhui?target_session_attrs=read-write"
    parsed = parse_url(url)
    assert parsed.database == "tanhui" and parsed.query["host"] == ("127.0.0.1:5432", "127.0.0.1:5433")
    assert parsed.query["target_session_attrs"] == "read-write"
    assert normalise_url(url).startswith("postgresql+psycopg://postgres@/tanhui?host=127.0.0.1:5432&host=127.0.0.1:5433")
    assert server_address(url) == url  # what pg_dump is shown: libpq's own spelling, unchanged
    assert server_address("postgresql://u:pw@h1,h2/db") == "postgresql://u@h1,h2/db"  # never the password
    assert normalise_url("postgresql://postgres@127.0.0.1:5432/tanhui") == "postgresql+psycopg://postgres@127.0.0.1:5432/tanhui"
    bad = cli("postgresql://u@h:port/db", "verify", check=False)  # was a ValueError traceback
    assert bad.returncode == 2 and bad.stderr.startswith("error[invalid_database_url]") and "Traceback" not in bad.stderr


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_of_the_primary_and_promotion_of_the_sync_standby_lose_and_double_nothing(
    pg_pair: tuple[Cluster, Cluster], live_server_factory: Any
) -> None:
    primary, standby = pg_pair
    url = f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/tanhui?target_session_attrs=read-write"
    now = datetime.now(UTC).replace(microsecond=0)
    cli(url, "db", "upgrade")
    cli(url, "scheme", "create", "failover", "--name", "故障切换")
    server: LiveServer = live_server_factory(url, env={"TANHUI_PARTNER_RATE_PER_MINUTE": "100000000"})
    partner = create_partner(server, "failover", "公交", "bus_ride")
    partner.close()
    events = stream(EVENTS, now)
    people = (EVENTS + PER_PERSON - 1) // PER_PERSON
    answers: dict[str, dict[str, Any]] = {}
    figures: dict[str, float] = {}
    progress = {"batches": 0}
    killed = threading.Event()
    failures: list[BaseException] = []

    def failover() -> None:
        try:
            while progress["batches"] < KILL_AFTER_BATCHES:
                time.sleep(0.002)
            # The worst moment: the primary stops sending WAL for a while (its WAL sender held still),
            # so the batches committing now are on the primary alone when it dies. With synchronous
            # commit none of them was acknowledged (each waits for the standby); asynchronous
            # replication would acknowledge them and lose them, and the checks below would fail.
            sender = primary.query("SELECT pid FROM pg_stat_replication WHERE application_name = 'standby1'")[0][0]
            os.kill(sender, signal.SIGSTOP)
            time.sleep(STALL_S)
            primary.kill()
            figures["killed_at"] = time.monotonic()
            killed.set()
            standby.run("pg_ctl", "-D", str(standby.data), "-w", "-t", "60", "promote")
            figures["promoted_at"] = time.monotonic()
        except BaseException as error:  # reported by the main thread
            failures.append(error)
            killed.set()

    resent = 0
    with PartnerClient(server.base_url, partner.partner_id, partner.secret, timeout=60) as client:
        for person in range(people):
            client.grant_consent(f"p{person}", granted_at=now - timedelta(days=30))
        thread = threading.Thread(target=failover, daemon=True)
        thread.start()
        started = time.monotonic()
        for first in range(0, EVENTS, BATCH):
            batch = events[first : first + BATCH]
            outage_started = None
            while True:
                attempt_started = time.monotonic()
                try:
                    report = client.send_events(batch, retries=0, keep_results=True)
                    break
                except (TanhuiAPIError, httpx.TransportError) as error:
                    if isinstance(error, TanhuiAPIError) and error.status < 500:
                        raise
                    resent += 1
                    outage_started = outage_started or time.monotonic()
                    assert time.monotonic() - outage_started < OUTAGE_LIMIT_S, f"no answer for {OUTAGE_LIMIT_S} s: {error}"
                    time.sleep(RESEND_EVERY_S)
            assert report.results is not None
            for result in report.results:
                answers[result["event_id"]] = result
            if "answered_at" not in figures and attempt_started > figures.get("killed_at", float("inf")):
                figures["answered_at"] = time.monotonic()  # the first request sent after the kill that was answered
            progress["batches"] += 1
        elapsed = time.monotonic() - started
        thread.join(timeout=120)
    assert not failures, failures
    assert "promoted_at" in figures and "answered_at" in figures, "the stream ended before the failover"

    # -- what is stored on the promoted server ----------------------------------------------------
    assert standby.query("SELECT pg_is_in_recovery()") == [(False,)]
    rows = standby.query("SELECT event_id, status, reason, carbon_g, points FROM events", "tanhui")
    balances = dict(
        standby.query(
            "SELECT pl.user_ref || ':' || la.asset, la.balance FROM partner_links pl "
            "JOIN ledger_accounts la ON la.owner_account_id = pl.account_id",
            "tanhui",
        )
    )
    stored = {r[0]: r for r in rows}
    acknowledged = len(answers)
    assert len(rows) == len(stored) == EVENTS == acknowledged, (len(rows), len(stored), acknowledged)
    problems: list[Any] = []
    credited: dict[str, int] = {}
    for e in events:
        row, answer = stored[e["event_id"]], answers[e["event_id"]]
        implausible = "distance_km" in e["data"]
        want = ("rejected", "implausible", 0, 0) if implausible else ("credited", None, BUS_G, BUS_POINTS)
        if row[1:] != want:
            problems.append(("stored", row))
        if answer["status"] == "duplicate":
            ok = (answer["reason"], answer["carbon_g"], answer["points"]) == ("duplicate_event", row[3], row[4])
        else:
            ok = (answer["status"], answer["reason"], answer["carbon_g"], answer["points"]) == want
        if not ok:
            problems.append(("answer", answer, row))
        if not implausible:
            credited[e["user_ref"]] = credited.get(e["user_ref"], 0) + 1
    for person, n in credited.items():
        if balances.get(f"{person}:CO2E") != n * BUS_G or balances.get(f"{person}:POINTS") != n * BUS_POINTS:
            problems.append(("balance", person, n, balances.get(f"{person}:CO2E"), balances.get(f"{person}:POINTS")))
    duplicates = sum(1 for a in answers.values() if a["status"] == "duplicate")
    promote_s = figures["promoted_at"] - figures["killed_at"]
    answered_s = figures["answered_at"] - figures["killed_at"]
    print(
        f"\nfailover: events acknowledged {acknowledged}, events present {len(stored)}, credited once each "
        f"{sum(credited.values())}, answered duplicate after a resend {duplicates}, resent batches {resent}, "
        f"kill -> promoted {promote_s:.2f} s, kill -> answered again {answered_s:.2f} s, whole stream {elapsed:.1f} s"
    )
    assert not problems, problems[:10]

    verify = cli(url, "verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # the service keeps working on the promoted server: a new batch is credited
    later = {
        "event_id": "after",
        "user_ref": "p1",
        "scenario": "bus_ride",
        "occurred_at": (now - timedelta(minutes=5)).isoformat(),
        "data": {"trip_id": "after-the-failover"},
    }
    with PartnerClient(server.base_url, partner.partner_id, partner.secret) as client:
        assert client.send_events([later]).credited == 1
