"""`tanhui org` and `tanhui credits` as separate processes (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tanhui.store import Store
from tests.live import cli
from tests.pdf_reading import pdf_text
from tests.registry.helpers import VINTAGE, city, issue_day


@pytest.mark.slow  # a long CLI workflow: dozens of `tanhui` processes
def test_the_operator_workflow(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tanhui.db'}"
    cli(url, "db", "upgrade")
    store = Store(url)
    c = city(store, "city")
    c.tonnes(3)
    store.dispose()

    def run(*args: str, check: bool = True) -> object:
        result = cli(url, *args, check=check)
        return json.loads(result.stdout) if "--json" in args and result.returncode == 0 else result

    org = run("org", "create", "--scheme", "city", "--name", "城市马拉松组委会", "--kind", "company", "--json")
    org_id = org["organisation_id"]  # type: ignore[index]
    assert run("org", "list", "--scheme", "city", "--json")[0]["organisation_id"] == org_id  # type: ignore[index]
    dry = run(
        "credits",
        "issue",
        "--scheme",
        "city",
        "--vintage",
        str(VINTAGE),
        "--as-of",
        issue_day().isoformat(),
        "--dry-run",
        "--json",
    )
    assert dry["dry_run"] and dry["issued"] == 3  # type: ignore[index]
    issued = run("credits", "issue", "--scheme", "city", "--vintage", str(VINTAGE), "--as-of", issue_day().isoformat(), "--json")
    assert issued["issued"] == 3  # type: ignore[index]
    table = run("credits", "issue", "--scheme", "city", "--vintage", str(VINTAGE), "--as-of", issue_day().isoformat())
    assert "nothing new to issue" in table.stdout  # type: ignore[attr-defined]
    batch_id = issued["batches"][0]["batch_id"]  # type: ignore[index]
    moved = run("credits", "transfer", "--scheme", "city", "--to", org_id, "--quantity", "2", "--key", "sale-1", "--json")
    assert moved["quantity"] == 2  # type: ignore[index]
    pdf = tmp_path / "cert.pdf"
    cert = run(
        "credits",
        "neutralise",
        "--scheme",
        "city",
        "--holder",
        org_id,
        "--event",
        "2026 城市马拉松",
        "--emission-t",
        "1.5",
        "--pdf",
        str(pdf),
        "--base-url",
        "https://registry.example",
        "--json",
    )
    assert cert["quantity"] == 2 and cert["blocks"][0]["batch_id"] == batch_id  # type: ignore[index]
    text = pdf_text(pdf.read_bytes())
    assert (
        cert["retirement_id"] in text and "2026 城市马拉松" in text and "https://registry.example/registry/retirements/" in text
    )  # type: ignore[index]
    holdings = run("credits", "holdings", "--scheme", "city", "--json")
    assert {(h["holder"]["id"], h["held"], h["retired"]) for h in holdings} == {("scheme", 1, 0), (org_id, 0, 2)}  # type: ignore[union-attr, index]
    assert run("credits", "batches", "--scheme", "city", "--json")[0]["batch_id"] == batch_id  # type: ignore[index]
    assert run("credits", "retirements", "--scheme", "city", "--json")[0]["retirement_id"] == cert["retirement_id"]  # type: ignore[index]
    proof = run("credits", "proof", "--partner", c.partner.id, "--event", "el-u-0", "--json")
    assert proof["included"] and proof["verified"]  # type: ignore[index]
    assert run("credits", "proof", "--partner", c.partner.id, "--event", "nope", check=False).returncode == 2  # type: ignore[attr-defined]
    assert run("credits", "shortfall", "--scheme", "city", "--json") == []
    report = run("credits", "verify", "--json")
    assert report["ok"] and report["batches"] == 1  # type: ignore[index]
    failed = run("credits", "transfer", "--scheme", "city", "--to", org_id, "--quantity", "5", "--key", "sale-2", check=False)
    assert failed.returncode == 2 and "error[insufficient_credits]" in failed.stderr  # type: ignore[attr-defined]
    assert run("verify").returncode == 0  # type: ignore[attr-defined]
