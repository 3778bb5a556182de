"""What the store reads of the registry: plain frozen values, no behaviour beyond small views.

The registry repository returns these; the use cases (services/registry) and the pure checks
(``verify``) read them. Ids are row ids (``id``, ``batch_id``, ``movement_id``); public ids are
strings (``public_id``); an organisation id of None is the scheme itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tanhui.domain.registry.serials import Block, SerialRange


@dataclass(frozen=True, slots=True)
class Head:
    """The one row a registry writer locks: the next serial and the movement log's head."""

    scheme_id: str
    next_serial: int
    seq: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: int
    public_id: str
    scheme_id: str
    vintage: int
    methodology: str
    serials: SerialRange
    quantity: int
    event_count: int
    consumed_g: int
    carried_in_g: int
    carried_out_g: int
    previous_batch_id: int | None
    merkle_root: str
    as_of_day: int
    movement_id: int
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class EligibleEvent:
    pk: int
    scenario: str
    methodology: str
    carbon_g: int
    local_day: int
    fingerprint: str | None
    event_id: str
    partner_id: str


@dataclass(frozen=True, slots=True)
class BatchEvent:
    """One event a batch consumed, as the events table holds it now, with the leaf stored at issuance."""

    position: int
    stored_leaf: str
    pk: int
    scheme_id: str
    status: str
    carbon_g: int
    methodology: str | None
    local_day: int | None
    fingerprint: str | None
    event_id: str
    partner_id: str
    erased: bool = False  # its person was erased: event_id pseudonymised, so only the stored leaf speaks for it


@dataclass(frozen=True, slots=True)
class BlockRow:
    id: int
    batch_id: int
    serials: SerialRange
    holder_org_id: int | None
    status: str
    movement_id: int
    spent_by: int | None

    def as_block(self) -> Block:
        return Block(self.id, self.batch_id, self.serials, self.holder_org_id, self.status)


@dataclass(frozen=True, slots=True)
class MovementRow:
    id: int
    scheme_id: str
    seq: int
    kind: str
    idempotency_key: str | None
    request_hash: str
    from_org_id: int | None
    to_org_id: int | None
    quantity: int
    memo: dict[str, Any]
    created_at: datetime
    prev_hash: str
    row_hash: str


@dataclass(frozen=True, slots=True)
class RetirementRow:
    id: int
    public_id: str
    scheme_id: str
    movement_id: int
    holder_org_id: int | None
    quantity: int
    beneficiary: str
    purpose: str
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Reversal:
    """Events of a batch whose ledger credit was reversed after issuance: how many, how many grams."""

    batch_id: int
    events: int
    grams: int


@dataclass(frozen=True, slots=True)
class TransferRow:
    """A credit transfer between registries, out or in, with its end when it has one (docs/interop.md)."""

    id: int
    transfer_id: str
    direction: str  # "out": this platform is the origin; "in": the destination
    origin_platform: str
    peer_platform: str
    scheme_id: str | None
    org_id: int | None
    quantity: int
    idempotency_key: str | None
    request_hash: str
    offer: dict[str, Any]
    offer_signature: str
    movement_id: int | None
    created_at: datetime
    state: str  # pending | completed | cancelled
    receipt: dict[str, Any] | None = None
    receipt_signature: str | None = None
    end_movement_id: int | None = None
    ended_at: datetime | None = None


__all__ = [
    "BatchEvent",
    "BatchRow",
    "BlockRow",
    "EligibleEvent",
    "Head",
    "MovementRow",
    "RetirementRow",
    "Reversal",
    "TransferRow",
]
