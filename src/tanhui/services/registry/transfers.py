"""Credits moved between registries (issue 16 part 4, docs/interop.md "Credit transfer").

Origin (this platform is A): ``transfer_out`` puts an organisation's blocks in escrow (movement
``transfer_out``) and records the transfer with its signed offer in one transaction; then
``deliver`` sends the offer to the destination as a signed peer request. A valid ``minted`` receipt
settles it (escrow -> ``transferred``, movement ``transfer_settle``); a valid ``refused`` one cancels it
(escrow -> held again, ``transfer_cancel``). Nothing else ends a transfer: an error, a timeout or a
killed process leaves it pending, and ``resume`` sends the same offer again. The destination answers a
repeated offer with the receipt it stored, so the credits are minted once and settled once.

Destination (B): ``receive`` checks the offer and, in one transaction, mints one batch per origin block
(movement ``transfer_in``, the batch labelled with its origin), records the transfer and its end with
the signed receipt; a refusal is recorded the same way, so the answer never changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from tanhui.domain import platform_signing as ps
from tanhui.domain.registry import ESCROW, HELD, SCHEME_HOLDER, TRANSFERRED, SerialRange, block_id, log
from tanhui.domain.registry import transfer as tr
from tanhui.domain.registry.records import Head, TransferRow
from tanhui.domain.schemes import Scheme
from tanhui.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from tanhui.services import audit, interop, interop_client
from tanhui.services.clock import utcnow
from tanhui.services.registry.common import append_movement, holder_id, retrying, scheme_of
from tanhui.services.registry.movements import MoveRequest, _move
from tanhui.store import Store
from tanhui.store.rows import PeerRow
from tanhui.store.uow import UnitOfWork

PATH = "/v1/interop/transfers"
OUT, IN = "out", "in"


# -- the origin -----------------------------------------------------------------------------------


def transfer_out(
    store: Store,
    scheme_id: str,
    *,
    from_org: str,
    to_platform: str,
    to_org: str,
    quantity: int,
    idempotency_key: str | None = None,
    batch: str | None = None,
    deliver_now: bool = True,
    now: datetime | None = None,
    actor: str = "system",
) -> dict[str, Any]:
    """Offer ``quantity`` of ``from_org``'s credits to its account ``to_org`` on peer ``to_platform``.

    Escrow and offer in one transaction (a replay of ``idempotency_key`` finds them), then one delivery
    attempt: the view says ``pending`` when no signed answer came (``tanhui credits transfers resume``)."""
    now = now or utcnow()
    own, key = interop.signing_key(store)
    interop.active_peer(store, to_platform)
    if from_org == SCHEME_HOLDER or not isinstance(to_org, str) or not 0 < len(to_org) <= tr.ORG_REF_MAX:
        raise InvalidInput("invalid_request", details={"from": "an organisation (org_...)", "to_org": "1..100 characters"})
    ikey = idempotency_key or f"auto-{uuid.uuid4().hex}"
    request = {
        "kind": "transfer_out",
        "from": from_org,
        "to_platform": to_platform,
        "to_org": to_org,
        "quantity": quantity,
        "batch": batch,
    }

    def work() -> TransferRow:
        with store.unit_of_work() as uow:
            scheme = scheme_of(uow, scheme_id)
            row, replayed = _escrow(uow, scheme, own, key, ikey, request, now)
            if replayed:  # the same operator request again: the same transfer, logged once
                return row
            audit.record(
                uow,
                actor,
                "credits.transfer_out",
                row.transfer_id,
                {"to_platform": to_platform, "to_org": to_org, "quantity": row.quantity},
                scheme_id,
                now=now,
            )
            return row

    row = retrying(work)
    error = None
    if deliver_now and row.state == tr.PENDING:
        row, error = deliver(store, row)
    return transfer_view(store, row, error)


def _escrow(
    uow: UnitOfWork, scheme: Scheme, own: str, key: Any, ikey: str, request: dict[str, Any], now: datetime
) -> tuple[TransferRow, bool]:
    """The transfer of this operator request, and whether it was made before (a replay)."""
    request_hash = log.request_hash(request)
    uow.registry.lock_head(scheme.id, now)
    found = uow.registry.transfer_by_key(scheme.id, ikey)
    if found is not None:
        if found.request_hash != request_hash:
            raise Conflict("idempotency_conflict", key=ikey)
        return found, True
    transfer_id = f"TRF-{scheme.id}-{uow.registry.count_transfers(OUT) + 1:06d}"
    memo = {"transfer_id": transfer_id, "destination_platform": request["to_platform"], "destination_org": request["to_org"]}
    ask = MoveRequest(
        log.TRANSFER_OUT,
        request["from"],
        request["from"],
        request["quantity"],
        request["batch"],
        None,
        f"out:{ikey}",
        request,
        memo,
    )
    _, movement_id, moved = _move(uow, scheme, ask, now)
    batches = uow.registry.batches_by_id({b for b, _ in moved})
    blocks = [
        tr.OfferBlock(
            block_id(scheme.id, batches[b].vintage, batches[b].methodology, r),
            batches[b].vintage,
            batches[b].methodology,
            r.first,
            r.last,
        )
        for b, r in moved
    ]
    body = tr.offer(
        transfer_id=transfer_id,
        origin_platform=own,
        destination_platform=request["to_platform"],
        origin_scheme=scheme.id,
        origin_org=request["from"],
        destination_org=request["to_org"],
        blocks=blocks,
        offered_at=int(now.timestamp()),
    )
    uow.registry.add_transfer(
        transfer_id=transfer_id,
        direction=OUT,
        origin_platform=own,
        peer_platform=request["to_platform"],
        scheme_id=scheme.id,
        org_id=holder_id(uow, scheme.id, request["from"]),
        quantity=body["quantity"],
        idempotency_key=ikey,
        request_hash=request_hash,
        offer=body,
        offer_signature=tr.sign(key, tr.OFFER_CONTEXT, body),
        movement_id=movement_id,
        created_at=now,
    )
    row = uow.registry.transfer(own, transfer_id)
    assert row is not None
    return row, False


def deliver(store: Store, row: TransferRow) -> tuple[TransferRow, dict[str, Any] | None]:
    """Send a pending transfer's offer once; settle or cancel on a valid signed receipt.

    (the transfer as it is now, the error that left it pending or None)."""
    try:
        response = interop_client.call_peer(
            store, row.peer_platform, "POST", PATH, {"offer": row.offer, "signature": row.offer_signature}
        )
    except (ServiceUnavailable, NotFound) as error:
        return row, {"code": error.code, "status": None}
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200 or not isinstance(answer, dict):
        code = (answer or {}).get("error", {}).get("code") if isinstance(answer, dict) else None
        return row, {"code": code or "peer_error", "status": response.status_code}
    return accept_receipt(store, row, answer.get("receipt"), answer.get("signature"))


def accept_receipt(
    store: Store, row: TransferRow, receipt: Any, signature: Any, *, now: datetime | None = None
) -> tuple[TransferRow, dict[str, Any] | None]:
    """End a pending transfer with the destination's receipt once it verifies (else leave it pending)."""
    peer = interop.active_peer(store, row.peer_platform)
    valid, reason = tr.receipt_valid(ps.public_key(peer.public_key), row.offer, receipt, str(signature or ""))
    if not valid:
        return row, {"code": "invalid_receipt", "status": 200, "reason": reason}
    now = now or utcnow()

    def work() -> TransferRow:
        with store.unit_of_work() as uow:
            return _end(uow, row, receipt, str(signature), now)

    return retrying(work), None


def _end(uow: UnitOfWork, row: TransferRow, receipt: dict[str, Any], signature: str, now: datetime) -> TransferRow:
    """Escrow -> transferred (minted) or back to held (refused), and the transfer's one outcome row."""
    assert row.scheme_id is not None and row.movement_id is not None
    head = uow.registry.lock_head(row.scheme_id, now)
    current = uow.registry.transfer(row.origin_platform, row.transfer_id)
    assert current is not None
    state = tr.next_state(current.state, receipt["outcome"])
    if current.state != tr.PENDING:
        return current  # ended before (a replayed receipt): nothing changes
    minted = receipt["outcome"] == tr.MINTED
    escrow = [b for b in uow.registry.blocks_of_movement(row.movement_id) if b.status == ESCROW and b.spent_by is None]
    batches = uow.registry.batches_by_id({b.batch_id for b in escrow})
    holder = uow.organisations.by_ids({row.org_id} if row.org_id is not None else set())
    ref = holder[row.org_id].public_id if row.org_id in holder else SCHEME_HOLDER
    status = TRANSFERRED if minted else HELD
    kind = log.TRANSFER_SETTLE if minted else log.TRANSFER_CANCEL
    memo = {
        "transfer_id": row.transfer_id,
        "destination_platform": row.peer_platform,
        "outcome": receipt["outcome"],
        "code": receipt["code"],
        "receipt_hash": tr.body_hash(receipt),
    }
    movement_id, head = append_movement(
        uow,
        head,
        kind=kind,
        key=f"{kind}:{row.transfer_id}",
        request=log.request_hash(memo),
        from_org=row.org_id,
        to_org=row.org_id,
        quantity=row.quantity,
        memo=memo,
        spent=[[batches[b.batch_id].public_id, b.serials.first, b.serials.last] for b in escrow],
        created=[[batches[b.batch_id].public_id, b.serials.first, b.serials.last, ref, status] for b in escrow],
        now=now,
    )
    uow.registry.spend([b.id for b in escrow], movement_id)
    for b in escrow:
        uow.registry.add_block(
            scheme_id=row.scheme_id,
            batch_id=b.batch_id,
            serial_first=b.serials.first,
            serial_last=b.serials.last,
            holder_org_id=row.org_id,
            status=status,
            movement_id=movement_id,
        )
    uow.registry.move_head(head, now)
    uow.registry.add_transfer_outcome(
        transfer_pk=row.id, state=state, receipt=receipt, receipt_signature=signature, movement_id=movement_id, created_at=now
    )
    audit.record(uow, "system", f"credits.{kind}", row.transfer_id, {"outcome": receipt["outcome"]}, row.scheme_id, now=now)
    ended = uow.registry.transfer(row.origin_platform, row.transfer_id)
    assert ended is not None
    return ended


def resume(store: Store) -> list[dict[str, Any]]:
    """Send every pending outgoing transfer's offer again (after a timeout, an error or a crash)."""
    with store.unit_of_work(write=False) as uow:
        pending = uow.registry.transfers(direction=OUT, pending_only=True)
    views = []
    for row in pending:
        now_row, error = deliver(store, row)
        views.append(transfer_view(store, now_row, error))
    return views


# -- the destination --------------------------------------------------------------------------------


def receive(store: Store, peer: PeerRow, nonce: str, body: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """A peer's offer (POST /v1/interop/transfers): the signed receipt, the same every time it is asked."""
    now = now or utcnow()
    own, key = interop.signing_key(store)
    if not isinstance(body, dict) or set(body) != {"offer", "signature"} or not isinstance(body["signature"], str):
        raise InvalidInput("invalid_offer", details={"body": '{"offer": {...}, "signature": "ed25519=..."}'}, reason="body")
    offer = body["offer"]
    problem = tr.offer_problem(offer)
    if problem is not None:
        raise InvalidInput("invalid_offer", details={"offer": problem}, reason=problem)
    if offer["origin_platform"] != peer.platform_id or offer["destination_platform"] != own:
        raise InvalidInput(
            "invalid_offer", details={"offer": "origin_platform or destination_platform"}, reason="wrong_destination"
        )

    def work() -> dict[str, Any]:
        with store.unit_of_work() as uow:
            interop.spend_nonce(uow, peer, nonce, now)
            row = _receive_in(uow, peer, own, key, offer, body["signature"], now)
            assert row.receipt is not None
            return {"receipt": row.receipt, "signature": row.receipt_signature}

    return retrying(work)


def _receive_in(
    uow: UnitOfWork, peer: PeerRow, own: str, key: Any, offer: dict[str, Any], signature: str, now: datetime
) -> TransferRow:
    org = uow.organisations.get(offer["destination_org"])
    if org is not None:
        uow.registry.lock_head(org.scheme_id, now)  # writers of this scheme's registry queue here
    found = uow.registry.transfer(peer.platform_id, offer["transfer_id"])
    if found is not None:
        if found.request_hash != tr.body_hash(offer):
            raise Conflict("offer_conflict", transfer_id=offer["transfer_id"])
        return found  # the answer given before, unchanged
    code = None
    if not tr.signature_valid(ps.public_key(peer.public_key), tr.OFFER_CONTEXT, offer, signature):
        code = "bad_offer_signature"
    elif org is None:
        code = "organisation_not_found"
    transfer_pk = uow.registry.add_transfer(
        transfer_id=offer["transfer_id"],
        direction=IN,
        origin_platform=peer.platform_id,
        peer_platform=peer.platform_id,
        scheme_id=org.scheme_id if org is not None and code is None else None,
        org_id=org.id if org is not None and code is None else None,
        quantity=offer["quantity"],
        idempotency_key=None,
        request_hash=tr.body_hash(offer),
        offer=offer,
        offer_signature=signature,
        movement_id=None,
        created_at=now,
    )
    minted: list[tr.MintedBlock] = []
    first_movement = None
    if code is None:
        assert org is not None
        minted, first_movement = _mint(uow, scheme_of(uow, org.scheme_id), org.id, org.public_id, peer.platform_id, offer, now)
    receipt = tr.receipt(
        offer,
        outcome=tr.MINTED if code is None else tr.REFUSED,
        code=code,
        destination_scheme=org.scheme_id if org is not None and code is None else None,
        minted=minted,
        at=int(now.timestamp()),
    )
    uow.registry.add_transfer_outcome(
        transfer_pk=transfer_pk,
        state=tr.COMPLETED if code is None else tr.CANCELLED,
        receipt=receipt,
        receipt_signature=tr.sign(key, tr.RECEIPT_CONTEXT, receipt),
        movement_id=first_movement,
        created_at=now,
    )
    audit.record(
        uow,
        f"platform:{peer.platform_id}",
        "credits.transfer_in",
        offer["transfer_id"],
        {"outcome": receipt["outcome"], "refusal": code, "quantity": receipt["quantity"]},
        org.scheme_id if org is not None else None,
        now=now,
    )
    row = uow.registry.transfer(peer.platform_id, offer["transfer_id"])
    assert row is not None
    return row


def _mint(
    uow: UnitOfWork, scheme: Scheme, org_pk: int, org_ref: str, origin: str, offer: dict[str, Any], now: datetime
) -> tuple[list[tr.MintedBlock], int]:
    """One batch per origin block, serials from this registry's next, held by the receiving organisation.

    The batch pools no events here: its grams are the tonnes minted, its Merkle root the offer's hash
    (what it commits to), and its movement's memo names the origin platform, transfer and block."""
    head = uow.registry.lock_head(scheme.id, now)
    offer_hash = tr.body_hash(offer)
    minted: list[tr.MintedBlock] = []
    first_movement = None
    for block in tr.offer_blocks(offer):
        serials = SerialRange(head.next_serial, head.next_serial + block.quantity - 1)
        public_id = block_id(scheme.id, block.vintage, block.methodology, serials)
        memo = {
            "origin_platform": origin,
            "transfer_id": offer["transfer_id"],
            "origin_block": block.block_id,
            "origin_scheme": offer["origin_scheme"],
            "offer_hash": offer_hash,
        }
        movement_id, head = append_movement(
            uow,
            Head(head.scheme_id, serials.last + 1, head.seq, head.head_hash),
            kind=log.TRANSFER_IN,
            key=f"in:{origin}:{offer['transfer_id']}:{block.first}",
            request=log.request_hash(memo),
            from_org=None,
            to_org=org_pk,
            quantity=block.quantity,
            memo=memo,
            spent=[],
            created=[[public_id, serials.first, serials.last, org_ref, HELD]],
            now=now,
        )
        first_movement = first_movement or movement_id
        batch_pk = uow.registry.add_batch(
            public_id=public_id,
            scheme_id=scheme.id,
            vintage=block.vintage,
            methodology=block.methodology,
            serial_first=serials.first,
            serial_last=serials.last,
            quantity=block.quantity,
            event_count=0,
            consumed_g=block.quantity * 1_000_000,
            carried_in_g=0,
            carried_out_g=0,
            previous_batch_id=None,
            merkle_root=offer_hash,
            as_of_day=now.date().toordinal(),
            movement_id=movement_id,
            issued_at=now,
        )
        uow.registry.add_block(
            scheme_id=scheme.id,
            batch_id=batch_pk,
            serial_first=serials.first,
            serial_last=serials.last,
            holder_org_id=org_pk,
            status=HELD,
            movement_id=movement_id,
        )
        minted.append(tr.MintedBlock(block.block_id, public_id, serials.first, serials.last))
    uow.registry.move_head(head, now)
    assert first_movement is not None
    return minted, first_movement


def status(store: Store, peer: PeerRow, nonce: str, transfer_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """GET /v1/interop/transfers/{id}: the receipt this platform gave for a peer's transfer (404 if none)."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        interop.spend_nonce(uow, peer, nonce, now)
        row = uow.registry.transfer(peer.platform_id, transfer_id)
    if row is None or row.direction != IN or row.receipt is None:
        raise NotFound("transfer_not_found", transfer_id=transfer_id)
    return {"receipt": row.receipt, "signature": row.receipt_signature}


# -- reads ---------------------------------------------------------------------------------------


def transfer_view(store: Store, row: TransferRow, error: dict[str, Any] | None = None) -> dict[str, Any]:
    with store.unit_of_work(write=False) as uow:
        org = uow.organisations.by_ids({row.org_id} if row.org_id is not None else set()).get(row.org_id)  # type: ignore[arg-type]
    return _view(row, org.public_id if org is not None else None, error)


def _view(row: TransferRow, org_ref: str | None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the public registry and the CLI show of a transfer (no personal data: organisations only)."""
    receipt = row.receipt or {}
    return {
        "transfer_id": row.transfer_id,
        "direction": row.direction,
        "state": row.state,
        "origin_platform": row.origin_platform,
        "destination_platform": row.offer.get("destination_platform"),
        "scheme_id": row.scheme_id,
        "organisation": org_ref,
        "destination_org": row.offer.get("destination_org"),
        "quantity": row.quantity,
        "origin_blocks": [b["block_id"] for b in row.offer.get("blocks", [])],
        "vintages": sorted({b["vintage"] for b in row.offer.get("blocks", [])}),
        "minted": receipt.get("minted", []),
        "code": receipt.get("code"),
        "offer": row.offer,
        "offer_signature": row.offer_signature,
        "receipt": row.receipt,
        "receipt_signature": row.receipt_signature,
        "created_at": row.created_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at is not None else None,
        "error": error,
    }


def list_transfers(store: Store, scheme_id: str | None = None, direction: str | None = None) -> list[dict[str, Any]]:
    """Every transfer out of or into this registry (a refusal into it has no scheme: shown unfiltered only)."""
    if direction not in (None, OUT, IN):
        raise InvalidInput("invalid_request", details={"direction": "out | in"})
    with store.unit_of_work(write=False) as uow:
        rows = uow.registry.transfers(scheme_id=scheme_id, direction=direction)
        orgs = uow.organisations.by_ids({r.org_id for r in rows if r.org_id is not None})
    return [_view(r, orgs[r.org_id].public_id if r.org_id in orgs else None) for r in rows]


def transfer_detail(store: Store, origin_platform: str, transfer_id: str) -> dict[str, Any]:
    with store.unit_of_work(write=False) as uow:
        row = uow.registry.transfer(origin_platform, transfer_id)
    if row is None:
        raise NotFound("transfer_not_found", transfer_id=transfer_id)
    return transfer_view(store, row)


__all__ = [
    "accept_receipt",
    "cross_check",
    "deliver",
    "list_transfers",
    "receive",
    "resume",
    "status",
    "transfer_detail",
    "transfer_out",
    "transfer_view",
]


# -- checking against the peers' registries -------------------------------------------------------


def _peer_view(store: Store, row: TransferRow) -> tuple[int | None, dict[str, Any] | None]:
    """(HTTP status, the peer's public view of this transfer); (None, None) when it cannot be reached."""
    try:
        peer = interop.active_peer(store, row.peer_platform)
        with httpx.Client(timeout=interop_client.TIMEOUT_S) as client:
            response = client.get(f"{peer.url}/v1/registry/transfers/{row.origin_platform}/{row.transfer_id}")
        return response.status_code, response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, NotFound):
        return None, None


def _compare(row: TransferRow, status_code: int | None, other: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(problem, note) of one transfer against the peer's record of it."""
    where = f"transfer {row.transfer_id} ({row.direction}, peer {row.peer_platform})"
    if status_code is None:
        return None, f"{where}: the peer could not be asked"
    if status_code == 404 or other is None:
        if row.state == tr.PENDING:
            return None, f"{where}: pending here, unknown to the peer (run `tanhui credits transfers resume`)"
        return f"{where}: {row.state} here, but the peer has no record of it", None
    theirs = other.get("state")
    if tr.PENDING in (row.state, theirs):
        if row.state == theirs:
            return None, f"{where}: pending on both sides"
        return None, f"{where}: {row.state} here, {theirs} at the peer (the origin settles on `resume`)"
    if theirs != row.state or other.get("receipt") != row.receipt:
        return f"{where}: {row.state} here with another receipt than the peer's ({theirs})", None
    return None, None


def cross_check(store: Store) -> dict[str, list[str]]:
    """Each transfer against the peer's public registry: both sides ended it the same way with the same
    signed receipt, so what left here is live there once, and nothing is live on both sides."""
    with store.unit_of_work(write=False) as uow:
        rows = uow.registry.transfers()
    problems: list[str] = []
    notes: list[str] = []
    for row in rows:
        problem, note = _compare(row, *_peer_view(store, row))
        problems += [problem] if problem else []
        notes += [note] if note else []
    return {"problems": problems, "notes": notes, "checked": [r.transfer_id for r in rows]}
