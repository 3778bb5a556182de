"""Moving credits: transfer between holders, retire (with a certificate), neutralise a named event,
and buy-and-neutralise (the scheme sells to an organisation, which retires at once).

Blocks are immutable: a movement spends whole blocks and creates the moved part and the change
(domain/registry/serials.py). A replay of an idempotency key with the same request returns the
stored movement; with another request it is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tanhui.domain.registry import (
    ESCROW,
    HELD,
    RETIRED,
    SCHEME_HOLDER,
    Block,
    SerialRange,
    block_id,
    credits_for_emission,
    log,
    parse_block_id,
    plan_move,
)
from tanhui.domain.registry.records import MovementRow, RetirementRow
from tanhui.domain.schemes import Scheme
from tanhui.errors import Conflict, InvalidInput, NotFound
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.services.registry.common import append_movement, holder_id, holders, retrying, scheme_of, text
from tanhui.services.registry.views import block_view, certificate_of
from tanhui.store import Store
from tanhui.store.uow import UnitOfWork

# the state of the moved part: a retirement retires, a transfer out puts in escrow, others hold
STATUS_OF_KIND = {log.RETIRE: RETIRED, log.TRANSFER_OUT: ESCROW}


@dataclass(frozen=True, slots=True)
class MoveRequest:
    """What a movement asks for: from and to whom, how many (or which batch or block), under which key."""

    kind: str
    from_ref: str
    to_ref: str
    quantity: int | None
    batch: str | None
    block: str | None
    key: str | None
    request: dict[str, Any]
    memo: dict[str, Any]


def _choose(
    uow: UnitOfWork, scheme: Scheme, holder: int | None, quantity: int | None, batch: str | None, block: str | None
) -> tuple[list[Block], int]:
    """The holder's held blocks to move from, oldest first, and the quantity."""
    batch_pk = None
    if batch is not None:
        found = uow.registry.batch(batch)
        if found is None or found.scheme_id != scheme.id:
            raise NotFound("batch_not_found", batch_id=batch)
        batch_pk = found.id
    live = uow.registry.blocks(scheme.id, holder=holder, batch_id=batch_pk, status=HELD)
    if block is not None:
        _, serials = parse_block_id(block)
        batches = uow.registry.batches_by_id({b.batch_id for b in live})
        live = [
            b
            for b in live
            if b.serials == serials
            and block_id(scheme.id, batches[b.batch_id].vintage, batches[b.batch_id].methodology, serials) == block
        ]
        if not live:
            raise NotFound("block_not_held", block_id=block)
        quantity = quantity or serials.quantity
    if quantity is None:
        raise InvalidInput("invalid_quantity", quantity=quantity)
    return [b.as_block() for b in live], quantity


def _replayed(uow: UnitOfWork, scheme_id: str, key: str | None, request: str) -> MovementRow | None:
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise InvalidInput("invalid_idempotency_key", key=key)
    found = uow.registry.movement_by_key(scheme_id, key)
    if found is not None and found.request_hash != request:
        raise Conflict("idempotency_conflict", key=key)
    return found


def _move(
    uow: UnitOfWork, scheme: Scheme, ask: MoveRequest, now: datetime
) -> tuple[MovementRow | None, int, list[tuple[int, SerialRange]]]:
    """Spend the holder's blocks and create the moved (and change) blocks. (replayed movement or None, movement id, moved)."""
    request_hash = log.request_hash(ask.request)
    head = uow.registry.lock_head(scheme.id, now)
    before = _replayed(uow, scheme.id, ask.key, request_hash)
    if before is not None:
        return before, before.id, []
    from_org = holder_id(uow, scheme.id, ask.from_ref)
    to_org = holder_id(uow, scheme.id, ask.to_ref)
    if ask.kind == log.TRANSFER and from_org == to_org:
        raise InvalidInput("same_holder", holder=ask.from_ref)
    blocks, quantity = _choose(uow, scheme, from_org, ask.quantity, ask.batch, ask.block)
    move = plan_move(blocks, quantity)
    batches = uow.registry.batches_by_id({b.batch_id for b in move.spent})
    status = STATUS_OF_KIND.get(ask.kind, HELD)
    created = [[batches[b].public_id, r.first, r.last, ask.to_ref, status] for b, r in move.moved]
    created += [[batches[b].public_id, r.first, r.last, ask.from_ref, HELD] for b, r in move.change]
    spent = [[batches[b.batch_id].public_id, b.serials.first, b.serials.last] for b in move.spent]
    movement_id, head = append_movement(
        uow,
        head,
        kind=ask.kind,
        key=ask.key,
        request=request_hash,
        from_org=from_org,
        to_org=to_org,
        quantity=move.quantity,
        memo=ask.memo,
        spent=spent,
        created=created,
        now=now,
    )
    uow.registry.spend([b.id for b in move.spent], movement_id)
    for owner, state, parts in ((to_org, status, move.moved), (from_org, HELD, move.change)):
        for batch_pk, serials in parts:
            uow.registry.add_block(
                scheme_id=scheme.id,
                batch_id=batch_pk,
                serial_first=serials.first,
                serial_last=serials.last,
                holder_org_id=owner,
                status=state,
                movement_id=movement_id,
            )
    uow.registry.move_head(head, now)
    return None, movement_id, list(move.moved)


def _movement_view(uow: UnitOfWork, scheme: Scheme, movement_id: int, replayed: bool) -> dict[str, Any]:
    blocks = uow.registry.blocks_of_movement(movement_id)
    m = uow.registry.movement(movement_id)
    assert m is not None
    batches = uow.registry.batches_by_id({b.batch_id for b in blocks})
    orgs = holders(uow, scheme, {m.from_org_id, m.to_org_id})
    moved = [b for b in blocks if b.holder_org_id == m.to_org_id and (m.kind == log.RETIRE) == (b.status == RETIRED)]
    return {
        "movement": m.seq,
        "kind": m.kind,
        "from": orgs[m.from_org_id],
        "to": orgs[m.to_org_id],
        "quantity": m.quantity,
        "blocks": [block_view(batches[b.batch_id], b.serials) for b in moved],
        "idempotency_key": m.idempotency_key,
        "replayed": replayed,
        "at": m.created_at.isoformat(),
    }


def transfer(
    store: Store,
    scheme_id: str,
    *,
    from_holder: str,
    to_holder: str,
    idempotency_key: str,
    quantity: int | None = None,
    batch: str | None = None,
    block: str | None = None,
    now: datetime | None = None,
    actor: str = "system",
) -> dict[str, Any]:
    """Move ``quantity`` credits (or a whole/partial ``block``) from one holder to another."""
    now = now or utcnow()
    request = {"kind": "transfer", "from": from_holder, "to": to_holder, "quantity": quantity, "batch": batch, "block": block}
    ask = MoveRequest(log.TRANSFER, from_holder, to_holder, quantity, batch, block, idempotency_key, request, {})

    def work() -> dict[str, Any]:
        with store.unit_of_work() as uow:
            scheme = scheme_of(uow, scheme_id)
            before, movement_id, _ = _move(uow, scheme, ask, now)
            if before is not None and before.kind != log.TRANSFER:
                raise Conflict("idempotency_conflict", key=idempotency_key)
            view = _movement_view(uow, scheme, movement_id, before is not None)
            audit.record(
                uow,
                actor,
                "credits.transfer",
                f"movement:{view['movement']}",
                {
                    "from": view["from"]["id"],
                    "to": view["to"]["id"],
                    "quantity": view["quantity"],
                    "blocks": [b["block_id"] for b in view["blocks"]],
                    "replayed": view["replayed"],
                },
                scheme_id,
                now=now,
            )
            return view

    return retrying(work)


@dataclass(frozen=True, slots=True)
class Retirement:
    """What a retirement asks for (the free texts are checked when it is made)."""

    holder: str
    quantity: int | None
    beneficiary: str
    purpose: str
    details: dict[str, Any]
    batch: str | None = None
    block: str | None = None
    key: str | None = None


def _retire_in(uow: UnitOfWork, scheme: Scheme, asked: Retirement, now: datetime) -> RetirementRow:
    beneficiary, purpose = text("beneficiary", asked.beneficiary), text("purpose", asked.purpose)
    request = {
        "kind": "retire",
        "holder": asked.holder,
        "quantity": asked.quantity,
        "batch": asked.batch,
        "block": asked.block,
        "beneficiary": beneficiary,
        "purpose": purpose,
        "details": asked.details,
    }
    memo = {"beneficiary": beneficiary, "purpose": purpose, "details": asked.details}
    ask = MoveRequest(log.RETIRE, asked.holder, asked.holder, asked.quantity, asked.batch, asked.block, asked.key, request, memo)
    before, movement_id, _ = _move(uow, scheme, ask, now)
    if before is not None:
        found = uow.registry.retirement_of_movement(before.id)
        if found is None:
            raise Conflict("idempotency_conflict", key=asked.key)
        return found
    m = uow.registry.movement(movement_id)
    assert m is not None
    public_id = f"RET-{scheme.id}-{uow.registry.count_retirements(scheme.id) + 1:06d}"
    uow.registry.add_retirement(
        public_id=public_id,
        scheme_id=scheme.id,
        movement_id=movement_id,
        holder_org_id=m.from_org_id,
        quantity=m.quantity,
        beneficiary=beneficiary,
        purpose=purpose,
        details=asked.details,
        created_at=now,
    )
    found = uow.registry.retirement(public_id)
    assert found is not None
    return found


def retire(
    store: Store,
    scheme_id: str,
    *,
    holder: str,
    quantity: int | None,
    beneficiary: str,
    purpose: str,
    batch: str | None = None,
    block: str | None = None,
    idempotency_key: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
    actor: str = "system",
) -> dict[str, Any]:
    """Retire credits for a beneficiary and purpose: those serials never move again. The certificate."""
    now = now or utcnow()
    asked = Retirement(holder, quantity, beneficiary, purpose, dict(details or {}), batch, block, idempotency_key)

    def work() -> dict[str, Any]:
        with store.unit_of_work() as uow:
            cert = certificate_of(uow, _retire_in(uow, scheme_of(uow, scheme_id), asked, now))
            _audit_retirement(uow, actor, "credits.retire", cert, now)
            return cert

    return retrying(work)


def _neutralising(
    uow: UnitOfWork,
    scheme: Scheme,
    holder: str,
    name: str,
    emission_t: Any,
    beneficiary: str | None,
    quantity: int,
    key: str | None,
) -> Retirement:
    """The retirement that makes the event ``name`` carbon neutral."""
    return Retirement(
        holder,
        quantity,
        beneficiary or _holder_name(uow, scheme, holder),
        f"{name} 碳中和 / carbon neutrality of {name}",
        {"event": name, "emission_t": str(emission_t)},
        key=key,
    )


def neutralise_event(
    store: Store,
    scheme_id: str,
    *,
    holder: str,
    event_name: str,
    emission_t: Any,
    beneficiary: str | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    actor: str = "system",
) -> dict[str, Any]:
    """Make a named event carbon neutral: retire ceil(emission estimate in t) credits, with a certificate."""
    now = now or utcnow()
    quantity = credits_for_emission(emission_t)
    name = text("purpose", event_name)

    def work() -> dict[str, Any]:
        with store.unit_of_work() as uow:
            scheme = scheme_of(uow, scheme_id)
            asked = _neutralising(uow, scheme, holder, name, emission_t, beneficiary, quantity, idempotency_key)
            cert = certificate_of(uow, _retire_in(uow, scheme, asked, now))
            _audit_retirement(uow, actor, "credits.neutralise", cert, now, emission_t=str(emission_t))
            return cert

    return retrying(work)


def buy_and_neutralise(
    store: Store,
    scheme_id: str,
    *,
    organisation: str,
    event_name: str,
    emission_t: Any,
    idempotency_key: str,
    beneficiary: str | None = None,
    now: datetime | None = None,
    actor: str = "system",
) -> dict[str, Any]:
    """What the demo calls: an organisation buys credits from the scheme and retires them for a named
    event, in one transaction. Returns the certificate (its ``url`` opens the public page).
    Audited as one ``credits.neutralise`` whose details say the credits were bought from the scheme."""
    now = now or utcnow()
    quantity = credits_for_emission(emission_t)
    name = text("purpose", event_name)
    request = {"kind": "transfer", "from": SCHEME_HOLDER, "to": organisation, "quantity": quantity, "batch": None, "block": None}
    buy = MoveRequest(
        log.TRANSFER, SCHEME_HOLDER, organisation, quantity, None, None, f"{idempotency_key}:buy", request, {"sale": name}
    )

    def work() -> dict[str, Any]:
        with store.unit_of_work() as uow:
            scheme = scheme_of(uow, scheme_id)
            _move(uow, scheme, buy, now)
            asked = _neutralising(uow, scheme, organisation, name, emission_t, beneficiary, quantity, f"{idempotency_key}:retire")
            cert = certificate_of(uow, _retire_in(uow, scheme, asked, now))
            _audit_retirement(uow, actor, "credits.neutralise", cert, now, emission_t=str(emission_t), bought_from=SCHEME_HOLDER)
            return cert

    return retrying(work)


def _audit_retirement(uow: UnitOfWork, actor: str, action: str, cert: dict[str, Any], now: datetime, **extra: Any) -> None:
    """Ids and quantities only: the beneficiary and purpose are free text that may name a person."""
    audit.record(
        uow,
        actor,
        action,
        cert["retirement_id"],
        {
            "holder": cert["holder"]["id"],
            "quantity": cert["quantity"],
            "blocks": [b["block_id"] for b in cert["blocks"]],
            **extra,
        },
        cert["scheme_id"],
        now=now,
    )


def _holder_name(uow: UnitOfWork, scheme: Scheme, ref: str) -> str:
    org_id = holder_id(uow, scheme.id, ref)
    return holders(uow, scheme, {org_id})[org_id]["name"]
