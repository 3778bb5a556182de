"""The public registry through a real server: an organisation buys and retires credits for a named
event, and its certificate opens from the public registry page (JSON, HTML and PDF agree)."""

from __future__ import annotations

import re

import httpx

from tanhui.services import organisations
from tanhui.services.registry import movements
from tanhui.store import Store
from tests.live import LiveServer
from tests.pdf_reading import pdf_text
from tests.registry.helpers import NOW, VINTAGE, city, issue_day


def test_buy_retire_and_open_the_certificate(live: LiveServer) -> None:
    store = Store(live.database_url)
    try:
        c = city(store, "city")
        c.tonnes(4)
        live.tanhui("credits", "issue", "--scheme", "city", "--vintage", str(VINTAGE), "--as-of", issue_day().isoformat())
        org = organisations.create(store, "city", "城市马拉松组委会")
        cert = movements.buy_and_neutralise(
            store,
            "city",
            organisation=org.public_id,
            event_name="2026 城市马拉松",
            emission_t="2.4",
            idempotency_key="marathon-2026",
            now=NOW,
        )
    finally:
        store.dispose()
    base = live.base_url
    batches = httpx.get(base + "/v1/registry/batches").json()["batches"]
    assert [b["quantity"] for b in batches] == [4]
    batch = batches[0]
    detail = httpx.get(base + f"/v1/registry/batches/{batch['batch_id']}").json()
    assert sum(b["quantity"] for b in detail["blocks"]) == 4
    holdings = httpx.get(base + "/v1/registry/holdings", params={"organisation": org.public_id}).json()["holdings"]
    assert [(h["held"], h["retired"]) for h in holdings] == [(0, 3)]
    api = httpx.get(base + f"/v1/registry/retirements/{cert['retirement_id']}").json()
    assert api == cert and api["quantity"] == 3
    assert httpx.get(base + "/v1/registry/retirements/RET-none").status_code == 404

    # the public registry page links to the certificate page, which links to the PDF
    index = httpx.get(base + "/registry")
    assert index.status_code == 200 and "城市马拉松组委会" in index.text
    link = re.search(r'href="(/registry/retirements/[^"]+)"', index.text)
    assert link is not None and link.group(1) == cert["url"]
    page = httpx.get(base + link.group(1))
    assert page.status_code == 200
    for value in (
        cert["retirement_id"],
        "2026 城市马拉松",
        "城市马拉松组委会",
        f"<strong>{cert['quantity']}</strong> t CO₂e",
        batch["merkle_root"],
        cert["blocks"][0]["serial_first"],
        cert["blocks"][0]["serial_last"],
        str(VINTAGE),
        "electricity-saving-cn@1",
    ):
        assert value in page.text, value
    pdf_link = re.search(r'href="(/registry/retirements/[^"]+\.pdf)"', page.text)
    assert pdf_link is not None
    pdf = httpx.get(base + pdf_link.group(1))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    for value in (
        cert["retirement_id"],
        "2026 城市马拉松",
        "城市马拉松组委会",
        f"{cert['quantity']} t CO2e",
        batch["merkle_root"],
        cert["blocks"][0]["serial_first"],
        cert["blocks"][0]["serial_last"],
        str(VINTAGE),
        "electricity-saving-cn@1",
        base + cert["url"],
    ):
        assert value in text, value
    english = httpx.get(base + cert["url"], headers={"Accept-Language": "en"})
    assert "Carbon inclusion credit retirement certificate" in english.text

    # "was my behaviour part of this batch?"
    proof = httpx.get(base + "/v1/registry/proof", params={"partner": c.partner.id, "event": "el-u-0"}).json()
    assert proof["included"] and proof["verified"] and proof["merkle_root"] == batch["merkle_root"]
    proof_page = httpx.get(base + "/registry/proof", params={"partner": c.partner.id, "event": "el-u-0"})
    assert proof_page.status_code == 200 and batch["batch_id"] in proof_page.text
    assert httpx.get(base + f"/registry/batches/{batch['batch_id']}").status_code == 200
    assert "/v1/registry/batches" in httpx.get(base + "/openapi.json").json()["paths"]
    assert live.tanhui("credits", "verify").returncode == 0
