"""A real server in a separate process on a free local port, and the CLI against its database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tanhui.domain import signing

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_healthz(
    base_url: str, process: subprocess.Popen[bytes], log_path: Path | None = None, *, timeout_s: float = 60, poll_s: float = 0.1
) -> None:
    """Return once ``base_url/healthz`` answers 200; fail with the server log's tail if the process
    exits first or nothing answers within ``timeout_s`` (the one start-up wait of every test server)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{_log_tail(log_path)}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(poll_s)
    raise AssertionError(f"server did not answer /healthz within {timeout_s:g} s:\n{_log_tail(log_path)}")


def _log_tail(log_path: Path | None, chars: int = 3000) -> str:
    if log_path is None or not log_path.exists():
        return "(no log)"
    return log_path.read_text(errors="replace")[-chars:]


def cli(database_url: str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [PYTHON, "-m", "tanhui.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TANHUI_DATABASE_URL": database_url, "TANHUI_LANG": "en", **(env or {})},
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"tanhui {' '.join(args)} failed: {result.stderr}")
    return result


class LiveServer:
    def __init__(
        self,
        database_url: str,
        log_path: Path,
        env: dict[str, str] | None = None,
        workers: int = 1,
        args: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        self.database_url = database_url
        self.port = port or free_port()  # a port of its own: a server restarted where its peers know it
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "tanhui.cli.main",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                *args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TANHUI_DATABASE_URL": database_url, **(env or {})},
            start_new_session=True,
        )
        try:
            self._wait()
        except AssertionError:
            self.stop()  # no process or open log left behind by a server that never came up
            raise

    def _wait(self, timeout_s: float = 60) -> None:
        wait_for_healthz(self.base_url, self.process, self.log_path, timeout_s=timeout_s)

    def tanhui(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return cli(self.database_url, *args, check=check)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Partner:
    """Signed raw requests for tests that need to bend the rules (the SDK never does)."""

    def __init__(self, base_url: str, partner_id: str, secret: str) -> None:
        self.base_url = base_url
        self.partner_id = partner_id
        self.secret = secret
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self._n = 0

    def nonce(self) -> str:
        self._n += 1
        return f"test-nonce-{time.time_ns()}-{self._n}"

    def headers(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or self.nonce()
        return {
            "Tanhui-Partner": self.partner_id,
            "Tanhui-Timestamp": ts,
            "Tanhui-Nonce": nonce,
            "Tanhui-Signature": signing.sign(secret or self.secret, ts, nonce, method, path, body),
            "Content-Type": "application/json",
        }

    def request(
        self, method: str, path: str, payload: Any = None, *, raw: bytes | None = None, **header_options: Any
    ) -> httpx.Response:
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode())
        return self.http.request(method, path, content=body, headers=self.headers(method, path, body, **header_options))

    def consent(self, user_ref: str, **extra: Any) -> httpx.Response:
        return self.request(
            "POST",
            "/v1/partner/consents",
            {"user_ref": user_ref, "scopes": ["behaviour:report"], "granted_at": "2026-01-01T00:00:00+08:00", **extra},
        )

    def events(self, events: list[dict[str, Any]]) -> httpx.Response:
        return self.request("POST", "/v1/partner/events", {"events": events})

    def close(self) -> None:
        self.http.close()


def own_binding_code(database_url: str, account_id: int | str) -> str:
    """A binding code for the person, asked of the service directly (for tests that set up a second source
    without going through a session)."""
    from tanhui.services import consent
    from tanhui.store import Store

    store = Store(database_url)
    try:
        return str(consent.new_binding_code(store, int(account_id))["code"])
    finally:
        store.dispose()


def create_partner(
    server_or_url: LiveServer | str, scheme: str, name: str, scenarios: str, base_url: str | None = None
) -> Partner:
    url = server_or_url.database_url if isinstance(server_or_url, LiveServer) else server_or_url
    base = server_or_url.base_url if isinstance(server_or_url, LiveServer) else base_url
    assert base is not None
    created = json.loads(
        cli(url, "partner", "create", "--scheme", scheme, "--name", name, "--scenarios", scenarios, "--json").stdout
    )
    return Partner(base, created["partner_id"], created["secret"])
