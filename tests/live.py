"""A real server in a separate process on a free local port, and the CLI against its database."""

from __future__ import annotations

import atexit
import json
import locale
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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
    base_url: str,
    process: subprocess.Popen[bytes] | Detached,
    log_path: Path | None = None,
    *,
    timeout_s: float = 60,
    poll_s: float = 0.1,
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


class _Zygote:
    """The client of tests/cli_zygote.py: one per test process, started on the first command, ended with the
    process. A command another thread runs meanwhile, or one run after a fork, goes the plain way."""

    def __init__(self) -> None:
        requests_in, self._requests = os.pipe()
        self._answers, answers_out = os.pipe()
        self.process = subprocess.Popen(
            [PYTHON, str(Path(__file__).with_name("cli_zygote.py")), str(requests_in), str(answers_out)],
            pass_fds=(requests_in, answers_out),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(requests_in)
        os.close(answers_out)
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self.folder = Path(tempfile.mkdtemp(prefix="tanhui-test-cli-"))
        self._buffer = b""
        self._n = 0
        atexit.register(self.close)

    def _answer(self, deadline: float | None) -> dict[str, Any] | None:
        while b"\n" not in self._buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self._answers], [], [], wait)[0]:
                return None
            chunk = os.read(self._answers, 65536)
            if not chunk:
                raise ConnectionError("the CLI zygote ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(self, args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
        self._n += 1
        out, err = self.folder / f"{self._n}.out", self.folder / f"{self._n}.err"
        request = {"args": args, "env": env, "cwd": os.getcwd(), "stdout": str(out), "stderr": str(err)}
        os.write(self._requests, (json.dumps(request) + "\n").encode())
        pid = (self._answer(None) or {})["pid"]
        ended = self._answer(time.monotonic() + timeout)
        if ended is None:
            os.kill(pid, signal.SIGKILL)
            self._answer(None)
            raise subprocess.TimeoutExpired([PYTHON, "-m", "tanhui.cli.main", *args], timeout)
        encoding = locale.getpreferredencoding(False)
        try:
            with out.open(encoding=encoding) as o, err.open(encoding=encoding) as e:
                return subprocess.CompletedProcess([PYTHON, "-m", "tanhui.cli.main", *args], ended["status"], o.read(), e.read())
        finally:
            out.unlink(missing_ok=True)
            err.unlink(missing_ok=True)

    def spawn(self, args: list[str], env: dict[str, str], log_path: Path) -> Detached:
        request = {"args": args, "env": env, "cwd": os.getcwd(), "stdout": str(log_path), "stderr": None, "spawn": True}
        os.write(self._requests, (json.dumps(request) + "\n").encode())
        return Detached((self._answer(None) or {})["pid"])

    def close(self) -> None:
        if os.getpid() != self.owner:
            return
        os.close(self._requests)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._answers)
        shutil.rmtree(self.folder, ignore_errors=True)


class Detached:
    """What a test reads of a `subprocess.Popen` (pid, poll, wait, returncode) for a server the zygote started
    in a session of its own: not this process's child, so it is watched through a pidfd, which turns
    readable when the process ends; its exit code is not known here (-1 once it has ended)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            self._fd, self.returncode = None, -1

    def poll(self) -> int | None:
        return self.wait(0) if self.returncode is None and self._ended(0) else self.returncode

    def _ended(self, timeout: float | None) -> bool:
        return self._fd is None or bool(select.select([self._fd], [], [], timeout)[0])

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not self._ended(timeout):
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            self.returncode = -1
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        return self.returncode


_ZYGOTE: list[_Zygote] = []


def _zygote() -> _Zygote | None:
    """This process's zygote, started if need be; None where commands go the plain way (TANHUI_TEST_CLI_FORK=0)."""
    if os.environ.get("TANHUI_TEST_CLI_FORK", "1") == "0":
        return None
    if not _ZYGOTE or _ZYGOTE[0].owner != os.getpid() or _ZYGOTE[0].process.poll() is not None:
        _ZYGOTE[:] = [_Zygote()]
    return _ZYGOTE[0]


def run_tanhui(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m tanhui.cli.main ARGS`, forked from the zygote where it can be (TANHUI_TEST_CLI_FORK=0: never)."""
    zygote = _zygote()
    if zygote is not None and zygote.lock.acquire(blocking=False):
        try:
            return zygote.run(args, env, timeout)
        finally:
            zygote.lock.release()
    return subprocess.run([PYTHON, "-m", "tanhui.cli.main", *args], capture_output=True, text=True, env=env, timeout=timeout)


def cli(database_url: str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = run_tanhui(
        list(args), {**os.environ, "TANHUI_DATABASE_URL": database_url, "TANHUI_LANG": "en", **(env or {})}, timeout=300
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
        command = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers), *args]
        server_env = {**os.environ, "TANHUI_DATABASE_URL": database_url, **(env or {})}
        zygote = _zygote()
        self.process: subprocess.Popen[bytes] | Detached
        if zygote is not None and zygote.lock.acquire(blocking=False):
            try:  # forked from the zygote: the same command in a session of its own, without a new interpreter's start
                self.process = zygote.spawn(command, server_env, log_path)
            finally:
                zygote.lock.release()
        else:
            with log_path.open("wb") as log:
                self.process = subprocess.Popen(
                    [PYTHON, "-m", "tanhui.cli.main", *command],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=server_env,
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
