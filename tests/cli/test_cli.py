"""The `tanhui` command as a person runs it: a real process, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tanhui.services import ledger
from tanhui.store import Store
from tests.live import run_tanhui
from tests.store.helpers import build

TANHUI = [sys.executable, "-m", "tanhui.cli.main"]


def run(url: str, *args: str, lang: str = "zh-CN") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TANHUI_DATABASE_URL": url, "TANHUI_LANG": lang}
    return run_tanhui(list(args), env, 120)  # a process of its own, forked from one that imported the CLI (tests/live.py)


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_upgrade_create_list_verify(fresh_store_url: str) -> None:
    assert run(fresh_store_url, "db", "upgrade").returncode == 0
    created = run(fresh_store_url, "scheme", "create", "luzhou", "--name", "绿芽积分", "--json")
    assert created.returncode == 0, created.stderr
    scheme = json.loads(created.stdout)
    assert scheme["id"] == "luzhou" and scheme["name"] == "绿芽积分" and scheme["timezone"] == "Asia/Shanghai"
    run(fresh_store_url, "scheme", "create", "bank", "--name", "Bank", "--timezone", "UTC")
    listed = json.loads(run(fresh_store_url, "scheme", "list", "--json").stdout)
    assert [s["id"] for s in listed] == ["bank", "luzhou"]
    human = run(fresh_store_url, "scheme", "list")
    assert "绿芽积分" in human.stdout
    verified = run(fresh_store_url, "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("OK")
    assert run(fresh_store_url, "db", "check").returncode == 0


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_bad_input_is_one_line_and_non_zero(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    not_ready = run(url, "scheme", "list")
    assert not_ready.returncode != 0 and "tanhui db upgrade" in not_ready.stderr
    assert "Traceback" not in not_ready.stderr
    run(url, "db", "upgrade")
    run(url, "scheme", "create", "luzhou", "--name", "绿芽积分")
    for args, code in [
        (("scheme", "create", "luzhou", "--name", "again"), "scheme_exists"),
        (("scheme", "create", "Bad Id", "--name", "x"), "invalid_scheme_id"),
        (("scheme", "create", "city", "--name", "x", "--timezone", "Mars/Base"), "invalid_timezone"),
        (("verify", "--scheme", "nope"), "scheme_not_found"),
    ]:
        result = run(url, *args, lang="en")
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith(f"error[{code}]: ")
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
    bad_url = run("mysql://nobody@127.0.0.1/x", "scheme", "list")
    assert bad_url.returncode == 2 and "Traceback" not in bad_url.stderr


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_tampered_amount_is_named_by_verify(fresh_store_url: str) -> None:
    assert run(fresh_store_url, "db", "upgrade").returncode == 0
    store = Store(fresh_store_url)
    try:
        f = build(store, "city", people=2)
        ledger.transfer(store, "city", [(f.issuance, f.people[0], 100)], kind="reward", idempotency_key="a")
        victim = ledger.transfer(store, "city", [(f.people[0], f.people[1], 40)], kind="gift", idempotency_key="b")
        ledger.transfer(store, "city", [(f.issuance, f.people[1], 5)], kind="reward", idempotency_key="c")
        assert victim.entry is not None
        assert run(fresh_store_url, "verify").returncode == 0

        # An attacker with database access: switch off the append-only guard and rewrite one amount.
        with store.engine.begin() as conn:
            if store.dialect.name == "postgresql":
                conn.execute(text("ALTER TABLE postings DISABLE TRIGGER USER"))
            else:
                conn.execute(text("DROP TRIGGER postings_no_update"))
            conn.execute(text("UPDATE postings SET amount = 4 WHERE entry_id = :id"), {"id": victim.entry.id})
    finally:
        store.dispose()
    result = run(fresh_store_url, "verify", lang="en")
    assert result.returncode == 1
    assert f"entry {victim.entry.id} " in result.stderr.splitlines()[0]
    assert "hash mismatch" in result.stderr.splitlines()[0]
    report = json.loads(run(fresh_store_url, "verify", "--json").stdout)
    assert report["ok"] is False and report["entries"] == 3
