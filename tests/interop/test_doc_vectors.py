"""docs/interop.md's test vectors are what the code produces, and check out with nothing but the
document's recipe and a plain Ed25519 library (what an independent implementation has)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tanhui.domain import platform_signing as ps
from tanhui.domain import portable_statement as stm

DOC = Path(__file__).resolve().parents[2] / "docs" / "interop.md"
VECTOR = re.compile(r"^```\w+ vector:(?P<name>[a-z-]+)\n(?P<body>.*?)\n```$", re.M | re.S)


def vectors() -> dict[str, str]:
    found = {m["name"]: m["body"] for m in VECTOR.finditer(DOC.read_text(encoding="utf-8"))}
    assert set(found) == {
        "seed-hex",
        "seed",
        "public-key",
        "canonical-string",
        "request-signature",
        "subject",
        "statement-payload",
        "statement",
        "federation-fingerprint",
    }, sorted(found)
    return found


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_key_vectors() -> None:
    v = vectors()
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["seed-hex"]))
    assert ps.seed_text(key) == v["seed"]
    assert ps.public_key_text(key) == v["public-key"]


def test_the_signed_request_vector() -> None:
    v = vectors()
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["seed-hex"]))
    request = ("cn-a", "cn-b", "1767225600", "n-0123456789abcdef", "POST", "/v1/interop/ping", b"{}")
    assert ps.canonical_string(*request) == v["canonical-string"]
    assert v["canonical-string"].splitlines()[-1] == hashlib.sha256(b"{}").hexdigest()
    assert ps.sign(key, *request) == v["request-signature"]
    # from the document alone: the signature is Ed25519 over the canonical string's UTF-8 bytes
    public = Ed25519PublicKey.from_public_bytes(_b64(v["public-key"]))
    public.verify(_b64(v["request-signature"].removeprefix("ed25519=")), v["canonical-string"].encode("utf-8"))
    assert ps.signature_matches(public, v["request-signature"], *request)


def test_the_statement_vectors() -> None:
    v = vectors()
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["seed-hex"]))
    assert stm.subject(stm.subject_key(key), "city", 42) == v["subject"]
    payload = stm.build_payload(
        platform_id="cn-a",
        subject=v["subject"],
        year=2025,
        timezone="Asia/Shanghai",
        carbon_g_by_scenario={"bus_ride": 160, "walking": 30},
        points_earned=19,
        points_balance=7,
        credits=[{"batch_id": "BATCH-city-2025-0001", "events": 2, "carbon_g": 160}],
        issued_unix=1767225600,
    )
    assert stm.payload_bytes(payload).decode("utf-8") == v["statement-payload"]
    assert stm.sign(key, "cn-a", payload) == v["statement"]
    # from the document alone: a compact JWS whose signature is Ed25519 over "header.payload"
    header, body, signature = v["statement"].split(".")
    assert json.loads(_b64(header)) == {"alg": "Ed25519", "kid": "cn-a", "typ": "tanhui-statement+jws"}
    assert _b64(body).decode("utf-8") == v["statement-payload"]
    public = Ed25519PublicKey.from_public_bytes(_b64(v["public-key"]))
    public.verify(_b64(signature), f"{header}.{body}".encode("ascii"))
    assert stm.verify(v["statement"], public, 1767225600).valid
    assert stm.verify(v["statement"], public, 1775001600).reason == "expired"
    other = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    assert stm.verify(v["statement"], other, 1767225600).reason == "bad_signature"


def test_the_federation_fingerprint_vector() -> None:
    """From the recipe alone (HMAC-SHA256 over the canonical identity), and from the code, with a variant form."""
    import hmac

    from tanhui.domain import federation

    v = vectors()
    key = bytes(range(32))
    by_hand = hmac.new(key, b"tanhui-claim/1\x1fbus_ride\x1ftrip\x1ft-0001", hashlib.sha256).hexdigest()
    assert by_hand == v["federation-fingerprint"]
    assert federation.fingerprint(key, "bus_ride", ("trip", "\uff34-\uff10\uff10\uff10\uff11")) == by_hand
