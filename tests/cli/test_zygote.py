"""The tests' CLI zygote (tests/cli_zygote.py) must give what `python -m tanhui.cli.main` gives: the same
exit code, output and errors, the caller's environment (COLUMNS included), and the interpreter's own exit
(a closed SQLite connection checkpoints its log). Each case runs both ways and compares."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.live import PYTHON, run_tanhui


def _same(text: str, name: str) -> str:
    """The text with the database's name and the moments (a scheme's creation time) made alike."""
    return re.sub(r"\d\d:\d\d:\d\d[\d.]*", "<time>", text.replace(name, "x.db"))  # whole or cut short by the table


def _plain(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "tanhui.cli.main", *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_forked_command_answers_as_a_new_process_does(tmp_path: Path) -> None:
    forked_env = {**os.environ, "TANHUI_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}", "TANHUI_LANG": "en", "COLUMNS": "60"}
    plain_env = {**forked_env, "TANHUI_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    cases = [
        ["scheme", "list"],  # not initialised: one line, exit 2
        ["db", "upgrade"],
        ["scheme", "create", "city", "--name", "City"],
        ["scheme", "create", "city", "--name", "again"],  # exists: one line, exit 2
        ["scheme", "list"],  # a Rich table squeezed to the caller's COLUMNS (66 wide otherwise)
        ["no-such-command"],  # usage error from click
    ]
    for args in cases:
        forked, plain = run_tanhui(args, forked_env, 120), _plain(args, plain_env)
        assert forked.returncode == plain.returncode, (args, forked.stderr, plain.stderr)
        assert _same(forked.stdout, "f.db") == _same(plain.stdout, "p.db"), args
        assert _same(forked.stderr, "f.db") == _same(plain.stderr, "p.db"), args
    assert max(len(line) for line in run_tanhui(["scheme", "list"], forked_env, 120).stdout.splitlines()) <= 60
    # the command's connection was closed at its exit, as in any process: nothing is left in the log
    assert not (tmp_path / "f.db-wal").exists() or (tmp_path / "f.db-wal").stat().st_size == 0
