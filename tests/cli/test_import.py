"""`tanhui import events`: the same pipeline as the API, streamed from JSON Lines and CSV."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.live import cli

WHEN = (datetime.now(UTC) - timedelta(hours=2)).isoformat()


def prepare(url: str) -> str:
    cli(url, "db", "upgrade")
    cli(url, "scheme", "create", "city", "--name", "城市")
    partner = json.loads(
        cli(
            url, "partner", "create", "--scheme", "city", "--name", "计步", "--scenarios", "walking,bus_ride,recycling", "--json"
        ).stdout
    )
    from tanhui.services import consent, ingest
    from tanhui.store import Store

    store = Store(url)
    try:
        row = ingest.find_partner(store, partner["partner_id"])
        for user in ("u1", "u2"):
            consent.grant(
                store, row, f"nonce-for-{user}-0000", {"user_ref": user, "scopes": ["behaviour:report"], "granted_at": WHEN}
            )
    finally:
        store.dispose()
    return str(partner["partner_id"])


@pytest.mark.slow  # imports the file twice through the CLI (csv and errors stay in the fast lane)
def test_jsonl_import_then_rerun_changes_nothing(fresh_store_url: str, tmp_path: Path) -> None:
    partner = prepare(fresh_store_url)
    path = tmp_path / "events.jsonl"
    lines = [
        json.dumps({"event_id": "w1", "user_ref": "u1", "scenario": "walking", "occurred_at": WHEN, "data": {"steps": 10000}}),
        json.dumps({"event_id": "b1", "user_ref": "u2", "scenario": "bus_ride", "occurred_at": WHEN, "data": {"trip_id": "X"}}),
        "{this is not json",
        "",
        json.dumps(
            {
                "event_id": "r1",
                "user_ref": "nobody",
                "scenario": "recycling",
                "occurred_at": WHEN,
                "data": {"material": "clothing", "weight_kg": 1},
            }
        ),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"
    first = cli(fresh_store_url, "import", "events", str(path), "--partner", partner, "--results", str(out), "--json")
    summary = json.loads(first.stdout)
    assert summary["credited"] == 2 and summary["rejected"] == 2 and summary["carbon_g"] == 164 + 80
    assert summary["rejected_by_reason"] == {"invalid_data": 1, "no_consent": 1}
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 5]
    assert results[2]["details"]["line"].startswith("invalid_json")

    again = json.loads(cli(fresh_store_url, "import", "events", str(path), "--partner", partner, "--json").stdout)
    assert again["credited"] == 0 and again["duplicate"] == 3 and again["rejected"] == 1
    assert cli(fresh_store_url, "verify").returncode == 0


def test_csv_import_with_data_columns(fresh_store_url: str, tmp_path: Path) -> None:
    partner = prepare(fresh_store_url)
    path = tmp_path / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "user_ref", "scenario", "occurred_at", "data.material", "data.weight_kg", "data.steps"])
        writer.writerow(["r1", "u1", "recycling", WHEN, "clothing", "1", ""])
        writer.writerow(["w1", "u2", "walking", WHEN, "", "", "500"])
        writer.writerow(["w2", "u1", "walking", WHEN, "", "", "lots"])
    summary = json.loads(cli(fresh_store_url, "import", "events", str(path), "--partner", partner, "--json").stdout)
    assert summary["credited"] == 2 and summary["carbon_g"] == 1280 + 8
    assert summary["rejected_by_reason"] == {"invalid_data": 1}


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_import_errors_are_one_line(fresh_store_url: str, tmp_path: Path) -> None:
    partner = prepare(fresh_store_url)
    unknown = cli(fresh_store_url, "import", "events", str(tmp_path / "missing.jsonl"), "--partner", partner, check=False)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    path = tmp_path / "events.txt"
    path.write_text("x", encoding="utf-8")
    bad_format = cli(fresh_store_url, "import", "events", str(path), "--partner", partner, check=False)
    assert bad_format.returncode == 2 and bad_format.stderr.startswith("error[invalid_request]")
    no_partner = cli(fresh_store_url, "import", "events", str(path), "--partner", "ptn_nope", "--format", "jsonl", check=False)
    assert no_partner.returncode == 2 and no_partner.stderr.startswith("error[partner_not_found]")


@pytest.mark.slow  # parallel import processes, twice
def test_parallel_import_decides_every_event_as_one_process_does(fresh_store_url: str, tmp_path: Path) -> None:
    """Processes stage in parallel and write in turn, in file order: same results, line by line."""
    lines = []
    for i in range(60):
        user = ("u1", "u2", "nobody")[i % 3]
        if i % 4 == 0:  # the same trip reported again a few batches later: only the first is credited
            event = {
                "event_id": f"b{i}",
                "user_ref": user,
                "scenario": "bus_ride",
                "occurred_at": WHEN,
                "data": {"trip_id": f"T{i % 12}"},
            }
        elif i % 4 == 1:  # many walks of one day: the daily cap stops them in file order
            event = {
                "event_id": f"w{i}",
                "user_ref": user,
                "scenario": "walking",
                "occurred_at": WHEN,
                "data": {"steps": 4000 + i},
            }
        elif i % 4 == 2:  # an event id sent again with other content
            event = {
                "event_id": f"b{i - 2}",
                "user_ref": user,
                "scenario": "bus_ride",
                "occurred_at": WHEN,
                "data": {"trip_id": f"other{i}"},
            }
        else:
            event = {
                "event_id": f"r{i}",
                "user_ref": user,
                "scenario": "recycling",
                "occurred_at": WHEN,
                "data": {"material": "paper", "weight_kg": "0.5"},
            }
        lines.append(json.dumps(event))
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    one_url = f"sqlite:///{tmp_path / 'one.db'}"
    results = {}
    for name, url, workers in (("one", one_url, "1"), ("many", fresh_store_url, "3")):
        partner = prepare(url)
        out = tmp_path / f"{name}.jsonl"
        cli(
            url,
            "import",
            "events",
            str(path),
            "--partner",
            partner,
            "--batch-size",
            "4",
            "--workers",
            workers,
            "--results",
            str(out),
            "--json",
        )
        results[name] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert cli(url, "verify").returncode == 0
    assert len(results["many"]) == 60
    assert results["many"] == results["one"]
    statuses = {(r["status"], r["reason"]) for r in results["many"]}
    assert {
        ("credited", None),
        ("rejected", "duplicate_behaviour"),
        ("rejected", "no_consent"),
        ("rejected", "event_id_reused"),
    } <= statuses

    again = json.loads(
        cli(
            fresh_store_url,
            "import",
            "events",
            str(path),
            "--partner",
            json.loads(cli(fresh_store_url, "partner", "list", "--scheme", "city", "--json").stdout)[0]["partner_id"],
            "--batch-size",
            "4",
            "--workers",
            "3",
            "--json",
        ).stdout
    )
    assert again["credited"] == 0
