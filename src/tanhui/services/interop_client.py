"""Requests this platform sends to a peer, signed with its Ed25519 key (docs/interop.md).

The path signed is the path the peer's server receives: the peer's base URL's own path (a peer served
under a prefix) followed by ``path``. A fresh timestamp and nonce each call: a retried request is a
new request, as in the partner SDK (tanhui/client.py).
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx

from tanhui.domain import platform_signing as ps
from tanhui.errors import ServiceUnavailable
from tanhui.services import interop
from tanhui.services.clock import utcnow
from tanhui.store import Store

TIMEOUT_S = 10.0


def signed_headers(store: Store, peer_id: str, method: str, target: str, body: bytes) -> dict[str, str]:
    """The headers that sign ``method target body`` from this platform to ``peer_id``."""
    sender, key = interop.signing_key(store)
    nonce = secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]
    return ps.headers(key, sender, peer_id, str(int(utcnow().timestamp())), nonce, method.upper(), target, body)


def call_peer(
    store: Store,
    peer_id: str,
    method: str,
    path: str,
    payload: Any = None,
    *,
    client: httpx.Client | None = None,
    timeout_s: float = TIMEOUT_S,
) -> httpx.Response:
    """Send a signed request to an active peer; the peer's answer as it came (``peer_unreachable`` when
    no answer came at all)."""
    peer = interop.active_peer(store, peer_id)
    base = urlsplit(peer.url)
    target = base.path.rstrip("/") + path
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = signed_headers(store, peer.platform_id, method, target, body)
    if body:
        headers["Content-Type"] = "application/json"
    url = f"{base.scheme}://{base.netloc}{target}"
    try:
        if client is not None:
            return client.request(method, url, content=body, headers=headers, timeout=timeout_s)
        with httpx.Client(timeout=timeout_s) as own:
            return own.request(method, url, content=body, headers=headers)
    except httpx.HTTPError as error:
        raise ServiceUnavailable("peer_unreachable", platform_id=peer_id, reason=type(error).__name__) from None


def ping(store: Store, peer_id: str) -> dict[str, Any]:
    """Check the link to a peer both ways: its answer, or its error, with the HTTP status."""
    response = call_peer(store, peer_id, "POST", "/v1/interop/ping", {})
    try:
        answer = response.json()
    except ValueError:
        answer = {"error": {"code": "invalid_response", "message": response.text[:200]}}
    return {"status": response.status_code, "ok": response.status_code == 200, "answer": answer}
