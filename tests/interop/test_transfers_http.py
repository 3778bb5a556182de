"""Credit transfer A -> B through two `tanhui serve` processes, two databases and real HTTP, with a
fault-injecting proxy between them (A's peer URL for B is the proxy): messages duplicated, answers
lost after B minted, the origin's CLI SIGKILLed before and after B minted, B SIGKILLed before and after
minting, a refusal. After `tanhui credits transfers resume` every transfer ended exactly once: what B
minted is exactly what A transferred, no serial is live in both registries, `tanhui credits verify` is
clean on both, and both public registries show the movement. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tanhui.services import interop_client, organisations, schemes
from tanhui.services.registry import issuance, movements
from tanhui.store import Store
from tests.live import PYTHON, LiveServer, cli
from tests.registry.helpers import NOW, VINTAGE, city, issue_day

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SUPPLY = 9  # credits the origin's organisation holds


class Proxy:
    """Between A and B: ``pass`` forwards; ``duplicate`` forwards twice (B sees the same signed request
    again) and answers with the second answer; ``drop`` forwards and closes without an answer (A sees a
    timeout after B acted); ``hold_request`` / ``hold_response`` stop before / after forwarding until
    ``release`` (while a test kills a process)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.mode = "pass"
        self.arrived = threading.Event()  # a request reached the proxy (hold_request) or B answered (hold_response)
        self.released = threading.Event()
        self.forwarded = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {
                    k: v for k, v in self.headers.items() if k.lower().startswith("tanhui-") or k.lower() == "content-type"
                }
                mode = proxy.mode
                if mode == "hold_request":
                    proxy.arrived.set()
                    proxy.released.wait(60)
                    self.close_connection = True
                    return
                try:
                    answer = proxy.forward(self.command, self.path, headers, body)
                    if mode == "duplicate":
                        answer = proxy.forward(self.command, self.path, headers, body)
                except httpx.HTTPError:
                    self.send_response(502)
                    self.end_headers()
                    return
                if mode in ("hold_response", "drop"):
                    proxy.arrived.set()
                    if mode == "hold_response":
                        proxy.released.wait(60)
                    self.close_connection = True
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = _handle
            do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        self.forwarded += 1
        return httpx.request(method, self.target + path, content=body, headers=headers, timeout=30)

    def set(self, mode: str) -> None:
        self.arrived.clear()
        self.released.clear()
        self.mode = mode

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()


@pytest.fixture
def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Platform A on SQLite, B on PostgreSQL: one run crosses both engines (this scenario's ~40 CLI runs
    and three server starts made it the suite's slowest test when it ran once per engine; the services
    under it run on each engine in test_transfers_services.py)."""
    databases = request.getfixturevalue("pg_databases")
    b = databases.create()
    yield f"sqlite:///{tmp_path / 'a.db'}", b
    databases.drop(b)


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def _out(a: LiveServer, org_a: str, org_b: str, key: str, quantity: int = 1) -> subprocess.CompletedProcess[str]:
    return a.tanhui(
        "credits", "transfer-out", "--scheme", "citya", "--from", org_a, "--to-platform", "cn-b", "--to-org", org_b,
        "--quantity", str(quantity), "--key", key, "--json", check=False,
    )  # fmt: skip


def _out_process(a: LiveServer, org_a: str, org_b: str, key: str) -> subprocess.Popen[str]:
    args = ["credits", "transfer-out", "--scheme", "citya", "--from", org_a, "--to-platform", "cn-b", "--to-org", org_b]
    return subprocess.Popen(
        [PYTHON, "-m", "tanhui.cli.main", *args, "--quantity", "1", "--key", key, "--json"],
        env={**os.environ, "TANHUI_DATABASE_URL": a.database_url, "TANHUI_LANG": "en"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def _sigkill(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def _transfers(server: LiveServer) -> dict[str, dict[str, Any]]:
    found = httpx.get(server.base_url + "/v1/registry/transfers", timeout=30).json()["transfers"]
    return {t["transfer_id"]: t for t in found}


def _setup(a_url: str, b_url: str, tmp_path: Path, live_server_factory: Any) -> tuple[LiveServer, LiveServer, str, str]:
    key = tmp_path / "federation.key"
    cli(a_url, "secrets", "new-key", str(key))
    a, b = live_server_factory(a_url), live_server_factory(b_url)
    made = {
        s: _json(s.tanhui("interop", "init", "--platform-id", n, "--name", n, "--federation-key-file", str(key), "--json"))
        for s, n in ((a, "cn-a"), (b, "cn-b"))
    }
    store_a, store_b = Store(a_url), Store(b_url)
    try:
        c = city(store_a, "citya")
        c.tonnes(SUPPLY)
        issuance.issue(store_a, "citya", VINTAGE, as_of=issue_day(), now=NOW)
        org_a = organisations.create(store_a, "citya", "甲城公交集团").public_id
        movements.transfer(store_a, "citya", from_holder="scheme", to_holder=org_a, quantity=SUPPLY, idempotency_key="sale")
        schemes.create_scheme(store_b, "cityb", "乙城积分")
        org_b = organisations.create(store_b, "cityb", "甲城公交集团（乙城）").public_id
    finally:
        store_a.dispose()
        store_b.dispose()
    b.tanhui("interop", "peer", "add", "--platform-id", "cn-a", "--url", a.base_url, "--public-key", made[a]["public_key"])
    return a, b, org_a, org_b


def test_transfer_between_two_servers_ends_exactly_once(
    two_urls: tuple[str, str], tmp_path: Path, live_server_factory: Any
) -> None:
    a, b, org_a, org_b = _setup(*two_urls, tmp_path, live_server_factory)
    proxy = Proxy(b.base_url)
    try:
        a.tanhui("interop", "peer", "add", "--platform-id", "cn-b", "--url", proxy.url, "--public-key",
                 httpx.get(b.base_url + "/v1/interop/platform").json()["public_key"])  # fmt: skip
        b = _faults(a, b, proxy, org_a, org_b, live_server_factory)
        _check_both(a, b, org_a, org_b)
    finally:
        proxy.close()


def _faults(a: LiveServer, b: LiveServer, proxy: Proxy, org_a: str, org_b: str, factory: Any) -> LiveServer:
    # 0. bad requests: one line, non-zero exit, nothing in escrow
    unknown_peer = a.tanhui(
        "credits", "transfer-out", "--scheme", "citya", "--from", org_a, "--to-platform", "cn-z", "--to-org", org_b,
        "--quantity", "1", check=False,
    )  # fmt: skip
    assert unknown_peer.returncode not in (0, 1) and "peer_not_found" in unknown_peer.stderr
    too_many = _out(a, org_a, org_b, "too-many", quantity=SUPPLY + 1)
    assert too_many.returncode not in (0, 1) and "insufficient_credits" in too_many.stderr

    # 1. plain: completed at once; the same command again replays the same transfer
    first = _out(a, org_a, org_b, "plain", quantity=2)
    assert first.returncode == 0, first.stderr
    assert _json(first)["state"] == "completed" and _json(first)["quantity"] == 2
    assert _json(_out(a, org_a, org_b, "plain", quantity=2))["transfer_id"] == _json(first)["transfer_id"]

    # 2. the network duplicates the signed request: B refuses the copy (replayed nonce), A stays pending
    proxy.set("duplicate")
    dup = _out(a, org_a, org_b, "dup")
    assert dup.returncode == 1 and _json(dup)["state"] == "pending" and _json(dup)["error"]["status"] == 401

    # 3. B minted but its answer is lost (a timeout for A): pending
    proxy.set("drop")
    lost = _out(a, org_a, org_b, "lost")
    assert lost.returncode == 1 and _json(lost)["state"] == "pending"

    # 4. A's process SIGKILLed while its offer waits before B (nothing minted yet)
    proxy.set("hold_request")
    process = _out_process(a, org_a, org_b, "kill-a-before")
    assert proxy.arrived.wait(60)
    _sigkill(process)
    proxy.released.set()

    # 5. A's process SIGKILLed after B minted, before the receipt reached it
    proxy.set("hold_response")
    process = _out_process(a, org_a, org_b, "kill-a-after")
    assert proxy.arrived.wait(60)
    _sigkill(process)
    proxy.released.set()
    pending = {t["transfer_id"] for t in _transfers(a).values() if t["state"] == "pending"}
    assert len(pending) == 4

    # 6. B SIGKILLed after minting, before its answer left; then B SIGKILLed before an offer reached it
    proxy.set("hold_response")
    process = _out_process(a, org_a, org_b, "kill-b-after")
    assert proxy.arrived.wait(60)
    os.killpg(b.process.pid, signal.SIGKILL)
    b.process.wait(30)
    proxy.released.set()
    process.wait(60)
    proxy.set("pass")
    stopped = _out(a, org_a, org_b, "kill-b-before")  # B is down: no answer at all
    assert stopped.returncode == 1 and _json(stopped)["state"] == "pending"
    b = factory(b.database_url)
    proxy.target = b.base_url

    # 7. resume: every pending transfer ends once; resuming again has nothing to do
    resumed = a.tanhui("credits", "transfers", "resume", "--json")
    assert [t["state"] for t in _json(resumed)] == ["completed"] * 6
    assert _json(a.tanhui("credits", "transfers", "resume", "--json")) == []

    # 8. a refusal: an organisation B does not know; the credits go back to the holder
    refused = _out(a, org_a, org_b.replace("org_", "org_x"), "refused")
    assert refused.returncode == 0 and _json(refused)["state"] == "cancelled"
    assert _json(refused)["code"] == "organisation_not_found"
    return b


def _check_both(a: LiveServer, b: LiveServer, org_a: str, org_b: str) -> None:
    on_a, on_b = _transfers(a), _transfers(b)
    completed = {k: t for k, t in on_a.items() if t["state"] == "completed"}
    assert len(completed) == 7 and sum(t["quantity"] for t in completed.values()) == 8
    # what B minted is exactly what A settled: one receipt per transfer, the same on both sides
    minted_b = {k: t for k, t in on_b.items() if t["state"] == "completed"}
    assert set(minted_b) == set(completed)
    for k, t in completed.items():
        assert t["receipt"] == minted_b[k]["receipt"] and minted_b[k]["origin_platform"] == "cn-a"
        assert minted_b[k]["origin_blocks"] == t["origin_blocks"]
    holdings_a = httpx.get(a.base_url + "/v1/registry/holdings", params={"scheme": "citya", "organisation": org_a}).json()
    holdings_b = httpx.get(b.base_url + "/v1/registry/holdings", params={"scheme": "cityb", "organisation": org_b}).json()
    held_a = sum(h["held"] for h in holdings_a["holdings"])
    held_b = sum(h["held"] for h in holdings_b["holdings"])
    assert (held_a, held_b) == (SUPPLY - 8, 8)  # no serial live in both registries, none lost
    # A asks B for a transfer's receipt (a signed peer request): the one A stored
    some = next(iter(completed))
    store_a = Store(a.database_url)
    try:
        asked = interop_client.call_peer(store_a, "cn-b", "GET", f"/v1/interop/transfers/{some}")
        unknown = interop_client.call_peer(store_a, "cn-b", "GET", "/v1/interop/transfers/TRF-none")
    finally:
        store_a.dispose()
    assert asked.status_code == 200 and asked.json()["receipt"] == completed[some]["receipt"]
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "transfer_not_found"
    # the public pages show the movement on both sides
    page_a, page_b = (httpx.get(s.base_url + "/registry", headers={"Accept-Language": "en"}).text for s in (a, b))
    assert some in page_a and "cn-b" in page_a and "Transferred (t)" in page_a
    assert some in page_b and "from platform" in page_b and completed[some]["origin_blocks"][0] in page_b
    for server in (a, b):
        report = server.tanhui("credits", "verify", "--json", check=False)
        assert report.returncode == 0 and _json(report)["ok"], report.stdout
        # and against the other side's public registry: every transfer ended the same way, same receipt
        crossed = _json(server.tanhui("credits", "verify", "--peers", "--json", check=False))
        assert crossed["ok"] and crossed["peers"]["problems"] == crossed["peers"]["notes"] == [], crossed["peers"]
        assert len(crossed["peers"]["checked"]) == 8
    # a serial transferred away can never be spent on A again
    spend = a.tanhui("credits", "retire", "--scheme", "citya", "--holder", org_a, "--quantity", str(SUPPLY - 7),
                     "--beneficiary", "x", "--purpose", "y", check=False)  # fmt: skip
    assert spend.returncode != 0 and "insufficient_credits" in spend.stderr + spend.stdout
