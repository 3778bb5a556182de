"""The federation fingerprint of a behaviour (docs/interop.md, "Claims"): pure.

Members of a federation share a 32-byte federation key, so each computes the same fingerprint for
the same behaviour (a trip, an order, a bill) and finds a peer's claim of it; an outsider without
the key cannot test guesses (a trip id is short and often sequential, a bare hash of it is not a
secret). The identity is the one ``events.fingerprints`` already uses within one deployment: each
part in ``identifiers.behaviour_id``'s canonical form, so ``T1``, ``t1`` and ``Ｔ１`` are one trip on
every platform. Only ``global`` identities are federated: an ``account`` identity (a person's day of
steps) names a person of one platform and means nothing on another.

    identity    = scenario \\x1f part0 \\x1f part1 ...      (part0: the identity's kind, from the methodology)
    fingerprint = lowercase hex HMAC-SHA256(federation key, b"tanhui-claim/1\\x1f" + identity as UTF-8)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache

from tanhui.domain import identifiers

DOMAIN = b"tanhui-claim/1\x1f"
KEY_BYTES = 32
SEPARATOR = "\x1f"


def canonical_identity(scenario: str, parts: tuple[str, ...]) -> str:
    """The text both platforms fingerprint: the scenario key and the identity's canonical parts."""
    return SEPARATOR.join((scenario, *(identifiers.behaviour_id(p) for p in parts)))


def fingerprint(key: bytes, scenario: str, parts: tuple[str, ...]) -> str:
    """The behaviour's federation fingerprint (64 lowercase hex digits)."""
    if len(key) != KEY_BYTES:
        raise ValueError("the federation key is 32 bytes")
    keyed = _keyed(key).copy()  # the key's and the domain's blocks hashed once (ingest fingerprints every event)
    keyed.update(canonical_identity(scenario, parts).encode("utf-8"))
    return keyed.hexdigest()


@lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, DOMAIN, hashlib.sha256)


def federated(scope: str | None) -> bool:
    """Whether behaviours of this identity scope are claimed across the federation."""
    return scope == "global"


def winner(claimants: Iterable[tuple[datetime, str]]) -> str:
    """The race rule: of the platforms that claimed one behaviour, (recorded_at, platform id) earliest
    wins. Every member applies it to the same logged values, so all decide alike."""
    return min(claimants)[1]


def standing_claims(
    entries: Iterable[tuple[str, int, int, str, datetime]], trusted: Mapping[int, str]
) -> dict[str, list[tuple[datetime, str]]]:
    """Who claims each fingerprint now: (recorded_at, platform id) of every trusted peer whose newest
    entry (by its log's seq) for it is a claim. A peer's later withdrawal cancels its claim; entries of
    peers not in ``trusted`` (removed, or untrusted after lying) count for nothing.

    ``entries``: (fingerprint, peer key, seq, kind, recorded_at) as pulled from the peers' logs."""
    newest: dict[tuple[str, int], tuple[int, str, datetime]] = {}
    for fingerprint, peer, seq, kind, recorded_at in entries:
        if peer not in trusted:
            continue
        found = newest.get((fingerprint, peer))
        if found is None or seq > found[0]:
            newest[(fingerprint, peer)] = (seq, kind, recorded_at)
    claims: dict[str, list[tuple[datetime, str]]] = {}
    for (fingerprint, peer), (_seq, kind, recorded_at) in sorted(newest.items()):
        if kind == "claim":
            claims.setdefault(fingerprint, []).append((recorded_at, trusted[peer]))
    return claims
