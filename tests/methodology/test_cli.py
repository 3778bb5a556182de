"""`tanhui methodology ...` end to end through Typer (no database needed without --scheme)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tanhui.cli.main import app
from tanhui.errors import InvalidInput, NotFound

runner = CliRunner()


def test_list_json() -> None:
    result = runner.invoke(app, ["methodology", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    bus = next(r for r in rows if r["ref"] == "bus-ride-cn@1")
    assert bus["scenario"] == "bus_ride" and bus["title"]["en"] == "Bus ride" and bus["sources"]


def test_show_by_ref_and_by_scenario() -> None:
    result = runner.invoke(app, ["methodology", "show", "walking-cn@1", "--json"])
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["formula"] == "steps * g_per_500_steps / 500" and shown["factors"][0]["values"][0]["value"] == "8.2"
    result = runner.invoke(app, ["methodology", "show", "clean_plate"])
    assert result.exit_code == 0 and "144" in result.stdout


def test_quantify_json() -> None:
    result = runner.invoke(app, ["methodology", "quantify", "bus_ride", "--data", "{}", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"carbon_g", "methodology", "explanation"}
    assert body["carbon_g"] == 80 and body["methodology"] == "bus-ride-cn@1"
    result = runner.invoke(
        app,
        [
            "methodology",
            "quantify",
            "electricity_saving",
            "--data",
            '{"saved_kwh": 1.5}',
            "--region",
            "四川",
            "--occurred-at",
            "2026-11-25T08:00:00+08:00",
            "--json",
        ],
    )
    assert json.loads(result.stdout)["carbon_g"] == 211  # 1.5 × 140.4 = 210.6


def test_quantify_invalid_data_is_a_clear_error() -> None:
    result = runner.invoke(app, ["methodology", "quantify", "walking", "--data", '{"steps": "lots"}'])
    assert isinstance(result.exception, InvalidInput)
    assert result.exception.code == "invalid_data" and result.exception.details == {"steps": "invalid_type"}
    result = runner.invoke(app, ["methodology", "quantify", "walking", "--data", "{steps"])
    assert isinstance(result.exception, InvalidInput) and result.exception.code == "invalid_json"
    result = runner.invoke(app, ["methodology", "quantify", "flying", "--data", "{}"])
    assert isinstance(result.exception, NotFound) and result.exception.code == "unknown_scenario"


def test_vectors_and_docs_check(tmp_path: Path) -> None:
    result = runner.invoke(app, ["methodology", "test", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["failed"] == []
    target = tmp_path / "methodologies.md"
    assert runner.invoke(app, ["methodology", "docs", "--output", str(target), "--check"]).exit_code == 1
    assert runner.invoke(app, ["methodology", "docs", "--output", str(target)]).exit_code == 0
    assert runner.invoke(app, ["methodology", "docs", "--output", str(target), "--check"]).exit_code == 0
