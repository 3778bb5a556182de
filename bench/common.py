"""Shared pieces of the benchmarks: machine facts, fresh databases, a synthetic city, the report."""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
PG_ADMIN_URL = os.environ.get("TANHUI_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SCENARIOS = "bus_ride,metro_ride,walking,cycling,clean_plate,recycling"

# A PostgreSQL database has no default secret key (docs/operations.md "Secrets at rest"): the benchmarks'
# throw-away databases share one random key for the run, in this process and every process it starts.
if not (os.environ.get("TANHUI_SECRET_KEY") or os.environ.get("TANHUI_SECRET_KEY_FILE")):
    from tanhui.secretbox import new_key_text

    os.environ["TANHUI_SECRET_KEY"] = new_key_text()


def machine() -> str:
    cores = os.cpu_count()
    try:
        with open("/proc/meminfo") as meminfo:
            mem_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        mem = "?"
    cpu = "?"
    with suppress(OSError, StopIteration), open("/proc/cpuinfo") as cpuinfo:
        cpu = next(line for line in cpuinfo if line.startswith("model name")).split(":", 1)[1].strip()
    return f"{cores} cores ({cpu}), {mem} RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def engine_version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + conn.execute(text("select sqlite_version()")).scalar_one()
            return conn.execute(text("show server_version")).scalar_one().split()[0].join(("PostgreSQL ", ""))
    finally:
        engine.dispose()


@contextmanager
def fresh_database(engine: str, workdir: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"tanhui_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tanhui(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "tanhui.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TANHUI_DATABASE_URL": url, "TANHUI_LANG": "en"},
    )
    if result.returncode != 0:
        raise SystemExit(f"tanhui {' '.join(args)} failed: {result.stderr}")
    return result


def setup_city(url: str, people: int) -> dict[str, str]:
    """A scheme, one partner licensed for the common scenarios, and `people` consenting persons."""
    from tanhui.services import consent, ingest
    from tanhui.store import Store

    tanhui(url, "db", "upgrade")
    tanhui(url, "scheme", "create", "city", "--name", "基准城市")
    partner = json.loads(
        tanhui(url, "partner", "create", "--scheme", "city", "--name", "bench", "--scenarios", SCENARIOS, "--json").stdout
    )
    store = Store(url)
    row = ingest.find_partner(store, partner["partner_id"])
    granted_at = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    for i in range(people):
        consent.grant(
            store, row, f"bench-consent-{i:010d}", {"user_ref": f"p{i}", "scopes": ["behaviour:report"], "granted_at": granted_at}
        )
    store.dispose()
    return partner


def synthetic_events(count: int, people: int, seed: int = 7, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """A believable mix: rides with trip ids, daily step totals, meals, recycling, cycling."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    walked: set[tuple[int, int]] = set()
    for i in range(count):
        person = rng.randrange(people)
        day = rng.randrange(6)
        when = now - timedelta(days=day, minutes=rng.randrange(30, 600))
        pick = rng.random()
        if pick < 0.45:
            scenario, data = (
                "bus_ride",
                {"trip_id": f"BUS-{i}", "distance_km": str(rng.randrange(10, 150) / 10)}
                if rng.random() < 0.5
                else {"trip_id": f"BUS-{i}"},
            )
        elif pick < 0.65:
            scenario, data = "metro_ride", {"trip_id": f"MET-{i}"}
        elif pick < 0.80 and (person, day) not in walked:
            walked.add((person, day))
            scenario, data = "walking", {"steps": rng.randrange(2000, 20000)}
        elif pick < 0.90:
            scenario, data = "clean_plate", {"order_id": f"ORD-{i}"}
        elif pick < 0.95:
            scenario, data = "cycling", {"distance_km": str(rng.randrange(5, 80) / 10), "trip_id": f"BIKE-{i}"}
        else:
            scenario, data = (
                "recycling",
                {"material": rng.choice(["paper", "plastic", "clothing"]), "weight_kg": str(rng.randrange(1, 50) / 10)},
            )
        yield {
            "event_id": f"ev-{i}",
            "user_ref": f"p{person}",
            "scenario": scenario,
            "occurred_at": when.isoformat(),
            "data": data,
        }


def append_report(title: str, command: str, lines: list[str]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [
        f"\n### {title} — {stamp}",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}; SQLAlchemy {sqlalchemy.__version__}",
        "",
    ]
    block += lines
    DOCS.parent.mkdir(exist_ok=True)
    if not DOCS.exists():
        DOCS.write_text(
            "# Benchmarks\n\nEvery figure below was measured by the command shown, on the machine shown.\n", encoding="utf-8"
        )
    with DOCS.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(block) + "\n")
