"""`tanhui demo` builds a living city through the real API, the same for the same seed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import cli


def build(tmp_path: Path, name: str, seed: int) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tanhui.cli.main",
            "demo",
            "--people",
            "120",
            "--days",
            "6",
            "--seed",
            str(seed),
            "--no-serve",
            "--database",
            str(tmp_path / name),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TANHUI_LANG": "en"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def figures(output: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith("demo city built"))
    return re.sub(r"built in \d+ s", "built", line)


@pytest.mark.slow  # builds the demo city three times
def test_demo_city_is_deterministic_and_verifies(tmp_path: Path) -> None:
    first = build(tmp_path, "a.db", seed=3)
    again = build(tmp_path, "b.db", seed=3)
    other = build(tmp_path, "c.db", seed=4)
    assert figures(first) == figures(again)
    assert figures(first) != figures(other)
    assert "caught by the rules" in first and "implausible" in first  # the step-counter cheats
    assert cli(f"sqlite:///{tmp_path / 'a.db'}", "verify").returncode == 0
    items = cli(f"sqlite:///{tmp_path / 'a.db'}", "market", "list", "--scheme", "luzhou", "--json").stdout
    assert items.count('"id"') >= 100
    _no_audit_entry_ahead_of_the_clock(f"sqlite:///{tmp_path / 'a.db'}")


def _no_audit_entry_ahead_of_the_clock(url: str) -> None:
    """The seed once shipped yesterday's orders "tomorrow": the audit log showed times still to come (issue 17).
    (A city this small may ship nothing; every seeded entry is checked all the same.)"""
    from datetime import UTC, datetime

    from tanhui.services import audit
    from tanhui.store import Store

    store = Store(url)
    try:
        entries = audit.list_entries(store, "luzhou", None, 500)
    finally:
        store.dispose()
    now = datetime.now(UTC)
    assert entries
    ahead = [(e.action, e.created_at.isoformat()) for e in entries if e.created_at > now]
    assert not ahead, ahead
