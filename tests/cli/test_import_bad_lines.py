"""Issue 18, finding 6: one bad line of an import file is that line's result; the good lines after it are imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_import import WHEN, prepare
from tests.live import cli


def good(n: int) -> str:
    return json.dumps(
        {"event_id": f"b{n}", "user_ref": "u1", "scenario": "bus_ride", "occurred_at": WHEN, "data": {"trip_id": f"T{n}"}}
    )


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_bad_jsonl_lines_do_not_stop_the_import(fresh_store_url: str, tmp_path: Path) -> None:
    partner = prepare(fresh_store_url)
    bad = [
        b'{"event_id": "deep", "data": ' + b"[" * 1000 + b"]" * 1000 + b"}",  # RecursionError before
        json.dumps(
            {"event_id": "sur", "user_ref": "u1", "scenario": "bus_ride", "occurred_at": WHEN, "data": {"trip_id": "\ud800"}}
        ).encode(),
        json.dumps(
            {
                "event_id": "y9999",
                "user_ref": "u1",
                "scenario": "bus_ride",
                "occurred_at": "9999-12-31T23:00:00-05:00",
                "data": {"trip_id": "Y"},
            }
        ).encode(),
        json.dumps(
            {
                "event_id": "week",
                "user_ref": "u1",
                "scenario": "bus_ride",
                "occurred_at": "2026-W48-1T07:00:00Z",
                "data": {"trip_id": "W"},
            }
        ).encode(),
        '{"event_id": "gbk", "data": "绿色出行"}'.encode("gbk"),  # not UTF-8
    ]
    lines: list[bytes] = []
    for i, line in enumerate(bad):
        lines += [good(i).encode(), line]
    lines.append(good(len(bad)).encode())
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "results.jsonl"
    for run in range(2):
        done = cli(
            fresh_store_url,
            "import",
            "events",
            str(path),
            "--partner",
            partner,
            "--batch-size",
            "2",
            "--results",
            str(out),
            "--json",
            check=False,
        )
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        summary = json.loads(done.stdout)
        assert summary["events"] == len(lines)
        if run == 0:
            assert (summary["credited"], summary["duplicate"]) == (6, 0), summary
            assert summary["rejected_by_reason"] == {"invalid_data": 4, "in_future": 1}, summary
            results = {r["line"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
            assert results[2]["details"]["line"].startswith("invalid_json") and "nested" in results[2]["details"]["line"]
            assert results[6]["reason"] == "in_future" and results[8]["details"] == {"occurred_at": "invalid"}
            assert results[10]["details"]["line"].startswith("invalid_json")
        else:  # the rerun: every event with an id is a replay (rejected ones included), unreadable lines again
            assert (summary["credited"], summary["duplicate"]) == (0, 9), summary
            assert summary["rejected_by_reason"] == {"invalid_data": 2}, summary
    assert cli(fresh_store_url, "verify").returncode == 0


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_bad_csv_rows_do_not_stop_the_import(fresh_store_url: str, tmp_path: Path) -> None:
    partner = prepare(fresh_store_url)
    header = b"event_id,user_ref,scenario,occurred_at,data.trip_id\n"

    def row(event_id: str, trip: str) -> bytes:
        return f"{event_id},u1,bus_ride,{WHEN},{trip}\n".encode()

    body = header + row("c1", "T1") + f"c2,u1,bus_ride,{WHEN},绿色\n".encode("gbk") + row("c3", "T3")
    body += row("c4", "x" * 200_000) + row("c5", "T5")  # a cell over csv's 131,072-character field limit
    path = tmp_path / "events.csv"
    path.write_bytes(body)
    out = tmp_path / "results.jsonl"
    done = cli(
        fresh_store_url,
        "import",
        "events",
        str(path),
        "--partner",
        partner,
        "--batch-size",
        "2",
        "--results",
        str(out),
        "--json",
        check=False,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    summary = json.loads(done.stdout)
    assert summary["credited"] == 3 and summary["rejected_by_reason"] == {"invalid_data": 2}, summary
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["details"]["line"] for r in results if r["status"] == "rejected"] == [
        "invalid_csv: not UTF-8 text",
        "invalid_csv: field larger than field limit (131072)",
    ]

    gbk = tmp_path / "gbk.csv"  # a whole file in GBK: every row its own result, no traceback
    gbk.write_bytes(b"event_id,user_ref,scenario,occurred_at,data.trip_id\n" + f"g1,用户,bus_ride,{WHEN},公交\n".encode("gbk"))
    whole = cli(fresh_store_url, "import", "events", str(gbk), "--partner", partner, "--json", check=False)
    assert whole.returncode == 0 and "Traceback" not in whole.stderr, whole.stderr
    assert json.loads(whole.stdout)["rejected_by_reason"] == {"invalid_data": 1}


def test_a_name_that_is_not_utf8_is_one_line_not_a_traceback(fresh_store_url: str) -> None:
    """Issue 18, finding 4: bytes that are not UTF-8 in an argument (a partner or organisation name)."""
    cli(fresh_store_url, "db", "upgrade")
    for args in (
        ("scheme", "create", "c2", "--name", "\udcff\udcfe"),
        ("org", "create", "--scheme", "c2", "--name", "\udced\udca0\udc80"),
    ):
        done = cli(fresh_store_url, *args, check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip().startswith("error[argument_not_utf8]") and len(done.stderr.strip().splitlines()) == 1
