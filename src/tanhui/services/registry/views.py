"""Reads of the registry for the public pages, the API, the CLI and certificates: batches, holdings,
retirements and their certificates, Merkle proofs, a person's contributions, the reversal shortfall."""

from __future__ import annotations

from datetime import date
from typing import Any

from tanhui.domain.registry import (
    RETIRED,
    SCHEME_HOLDER,
    TONNE_G,
    SerialRange,
    block_id,
    leaf_hash,
    leaf_record,
    merkle_proof,
    serial_id,
    verify_proof,
)
from tanhui.domain.registry.records import BatchRow, RetirementRow
from tanhui.errors import InvalidInput, NotFound
from tanhui.services.registry.common import holders, scheme_of, shortfall_in
from tanhui.store import Store
from tanhui.store.uow import UnitOfWork


def retirement_url(public_id: str) -> str:
    return f"/registry/retirements/{public_id}"


def batch_view(b: BatchRow) -> dict[str, Any]:
    return {
        "batch_id": b.public_id,
        "scheme_id": b.scheme_id,
        "vintage": b.vintage,
        "methodology": b.methodology,
        "serial_first": serial_id(b.scheme_id, b.vintage, b.methodology, b.serials.first),
        "serial_last": serial_id(b.scheme_id, b.vintage, b.methodology, b.serials.last),
        "quantity": b.quantity,
        "issued_g": b.quantity * TONNE_G,
        "event_count": b.event_count,
        "consumed_g": b.consumed_g,
        "carried_in_g": b.carried_in_g,
        "carried_out_g": b.carried_out_g,
        "merkle_root": b.merkle_root,
        "as_of": date.fromordinal(b.as_of_day).isoformat(),
        "issued_at": b.issued_at.isoformat(),
    }


def block_view(b: BatchRow, serials: SerialRange) -> dict[str, Any]:
    return {
        "block_id": block_id(b.scheme_id, b.vintage, b.methodology, serials),
        "batch_id": b.public_id,
        "vintage": b.vintage,
        "methodology": b.methodology,
        "serial_first": serial_id(b.scheme_id, b.vintage, b.methodology, serials.first),
        "serial_last": serial_id(b.scheme_id, b.vintage, b.methodology, serials.last),
        "quantity": serials.quantity,
        "merkle_root": b.merkle_root,
    }


def certificate_of(uow: UnitOfWork, r: RetirementRow) -> dict[str, Any]:
    """A retirement's certificate: who retired which serials, for whom and why."""
    scheme = scheme_of(uow, r.scheme_id)
    blocks = [b for b in uow.registry.blocks_of_movement(r.movement_id) if b.status == RETIRED]
    batches = uow.registry.batches_by_id({b.batch_id for b in blocks})
    holder = holders(uow, scheme, {r.holder_org_id})[r.holder_org_id]
    views = [block_view(batches[b.batch_id], b.serials) for b in blocks]
    return {
        "retirement_id": r.public_id,
        "scheme_id": r.scheme_id,
        "scheme_name": scheme.name,
        "holder": holder,
        "quantity": r.quantity,
        "tonnes_co2e": r.quantity,
        "beneficiary": r.beneficiary,
        "purpose": r.purpose,
        "details": r.details,
        "retired_at": r.created_at.isoformat(),
        "blocks": views,
        "vintages": sorted({v["vintage"] for v in views}),
        "methodologies": sorted({v["methodology"] for v in views}),
        "url": retirement_url(r.public_id),
        "pdf_url": retirement_url(r.public_id) + ".pdf",
    }


def certificate(store: Store, retirement_id: str) -> dict[str, Any]:
    with store.unit_of_work(write=False) as uow:
        found = uow.registry.retirement(retirement_id)
        if found is None:
            raise NotFound("retirement_not_found", retirement_id=retirement_id)
        return certificate_of(uow, found)


def _with_origin(uow: UnitOfWork, found: list[BatchRow]) -> list[dict[str, Any]]:
    """Batch views; one minted from another registry names its origin platform, transfer and block."""
    origins = uow.registry.minted_origins({b.id for b in found})
    views = []
    for b in found:
        view = batch_view(b)
        memo = origins.get(b.id)
        view["origin"] = (
            None
            if memo is None
            else {
                "platform": memo.get("origin_platform"),
                "scheme": memo.get("origin_scheme"),
                "transfer_id": memo.get("transfer_id"),
                "block_id": memo.get("origin_block"),
            }
        )
        views.append(view)
    return views


def list_batches(store: Store, scheme_id: str | None = None, vintage: int | None = None) -> list[dict[str, Any]]:
    with store.unit_of_work(write=False) as uow:
        return _with_origin(uow, uow.registry.batches(scheme_id, vintage))


def batch_detail(store: Store, batch_public_id: str) -> dict[str, Any]:
    """A batch with who holds its credits now and which were retired, with what certificate."""
    with store.unit_of_work(write=False) as uow:
        b = uow.registry.batch(batch_public_id)
        if b is None:
            raise NotFound("batch_not_found", batch_id=batch_public_id)
        scheme = scheme_of(uow, b.scheme_id)
        live = uow.registry.blocks(b.scheme_id, batch_id=b.id)
        orgs = holders(uow, scheme, {x.holder_org_id for x in live})
        retired_by = {r.movement_id: r.public_id for r in uow.registry.retirements(b.scheme_id)}
        [view] = _with_origin(uow, [b])
        view["blocks"] = [
            {
                **block_view(b, x.serials),
                "holder": orgs[x.holder_org_id],
                "status": x.status,
                "retirement_id": retired_by.get(x.movement_id) if x.status == RETIRED else None,
            }
            for x in live
        ]
        return view


def _holder_filter(uow: UnitOfWork, scheme_id: str | None, organisation: str | None) -> tuple[int | None | str, str | None]:
    """(the blocks' holder filter: an organisation row id, None for the scheme, "any"; the scheme id)."""
    if organisation == SCHEME_HOLDER:
        if scheme_id is None:
            raise InvalidInput("invalid_request", details={"scheme": "missing"})
        return None, scheme_id
    if organisation is None:
        return "any", scheme_id
    org = uow.organisations.get(organisation)
    if org is None or (scheme_id is not None and org.scheme_id != scheme_id):
        raise NotFound("organisation_not_found", organisation_id=organisation)
    return org.id, org.scheme_id


def _holdings_of_scheme(uow: UnitOfWork, scheme_id: str, holder: int | None | str) -> list[dict[str, Any]]:
    scheme = scheme_of(uow, scheme_id)
    live = uow.registry.blocks(scheme_id, holder=holder)
    batches = uow.registry.batches_by_id({x.batch_id for x in live})
    orgs = holders(uow, scheme, {x.holder_org_id for x in live})
    rows: dict[tuple[int | None, int], dict[str, Any]] = {}
    for x in live:
        b = batches[x.batch_id]
        row = rows.setdefault(
            (x.holder_org_id, x.batch_id),
            {
                "scheme_id": scheme_id,
                "holder": orgs[x.holder_org_id],
                "batch_id": b.public_id,
                "vintage": b.vintage,
                "methodology": b.methodology,
                "held": 0,
                "retired": 0,
                "escrow": 0,
                "transferred": 0,
                "blocks": [],
            },
        )
        row[x.status] += x.serials.quantity
        row["blocks"].append({**block_view(b, x.serials), "status": x.status})
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0] is not None, k[0] or 0, k[1]))]


def holdings(store: Store, scheme_id: str | None = None, organisation: str | None = None) -> list[dict[str, Any]]:
    """Credits held and retired per holder and batch (unspent blocks only: the current state).

    ``organisation``: an organisation's public id, or "scheme" (with ``scheme_id``) for the scheme.
    """
    with store.unit_of_work(write=False) as uow:
        holder, scheme_id = _holder_filter(uow, scheme_id, organisation)
        scheme_ids = [scheme_id] if scheme_id is not None else uow.registry.scheme_ids()
        return [row for sid in scheme_ids for row in _holdings_of_scheme(uow, sid, holder)]


def list_retirements(store: Store, scheme_id: str | None = None) -> list[dict[str, Any]]:
    with store.unit_of_work(write=False) as uow:
        return [certificate_of(uow, r) for r in uow.registry.retirements(scheme_id)]


def contributions(store: Store, account_id: int) -> list[dict[str, Any]]:
    """Which batches a person's reductions went into (they contributed them for their points)."""
    with store.unit_of_work(write=False) as uow:
        rows = uow.registry.contributions(account_id)
        batches = uow.registry.batches_by_id({b for b, _, _ in rows})
        return [
            {
                "batch_id": batches[b].public_id,
                "vintage": batches[b].vintage,
                "methodology": batches[b].methodology,
                "events": n,
                "carbon_g": g,
            }
            for b, n, g in rows
        ]


def shortfall(store: Store, scheme_id: str) -> list[dict[str, Any]]:
    """Batches holding events whose ledger credit was reversed after issuance, and by how much.

    The batch stays as issued (its Merkle root still proves what was pooled); the operator covers
    the shortfall, e.g. by retiring ``credits_to_cover`` credits from the scheme's own holdings.
    """
    with store.unit_of_work(write=False) as uow:
        scheme_of(uow, scheme_id)
        return [s.to_dict() for s in shortfall_in(uow, scheme_id)]


def proof(store: Store, partner_id: str, event_id: str, batch: str | None = None) -> dict[str, Any]:
    """ "Was my behaviour part of this batch?" The leaf record, the Merkle proof and its check.

    ``included`` is False (and no proof is given) when the event is in no batch, or not in ``batch``.
    """
    with store.unit_of_work(write=False) as uow:
        found = uow.registry.find_event(partner_id, event_id)
        if found is None:
            raise NotFound("event_not_found", partner_id=partner_id, event_id=event_id)
        event_pk, batch_pk = found
        wanted = None
        if batch is not None:
            wanted = uow.registry.batch(batch)
            if wanted is None:
                raise NotFound("batch_not_found", batch_id=batch)
        if batch_pk is None or (wanted is not None and wanted.id != batch_pk):
            return {"included": False, "partner_id": partner_id, "event_id": event_id, "batch_id": batch}
        return _proof_in(uow, partner_id, event_id, event_pk, batch_pk)


def _proof_in(uow: UnitOfWork, partner_id: str, event_id: str, event_pk: int, batch_pk: int) -> dict[str, Any]:
    b = uow.registry.batches_by_id({batch_pk})[batch_pk]
    record = uow.registry.event_record(event_pk)
    assert record is not None
    leaf_rec = leaf_record(
        scheme_id=b.scheme_id,
        partner_id=record.partner_id,
        event_id=record.event_id,
        fingerprint=record.fingerprint,
        carbon_g=record.carbon_g,
        methodology=record.methodology,
        local_day=record.local_day,
    )
    position = uow.registry.position_of(batch_pk, event_pk)
    assert position is not None
    p = merkle_proof(uow.registry.leaves(batch_pk), position[0])
    leaf = leaf_hash(leaf_rec)
    return {
        "included": True,
        "partner_id": partner_id,
        "event_id": event_id,
        "batch_id": b.public_id,
        "merkle_root": b.merkle_root,
        "record": leaf_rec,
        "leaf": leaf,
        "index": p.index,
        "steps": [list(s) for s in p.steps],
        "verified": leaf == p.leaf and verify_proof(leaf, p.steps, b.merkle_root),
    }
