"""A person's portable statement (docs/interop.md, "Statements"): a compact JWS anyone can check.

The statement says what one platform credited one person for a year; a bank or another platform
checks it with the platform's published key alone. It names the person by a pseudonym only: an
HMAC of the account under a key derived from the platform's private key, so nobody without that
key can tell whose it is or test a guess, and two statements of one person on one platform carry
the same subject (a verifier may ask for several years).

Header ``{"alg": "Ed25519", "kid": <platform id>, "typ": "tanhui-statement+jws"}``. ``Ed25519`` is
the fully-specified name (RFC 9864) of what RFC 8037 called ``EdDSA`` over Ed25519: the same
signature bytes; the JOSE library warns on the older name, and only one name is accepted.
Payload: UTF-8 JSON with sorted keys and no spaces (the bytes signed are the bytes shown).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from tanhui.domain.platform_signing import unb64url

ALGORITHM = "Ed25519"
TYPE = "tanhui-statement+jws"
VERSION = 1
VALID_S = 90 * 86_400  # a statement is evidence of a moment: a verifier asks for a fresh one after 90 days
CLOCK_SKEW_S = 300  # issued up to this far in the verifier's future still counts (clocks differ)
_SUBJECT_LABEL = b"tanhui statement subject"

# why a statement is not valid (the verify answer's "reason")
MALFORMED = "malformed"
UNSUPPORTED = "unsupported_algorithm"
UNKNOWN_PLATFORM = "unknown_platform"
BAD_SIGNATURE = "bad_signature"
ISSUER_MISMATCH = "issuer_mismatch"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"


def subject_key(key: Ed25519PrivateKey) -> bytes:
    """The pseudonym key: derived from the private key, so it needs no storage of its own and
    leaves with nothing but the private key."""
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return hmac.new(seed, _SUBJECT_LABEL, hashlib.sha256).digest()


def subject(key: bytes, scheme_id: str, account_id: int) -> str:
    """The person's pseudonym: ``sub_`` + 32 hex digits of HMAC-SHA256(subject key, "scheme:account")."""
    return "sub_" + hmac.new(key, f"{scheme_id}:{account_id}".encode(), hashlib.sha256).hexdigest()[:32]


def build_payload(
    *,
    platform_id: str,
    subject: str,
    year: int,
    timezone: str,
    carbon_g_by_scenario: Mapping[str, int],
    points_earned: int,
    points_balance: int,
    credits: list[dict[str, Any]],
    issued_unix: int,
) -> dict[str, Any]:
    """The payload of a year's statement (docs/interop.md lists every field). Integers only: grams,
    points, whole seconds; the period is the scheme's local calendar year."""
    return {
        "ver": VERSION,
        "iss": platform_id,
        "sub": subject,
        "period": {"year": year, "from": f"{year:04d}-01-01", "to": f"{year:04d}-12-31", "timezone": timezone},
        "carbon_g": sum(carbon_g_by_scenario.values()),
        "carbon_g_by_scenario": dict(sorted(carbon_g_by_scenario.items())),
        "points": {"earned": points_earned, "balance": points_balance},
        "credits": {"carbon_g": sum(int(c["carbon_g"]) for c in credits), "batches": credits},
        "iat": issued_unix,
        "exp": issued_unix + VALID_S,
    }


def payload_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(key: Ed25519PrivateKey, platform_id: str, payload: Mapping[str, Any]) -> str:
    header = {"alg": ALGORITHM, "kid": platform_id, "typ": TYPE}
    return jws.serialize_compact(header, payload_bytes(payload), OKPKey.import_key(key), algorithms=[ALGORITHM])


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    platform_id: str | None
    payload: dict[str, Any] | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "platform_id": self.platform_id, "payload": self.payload, "reason": self.reason}


def _segment_json(text: str) -> Any:
    raw = unb64url(text)
    if raw is None:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def issuer(statement: str) -> tuple[str | None, str | None]:
    """The platform a statement claims to come from (its header's kid), before any check; or why it
    cannot even say (``malformed``, ``unsupported_algorithm``)."""
    parts = statement.split(".") if isinstance(statement, str) else []
    if len(parts) != 3 or not all(parts):
        return None, MALFORMED
    header = _segment_json(parts[0])
    if not isinstance(header, dict) or not isinstance(header.get("kid"), str) or header.get("typ") != TYPE:
        return None, MALFORMED
    if header.get("alg") != ALGORITHM or set(header) - {"alg", "kid", "typ"}:
        return header["kid"], UNSUPPORTED
    return header["kid"], None


def verify(statement: str, key: Ed25519PublicKey | None, now_unix: int) -> Verdict:
    """Check a statement with the key of the platform it names (None: no such platform is known)."""
    platform_id, problem = issuer(statement)
    if problem is not None:
        return Verdict(False, platform_id, None, problem)
    if key is None:
        return Verdict(False, platform_id, None, UNKNOWN_PLATFORM)
    try:
        jws.deserialize_compact(statement, OKPKey.import_key(key), algorithms=[ALGORITHM])
    except JoseError:
        return Verdict(False, platform_id, None, BAD_SIGNATURE)
    payload = _segment_json(statement.split(".")[1])
    if not isinstance(payload, dict):
        return Verdict(False, platform_id, None, MALFORMED)
    if payload.get("iss") != platform_id:
        return Verdict(False, platform_id, payload, ISSUER_MISMATCH)
    issued, expires = payload.get("iat"), payload.get("exp")
    if not isinstance(issued, int) or not isinstance(expires, int) or payload.get("ver") != VERSION:
        return Verdict(False, platform_id, payload, MALFORMED)
    if now_unix >= expires:
        return Verdict(False, platform_id, payload, EXPIRED)
    if issued > now_unix + CLOCK_SKEW_S:
        return Verdict(False, platform_id, payload, NOT_YET_VALID)
    return Verdict(True, platform_id, payload, None)
