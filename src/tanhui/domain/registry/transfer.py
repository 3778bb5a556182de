"""Credits moved between two registries (issue 16 part 4, docs/interop.md "Credit transfer"): pure.

The origin platform A puts an organisation's blocks in escrow and signs an **offer**; the destination
platform B checks it, mints the same quantity labelled with the origin, and signs a **receipt**
(``minted``, or ``refused`` with a code). Both messages are canonical JSON (sorted keys, no spaces,
UTF-8) signed with the platform's Ed25519 key over a context line first, so a signature made for one
kind of message can never be taken for another, nor for a signed request (docs/interop.md section 3):

    message = "tanhui-interop/1\\n{context}\\n" + canonical_json(body)
    signature = "ed25519=" + base64url(Ed25519(message))

The origin's state machine has three states: ``pending`` (escrow, the offer may be sent any number of
times), then exactly one of ``completed`` (a valid ``minted`` receipt) or ``cancelled`` (a valid
``refused`` receipt). No timeout, error or silence ever ends a pending transfer: only the destination's
signed word does, so the credits live in exactly one registry whatever was lost in between.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tanhui.domain import platform_signing as ps
from tanhui.domain.canonical import canonical_bytes, sha256_hex

VERSION = 1
OFFER_TYPE = "tanhui-credit-transfer-offer"
RECEIPT_TYPE = "tanhui-credit-transfer-receipt"
OFFER_CONTEXT = "credit-transfer-offer"
RECEIPT_CONTEXT = "credit-transfer-receipt"

PENDING = "pending"
COMPLETED = "completed"
CANCELLED = "cancelled"
STATES = (PENDING, COMPLETED, CANCELLED)
MINTED = "minted"
REFUSED = "refused"
OUTCOMES = (MINTED, REFUSED)

# the codes a destination refuses a well-formed offer with: final, recorded, signed (the origin cancels).
# A malformed or misaddressed offer is an error instead (422 invalid_offer, 409 offer_conflict): it ends nothing.
REFUSAL_CODES = (
    "organisation_not_found",  # destination_org is no organisation of the destination
    "bad_offer_signature",  # the offer's signature does not verify with the sender's key
)

TRANSFER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
ORG_REF_MAX = 100
TEXT_MAX = 100
BLOCKS_MAX = 1000
QUANTITY_MAX = 10**12


def message(context: str, body: Mapping[str, Any]) -> bytes:
    """The bytes a platform signs for an offer or a receipt."""
    return f"{ps.PROTOCOL}\n{context}\n".encode() + canonical_bytes(dict(body))


def body_hash(body: Mapping[str, Any]) -> str:
    """sha256 hex of a message's canonical JSON (a receipt names its offer by this)."""
    return sha256_hex(canonical_bytes(dict(body)))


def sign(key: Ed25519PrivateKey, context: str, body: Mapping[str, Any]) -> str:
    return ps.SIGNATURE_PREFIX + ps.b64url(key.sign(message(context, body)))


def signature_valid(key: Ed25519PublicKey | None, context: str, body: Mapping[str, Any], signature: str) -> bool:
    if key is None or not isinstance(signature, str) or not signature.startswith(ps.SIGNATURE_PREFIX):
        return False
    raw = ps.unb64url(signature[len(ps.SIGNATURE_PREFIX) :])
    if raw is None or len(raw) != ps.SIGNATURE_BYTES:
        return False
    try:
        key.verify(raw, message(context, body))
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


# -- the offer ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferBlock:
    """One origin block in escrow: its id, vintage, methodology and serials (on the origin)."""

    block_id: str
    vintage: int
    methodology: str
    first: int
    last: int

    @property
    def quantity(self) -> int:
        return self.last - self.first + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "block_id": self.block_id,
            "vintage": self.vintage,
            "methodology": self.methodology,
            "first": self.first,
            "last": self.last,
            "quantity": self.quantity,
        }


def offer(
    *,
    transfer_id: str,
    origin_platform: str,
    destination_platform: str,
    origin_scheme: str,
    origin_org: str,
    destination_org: str,
    blocks: Sequence[OfferBlock],
    offered_at: int,
) -> dict[str, Any]:
    """The offer's body, as signed (blocks in serial order)."""
    ordered = sorted(blocks, key=lambda b: (b.first, b.last))
    return {
        "type": OFFER_TYPE,
        "ver": VERSION,
        "transfer_id": transfer_id,
        "origin_platform": origin_platform,
        "destination_platform": destination_platform,
        "origin_scheme": origin_scheme,
        "origin_org": origin_org,
        "destination_org": destination_org,
        "quantity": sum(b.quantity for b in ordered),
        "blocks": [b.to_dict() for b in ordered],
        "offered_at": offered_at,
    }


def _text(value: Any, limit: int = TEXT_MAX) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _int(value: Any, low: int = 0, high: int = QUANTITY_MAX) -> bool:
    return type(value) is int and low <= value <= high


def _block_problem(b: Any) -> str | None:
    if not isinstance(b, dict) or set(b) != {"block_id", "vintage", "methodology", "first", "last", "quantity"}:
        return "a block is {block_id, vintage, methodology, first, last, quantity}"
    if not (_text(b["block_id"], 300) and _text(b["methodology"], 80) and _int(b["vintage"], 1900, 9999)):
        return "block_id, methodology, vintage"
    if not (_int(b["first"], 1) and _int(b["last"], 1) and b["last"] >= b["first"]):
        return "first <= last, both >= 1"
    if b["quantity"] != b["last"] - b["first"] + 1:
        return "quantity = last - first + 1"
    return None


def offer_problem(body: Any) -> str | None:
    """What makes ``body`` not an offer of this version (None: well formed). Signatures are apart."""
    keys = {
        "type",
        "ver",
        "transfer_id",
        "origin_platform",
        "destination_platform",
        "origin_scheme",
        "origin_org",
        "destination_org",
        "quantity",
        "blocks",
        "offered_at",
    }
    if not isinstance(body, dict) or set(body) != keys:
        return f"an offer has exactly the fields {sorted(keys)}"
    if body["type"] != OFFER_TYPE or body["ver"] != VERSION:
        return f"type {OFFER_TYPE}, ver {VERSION}"
    if not isinstance(body["transfer_id"], str) or not TRANSFER_ID_RE.match(body["transfer_id"]):
        return "transfer_id"
    for name in ("origin_platform", "destination_platform"):
        if not isinstance(body[name], str) or not ps.valid_platform_id(body[name]):
            return name
    if not (
        _text(body["origin_scheme"]) and _text(body["origin_org"], ORG_REF_MAX) and _text(body["destination_org"], ORG_REF_MAX)
    ):
        return "origin_scheme, origin_org, destination_org"
    blocks = body["blocks"]
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= BLOCKS_MAX:
        return f"1..{BLOCKS_MAX} blocks"
    for b in blocks:
        problem = _block_problem(b)
        if problem:
            return problem
    ranges = [(b["first"], b["last"]) for b in blocks]
    if ranges != sorted(ranges) or any(x[1] >= y[0] for x, y in zip(ranges, ranges[1:], strict=False)):
        return "blocks in serial order, not overlapping"
    if not _int(body["quantity"], 1) or body["quantity"] != sum(b["quantity"] for b in blocks):
        return "quantity = the blocks' quantities"
    if not _int(body["offered_at"], 0, 2**40):
        return "offered_at (Unix seconds)"
    return None


def offer_blocks(body: Mapping[str, Any]) -> list[OfferBlock]:
    return [OfferBlock(b["block_id"], b["vintage"], b["methodology"], b["first"], b["last"]) for b in body["blocks"]]


# -- the receipt --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MintedBlock:
    """What the destination minted for one origin block: its batch (block id on the destination) and serials."""

    origin_block: str
    batch_id: str
    first: int
    last: int

    def to_dict(self) -> dict[str, Any]:
        return {"origin_block": self.origin_block, "batch_id": self.batch_id, "first": self.first, "last": self.last}


def receipt(
    offer_body: Mapping[str, Any],
    *,
    outcome: str,
    code: str | None,
    destination_scheme: str | None,
    minted: Sequence[MintedBlock],
    at: int,
) -> dict[str, Any]:
    """The receipt's body, as signed: it names the offer by its hash and says what became of it."""
    if outcome not in OUTCOMES or (outcome == REFUSED) != (code is not None) or (outcome == REFUSED and minted):
        raise ValueError("a receipt is minted (blocks, no code) or refused (a code, no blocks)")
    return {
        "type": RECEIPT_TYPE,
        "ver": VERSION,
        "transfer_id": offer_body["transfer_id"],
        "origin_platform": offer_body["origin_platform"],
        "destination_platform": offer_body["destination_platform"],
        "destination_org": offer_body["destination_org"],
        "destination_scheme": destination_scheme,
        "offer_hash": body_hash(offer_body),
        "outcome": outcome,
        "code": code,
        "quantity": sum(m.last - m.first + 1 for m in minted),
        "minted": [m.to_dict() for m in minted],
        "at": at,
    }


def receipt_problem(offer_body: Mapping[str, Any], body: Any) -> str | None:
    """Why ``body`` is not a receipt for exactly this offer (None: it is). Signatures are apart.

    A ``minted`` receipt must mint the offer's quantity, one destination range per origin block in
    order, each as long as its block; a ``refused`` one mints nothing and carries a code."""
    if not isinstance(body, dict) or body.get("type") != RECEIPT_TYPE or body.get("ver") != VERSION:
        return "not a receipt of this version"
    for name in ("transfer_id", "origin_platform", "destination_platform", "destination_org"):
        if body.get(name) != offer_body[name]:
            return f"{name} differs from the offer's"
    if body.get("offer_hash") != body_hash(offer_body):
        return "offer_hash is not the offer's"
    minted = body.get("minted")
    if body.get("outcome") == REFUSED:
        if not isinstance(body.get("code"), str) or minted != [] or body.get("quantity") != 0:
            return "a refusal has a code and mints nothing"
        return None
    if body.get("outcome") != MINTED or body.get("code") is not None or not isinstance(minted, list):
        return "outcome is minted or refused"
    origin = offer_body["blocks"]
    if len(minted) != len(origin):
        return "one minted range per origin block"
    for m, o in zip(minted, origin, strict=True):
        if not isinstance(m, dict) or m.get("origin_block") != o["block_id"]:
            return "minted ranges follow the origin blocks"
        if not (_int(m.get("first"), 1) and _int(m.get("last"), 1)) or m["last"] - m["first"] + 1 != o["quantity"]:
            return f"minted range for {o['block_id']} is not {o['quantity']} credits"
    if body.get("quantity") != offer_body["quantity"]:
        return "quantity differs from the offer's"
    return None


def receipt_valid(
    key: Ed25519PublicKey | None, offer_body: Mapping[str, Any], body: Any, signature: str
) -> tuple[bool, str | None]:
    """(valid, reason): the receipt is well formed for this offer and signed by the destination's key."""
    problem = receipt_problem(offer_body, body)
    if problem is not None:
        return False, problem
    if not signature_valid(key, RECEIPT_CONTEXT, body, signature):
        return False, "bad_signature"
    return True, None


# -- the origin's state machine -------------------------------------------------------------------


def next_state(state: str, outcome: str) -> str:
    """The origin's state after a valid receipt: pending ends once; an end state never changes.

    A receipt that arrives again (a replay, a resume) finds the transfer already ended by the same
    outcome and changes nothing; the other outcome for an ended transfer is impossible (the
    destination stores its one answer per transfer id) and refused here."""
    if state not in STATES or outcome not in OUTCOMES:
        raise ValueError(f"unknown state {state!r} or outcome {outcome!r}")
    ended = COMPLETED if outcome == MINTED else CANCELLED
    if state in (PENDING, ended):
        return ended
    raise ValueError(f"a {state} transfer cannot take a {outcome} receipt")


__all__ = [
    "CANCELLED",
    "COMPLETED",
    "MINTED",
    "OFFER_CONTEXT",
    "PENDING",
    "RECEIPT_CONTEXT",
    "REFUSAL_CODES",
    "REFUSED",
    "STATES",
    "MintedBlock",
    "OfferBlock",
    "body_hash",
    "message",
    "next_state",
    "offer",
    "offer_blocks",
    "offer_problem",
    "receipt",
    "receipt_problem",
    "receipt_valid",
    "sign",
    "signature_valid",
]
