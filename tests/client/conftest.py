"""`live_server`: a real Tanhui server in its own process, on a free port, on a fresh SQLite file.

The server is started exactly as an operator would (``python -m uvicorn tanhui.app:create_app
--factory``) after ``tanhui db upgrade``, so a test through it crosses real sockets, real request
parsing and the real signature check. ``server.tanhui(...)`` runs the CLI against the same database
(scheme and partner set-up, secret rotation, ...). For a server with other settings, use
``start_live_server(tmp_path, env={...})`` as a context manager.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.live import free_port, run_tanhui, wait_for_healthz

PYTHON = sys.executable
STARTUP_TIMEOUT_S = 60.0
CLI_TIMEOUT_S = 120.0


class RunningServer:
    """What a test gets: where the server listens, its database, and the CLI against it."""

    def __init__(self, base_url: str, database_url: str, log_path: Path, env: Mapping[str, str]) -> None:
        self.base_url = base_url
        self.database_url = database_url
        self.log_path = log_path
        self._env = dict(env)

    def tanhui(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``tanhui ARGS`` on the server's database; English output; never raises unless ``check``."""
        return run_cli(self.database_url, *args, env=self._env, check=check)

    def partner(self, scheme: str, name: str, scenarios: str) -> dict[str, Any]:
        """``tanhui partner create ... --json`` parsed, or an AssertionError with the CLI's stderr."""
        done = self.tanhui("partner", "create", "--scheme", scheme, "--name", name, "--scenarios", scenarios, "--json")
        assert done.returncode == 0, f"tanhui partner create failed ({done.returncode}): {done.stderr or done.stdout}"
        return dict(json.loads(done.stdout))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def run_cli(
    database_url: str, *args: str, env: Mapping[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    done = run_tanhui(
        list(args), {**os.environ, "TANHUI_LANG": "en", **(env or {}), "TANHUI_DATABASE_URL": database_url}, CLI_TIMEOUT_S
    )
    if check and done.returncode != 0:
        raise AssertionError(f"tanhui {' '.join(args)} exited {done.returncode}: {done.stderr or done.stdout}")
    return done


@contextmanager
def start_live_server(directory: Path, env: Mapping[str, str] | None = None) -> Iterator[RunningServer]:
    """Migrate a fresh SQLite database in ``directory``, serve it, stop the server on exit."""
    database_url = f"sqlite:///{directory / 'tanhui.db'}"
    extra = dict(env or {})
    run_cli(database_url, "db", "upgrade", env=extra, check=True)
    port = free_port()
    log_path = directory / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [PYTHON, "-m", "uvicorn", "tanhui.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **extra, "TANHUI_DATABASE_URL": database_url},
        )
        server = RunningServer(f"http://127.0.0.1:{port}", database_url, log_path, extra)
        try:
            wait_for_healthz(server.base_url, process, log_path, timeout_s=STARTUP_TIMEOUT_S)
            yield server
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the one process we started, by its handle: SIGTERM, then SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A real server on a free port with a fresh SQLite database; stopped at teardown."""
    with start_live_server(tmp_path) as server:
        yield server
