"""Platform-to-platform request signing (docs/interop.md, "Signed requests"): pure functions.

The partner scheme (domain/signing.py) signs with a secret shared by exactly two parties, so its
canonical string need not say who talks to whom. A platform's Ed25519 key signs for every peer it
talks to: a request signed for peer B, if it did not name B, could be replayed to peer C inside the
replay window (C keeps its own nonces). So the canonical string names the protocol, the sender and
the receiver ahead of the partner scheme's five lines, which it reuses unchanged:

    tanhui-interop/1 \\n sender \\n receiver \\n timestamp \\n nonce \\n METHOD \\n path?query \\n sha256_hex(body)

signature = "ed25519=" + base64url-without-padding(Ed25519(private key, canonical string utf-8)).
Timestamps, nonces, skew and replay windows are the partner scheme's (signing.py).
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from tanhui.domain import signing

PROTOCOL = "tanhui-interop/1"
SIGNATURE_PREFIX = "ed25519="
KEY_BYTES = 32
SIGNATURE_BYTES = 64
# lowercase letters, digits and inner hyphens or dots, 3 to 64 characters: safe in a URL, a header and a JWS kid
PLATFORM_ID_RE = re.compile(r"^[a-z][a-z0-9.-]{1,62}[a-z0-9]$")

HEADER_PLATFORM = "Tanhui-Platform"
HEADER_TIMESTAMP = "Tanhui-Timestamp"
HEADER_NONCE = "Tanhui-Nonce"
HEADER_SIGNATURE = "Tanhui-Signature"


def valid_platform_id(value: str) -> bool:
    return bool(PLATFORM_ID_RE.match(value))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes | None:
    """The bytes of base64url text without padding; None for anything else (padding, other alphabets)."""
    if not text.isascii() or "=" in text or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def private_key(seed_text: str) -> Ed25519PrivateKey:
    """The key from its 32-byte seed as base64url (the form it is sealed in)."""
    seed = unb64url(seed_text)
    if seed is None or len(seed) != KEY_BYTES:
        raise ValueError("an Ed25519 private key is 32 bytes of base64url")
    return Ed25519PrivateKey.from_private_bytes(seed)


def seed_text(key: Ed25519PrivateKey) -> str:
    return b64url(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A public key as published and configured: base64url of its 32 raw bytes (a JWK's ``x``)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return b64url(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_key(text: str) -> Ed25519PublicKey | None:
    """The key from its published text; None when the text is not 32 bytes of base64url."""
    raw = unb64url(text)
    if raw is None or len(raw) != KEY_BYTES:
        return None
    return Ed25519PublicKey.from_public_bytes(raw)


def canonical_string(sender: str, receiver: str, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    return "\n".join((PROTOCOL, sender, receiver, signing.canonical_string(timestamp, nonce, method, path, body)))


def sign(
    key: Ed25519PrivateKey, sender: str, receiver: str, timestamp: str, nonce: str, method: str, path: str, body: bytes
) -> str:
    message = canonical_string(sender, receiver, timestamp, nonce, method, path, body).encode("utf-8")
    return SIGNATURE_PREFIX + b64url(key.sign(message))


def signature_matches(
    key: Ed25519PublicKey,
    signature: str,
    sender: str,
    receiver: str,
    timestamp: str,
    nonce: str,
    method: str,
    path: str,
    body: bytes,
) -> bool:
    if not signature.startswith(SIGNATURE_PREFIX):
        return False
    raw = unb64url(signature[len(SIGNATURE_PREFIX) :])
    if raw is None or len(raw) != SIGNATURE_BYTES:
        return False
    message = canonical_string(sender, receiver, timestamp, nonce, method, path, body).encode("utf-8")
    try:
        key.verify(raw, message)
    except InvalidSignature:
        return False
    return True


def headers(
    key: Ed25519PrivateKey, sender: str, receiver: str, timestamp: str, nonce: str, method: str, path: str, body: bytes
) -> dict[str, str]:
    """The four headers of a signed request (the caller picks the time and a fresh nonce)."""
    return {
        HEADER_PLATFORM: sender,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(key, sender, receiver, timestamp, nonce, method, path, body),
    }
