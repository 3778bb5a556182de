"""The claims log between real platforms over real HTTP: two `tanhui serve` processes on databases of
their own, and a third platform that lies — a small HTTP server in this test serving what a liar would,
signing with its own key, configured on B as a peer like any other.

A claims, B syncs (`tanhui interop sync`) and holds A's log; A goes offline, claims more, comes back:
B catches up, nothing lost or doubled; B's background loop syncs on its own. The liar serves a forged
head, a rewritten log, entries that do not fold to its head, a shrunk log and garbage: each time B
marks it untrusted with the reason, stores nothing of it and stops asking, until re-admitted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tanhui.domain import claims_log as cl
from tanhui.domain import platform_signing as ps
from tanhui.services import interop
from tanhui.store import Store
from tests.live import LiveServer, cli

pytestmark = pytest.mark.slow
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Liar:
    """A platform that answers the claims log's two paths with whatever ``mode`` says: honest (its
    first ``honest`` entries, signed), or one of the lies. It counts the requests it gets."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.entries = [cl.entry(s, "claim", f"{s:064x}", "walking", T0 + timedelta(seconds=s)) for s in range(1, 9)]
        self.mode = "honest"
        self.honest = 3
        self.requests = 0
        self.signed_at = 0
        liar = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                liar.requests += 1
                status, body = liar.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def head(self, size: int, root: str | None = None, key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
        root = root or cl.mth([e.leaf_data() for e in self.entries[:size]]).hex()
        # each head signed later than the one before, as a peer signs them over time: a smaller head signed in
        # the same second as a bigger one is an old answer delivered late (a retry, not a lie) to the syncing side
        self.signed_at = max(int(time.time()), self.signed_at + 1)
        return cl.sign_head(key or self.key, "cn-liar", size, self.signed_at, root).to_dict()

    def answer(self, target: str) -> tuple[int, bytes]:
        parts = urlsplit(target)
        mode, size = self.mode, self.honest
        if parts.path == "/v1/interop/head":
            head = {
                "honest": lambda: self.head(size),
                "forged head": lambda: self.head(size + 2, key=Ed25519PrivateKey.generate()),
                "rewritten log": lambda: self.head(size, root="ee" * 32),
                "entries that do not fold": lambda: self.head(size + 2),
                "shrunk log": lambda: self.head(size - 1),
                "garbage": lambda: self.head(size + 2),
            }[mode]()
            return 200, json.dumps(head).encode()
        query = parse_qs(parts.query)
        after, limit = int(query["after"][0]), int(query["limit"][0])
        if mode == "garbage":
            return 200, b"<html>Service temporarily rewritten</html>"
        page = [e.to_dict() for e in self.entries[after : after + limit]]
        if mode == "entries that do not fold" and page:
            page[-1] = {**page[-1], "fingerprint": "ff" * 32}
        return 200, json.dumps({"platform_id": "cn-liar", "entries": page, "tree_size": len(page) + after}).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def liar() -> Iterator[Liar]:
    made = Liar()
    yield made
    made.close()


def _platform(live_server_factory: Any, tmp_path: Path, name: str, key_file: Path, **options: Any) -> tuple[LiveServer, str]:
    server = live_server_factory(f"sqlite:///{tmp_path / (name + '.db')}", **options)
    made = server.tanhui(
        "interop", "init", "--platform-id", name, "--name", name, "--federation-key-file", str(key_file), "--json"
    )
    return server, json.loads(made.stdout)["public_key"]


def _claim(database_url: str, n: int, start: int) -> None:
    """Claims as A's ingest writes them (uow.interop_claims.add_own_claims): seq NULL."""
    store = Store(database_url)
    try:
        with store.unit_of_work() as uow:
            rows = [
                (f"{i:064x}", "bus_ride", uow.dialect.bind_time(T0 + timedelta(minutes=i)), 1, 1, i)
                for i in range(start, start + n)
            ]
            uow.interop_claims.add_own_claims(rows)
    finally:
        store.dispose()


def _pulled(database_url: str, peer_id: str) -> list[tuple[int, str, str]]:
    store = Store(database_url)
    try:
        with store.unit_of_work(write=False) as uow:
            peer = uow.interop.peer(peer_id)
            assert peer is not None
            return [(c.seq, c.kind, c.fingerprint) for c in uow.interop_log.peer_claims(peer.pk)]
    finally:
        store.dispose()


def _own_log(database_url: str) -> list[tuple[int, str, str]]:
    store = Store(database_url)
    try:
        with store.unit_of_work(write=False) as uow:
            return [(r.seq, r.kind, r.fingerprint) for r in uow.interop_log.log_entries(0, 10**6)]
    finally:
        store.dispose()


def _sync(server: LiveServer, *args: str) -> tuple[int, dict[str, Any]]:
    result = server.tanhui("interop", "sync", *args, "--json", check=False)
    assert result.stdout.strip(), result.stderr
    return result.returncode, {p["platform_id"]: p for p in json.loads(result.stdout)["peers"]}


def _signed_get(server: LiveServer, target: str, sender_url: str, receiver: str = "cn-a") -> httpx.Response:
    store = Store(sender_url)
    try:
        sender, key = interop.signing_key(store)
    finally:
        store.dispose()
    headers = ps.headers(key, sender, receiver, str(int(time.time())), f"n-{time.time_ns()}", "GET", target, b"")
    return httpx.get(server.base_url + target, headers=headers, timeout=30)


def test_a_peer_log_pulled_over_http_offline_and_back(live_server_factory: Any, tmp_path: Path) -> None:
    key_file = tmp_path / "federation.key"
    cli(f"sqlite:///{tmp_path / 'x.db'}", "secrets", "new-key", str(key_file))
    off = {"env": {"TANHUI_INTEROP_SYNC_SECONDS": "0"}}
    a, a_key = _platform(live_server_factory, tmp_path, "cn-a", key_file, **off)
    b, b_key = _platform(live_server_factory, tmp_path, "cn-b", key_file, **off)
    a.tanhui("interop", "peer", "add", "--platform-id", "cn-b", "--url", b.base_url, "--public-key", b_key)
    b.tanhui("interop", "peer", "add", "--platform-id", "cn-a", "--url", a.base_url, "--public-key", a_key)

    # the peer paths: signed peers only, clear errors for bad pages
    assert httpx.get(a.base_url + "/v1/interop/head").json()["error"]["code"] == "bad_signature"
    _claim(a.database_url, 3, 1)
    head = _signed_get(a, "/v1/interop/head", b.database_url)
    assert head.status_code == 200 and head.json()["tree_size"] == 3, head.text  # sequenced before it answers
    assert cl.head_verifies(ps.public_key(a_key), cl.parse_head(head.json()))  # type: ignore[arg-type]
    page = _signed_get(a, "/v1/interop/claims?after=1&limit=5", b.database_url).json()
    assert [e["seq"] for e in page["entries"]] == [2, 3] and page["tree_size"] == 3 and page["platform_id"] == "cn-a"
    for bad in ("after=-1", "after=x", "limit=0", "limit=1001", "after=1&limit=two"):
        refused = _signed_get(a, f"/v1/interop/claims?{bad}", b.database_url)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_request", (bad, refused.text)
    assert _signed_get(a, "/v1/interop/head", b.database_url, receiver="cn-x").status_code == 401

    code, first = _sync(b)
    assert code == 0 and first["cn-a"]["new_entries"] == 3 and first["cn-a"]["trust"] == "trusted"
    assert _pulled(b.database_url, "cn-a") == _own_log(a.database_url)
    log = json.loads(a.tanhui("interop", "log", "--json").stdout)
    assert log["tree_size"] == 3 and log["root_hash"] == head.json()["root_hash"]

    # A offline: B notes it, still trusts it; A claims meanwhile (more than a page) and comes back
    port = a.port
    a.stop()
    code, down = _sync(b)
    assert code == 1 and down["cn-a"]["trust"] == "trusted" and "peer_unreachable" in down["cn-a"]["error"]
    _claim(a.database_url, 1100, 4)
    a = live_server_factory(a.database_url, port=port, **off)
    code, back = _sync(b, "--peer", "cn-a")
    assert code == 0 and back["cn-a"]["new_entries"] == 1100 and back["cn-a"]["tree_size"] == 1103
    pulled = _pulled(b.database_url, "cn-a")
    assert pulled == _own_log(a.database_url) and len(set(pulled)) == 1103
    listed = {p["platform_id"]: p for p in json.loads(b.tanhui("interop", "peer", "list", "--json").stdout)["peers"]}
    assert listed["cn-a"]["tree_size"] == 1103 and listed["cn-a"]["trust"] == "trusted" and listed["cn-a"]["last_error"] is None

    # B's server syncs on its own (TANHUI_INTEROP_SYNC_SECONDS=1)
    b.stop()
    b = live_server_factory(b.database_url, env={"TANHUI_INTEROP_SYNC_SECONDS": "1"})
    _claim(a.database_url, 2, 2000)
    deadline = time.monotonic() + 60
    while len(_pulled(b.database_url, "cn-a")) < 1105 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _pulled(b.database_url, "cn-a") == _own_log(a.database_url) and len(_own_log(a.database_url)) == 1105
    metrics = httpx.get(b.base_url + "/metrics").text
    assert 'tanhui_interop_peer_untrusted{peer="cn-a"} 0.0' in metrics
    assert 'tanhui_interop_peer_tree_size{peer="cn-a"} 1105.0' in metrics
    b.stop()  # stops cleanly with its sync thread
    assert "Traceback" not in b.log()


LIES = {
    "forged head": cl.BAD_HEAD_SIGNATURE,
    "rewritten log": cl.ROOT_CHANGED,
    "entries that do not fold": cl.INCONSISTENT_LOG,
    "shrunk log": cl.LOG_SHRANK,
    "garbage": cl.MALFORMED,
}


def test_a_lying_peer_over_http_is_untrusted(live_server_factory: Any, tmp_path: Path, liar: Liar) -> None:
    key_file = tmp_path / "federation.key"
    cli(f"sqlite:///{tmp_path / 'x.db'}", "secrets", "new-key", str(key_file))
    b, _ = _platform(live_server_factory, tmp_path, "cn-b", key_file, env={"TANHUI_INTEROP_SYNC_SECONDS": "0"})
    liar_key = ps.public_key_text(liar.key)
    add = ("interop", "peer", "add", "--platform-id", "cn-liar", "--url", liar.url, "--public-key", liar_key)
    for lie, reason in LIES.items():
        b.tanhui(*add)
        liar.mode = "honest"
        code, honest = _sync(b)
        assert code == 0 and honest["cn-liar"]["new_entries"] == 3, (lie, honest)
        stored = _pulled(b.database_url, "cn-liar")
        assert [s for s, _, _ in stored] == [1, 2, 3]
        liar.mode = lie
        code, lied = _sync(b)
        assert code == 1 and lied["cn-liar"]["trust"] == "untrusted" and lied["cn-liar"]["untrusted_reason"] == reason, (
            lie,
            lied,
        )
        assert lied["cn-liar"]["new_entries"] == 0 and _pulled(b.database_url, "cn-liar") == stored, lie
        # sync from it stops: not even asked, though it would answer honestly now
        liar.mode, asked = "honest", liar.requests
        code, stopped = _sync(b)
        assert code == 1 and stopped["cn-liar"]["untrusted_reason"] == reason and liar.requests == asked, lie
        listed = json.loads(b.tanhui("interop", "peer", "list", "--json").stdout)["peers"][0]
        assert listed["trust"] == "untrusted" and listed["untrusted_reason"] == reason and listed["untrusted_at"]
        human = b.tanhui("interop", "sync", check=False)
        assert human.returncode == 1 and reason in human.stdout + human.stderr
        metrics = httpx.get(b.base_url + "/metrics").text
        assert 'tanhui_interop_peer_untrusted{peer="cn-liar"} 1.0' in metrics
        b.tanhui("interop", "peer", "remove", "cn-liar")  # re-admitted next round: read afresh
    assert "cn-liar" not in httpx.get(b.base_url + "/metrics").text  # a removed peer has no series


def test_the_dashboard_shows_an_untrusted_peer(live_server_factory: Any, tmp_path: Path, liar: Liar) -> None:
    from tests.web.helpers import csrf_of, operator

    key_file = tmp_path / "federation.key"
    cli(f"sqlite:///{tmp_path / 'x.db'}", "secrets", "new-key", str(key_file))
    b, _ = _platform(live_server_factory, tmp_path, "cn-b", key_file, env={"TANHUI_INTEROP_SYNC_SECONDS": "0"})
    b.tanhui("scheme", "create", "city", "--name", "甲城")
    store = Store(b.database_url)
    try:
        operator(store, "city", "ops")
    finally:
        store.dispose()
    b.tanhui(
        "interop", "peer", "add", "--platform-id", "cn-liar", "--url", liar.url, "--public-key", ps.public_key_text(liar.key)
    )
    assert _sync(b)[0] == 0
    liar.mode = "rewritten log"
    assert _sync(b)[1]["cn-liar"]["untrusted_reason"] == cl.ROOT_CHANGED
    for lang, words in (
        ("zh-CN", ("互联平台", "不可信", "日志被改写：条数相同，根哈希不同", "tanhui interop peer remove")),
        ("en", ("Peer platforms", "Untrusted", "its log was rewritten: the same size, another root", "peer add")),
    ):
        with httpx.Client(base_url=b.base_url, timeout=30, cookies={"lang": lang}) as client:
            csrf = csrf_of(client.get("/admin/login").text)
            assert (
                client.post("/admin/login", data={"csrf": csrf, "username": "ops", "password": "correct-horse-9"}).status_code
                == 303
            )
            page = client.get("/admin/schemes/city").text
        section = page[page.index('data-testid="peers"') :]
        assert 'data-peer="cn-liar" data-trust="untrusted"' in section and 'data-testid="untrusted-note"' in section
        for word in words:
            assert word in section, (lang, word)
