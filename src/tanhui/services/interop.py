"""This platform's identity among independent Tanhui deployments, its peers, and signed peer requests
(issue 16, docs/interop.md).

The private key is made here, sealed with the secret key that seals partner secrets
(services/secret_keys.py) and never shown again; the federation key comes from a file only its owner
may read. Peers live in the store and are read on every request, so a peer added or removed with
the CLI counts at once in every running server process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tanhui import secretbox
from tanhui.domain import platform_signing as ps
from tanhui.domain import signing
from tanhui.errors import Conflict, InvalidInput, NotFound, Unauthorised
from tanhui.secretbox import Sealed
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.services.secret_keys import federation_key_context, keyring, private_key_context
from tanhui.store import Store
from tanhui.store.rows import PeerRow, PlatformRow
from tanhui.store.uow import UnitOfWork

PROTOCOL_VERSION = 1
NAME_MAX = 200
URL_MAX = 500
NONCE_SWEEP_EVERY = 500


def _check_platform_id(value: str, field: str = "platform_id") -> str:
    if not isinstance(value, str) or not ps.valid_platform_id(value):
        raise InvalidInput("invalid_platform_id", details={field: "3-64 of a-z, 0-9, '-', '.'"}, platform_id=value)
    return value


def _read_federation_key(path: Path) -> str:
    """The one key in the file, refused unless only its owner may read it (as secret key files are)."""
    words = secretbox.key_file_words(path)
    if len(words) != 1:
        raise InvalidInput("secret_key_invalid", where=str(path))
    return words[0]


def init_platform(
    store: Store, platform_id: str, name: str, federation_key_file: Path, *, now: datetime | None = None, actor: str = "system"
) -> dict[str, str]:
    """Make this deployment's identity: a new Ed25519 key pair, sealed; once only (``platform_exists``)."""
    store.require_initialised()
    _check_platform_id(platform_id)
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput("invalid_request", details={"name": f"1..{NAME_MAX} characters"})
    federation_key = _read_federation_key(federation_key_file)
    with store.unit_of_work(write=False) as uow:
        found = uow.interop.platform()
    if found is not None:
        raise Conflict("platform_exists", platform_id=found.platform_id)
    key = Ed25519PrivateKey.generate()
    ring = keyring(store, create=True)
    sealed_key = ring.seal(ps.seed_text(key), private_key_context(platform_id))
    sealed_federation = ring.seal(federation_key, federation_key_context(platform_id))
    row = PlatformRow(
        platform_id,
        name,
        ps.public_key_text(key),
        sealed_key.text,
        sealed_key.key_id,
        sealed_federation.text,
        sealed_federation.key_id,
        now or utcnow(),
    )
    with store.unit_of_work() as uow:
        if not uow.interop.create_platform(row):
            raise Conflict("platform_exists", platform_id=platform_id)
        audit.record(uow, actor, "interop.init", platform_id, {"public_key": row.public_key}, now=row.created_at)
    from tanhui.services import federation  # its cache asks this module to open the key

    federation.forget(store)  # this process's ingest claims from the next batch on
    return {"platform_id": row.platform_id, "name": row.name, "public_key": row.public_key}


def platform(store: Store) -> PlatformRow:
    with store.unit_of_work(write=False) as uow:
        found = uow.interop.platform()
    if found is None:
        raise NotFound("interop_not_initialised")
    return found


def is_initialised(store: Store) -> bool:
    with store.unit_of_work(write=False) as uow:
        return uow.interop.platform() is not None


def public_info(store: Store) -> dict[str, Any]:
    """What anyone may know of this platform: GET /v1/interop/platform."""
    found = platform(store)
    return {
        "platform_id": found.platform_id,
        "name": found.name,
        "public_key": found.public_key,
        "algorithm": "Ed25519",
        "protocol": ps.PROTOCOL,
        "protocol_version": PROTOCOL_VERSION,
    }


def signing_key(store: Store) -> tuple[str, Ed25519PrivateKey]:
    """This platform's id and private key, opened for one use (never cached, never logged)."""
    found = platform(store)
    seed = keyring(store).open(Sealed(found.private_key_id, found.private_key), private_key_context(found.platform_id))
    return found.platform_id, ps.private_key(seed)


def federation_key(store: Store) -> bytes:
    """The key the federation's members share (claims' fingerprints, docs/interop.md part 2)."""
    return open_federation_key(store, platform(store))


_opened_federation_keys: dict[tuple[str, str, str], bytes] = {}


def open_federation_key(store: Store, found: PlatformRow) -> bytes:
    """The federation key of this platform's row, opened once per process: ingest fingerprints every
    batch, and opening reads the secret key file. Cached by the sealed text (a re-seal after
    ``tanhui secrets rotate-key`` is opened afresh; the key inside is the same)."""
    cache_key = (found.platform_id, found.federation_key_id, found.federation_key)
    key = _opened_federation_keys.get(cache_key)
    if key is None:
        text = keyring(store).open(
            Sealed(found.federation_key_id, found.federation_key), federation_key_context(found.platform_id)
        )
        key = secretbox.key_bytes(text, "interop_platform.federation_key")
        _opened_federation_keys[cache_key] = key
    return key


# -- peers ------------------------------------------------------------------------------------


def _check_url(url: str) -> str:
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or len(url) > URL_MAX:
        raise InvalidInput("invalid_request", details={"url": "http(s)://host[:port][/path], no query"})
    return url.strip().rstrip("/")


def add_peer(
    store: Store, platform_id: str, url: str, public_key: str, *, now: datetime | None = None, actor: str = "system"
) -> PeerRow:
    """Trust a peer: its id, where it answers, and the key its requests and statements are signed with."""
    _check_platform_id(platform_id)
    url = _check_url(url)
    if ps.public_key(public_key or "") is None:
        raise InvalidInput("invalid_request", details={"public_key": "base64url of 32 bytes (Ed25519)"})
    now = now or utcnow()
    with store.unit_of_work() as uow:
        own = uow.interop.platform()
        if own is not None and own.platform_id == platform_id:
            raise InvalidInput("invalid_request", details={"platform_id": "this platform's own id"})
        found = uow.interop.peer(platform_id, lock=True)
        if found is not None and found.status == "active":
            raise Conflict("peer_exists", platform_id=platform_id)
        if found is None:
            uow.interop.add_peer(platform_id, url, public_key, now)
        else:
            uow.interop.reactivate_peer(found.pk, url, public_key, now)
            uow.interop_log.forget_peer(found.pk)  # re-admitted: its log is read afresh, trusted again
        audit.record(uow, actor, "interop.peer_add", platform_id, {"url": url, "public_key": public_key}, now=now)
        added = uow.interop.peer(platform_id)
    assert added is not None
    return added


def remove_peer(store: Store, platform_id: str, *, now: datetime | None = None, actor: str = "system") -> PeerRow:
    """Stop trusting a peer: its requests and statements are refused from the next request on."""
    with store.unit_of_work() as uow:
        found = uow.interop.peer(platform_id, lock=True)
        if found is None or found.status != "active":
            raise NotFound("peer_not_found", platform_id=platform_id)
        now = now or utcnow()
        uow.interop.remove_peer(found.pk, now)
        audit.record(uow, actor, "interop.peer_remove", platform_id, {"url": found.url}, now=now)
        removed = uow.interop.peer(platform_id)
    assert removed is not None
    return removed


def list_peers(store: Store, *, include_removed: bool = False) -> list[PeerRow]:
    with store.unit_of_work(write=False) as uow:
        return uow.interop.peers(include_removed=include_removed)


def active_peer(store: Store, platform_id: str) -> PeerRow:
    with store.unit_of_work(write=False) as uow:
        found = uow.interop.peer(platform_id)
    if found is None or found.status != "active":
        raise NotFound("peer_not_found", platform_id=platform_id)
    return found


# -- a signed request from a peer ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedPeerRequest:
    platform_id: str | None
    timestamp: str | None
    nonce: str | None
    signature: str | None
    method: str
    path: str
    body: bytes


def authenticate(store: Store, request: SignedPeerRequest, now: datetime | None = None) -> PeerRow:
    """The active peer whose Ed25519 signature verifies over this request, addressed to this platform,
    within the clock skew (401 otherwise). Read-only: the nonce is spent by ``spend_nonce`` inside the
    request's own unit of work, as for partners."""
    now = now or utcnow()
    if not request.platform_id:
        raise Unauthorised("bad_signature", reason=ps.HEADER_PLATFORM)
    with store.unit_of_work(write=False) as uow:
        own = uow.interop.platform()
        peer = uow.interop.peer(request.platform_id)
    if own is None:
        raise NotFound("interop_not_initialised")
    if peer is None or peer.status != "active":
        raise Unauthorised("unknown_platform", platform_id=request.platform_id)
    if not (request.timestamp and request.nonce and request.signature):
        raise Unauthorised("bad_signature", reason="Tanhui-Timestamp, Tanhui-Nonce, Tanhui-Signature")
    timestamp = signing.parse_timestamp(request.timestamp)
    if timestamp is None or not signing.valid_nonce(request.nonce):
        raise Unauthorised("bad_signature", reason="Tanhui-Timestamp / Tanhui-Nonce format")
    key = ps.public_key(peer.public_key)
    if key is None or not ps.signature_matches(
        key,
        request.signature,
        peer.platform_id,
        own.platform_id,
        request.timestamp,
        request.nonce,
        request.method,
        request.path,
        request.body,
    ):
        raise Unauthorised("bad_signature", reason="Ed25519")
    if not signing.is_fresh(timestamp, int(now.timestamp())):
        raise Unauthorised("stale_request", skew_s=signing.TIMESTAMP_SKEW_S)
    return peer


_since_sweep = [0]


def spend_nonce(uow: UnitOfWork, peer: PeerRow, nonce: str, now: datetime) -> None:
    """Record the request's nonce in the shared store; a nonce this peer used within the window is a replay."""
    if not uow.interop.use_nonce(peer.pk, nonce, now):
        raise Unauthorised("replayed_request", window_s=signing.NONCE_TTL_S)
    _since_sweep[0] += 1
    if _since_sweep[0] >= NONCE_SWEEP_EVERY:
        _since_sweep[0] = 0
        uow.interop.forget_nonces_before(uow.interop.nonce_cutoff(now, signing.NONCE_TTL_S))


def ping(store: Store, peer: PeerRow, nonce: str, now: datetime | None = None) -> dict[str, Any]:
    """A peer checks the link both ways (its URL, its key here, our key there): POST /v1/interop/ping."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        spend_nonce(uow, peer, nonce, now)
        own = uow.interop.platform()
    assert own is not None
    return {"platform_id": own.platform_id, "peer": peer.platform_id, "protocol": ps.PROTOCOL, "received_at": now.isoformat()}
