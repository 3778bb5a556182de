"""`tanhui demo --second-city`: a second deployment federates with the running demo city and refuses
the demo city's bus trip as a behaviour already credited there (issue 16, "Done when")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.live import cli


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo(*args: str) -> list[str]:
    return [sys.executable, "-m", "tanhui.cli.main", "demo", *args]


@pytest.mark.slow  # builds two small cities with their servers
def test_second_city_refuses_the_first_citys_trip(tmp_path: Path) -> None:
    env = {**os.environ, "TANHUI_LANG": "en", "TANHUI_INTEROP_SYNC_SECONDS": "0"}
    first_port, second_port = _free_port(), _free_port()
    first_db = tmp_path / "demo.db"
    log = (tmp_path / "first.out").open("w")
    first = subprocess.Popen(
        _demo("--people", "40", "--days", "2", "--port", str(first_port), "--database", str(first_db)),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        first_url = f"http://127.0.0.1:{first_port}"
        _wait_for_line(tmp_path / "first.out", "federation: bus trip", first)
        assert httpx.get(first_url + "/v1/interop/platform", timeout=5).json()["platform_id"] == "cn-luzhou"
        second = subprocess.run(
            _demo(
                "--second-city",
                "--people",
                "30",
                "--days",
                "2",
                "--no-serve",
                "--port",
                str(second_port),
                "--database",
                str(tmp_path / "demo-2.db"),
                "--first-url",
                first_url,
                "--first-database",
                str(first_db),
            ),
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert second.returncode == 0, second.stderr[-2000:] + second.stdout[-2000:]
        line = next(x for x in second.stdout.splitlines() if x.startswith("federation: pulled"))
        assert "rejected duplicate_behaviour" in line and "claimed_by cn-luzhou" in line, line
        first_out = (tmp_path / "first.out").read_text()
        assert "FED-DEMO-TRIP-0001 reported here (credited)" in first_out
        for url in (f"sqlite:///{first_db}", f"sqlite:///{tmp_path / 'demo-2.db'}"):
            assert cli(url, "verify").returncode == 0
        peers = cli(f"sqlite:///{first_db}", "interop", "peer", "list", "--json").stdout
        assert "cn-yibin" in peers
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(timeout=60)
        log.close()


def test_second_city_needs_the_first_running(tmp_path: Path) -> None:
    result = subprocess.run(
        _demo(
            "--second-city", "--no-serve", "--database", str(tmp_path / "b.db"), "--first-url", f"http://127.0.0.1:{_free_port()}"
        ),
        capture_output=True,
        text=True,
        env={**os.environ, "TANHUI_LANG": "en"},
        timeout=120,
    )
    assert result.returncode != 0
    assert "the first demo city is not running" in result.stderr
    assert "Traceback" not in result.stderr


def _wait_for_line(path: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(1800):
        if text in path.read_text():
            return
        if process.poll() is not None:
            raise AssertionError("the demo city stopped:\n" + path.read_text()[-3000:])
        time.sleep(0.1)
    raise AssertionError("the demo city did not finish:\n" + path.read_text()[-3000:])
