"""Partner request signing (api-v1.md, "Partner authentication"): pure functions.

canonical string = timestamp \\n nonce \\n METHOD \\n path?query \\n sha256_hex(body)
signature        = "v1=" + hex(HMAC-SHA256(secret utf-8, canonical string))
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_PREFIX = "v1="
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
TIMESTAMP_SKEW_S = 300
NONCE_TTL_S = 600


def canonical_string(timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    return "\n".join((timestamp, nonce, method.upper(), path, hashlib.sha256(body).hexdigest()))


def sign(secret: str, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    message = canonical_string(timestamp, nonce, method, path, body).encode("utf-8")
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_matches(
    secrets: list[str], signature: str, timestamp: str, nonce: str, method: str, path: str, body: bytes
) -> bool:
    """True when any active secret (two while rotating) produced the signature; constant-time compare."""
    matched = False
    for secret in secrets:
        expected = sign(secret, timestamp, nonce, method, path, body)
        matched |= hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))
    return matched


def parse_timestamp(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else None


def is_fresh(timestamp: int, now_unix: int) -> bool:
    return abs(now_unix - timestamp) <= TIMESTAMP_SKEW_S


def valid_nonce(nonce: str) -> bool:
    return bool(NONCE_RE.match(nonce))
