"""The federation's claims log (docs/interop.md, "Claims log"): pure hashing, heads and entry checks.

Every platform publishes the behaviours it credited (by federation fingerprint, no personal data) in an
append-only log. Peers pull it and must be able to tell when a platform rewrites its past, so the log
is a Merkle tree hashed exactly as RFC 9162 §2.1 (Certificate Transparency v2) hashes one: an
independent implementation needs nothing but that RFC and this module's canonical forms.

    leaf hash = SHA-256(0x00 || leaf data)      node hash = SHA-256(0x01 || left || right)
    MTH({})   = SHA-256("")                      MTH(D[n]) splits at the largest power of two k < n

Not domain/registry/merkle.py's tree: that one carries an odd node up unchanged (credit batches), which
gives other roots than RFC 9162 for sizes that are not powers of two.

Appends are O(log n): a log keeps its *frontier*, the roots of the perfect subtrees that n's binary
decomposition cuts it into, largest first (n = 6 = 4 + 2: the root of leaves 0..3, of leaves 4..5). A
new leaf merges with the frontier's last roots while they are the same size; the root of the tree is
the frontier folded right to left. A peer keeps the frontier of what it verified, folds the entries it
pulls onto it and compares the result with the signed head: a log rewritten anywhere before gives
another root.

A signed tree head is Ed25519 over the UTF-8 of

    tanhui-interop/1 \\n tree-head \\n platform id \\n tree size \\n timestamp \\n root hash (lowercase hex)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tanhui.domain import platform_signing as ps
from tanhui.domain.canonical import canonical_bytes, utc_text

KINDS = ("claim", "withdrawal")
CLAIM, WITHDRAWAL = KINDS
HEAD_LABEL = "tree-head"
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
PAGE_MAX = 1000
PAGE_DEFAULT = 500

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SCENARIO = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# exactly what domain/canonical.utc_text writes: microseconds always, "Z"
_UTC_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
_HEAD_FIELDS = frozenset({"platform_id", "tree_size", "root_hash", "timestamp", "signature"})
_ENTRY_FIELDS = frozenset({"seq", "kind", "fingerprint", "scenario", "recorded_at"})

# why a peer is no longer trusted (interop_peer_logs.untrusted_reason, docs/interop.md)
BAD_HEAD_SIGNATURE = "bad_head_signature"
LOG_SHRANK = "log_shrank"
ROOT_CHANGED = "root_changed"
MALFORMED = "malformed"
INCONSISTENT_LOG = "inconsistent_log"
UNTRUSTED_REASONS = (BAD_HEAD_SIGNATURE, LOG_SHRANK, ROOT_CHANGED, MALFORMED, INCONSISTENT_LOG)


# -- RFC 9162 hashing ---------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1's recursive Merkle Tree Hash of the leaves' data (the definition; tests and
    small trees use it, the log itself appends through the frontier)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two smaller than n
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def append(frontier: Sequence[bytes], size: int, leaf: bytes) -> list[bytes]:
    """The frontier of the tree of ``size + 1`` leaves, from that of ``size`` leaves and the new leaf's
    hash: merge with the last roots while they are the same size (as many as ``size`` has trailing ones)."""
    if len(frontier) != bin(size).count("1"):
        raise ValueError("the frontier does not match the tree size")
    roots = list(frontier)
    merged = leaf
    remaining = size
    while remaining & 1:
        merged = node_hash(roots.pop(), merged)
        remaining >>= 1
    roots.append(merged)
    return roots


def extend(frontier: Sequence[bytes], size: int, leaves: Iterable[bytes]) -> tuple[list[bytes], int]:
    """Append every leaf hash in order: the new frontier and size."""
    roots = list(frontier)
    for leaf in leaves:
        roots = append(roots, size, leaf)
        size += 1
    return roots, size


def root(frontier: Sequence[bytes]) -> bytes:
    """The tree's root: the frontier folded right to left (the smallest subtree is the rightmost)."""
    if not frontier:
        return hashlib.sha256(b"").digest()
    folded = frontier[-1]
    for left in reversed(frontier[:-1]):
        folded = node_hash(left, folded)
    return folded


def frontier_text(frontier: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in frontier]


def frontier_from_text(texts: Any, size: int) -> list[bytes]:
    """The stored frontier (a JSON list of hex roots), checked against the size it claims to be of."""
    if not isinstance(texts, list) or not all(isinstance(t, str) and _HEX64.match(t) for t in texts):
        raise ValueError("a frontier is a list of lowercase hex SHA-256 roots")
    if len(texts) != bin(size).count("1"):
        raise ValueError("the frontier does not match the tree size")
    return [bytes.fromhex(t) for t in texts]


# -- entries --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a claims log, as peers read it: ``recorded_at`` in its canonical text."""

    seq: int
    kind: str
    fingerprint: str
    scenario: str
    recorded_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "scenario": self.scenario,
            "recorded_at": self.recorded_at,
        }

    def leaf_data(self) -> bytes:
        return canonical_bytes(self.to_dict())

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf_data())


def entry(seq: int, kind: str, fingerprint: str, scenario: str, recorded_at: datetime) -> Entry:
    """An own entry from what the store holds (the time as an aware datetime)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    return Entry(seq, kind, fingerprint, scenario, utc_text(recorded_at))


def parse_entry(value: Any) -> Entry | None:
    """A peer's entry exactly as the protocol writes one, else None (the page is malformed)."""
    if not isinstance(value, Mapping) or set(value) != _ENTRY_FIELDS:
        return None
    seq, kind, fingerprint, scenario, recorded_at = (value[k] for k in ("seq", "kind", "fingerprint", "scenario", "recorded_at"))
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1):
        return None
    if kind not in KINDS or not isinstance(fingerprint, str) or not _HEX64.match(fingerprint):
        return None
    if not isinstance(scenario, str) or not _SCENARIO.match(scenario):
        return None
    if not isinstance(recorded_at, str) or not _UTC_TEXT.match(recorded_at) or not _valid_time(recorded_at):
        return None
    return Entry(seq, kind, fingerprint, scenario, recorded_at)


def _valid_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def recorded_time(text: str) -> datetime:
    """The instant of an entry's canonical ``recorded_at``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- signed tree heads ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeHead:
    platform_id: str
    tree_size: int
    root_hash: str  # lowercase hex
    timestamp: int  # Unix seconds
    signature: str  # base64url Ed25519

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform_id": self.platform_id,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "signature": self.signature,
        }


def head_string(platform_id: str, tree_size: int, timestamp: int, root_hash: str) -> str:
    return "\n".join((ps.PROTOCOL, HEAD_LABEL, platform_id, str(tree_size), str(timestamp), root_hash))


def sign_head(key: Ed25519PrivateKey, platform_id: str, tree_size: int, timestamp: int, root_hash: str) -> TreeHead:
    message = head_string(platform_id, tree_size, timestamp, root_hash).encode("utf-8")
    return TreeHead(platform_id, tree_size, root_hash, timestamp, ps.b64url(key.sign(message)))


def head_verifies(key: Ed25519PublicKey, head: TreeHead) -> bool:
    raw = ps.unb64url(head.signature)
    if raw is None or len(raw) != ps.SIGNATURE_BYTES:
        return False
    message = head_string(head.platform_id, head.tree_size, head.timestamp, head.root_hash).encode("utf-8")
    try:
        key.verify(raw, message)
    except InvalidSignature:
        return False
    return True


def parse_head(value: Any) -> TreeHead | None:
    """A head exactly as the protocol writes one (its signature unchecked), else None."""
    if not isinstance(value, Mapping) or set(value) != _HEAD_FIELDS:
        return None
    platform_id, size, root_hash, timestamp, signature = (
        value[k] for k in ("platform_id", "tree_size", "root_hash", "timestamp", "signature")
    )
    if not isinstance(platform_id, str) or not ps.valid_platform_id(platform_id):
        return None
    for number in (size, timestamp):
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            return None
    if not isinstance(root_hash, str) or not _HEX64.match(root_hash) or not isinstance(signature, str):
        return None
    return TreeHead(platform_id, size, root_hash, timestamp, signature)


# -- a peer's page of entries --------------------------------------------------------------------------


def parse_page(value: Any, platform_id: str, after: int) -> list[Entry] | None:
    """The entries of a ``GET /v1/interop/claims`` answer, when it is this platform's, well formed and
    gapless from ``after + 1``; else None."""
    if not isinstance(value, Mapping) or value.get("platform_id") != platform_id:
        return None
    raw = value.get("entries")
    size = value.get("tree_size")
    if not isinstance(raw, list) or not isinstance(size, int) or isinstance(size, bool):
        return None
    entries = []
    for position, item in enumerate(raw, start=after + 1):
        parsed = parse_entry(item)
        if parsed is None or parsed.seq != position:
            return None
        entries.append(parsed)
    return entries
