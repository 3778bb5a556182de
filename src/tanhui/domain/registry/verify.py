"""The registry's checks, pure: one function per rule over what the store read, each returning problems.

``tanhui credits verify`` (services/registry/verify.py) reads one scheme in one snapshot into a
``RegistryState``, then each batch's events as a ``BatchContents``, the reversals and the credited
grams per vintage, and calls the rules below in the order ``STATE_RULES`` and ``BATCH_RULES``
declare, then ``shortfall``, ``vintage_totals`` and ``vintages_within_credited``. A problem is one
line of text naming where the break is; no problem means the rule holds. Nothing here reads a
database, so every rule is tested on hand-made values (tests/registry/test_verify_rules.py).

The rules (docs/registry.md):
* the movement log: sequence without gaps, each ``prev_hash`` the previous ``row_hash``, each row
  hash recomputed from the movement and the blocks it spent and created, a transfer or retirement
  creates as many credits as it spends, and the registry head names the last movement;
* serials: no two batches share a serial, the unspent blocks of a batch tile its range exactly, a
  retired block is never spent;
* batches: the id names the serials, the pool chain (each batch follows the pool's previous batch
  and carries in what it carried out), the grams arithmetic ``carried_in + consumed - carried_out =
  quantity t``; the consumed events are credited events of the batch's scheme, methodology and
  vintage, as many and as heavy as recorded, their leaves and Merkle root unchanged since issuance,
  and the ledger's CO2E postings behind them match the consumed grams;
* vintages: the grams issued per vintage stay within the credited grams not reversed; events
  reversed after issuance are a shortfall the operator covers, not a break.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tanhui.domain import platform_signing as ps
from tanhui.domain.registry import log
from tanhui.domain.registry import transfer as tr
from tanhui.domain.registry.issuance import TONNE_G, leaf_record, vintage_days
from tanhui.domain.registry.merkle import leaf_hash, merkle_root
from tanhui.domain.registry.records import BatchEvent, BatchRow, BlockRow, Head, MovementRow, Reversal, TransferRow
from tanhui.domain.registry.serials import (
    ESCROW,
    RETIRED,
    SCHEME_HOLDER,
    TRANSFERRED,
    SerialRange,
    block_id,
    covers_exactly,
    overlapping,
)


@dataclass(frozen=True, slots=True)
class RegistryState:
    """One scheme's registry as stored: the log, the batches, every block (spent or not), the spends."""

    scheme_id: str
    head: Head | None
    movements: tuple[MovementRow, ...] = ()  # in seq order
    batches: tuple[BatchRow, ...] = ()  # in id order (the order they were issued)
    blocks: tuple[BlockRow, ...] = ()  # every block ever created
    spends: tuple[tuple[int, int], ...] = ()  # (block id, movement id) of every spend
    holders: Mapping[int, str] = field(default_factory=dict)  # organisation row id -> public id
    transfers: tuple[TransferRow, ...] = ()  # transfers out of and into this scheme's registry
    own_key: str | None = None  # this platform's public key (base64url), when it has an identity
    peer_keys: Mapping[str, str] = field(default_factory=dict)  # platform id -> public key, removed peers too

    def minted_here(self) -> set[int]:
        """Row ids of the batches minted from another registry (no events of their own, in no pool)."""
        kinds = {m.id: m.kind for m in self.movements}
        return {b.id for b in self.batches if kinds.get(b.movement_id) == log.TRANSFER_IN}


@dataclass(frozen=True, slots=True)
class BatchContents:
    """A batch with the events it consumed (in leaf order, as stored now) and the ledger's CO2E grams behind them."""

    batch: BatchRow
    events: tuple[BatchEvent, ...]
    ledger_g: int


@dataclass(frozen=True, slots=True)
class Shortfall:
    batch_id: str  # public id
    vintage: int
    reversed_events: int
    reversed_g: int

    @property
    def credits_to_cover(self) -> int:
        return -(-self.reversed_g // TONNE_G)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "reversed_events": self.reversed_events,
            "reversed_g": self.reversed_g,
            "credits_to_cover": self.credits_to_cover,
        }


@dataclass(frozen=True, slots=True)
class VintageTotal:
    scheme_id: str
    vintage: int
    credited_g: int
    reversed_g: int
    issued_g: int
    shortfall_g: int

    @property
    def eligible_g(self) -> int:
        return self.credited_g - self.reversed_g

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme_id": self.scheme_id,
            "vintage": self.vintage,
            "credited_g": self.credited_g,
            "reversed_g": self.reversed_g,
            "eligible_g": self.eligible_g,
            "issued_g": self.issued_g,
            "shortfall_g": self.shortfall_g,
        }


@dataclass(slots=True)
class RegistryReport:
    schemes: int = 0
    batches: int = 0
    movements: int = 0
    blocks: int = 0
    problems: list[str] = field(default_factory=list)
    shortfall: list[dict[str, Any]] = field(default_factory=list)
    vintages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "schemes": self.schemes,
            "batches": self.batches,
            "movements": self.movements,
            "blocks": self.blocks,
            "problems": self.problems,
            "shortfall": self.shortfall,
            "vintages": self.vintages,
        }


# -- the movement log ---------------------------------------------------------------------------


def movement_chain(state: RegistryState) -> list[str]:
    """Sequence numbers 1, 2, 3... without gaps; each movement's prev_hash is the previous row hash."""
    problems: list[str] = []
    prev, expected = log.GENESIS_HASH, 1
    for m in state.movements:
        where = f"scheme {state.scheme_id} movement {m.seq}"
        if m.seq != expected:
            problems.append(f"{where}: sequence gap (expected {expected})")
        if m.prev_hash != prev:
            problems.append(f"{where}: prev_hash does not match the previous movement")
        prev, expected = m.row_hash, m.seq + 1
    return problems


def _spent_and_created(state: RegistryState) -> tuple[dict[int, list[BlockRow]], dict[int, list[BlockRow]]]:
    """Per movement id: the blocks it spent, the blocks it created."""
    by_id = {b.id: b for b in state.blocks}
    spent: dict[int, list[BlockRow]] = {}
    for block, movement in state.spends:
        if block in by_id:
            spent.setdefault(movement, []).append(by_id[block])
    created: dict[int, list[BlockRow]] = {}
    for b in state.blocks:
        created.setdefault(b.movement_id, []).append(b)
    return spent, created


def _holder_ref(state: RegistryState, org_id: int | None) -> str:
    if org_id is None:
        return SCHEME_HOLDER
    return state.holders.get(org_id, str(org_id))


def movement_hashes(state: RegistryState) -> list[str]:
    """Each row hash recomputed from the movement and the blocks it spent and created (as the log records them)."""
    problems: list[str] = []
    spent_by, created_by = _spent_and_created(state)
    names = {b.id: b.public_id for b in state.batches}
    for m in state.movements:
        spent = [[names.get(b.batch_id, str(b.batch_id)), b.serials.first, b.serials.last] for b in spent_by.get(m.id, [])]
        created = [
            [
                names.get(b.batch_id, str(b.batch_id)),
                b.serials.first,
                b.serials.last,
                _holder_ref(state, b.holder_org_id),
                b.status,
            ]
            for b in created_by.get(m.id, [])
        ]
        body = log.movement_body(
            scheme_id=state.scheme_id,
            seq=m.seq,
            kind=m.kind,
            idempotency_key=m.idempotency_key,
            from_org_id=m.from_org_id,
            to_org_id=m.to_org_id,
            quantity=m.quantity,
            memo=m.memo,
            spent=spent,
            created=created,
            created_at=m.created_at,
        )
        if log.movement_hash(m.prev_hash, body) != m.row_hash:
            problems.append(
                f"scheme {state.scheme_id} movement {m.seq}: "
                "hash mismatch (the movement or its blocks changed after they were written)"
            )
    return problems


def movement_quantities(state: RegistryState) -> list[str]:
    """A transfer or retirement creates exactly as many credits as it spends (an issuance spends none)."""
    problems: list[str] = []
    spent_by, created_by = _spent_and_created(state)
    for m in state.movements:
        moved_in = sum(b.serials.quantity for b in spent_by.get(m.id, []))
        moved_out = sum(b.serials.quantity for b in created_by.get(m.id, []))
        if m.kind not in log.MINTING and moved_in != moved_out:
            problems.append(f"scheme {state.scheme_id} movement {m.seq}: spends {moved_in} credits but creates {moved_out}")
    return problems


def registry_head(state: RegistryState) -> list[str]:
    """The head row names the last movement's seq and hash."""
    if not state.movements:
        return []
    last, head = state.movements[-1], state.head
    if head is None or head.seq != last.seq or head.head_hash != last.row_hash:
        return [f"scheme {state.scheme_id}: registry head does not match the last movement"]
    return []


# -- serials and blocks -------------------------------------------------------------------------


def retired_never_spent(state: RegistryState) -> list[str]:
    """A retired block never moves again; nor does one transferred to another registry (it lives there now);
    a block in escrow is spent only by its transfer's settlement or cancellation."""
    final = {b.id: b.status for b in state.blocks if b.status in (RETIRED, TRANSFERRED)}
    escrow = {b.id for b in state.blocks if b.status == ESCROW}
    kinds = {m.id: m.kind for m in state.movements}
    problems = [
        f"scheme {state.scheme_id}: {final[b]} block {b} was spent" for b in sorted({b for b, _ in state.spends} & set(final))
    ]
    problems += [
        f"scheme {state.scheme_id}: escrow block {b} was spent by a {kinds.get(m)} movement"
        for b, m in sorted(state.spends)
        if b in escrow and kinds.get(m) not in (log.TRANSFER_SETTLE, log.TRANSFER_CANCEL)
    ]
    return problems


def serials_disjoint(state: RegistryState) -> list[str]:
    """No serial belongs to two batches."""
    return [
        f"scheme {state.scheme_id}: batch serial ranges {a.text()} and {b.text()} overlap"
        for a, b in overlapping(x.serials for x in state.batches)
    ]


def unspent_blocks_tile(state: RegistryState) -> list[str]:
    """Each batch's unspent blocks cover its serial range exactly: no serial lost, none held twice."""
    spent = {b for b, _ in state.spends}
    live: dict[int, list[SerialRange]] = {}
    for x in state.blocks:
        if x.id not in spent:
            live.setdefault(x.batch_id, []).append(x.serials)
    return [
        f"batch {b.public_id}: its unspent blocks do not tile serials {b.serials.text()} exactly"
        for b in state.batches
        if not covers_exactly(b.serials, live.get(b.id, []))
    ]


# -- batches ------------------------------------------------------------------------------------


def batch_ids_name_serials(state: RegistryState) -> list[str]:
    """A batch's public id is the block id of its whole range."""
    return [
        f"batch {b.public_id}: id does not name its serials"
        for b in state.batches
        if b.public_id != block_id(state.scheme_id, b.vintage, b.methodology, b.serials)
    ]


def pool_chain(state: RegistryState) -> list[str]:
    """In each (vintage, methodology) pool, a batch follows the previous one and carries in what it carried out."""
    problems: list[str] = []
    last_of_pool: dict[tuple[int, str], BatchRow] = {}
    minted = state.minted_here()
    for b in state.batches:
        if b.id in minted:
            continue  # minted from another registry: checked by transfers_signed
        last = last_of_pool.get((b.vintage, b.methodology))
        if (last.id if last else None) != b.previous_batch_id:
            problems.append(f"batch {b.public_id}: does not follow the pool's previous batch")
        carried = last.carried_out_g if last else 0
        if b.carried_in_g != carried:
            problems.append(f"batch {b.public_id}: carried in {b.carried_in_g} g, the previous batch carried out {carried} g")
        last_of_pool[(b.vintage, b.methodology)] = b
    return problems


def _offer_valid(key_text: str | None, t: TransferRow) -> bool:
    return tr.signature_valid(ps.public_key(key_text) if key_text else None, tr.OFFER_CONTEXT, t.offer, t.offer_signature)


def _receipt_problem(key_text: str | None, t: TransferRow) -> str | None:
    valid, reason = tr.receipt_valid(ps.public_key(key_text) if key_text else None, t.offer, t.receipt, t.receipt_signature or "")
    return None if valid else reason


def _transfer_problems(
    state: RegistryState, t: TransferRow, moved: Mapping[str, int], ends: Mapping[str, MovementRow]
) -> list[str]:
    """One transfer's signed messages and what the log did with them (see ``transfers_signed``)."""
    where = f"scheme {state.scheme_id} transfer {t.transfer_id} ({t.direction}, {t.origin_platform})"
    origin_key = state.own_key if t.direction == "out" else state.peer_keys.get(t.origin_platform)
    receipt_key = state.peer_keys.get(t.peer_platform) if t.direction == "out" else state.own_key
    problems: list[str] = []
    minted = t.receipt is not None and t.receipt.get("outcome") == tr.MINTED
    if (t.direction == "out" or minted) and not _offer_valid(origin_key, t):
        problems.append(f"{where}: the offer's signature does not verify with {t.origin_platform}'s key")
    if t.receipt is not None:
        reason = _receipt_problem(receipt_key, t)
        if reason is not None:
            problems.append(f"{where}: the receipt does not verify ({reason})")
        elif tr.next_state(tr.PENDING, t.receipt["outcome"]) != t.state:
            problems.append(f"{where}: state {t.state} does not follow its receipt ({t.receipt['outcome']})")
    if t.direction == "out" and t.receipt is not None:
        end = ends.get(t.transfer_id)
        if end is None or end.memo.get("receipt_hash") != tr.body_hash(t.receipt):
            problems.append(f"{where}: the receipt is not the one the log settled the escrow with")
    if t.direction == "in" and moved.get(t.transfer_id, 0) != (t.receipt or {}).get("quantity", 0):
        problems.append(
            f"{where}: minted {moved.get(t.transfer_id, 0)} credits, the receipt says {(t.receipt or {}).get('quantity')}"
        )
    return problems


def transfers_signed(state: RegistryState) -> list[str]:
    """Transfers between registries: every offer out is signed by this platform; every receipt verifies
    with the key of the platform that gave it and names its offer; every batch minted here stands on an
    offer its origin signed, minting exactly what the receipt says; an ended transfer out was settled or
    cancelled in the log with that very receipt, and no serial is both held here and transferred away
    (``retired_never_spent`` and ``unspent_blocks_tile`` hold the transferred serials dead)."""
    minted: dict[str, int] = {}
    ends: dict[str, MovementRow] = {}
    for m in state.movements:
        if m.kind == log.TRANSFER_IN:
            key = f"{m.memo.get('origin_platform')}/{m.memo.get('transfer_id')}"
            minted[key] = minted.get(key, 0) + m.quantity
        elif m.kind in (log.TRANSFER_SETTLE, log.TRANSFER_CANCEL):
            ends[str(m.memo.get("transfer_id"))] = m
    problems: list[str] = []
    for t in state.transfers:
        moved = {t.transfer_id: minted.get(f"{t.origin_platform}/{t.transfer_id}", 0)}
        problems += _transfer_problems(state, t, moved, ends)
    known = {f"{t.origin_platform}/{t.transfer_id}" for t in state.transfers if t.direction == "in"}
    problems += [
        f"scheme {state.scheme_id}: credits minted for {k} without a recorded offer" for k in sorted(set(minted) - known)
    ]
    return problems


def batch_grams(state: RegistryState) -> list[str]:
    """carried in + consumed - carried out = the tonnes issued."""
    return [
        f"batch {b.public_id}: grams do not add up to {b.quantity} t"
        for b in state.batches
        if b.carried_in_g + b.consumed_g - b.carried_out_g != b.quantity * TONNE_G
    ]


def batch_events_belong(scheme_id: str, contents: BatchContents) -> list[str]:
    """Each consumed event is a credited event of the scheme, of the batch's methodology, behaved in its vintage."""
    b = contents.batch
    first, last = vintage_days(b.vintage)
    return [
        f"batch {b.public_id}: event {e.pk} is not a credited {b.methodology} event of {scheme_id} in {b.vintage}"
        for e in contents.events
        if e.scheme_id != scheme_id
        or e.status != "credited"
        or e.methodology != b.methodology
        or not first <= (e.local_day or 0) <= last
    ]


def batch_totals(scheme_id: str, contents: BatchContents) -> list[str]:
    """The batch records as many events and grams as its events hold."""
    b, grams = contents.batch, sum(e.carbon_g for e in contents.events)
    if len(contents.events) != b.event_count or grams != b.consumed_g:
        return [
            (
                f"batch {b.public_id}: records {b.event_count} events / {b.consumed_g} g, "
                f"its events hold {len(contents.events)} / {grams} g"
            )
        ]
    return []


def event_leaf(scheme_id: str, e: BatchEvent) -> str:
    """The leaf an event's stored fields hash to now (as issuance computed it)."""
    return leaf_hash(
        leaf_record(
            scheme_id=scheme_id,
            partner_id=e.partner_id,
            event_id=e.event_id,
            fingerprint=e.fingerprint,
            carbon_g=e.carbon_g,
            methodology=e.methodology or "",
            local_day=e.local_day or 1,
        )
    )


def batch_leaves(scheme_id: str, contents: BatchContents) -> list[str]:
    """Each event still hashes to the leaf stored at issuance, and the leaves to the batch's Merkle root."""
    b = contents.batch
    stored = [e.stored_leaf for e in contents.events]
    # An erased person's event no longer holds the partner's event_id the leaf committed to (issue 18): its
    # stored leaf stands for it (the root over the stored leaves and the batch's grams are still checked).
    now = [e.stored_leaf if e.erased else event_leaf(scheme_id, e) for e in contents.events]
    problems: list[str] = []
    changed = sum(1 for x, y in zip(now, stored, strict=True) if x != y)  # both one per event
    if changed:
        problems.append(f"batch {b.public_id}: {changed} event(s) changed since issuance (leaf mismatch)")
    if merkle_root(stored) != b.merkle_root or merkle_root(now) != b.merkle_root:
        problems.append(f"batch {b.public_id}: Merkle root does not match its events")
    return problems


def batch_ledger(scheme_id: str, contents: BatchContents) -> list[str]:
    """The ledger's CO2E postings behind the batch's events add up to the grams the batch consumed."""
    b, grams = contents.batch, sum(e.carbon_g for e in contents.events)
    if contents.ledger_g != b.consumed_g or contents.ledger_g != grams:
        return [
            (
                f"batch {b.public_id}: the ledger credited {contents.ledger_g} g for its events, "
                f"the batch consumed {b.consumed_g} g, the events now hold {grams} g"
            )
        ]
    return []


# -- vintages -----------------------------------------------------------------------------------


def shortfall(batches: Mapping[int, BatchRow], reversals: Iterable[Reversal]) -> list[Shortfall]:
    """Events reversed after issuance: the batch stays as issued; the operator covers the grams (not a break)."""
    return [Shortfall(batches[r.batch_id].public_id, batches[r.batch_id].vintage, r.events, r.grams) for r in reversals]


def vintage_totals(
    scheme_id: str, batches: Iterable[BatchRow], short: Iterable[Shortfall], credited: Mapping[int, tuple[int, int]]
) -> list[VintageTotal]:
    """Per vintage: credited grams (of which reversed since), grams issued, grams short."""
    issued: dict[int, int] = {}
    for b in batches:  # callers pass the batches issued here (not those minted from another registry)
        issued[b.vintage] = issued.get(b.vintage, 0) + b.quantity * TONNE_G
    short_g: dict[int, int] = {}
    for s in short:
        short_g[s.vintage] = short_g.get(s.vintage, 0) + s.reversed_g
    return [
        VintageTotal(scheme_id, v, *credited.get(v, (0, 0)), issued.get(v, 0), short_g.get(v, 0))
        for v in sorted(set(issued) | set(credited))
    ]


def vintages_within_credited(totals: Iterable[VintageTotal]) -> list[str]:
    """Never a gram issued that was not credited: issued <= credited - reversed + the shortfall reported."""
    return [
        f"scheme {t.scheme_id} vintage {t.vintage}: issued {t.issued_g} g exceeds eligible {t.eligible_g} g"
        for t in totals
        if t.issued_g > t.eligible_g + t.shortfall_g
    ]


# -- the order the rules run in -----------------------------------------------------------------

STATE_RULES: tuple[Callable[[RegistryState], list[str]], ...] = (
    movement_chain,
    movement_hashes,
    movement_quantities,
    registry_head,
    retired_never_spent,
    serials_disjoint,
    unspent_blocks_tile,
    batch_ids_name_serials,
    pool_chain,
    batch_grams,
    transfers_signed,
)
BATCH_RULES: tuple[Callable[[str, BatchContents], list[str]], ...] = (
    batch_events_belong,
    batch_totals,
    batch_leaves,
    batch_ledger,
)


def state_problems(state: RegistryState) -> list[str]:
    return [p for rule in STATE_RULES for p in rule(state)]


def batch_problems(scheme_id: str, contents: BatchContents) -> list[str]:
    return [p for rule in BATCH_RULES for p in rule(scheme_id, contents)]


__all__ = [
    "BATCH_RULES",
    "STATE_RULES",
    "BatchContents",
    "RegistryReport",
    "RegistryState",
    "Shortfall",
    "VintageTotal",
    "batch_events_belong",
    "batch_grams",
    "batch_ids_name_serials",
    "batch_leaves",
    "batch_ledger",
    "batch_problems",
    "batch_totals",
    "event_leaf",
    "movement_chain",
    "movement_hashes",
    "movement_quantities",
    "pool_chain",
    "registry_head",
    "retired_never_spent",
    "serials_disjoint",
    "shortfall",
    "state_problems",
    "transfers_signed",
    "unspent_blocks_tile",
    "vintage_totals",
    "vintages_within_credited",
]
