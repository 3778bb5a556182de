"""Issue 18, TLS: `tanhui serve --certfile/--keyfile` serves HTTPS, and the cookies are `Secure` whenever the
site is HTTPS: TLS of its own, a trusted proxy's `X-Forwarded-Proto: https`, or `TANHUI_COOKIE_SECURE=1`.
A certificate the server cannot use is one line and exit 2 before anything starts.

The certificate is made here with the `cryptography` library (self-signed for 127.0.0.1 and localhost).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import ssl
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tanhui.store import Store
from tests.live import PYTHON, cli, free_port
from tests.web.helpers import csrf_of, operator

SESSION_COOKIES = ("tanhui_csrf", "tanhui_admin", "lang")


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certfile, keyfile


class Server:
    """`tanhui serve` with extra arguments, on http or https."""

    def __init__(self, database_url: str, log: Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.https = "--certfile" in args
        self.base_url = f"{'https' if self.https else 'http'}://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.log = log
        self.process = subprocess.Popen(
            [PYTHON, "-m", "tanhui.cli.main", "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TANHUI_DATABASE_URL": database_url, **(env or {})},
            start_new_session=True,
        )

    def wait(self, verify: Any) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-2000:]
            try:
                if httpx.get(self.base_url + "/healthz", verify=verify, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("no answer: " + self.log.read_text(errors="replace")[-2000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        self._log.close()


def _cookies(answer: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie of an answer by name, with its attributes."""
    return {line.split("=", 1)[0]: line for line in answer.headers.get_list("set-cookie")}


def _secure(line: str) -> bool:
    return "secure" in [part.strip().lower() for part in line.split(";")[1:]]


def _sign_in_cookies(base_url: str, verify: Any = True, headers: dict[str, str] | None = None) -> dict[str, str]:
    """The cookies a browser gets from the sign-in page, an operator's sign-in and the language switch.
    Cookies are carried by hand: a client's jar would not send a Secure cookie back over plain HTTP (the
    proxy cases, where the browser's side of the proxy is HTTPS)."""
    headers = headers or {}
    with httpx.Client(base_url=base_url, verify=verify, timeout=30) as http:
        page = http.get("/admin/login", headers=headers)
        seen = _cookies(page)
        carried = {"Cookie": "; ".join(line.split(";")[0] for line in seen.values())}
        http.cookies.clear()
        signed = http.post(
            "/admin/login",
            data={"csrf": csrf_of(page.text), "username": "ops-tls", "password": "correct-horse-9"},
            headers={**headers, **carried},
        )
        assert signed.status_code == 303, signed.text
        seen.update(_cookies(signed))
        http.cookies.clear()
        seen.update(_cookies(http.get("/lang/en?next=/", headers=headers)))
    assert set(SESSION_COOKIES) <= set(seen), seen
    return seen


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tls.db'}"
    cli(url, "db", "upgrade")
    cli(url, "scheme", "create", "city", "--name", "绿芽积分")
    store = Store(url)
    try:
        operator(store, "city", "ops-tls")
    finally:
        store.dispose()
    return url


@pytest.mark.slow  # four real servers
def test_https_and_the_proxy_ways_give_secure_cookies(database: str, tmp_path: Path) -> None:
    certfile, keyfile = self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(certfile))
    servers: list[Server] = []
    try:
        tls = Server(database, tmp_path / "tls.log", ("--certfile", str(certfile), "--keyfile", str(keyfile)))
        plain = Server(database, tmp_path / "plain.log")
        distrustful = Server(database, tmp_path / "distrust.log", ("--forwarded-allow-ips", "10.99.99.99"))
        forced = Server(database, tmp_path / "forced.log", env={"TANHUI_COOKIE_SECURE": "1"})
        servers += [tls, plain, distrustful, forced]
        tls.wait(trust)
        for server in servers[1:]:
            server.wait(True)
        # TLS of its own: https answers, and every cookie is Secure
        health = httpx.get(tls.base_url + "/healthz", verify=trust, timeout=30)
        assert health.status_code == 200 and health.url.scheme == "https"
        assert all(_secure(line) for line in _sign_in_cookies(tls.base_url, trust).values())
        with pytest.raises(httpx.RemoteProtocolError):  # and it does not talk plain HTTP
            httpx.get(f"http://127.0.0.1:{tls.port}/healthz", timeout=5)
        # plain HTTP: no Secure flag (the cookies must still work on http://127.0.0.1 in development)...
        assert not any(_secure(line) for line in _sign_in_cookies(plain.base_url).values())
        # ...unless a trusted proxy (127.0.0.1 by default) says the client came over HTTPS
        proxied = {"X-Forwarded-Proto": "https"}
        assert all(_secure(line) for line in _sign_in_cookies(plain.base_url, headers=proxied).values())
        # a proxy header from an address not in --forwarded-allow-ips is ignored
        assert not any(_secure(line) for line in _sign_in_cookies(distrustful.base_url, headers=proxied).values())
        # TANHUI_COOKIE_SECURE=1: Secure even when the server itself sees plain HTTP
        assert all(_secure(line) for line in _sign_in_cookies(forced.base_url).values())
    finally:
        for server in servers:
            server.stop()


def test_a_certificate_the_server_cannot_use_is_one_line_and_exit_2(database: str, tmp_path: Path) -> None:
    certfile, keyfile = self_signed(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = self_signed(other)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = {
        "missing file": (("--certfile", str(tmp_path / "nope.pem"), "--keyfile", str(keyfile)), "nope.pem"),
        "a key without its certificate": (("--keyfile", str(keyfile)), "--certfile"),
        "another certificate's key": (("--certfile", str(certfile), "--keyfile", str(other_key)), "does not belong"),
        "not a certificate": (("--certfile", str(garbage), "--keyfile", str(keyfile)), "not a PEM certificate"),
        "not a key": (("--certfile", str(certfile), "--keyfile", str(garbage)), "not a PEM private key"),
    }
    for case, (args, says) in cases.items():
        done = cli(database, "serve", "--port", str(free_port()), *args, check=False)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (case, done.returncode, done.stderr)
        assert len(lines) == 1 and lines[0].startswith("error[tls_") and says in lines[0], (case, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout, case
