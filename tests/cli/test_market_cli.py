"""Operator commands for the marketplace and points, as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tanhui.services import market
from tanhui.store import Store
from tests.live import cli
from tests.market.helpers import open_shop


@pytest.mark.slow  # a long CLI workflow: dozens of `tanhui` processes
def test_catalog_codes_orders_export_and_expiry(fresh_store_url: str, tmp_path: Path) -> None:
    cli(fresh_store_url, "db", "upgrade")
    store = Store(fresh_store_url)
    try:
        shop = open_shop(store, "city", people=1, points_each=1000)
    finally:
        store.dispose()
    coupon = json.loads(
        cli(
            fresh_store_url, "market", "add", "--scheme", "city", "--title", "咖啡券", "--points", "100", "--stock", "0", "--json"
        ).stdout
    )
    assert coupon["id"].startswith("itm_") and coupon["kind"] == "coupon" and coupon["points_price"] == 100
    kettle = json.loads(
        cli(
            fresh_store_url,
            "market",
            "add",
            "--scheme",
            "city",
            "--title",
            "电水壶",
            "--points",
            "300",
            "--stock",
            "5",
            "--kind",
            "physical",
            "--title-en",
            "Kettle",
            "--json",
        ).stdout
    )
    codes = tmp_path / "codes.csv"
    codes.write_text("A-1,merchant note\nA-2\nA-2\n\n", encoding="utf-8")
    imported = json.loads(cli(fresh_store_url, "market", "import-codes", coupon["id"], str(codes), "--json").stdout)
    assert imported == {"added": 2, "skipped": 1, "unused": 2}
    updated = json.loads(cli(fresh_store_url, "market", "update", kettle["id"], "--points", "250", "--json").stdout)
    assert updated["points_price"] == 250
    listed = json.loads(cli(fresh_store_url, "market", "list", "--scheme", "city", "--json").stdout)
    assert {i["id"] for i in listed} == {coupon["id"], kettle["id"]}

    store = Store(fresh_store_url)
    try:
        _, bought = market.place_order(store, shop.people[0], coupon["id"], 1, "k1")
        _, good = market.place_order(store, shop.people[0], kettle["id"], 1, "k2")
    finally:
        store.dispose()
    assert bought["coupon_code"] == "A-1"
    cli(fresh_store_url, "market", "ship", good["order_id"])
    cli(fresh_store_url, "market", "deliver", good["order_id"])
    refused = cli(fresh_store_url, "market", "cancel", good["order_id"], check=False)
    assert refused.returncode == 2 and refused.stderr.startswith("error[not_cancellable]")

    out = tmp_path / "orders.xlsx"
    cli(fresh_store_url, "market", "orders", "--scheme", "city", "--export", str(out))
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("order_id", "status", "item_id") and len(rows) == 3
    assert {r[1] for r in rows[1:]} == {"fulfilled", "delivered"}
    csv_out = tmp_path / "orders.csv"
    cli(fresh_store_url, "market", "orders", "--scheme", "city", "--export", str(csv_out))
    assert csv_out.read_text(encoding="utf-8-sig").splitlines()[0].startswith("order_id,status")

    first = json.loads(cli(fresh_store_url, "points", "expire", "--scheme", "city", "--as-of", "2026-06-01", "--json").stdout)
    assert first["accounts"] == 0  # points earned this year live until the end of next year
    bad = cli(fresh_store_url, "points", "expire", "--scheme", "city", "--as-of", "June", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert cli(fresh_store_url, "verify").returncode == 0
