"""The registry's own hash-chained log: every issuance, transfer and retirement is one movement.

``row_hash = sha256(prev_hash + "\\n" + canonical_json(body))`` where the body names the scheme,
the sequence number, the kind, the idempotency key, the holders, the quantity, the memo, every block
spent and created, and the recording time; ``tanhui credits verify`` recomputes the chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tanhui.domain.canonical import canonical_json, sha256_hex, utc_text

GENESIS_HASH = "0" * 64
ISSUE = "issue"
TRANSFER = "transfer"
RETIRE = "retire"
# credits moved between registries (docs/interop.md "Credit transfer"): on the origin, held -> escrow,
# then escrow -> transferred (settled with the destination's receipt) or escrow -> held (cancelled);
# on the destination, a batch minted with its origin (issues like ISSUE, from no events of its own)
TRANSFER_OUT = "transfer_out"
TRANSFER_SETTLE = "transfer_settle"
TRANSFER_CANCEL = "transfer_cancel"
TRANSFER_IN = "transfer_in"
KINDS = (ISSUE, TRANSFER, RETIRE, TRANSFER_OUT, TRANSFER_SETTLE, TRANSFER_CANCEL, TRANSFER_IN)
MINTING = (ISSUE, TRANSFER_IN)  # movements that create credits from nothing spent


def movement_body(
    *,
    scheme_id: str,
    seq: int,
    kind: str,
    idempotency_key: str | None,
    from_org_id: int | None,
    to_org_id: int | None,
    quantity: int,
    memo: Mapping[str, Any],
    spent: Sequence[Sequence[Any]],
    created: Sequence[Sequence[Any]],
    created_at: datetime,
) -> dict[str, Any]:
    """``spent``: [[batch public id, first, last]]; ``created``: [[batch public id, first, last, holder, status]]."""
    return {
        "scheme": scheme_id,
        "seq": seq,
        "kind": kind,
        "key": idempotency_key,
        "from": from_org_id,
        "to": to_org_id,
        "quantity": quantity,
        "memo": dict(memo),
        "spent": sorted([list(s) for s in spent]),
        "created": sorted([list(c) for c in created], key=lambda c: (c[1], c[2])),
        "at": utc_text(created_at),
    }


def request_hash(value: Any) -> str:
    """What a replay of an idempotency key is compared with."""
    return sha256_hex(canonical_json(value))


def movement_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    return sha256_hex(prev_hash + "\n" + canonical_json(dict(body)))
