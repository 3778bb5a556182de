"""Children end with the command that started them: the importer's workers and the demo's server.

A `kill -9` of the parent gives it no chance to clean up, so each child asks the kernel to end it
with its parent (tanhui/lifecycle.py); a SIGTERM runs the parent's own clean-up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.test_import import WHEN, prepare
from tests.live import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find child processes")


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid``, at any depth."""
    found, todo = [], [pid]
    while todo:
        below = children(todo.pop())
        found.extend(below)
        todo.extend(below)
    return found


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_demo(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tanhui.cli.main",
            "demo",
            "--people",
            "10",
            "--days",
            "1",
            "--port",
            str(port),
            "--database",
            str(tmp_path / "demo.db"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TANHUI_LANG": "en"},
    )


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_stopping_the_demo_stops_its_server(tmp_path: Path, how: signal.Signals) -> None:
    port = free_port()
    demo = start_demo(tmp_path, port)
    try:
        wait_until(lambda: serving(port), 120, "the demo's server")
        servers = children(demo.pid)
        assert servers, "the demo runs its server as a child process"
        demo.send_signal(how)
        demo.wait(timeout=60)
        wait_until(lambda: not any(alive(pid) for pid in servers), 30, "the server to stop with the demo")
        assert not serving(port)
    finally:
        if demo.poll() is None:
            demo.kill()


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_killing_the_importer_stops_its_workers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tanhui.db'}"
    partner = prepare(url)
    path = tmp_path / "events.jsonl"
    with path.open("w", encoding="utf-8") as out:  # long enough that the import is still running when killed
        for i in range(200_000):
            out.write(
                json.dumps(
                    {"event_id": f"w{i}", "user_ref": "u1", "scenario": "walking", "occurred_at": WHEN, "data": {"steps": 10000}}
                )
                + "\n"
            )
    importer = subprocess.Popen(
        [sys.executable, "-m", "tanhui.cli.main", "import", "events", str(path), "--partner", partner, "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TANHUI_DATABASE_URL": url},
    )
    try:
        # the workers are forked by a fork server, the importer's child: every descendant must end
        wait_until(lambda: len(descendants(importer.pid)) >= 3, 60, "the importer's two workers")
        workers = descendants(importer.pid)
        time.sleep(1.0)  # the workers are importing
        assert importer.poll() is None, "the import finished before it could be killed; make the file longer"
        importer.kill()
        importer.wait(timeout=10)
        wait_until(lambda: not any(alive(pid) for pid in workers), 30, "the workers to stop with the importer")
    finally:
        if importer.poll() is None:
            importer.kill()
