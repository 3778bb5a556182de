"""docs/interop.md's test vectors are what the code produces, and check out with nothing but the
document's recipe and a plain Ed25519 library (what an independent implementation has)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tanhui.domain import claims_log as cl
from tanhui.domain import platform_signing as ps
from tanhui.domain import portable_statement as stm
from tanhui.domain.canonical import canonical_json
from tanhui.domain.registry import transfer as tr

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
        "transfer-offer",
        "transfer-offer-signature",
        "transfer-receipt",
        "transfer-receipt-signature",
        "federation-key-hex",
        "claim-fingerprint",
        "claim-leaf-data",
        "claim-leaf-hash",
        "log-entries",
        "log-root",
        "head-string",
        "head",
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


def test_the_credit_transfer_vectors() -> None:
    v = vectors()
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["seed-hex"]))
    offer = tr.offer(
        transfer_id="TRF-city-000001",
        origin_platform="cn-a",
        destination_platform="cn-b",
        origin_scheme="city",
        origin_org="org_3f9a2b",
        destination_org="org_7c1d4e",
        blocks=[tr.OfferBlock("TH-city-2025-bus-ride-cn@1-00000004-00000006", 2025, "bus-ride-cn@1", 4, 6)],
        offered_at=1767225600,
    )
    assert canonical_json(offer) == v["transfer-offer"] and tr.offer_problem(offer) is None
    assert tr.sign(key, tr.OFFER_CONTEXT, offer) == v["transfer-offer-signature"]
    minted = [tr.MintedBlock(offer["blocks"][0]["block_id"], "TH-town-2025-bus-ride-cn@1-00000011-00000013", 11, 13)]
    receipt = tr.receipt(offer, outcome="minted", code=None, destination_scheme="town", minted=minted, at=1767225660)
    assert canonical_json(receipt) == v["transfer-receipt"]
    assert tr.sign(key, tr.RECEIPT_CONTEXT, receipt) == v["transfer-receipt-signature"]
    public = key.public_key()
    assert tr.receipt_valid(public, offer, receipt, v["transfer-receipt-signature"]) == (True, None)
    # from the document alone: the context lines, the bytes as printed, a plain Ed25519 check
    for context, name in (("credit-transfer-offer", "transfer-offer"), ("credit-transfer-receipt", "transfer-receipt")):
        message = f"tanhui-interop/1\n{context}\n{v[name]}".encode()
        Ed25519PublicKey.from_public_bytes(_b64(v["public-key"])).verify(
            _b64(v[name + "-signature"].removeprefix("ed25519=")), message
        )
    assert json.loads(v["transfer-receipt"])["offer_hash"] == hashlib.sha256(v["transfer-offer"].encode()).hexdigest()
    tampered = json.loads(v["transfer-receipt"].replace('"quantity":3', '"quantity":30'))
    assert tr.receipt_valid(public, offer, tampered, v["transfer-receipt-signature"])[0] is False


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, from the RFC alone."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_the_claims_log_vectors_from_the_document_alone() -> None:
    v = vectors()
    key = bytes.fromhex(v["federation-key-hex"])
    assert key == bytes(range(0x20, 0x40))
    identity = "\x1f".join(("bus_ride", "trip", "szt-0001"))
    assert hmac.new(key, b"tanhui-claim/1\x1f" + identity.encode(), hashlib.sha256).hexdigest() == v["claim-fingerprint"]
    claim = json.loads(v["claim-leaf-data"])
    assert json.dumps(claim, sort_keys=True, separators=(",", ":")) == v["claim-leaf-data"]
    assert claim["fingerprint"] == v["claim-fingerprint"] and claim["seq"] == 1
    assert hashlib.sha256(b"\x00" + v["claim-leaf-data"].encode()).hexdigest() == v["claim-leaf-hash"]
    lines = v["log-entries"].splitlines()
    assert lines[0] == v["claim-leaf-data"] and [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert _mth([line.encode() for line in lines]).hex() == v["log-root"]
    head = json.loads(v["head"])
    signed = "\n".join(
        ("tanhui-interop/1", "tree-head", head["platform_id"], str(head["tree_size"]), str(head["timestamp"]), head["root_hash"])
    )
    assert signed == v["head-string"] and head["root_hash"] == v["log-root"]
    public = Ed25519PublicKey.from_public_bytes(_b64(v["public-key"]))
    public.verify(_b64(head["signature"]), signed.encode("utf-8"))


def test_the_claims_log_vectors_are_what_tanhui_makes() -> None:
    v = vectors()
    entries = [cl.parse_entry(json.loads(line)) for line in v["log-entries"].splitlines()]
    assert all(entries)
    assert entries[0] is not None and entries[0].leaf_data().decode() == v["claim-leaf-data"]
    assert entries[0].leaf_hash().hex() == v["claim-leaf-hash"]
    frontier, size = cl.extend([], 0, (e.leaf_hash() for e in entries if e))
    assert size == 5 and cl.root(frontier).hex() == v["log-root"]
    seed = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["seed-hex"]))
    head = cl.sign_head(seed, "cn-a", 5, 1772355600, v["log-root"])
    assert cl.head_string("cn-a", 5, 1772355600, v["log-root"]) == v["head-string"]
    assert head.to_dict() == json.loads(v["head"])
    assert cl.head_verifies(seed.public_key(), head)


def test_the_fingerprint_vector_is_what_ingest_computes() -> None:
    """Section 5's vector from ingest's own code (domain/federation.py)."""
    from tanhui.domain import federation

    v = vectors()
    assert (
        federation.fingerprint(bytes.fromhex(v["federation-key-hex"]), "bus_ride", ("trip", "SZT-0001")) == v["claim-fingerprint"]
    )


def test_the_federation_fingerprint_vector() -> None:
    """From the recipe alone (HMAC-SHA256 over the canonical identity), and from the code, with a variant form."""
    import hmac

    from tanhui.domain import federation

    v = vectors()
    key = bytes(range(32))
    by_hand = hmac.new(key, b"tanhui-claim/1\x1fbus_ride\x1ftrip\x1ft-0001", hashlib.sha256).hexdigest()
    assert by_hand == v["federation-fingerprint"]
    assert federation.fingerprint(key, "bus_ride", ("trip", "\uff34-\uff10\uff10\uff10\uff11")) == by_hand
