"""Races at higher counts: the marketplace's double spend and stock races and two servers crediting one
batch, on PostgreSQL; and SQLite's single writer under two server workers, many concurrent clients
and a bulk import at once: no client ever sees a 5xx or "database is locked"."""

from __future__ import annotations

import json
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tanhui.errors import TanhuiError
from tanhui.services import ledger, market
from tanhui.store import Store
from tests.live import PYTHON, Partner, cli, create_partner
from tests.market.helpers import item, open_shop

WHEN = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
BUYERS, STOCK, SPENDS, AFFORD = 200, 40, 100, 10


def _outcome(call: Any) -> str:
    try:
        call()
        return "ok"
    except TanhuiError as error:
        return error.code


@pytest.mark.postgres
@pytest.mark.slow
def test_two_hundred_buyers_for_forty_and_a_hundred_spends_covering_ten(pg_shared_store: Store, scheme_id: str) -> None:
    store = pg_shared_store
    shop = open_shop(store, scheme_id, people=BUYERS, points_each=100)
    scarce = item(store, scheme_id, kind="physical", points_price=100, stock=STOCK, key="scarce")
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(
            pool.map(
                lambda i: _outcome(lambda: market.place_order(store, shop.people[i], scarce.public_id, 1, f"b{i}")), range(BUYERS)
            )
        )
    assert results.count("ok") == STOCK and set(results) == {"ok", "out_of_stock"}
    assert market.get_item(store, scarce.public_id).stock == 0
    paid = [ledger.balance(store, a) for a in shop.points_accounts]
    assert sorted(paid) == [0] * STOCK + [100] * (BUYERS - STOCK)

    rich = open_shop(store, scheme_id + "r", people=1, points_each=AFFORD * 100)
    lamps = [item(store, scheme_id + "r", kind="physical", points_price=100, stock=SPENDS, key=f"k{i}") for i in range(4)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        spent = list(
            pool.map(
                lambda i: _outcome(lambda: market.place_order(store, rich.people[0], lamps[i % 4].public_id, 1, f"s{i}")),
                range(SPENDS),
            )
        )
    assert spent.count("ok") == AFFORD and set(spent) == {"ok", "insufficient_points"}
    assert ledger.balance(store, rich.points_accounts[0]) == 0
    assert ledger.verify(store, scheme_id).ok and ledger.verify(store, scheme_id + "r").ok


@pytest.mark.postgres
@pytest.mark.slow
def test_four_servers_crediting_the_same_batches(pg_databases: Any, live_server_factory: Any) -> None:
    url = pg_databases.create()
    try:
        servers = [live_server_factory(url, migrate_first=(i == 0)) for i in range(4)]
        servers[0].tanhui("scheme", "create", "city", "--name", "城市")
        first = create_partner(servers[0], "city", "公交", "bus_ride")
        clients = [Partner(s.base_url, first.partner_id, first.secret) for s in servers]
        for i in range(300):
            assert first.consent(f"u{i}").status_code == 201
        batches = [
            [
                {
                    "event_id": f"e{b}-{i}",
                    "user_ref": f"u{i % 300}",
                    "scenario": "bus_ride",
                    "occurred_at": WHEN,
                    "data": {"trip_id": f"T{b}-{i}"},
                }
                for i in range(600)
            ]
            for b in range(2)
        ]
        jobs = [(clients[k % 4], batches[k % 2]) for k in range(16)]  # each batch 8 times, over 4 servers at once
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda job: job[0].events(job[1]), jobs))
        assert all(a.status_code == 200 for a in answers), [a.text[:200] for a in answers if a.status_code != 200]
        credited = sum(a.json()["summary"]["credited"] for a in answers)
        assert credited == 1200  # every event credited exactly once, whichever server won
        store = Store(url)
        try:
            with store.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 1200
                assert (
                    conn.execute(
                        text(
                            "SELECT coalesce(sum(balance), 0) FROM ledger_accounts WHERE owner_account_id IS NOT NULL AND asset = 'POINTS'"
                        )
                    ).scalar_one()
                    == 12000
                )
        finally:
            store.dispose()
        assert servers[0].tanhui("verify", check=False).returncode == 0
        for c in clients:
            c.close()
        first.close()
    finally:
        pg_databases.drop(url)


@pytest.mark.slow
def test_sqlite_single_writer_never_leaks_a_lock_error(live_server_factory: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    server = live_server_factory(url, workers=2, env={"TANHUI_PARTNER_RATE_PER_MINUTE": "100000000"})
    server.tanhui("scheme", "create", "city", "--name", "城市")
    api = create_partner(server, "city", "公交", "bus_ride")
    bulk = create_partner(server, "city", "批量", "bus_ride")
    people = 120
    for i in range(people):
        assert api.consent(f"u{i}").status_code == 201
        assert bulk.consent(f"u{i}").status_code == 201
    lines = [
        json.dumps(
            {
                "event_id": f"f{i}",
                "user_ref": f"u{i % people}",
                "scenario": "bus_ride",
                "occurred_at": WHEN,
                "data": {"trip_id": f"F{i}"},
            }
        )
        for i in range(people * 3)
    ]
    (tmp_path / "bulk.jsonl").write_text("\n".join(lines) + "\n")
    statuses: list[int] = []
    bodies: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        partner = Partner(server.base_url, api.partner_id, api.secret)
        token = partner.request("POST", f"/v1/partner/accounts/u{n}/sessions").json()["token"]
        http = httpx.Client(base_url=server.base_url, timeout=120)
        try:
            for k in range(15):
                got = [
                    partner.events(
                        [
                            {
                                "event_id": f"c{n}-{k}-{j}",
                                "user_ref": f"u{(n * 7 + j) % people}",
                                "scenario": "bus_ride",
                                "occurred_at": WHEN,
                                "data": {"trip_id": f"C{n}-{k}-{j}"},
                            }
                            for j in range(20)
                        ]
                    ),
                    http.post("/v1/me/checkins", headers={"Authorization": f"Bearer {token}"}),
                    partner.request("GET", f"/v1/partner/accounts/u{n}"),
                ]
                with lock:
                    statuses.extend(r.status_code for r in got)
                    bodies.extend(r.text for r in got if r.status_code >= 500 or "locked" in r.text)
        finally:
            http.close()
            partner.close()

    importer = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "tanhui.cli.main",
            "import",
            "events",
            str(tmp_path / "bulk.jsonl"),
            "--partner",
            bulk.partner_id,
            "--batch-size",
            "50",
            "--json",
        ],
        env={**__import__("os").environ, "TANHUI_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, err = importer.communicate(timeout=300)
    assert importer.returncode == 0, err[-2000:]
    assert json.loads(out)["credited"] + json.loads(out)["rejected"] == len(lines)
    print(
        f"\nsqlite writer: {len(statuses)} concurrent requests + a bulk import of {len(lines)} events; status counts "
        f"{ {s: statuses.count(s) for s in sorted(set(statuses))} }"
    )
    assert not bodies, bodies[:3]
    assert all(s < 500 for s in statuses)
    assert "locked" not in server.log()
    assert cli(url, "verify", check=False).returncode == 0
    api.close()
    bulk.close()
