"""The credit registry's use cases (docs/registry.md), each in one unit of work.

issue · transfer · retire · neutralise_event · buy_and_neutralise · proof · listings · certificate ·
shortfall · contributions · verify. Every writer locks the scheme's registry head first, so on
PostgreSQL two issuances (or transfers) of one scheme queue instead of racing; the primary keys of
``credit_batch_events`` and ``credit_block_spends`` refuse a double issue or spend regardless.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo


from tanhui.store.errors import UniqueViolation
from tanhui.domain.registry import (
    HELD,
    RETIRED,
    SCHEME_HOLDER,
    TONNE_G,
    Block,
    Candidate,
    RegistrySettings,
    SerialRange,
    block_id,
    covers_exactly,
    credits_for_emission,
    leaf_hash,
    leaf_record,
    merkle_proof,
    merkle_root,
    overlapping,
    parse_block_id,
    plan_move,
    plan_pool,
    serial_id,
    verify_proof,
    vintage_days,
)
from tanhui.domain.registry import log
from tanhui.domain.schemes import Scheme
from tanhui.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.repositories.organisations import OrganisationRow
from tanhui.store.repositories.registry import BatchRow, BlockRow, Head, MovementRow, RetirementRow
from tanhui.store.uow import UnitOfWork

ATTEMPTS_MAX = 3
TEXT_LEN_MAX = {"beneficiary": 200, "purpose": 500}
T = TypeVar("T")


# -- helpers --------------------------------------------------------------------------------

def _scheme(uow: UnitOfWork, scheme_id: str) -> Scheme:
    scheme = uow.schemes.get(scheme_id)
    if scheme is None:
        raise NotFound("scheme_not_found", scheme_id=scheme_id)
    return scheme


def _retrying(work: Callable[[], T]) -> T:
    """A unique-key race (another process issued or spent first) rolls back; deciding again is right."""
    for attempt in range(ATTEMPTS_MAX):
        try:
            return work()
        except UniqueViolation:
            if attempt == ATTEMPTS_MAX - 1:
                raise Conflict("registry_busy") from None
    raise AssertionError("unreachable")


def _holder_id(uow: UnitOfWork, scheme_id: str, ref: str) -> int | None:
    """An organisation's row id, or None for the scheme itself ("scheme")."""
    if ref == SCHEME_HOLDER:
        return None
    org = uow.organisations.get(ref)
    if org is None or org.scheme_id != scheme_id:
        raise NotFound("organisation_not_found", organisation_id=ref)
    return org.id


def _holders(uow: UnitOfWork, scheme: Scheme, ids: set[int | None]) -> dict[int | None, dict[str, str]]:
    orgs = uow.organisations.by_ids({i for i in ids if i is not None})
    found: dict[int | None, dict[str, str]] = {None: {"id": SCHEME_HOLDER, "name": scheme.name}}
    found.update({i: {"id": o.public_id, "name": o.name} for i, o in orgs.items()})
    return found


def _holder_ref(orgs: dict[int | None, dict[str, str]], org_id: int | None) -> str:
    return orgs[org_id]["id"] if org_id in orgs else str(org_id)


def _text(name: str, value: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned or len(cleaned) > TEXT_LEN_MAX[name]:
        raise InvalidInput("invalid_text", details={"field": name}, field=name, max_len=TEXT_LEN_MAX[name])
    return cleaned


def _received_before(scheme: Scheme, last_day: date) -> datetime:
    """The first instant after the scheme-local day ``last_day``, in UTC."""
    return datetime.combine(last_day + timedelta(days=1), time(0), ZoneInfo(scheme.timezone)).astimezone(timezone.utc)


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


def _block_view(b: BatchRow, serials: SerialRange) -> dict[str, Any]:
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


def _append_movement(
    uow: UnitOfWork,
    head: Head,
    *,
    kind: str,
    key: str | None,
    request: str,
    from_org: int | None,
    to_org: int | None,
    quantity: int,
    memo: dict[str, Any],
    spent: Sequence[Sequence[Any]],
    created: Sequence[Sequence[Any]],
    now: datetime,
) -> tuple[int, Head]:
    seq = head.seq + 1
    body = log.movement_body(
        scheme_id=head.scheme_id, seq=seq, kind=kind, idempotency_key=key, from_org_id=from_org, to_org_id=to_org,
        quantity=quantity, memo=memo, spent=spent, created=created, created_at=now,
    )
    row_hash = log.movement_hash(head.head_hash, body)
    movement_id = uow.registry.add_movement(
        scheme_id=head.scheme_id, seq=seq, kind=kind, idempotency_key=key, request_hash=request, from_org_id=from_org,
        to_org_id=to_org, quantity=quantity, memo=memo, created_at=now, prev_hash=head.head_hash, row_hash=row_hash,
    )
    return movement_id, Head(head.scheme_id, head.next_serial, seq, row_hash)


# -- issuance -------------------------------------------------------------------------------

@dataclass(slots=True)
class IssueResult:
    scheme_id: str
    vintage: int
    as_of: date
    dry_run: bool
    batches: list[dict[str, Any]] = field(default_factory=list)
    pools: list[dict[str, Any]] = field(default_factory=list)
    shortfall: list[dict[str, Any]] = field(default_factory=list)

    @property
    def issued(self) -> int:
        return sum(b["quantity"] for b in self.batches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme_id": self.scheme_id, "vintage": self.vintage, "as_of": self.as_of.isoformat(), "dry_run": self.dry_run,
            "issued": self.issued, "batches": self.batches, "pools": self.pools, "shortfall": self.shortfall,
        }


def issue(
    store: Store,
    scheme_id: str,
    vintage: int,
    *,
    methodology: str | None = None,
    as_of: date | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    actor: str = "system",
) -> IssueResult:
    """Pool the eligible grams of a vintage per methodology and issue whole tonnes as credits.

    Running it again for the same inputs issues nothing new: consumed events are in a batch, and
    what is left of each pool is below a tonne. A dry run writes nothing, so it is not audited.
    """
    now = now or utcnow()
    store.require_initialised()

    def work() -> IssueResult:
        with store.unit_of_work(write=not dry_run) as uow:
            result = _issue_in(uow, scheme_id, vintage, methodology, as_of, dry_run, now)
            if not dry_run:
                audit.record(uow, actor, "credits.issue", f"vintage:{vintage}", {
                    "methodology": methodology, "as_of": result.as_of.isoformat(), "issued": result.issued,
                    "batches": [b["batch_id"] for b in result.batches],
                }, scheme_id, now=now)
            return result

    return work() if dry_run else _retrying(work)


def _issue_in(
    uow: UnitOfWork, scheme_id: str, vintage: int, methodology: str | None, as_of: date | None, dry_run: bool, now: datetime
) -> IssueResult:
    scheme = _scheme(uow, scheme_id)
    settings = RegistrySettings.from_scheme(scheme.settings)
    day_first, day_last = vintage_days(vintage)
    as_of = as_of or now.astimezone(ZoneInfo(scheme.timezone)).date()
    head = uow.registry.lock_head(scheme_id, now) if not dry_run else (uow.registry.head(scheme_id) or Head(scheme_id, 1, 0, log.GENESIS_HASH))
    received_before = _received_before(scheme, settings.last_eligible_day(as_of))
    eligible = [
        e for e in uow.registry.eligible_events(scheme_id, day_first, day_last, received_before, methodology)
        if settings.allows(e.scenario, e.methodology)
    ]
    pools: dict[str, list[Any]] = {}
    for e in eligible:
        pools.setdefault(e.methodology, []).append(e)
    result = IssueResult(scheme_id, vintage, as_of, dry_run)
    for ref in sorted(pools):
        found = pools[ref]
        previous = uow.registry.last_batch_in_pool(scheme_id, vintage, ref)
        carried_in = previous.carried_out_g if previous is not None else 0
        plan = plan_pool(carried_in, [Candidate(e.pk, e.carbon_g) for e in found])
        pool = {
            "methodology": ref, "eligible_events": len(found), "eligible_g": sum(e.carbon_g for e in found),
            "carried_in_g": carried_in, "issued": plan.quantity, "consumed_events": len(plan.consumed),
            "carried_out_g": plan.carried_out_g,
            "pooled_remainder_g": carried_in + sum(e.carbon_g for e in found) - plan.quantity * TONNE_G,
        }
        result.pools.append(pool)
        if plan.quantity == 0:
            continue
        by_pk = {e.pk: e for e in found}
        leaves = [
            leaf_hash(leaf_record(
                scheme_id=scheme_id, partner_id=e.partner_id, event_id=e.event_id, fingerprint=e.fingerprint,
                carbon_g=e.carbon_g, methodology=e.methodology, local_day=e.local_day,
            ))
            for e in (by_pk[c.event_pk] for c in plan.consumed)
        ]
        root = merkle_root(leaves)
        serials = SerialRange(head.next_serial, head.next_serial + plan.quantity - 1)
        public_id = block_id(scheme_id, vintage, ref, serials)
        view = {
            "batch_id": public_id, "scheme_id": scheme_id, "vintage": vintage, "methodology": ref,
            "serial_first": serial_id(scheme_id, vintage, ref, serials.first),
            "serial_last": serial_id(scheme_id, vintage, ref, serials.last),
            "quantity": plan.quantity, "issued_g": plan.issued_g, "event_count": len(plan.consumed),
            "consumed_g": plan.consumed_g, "carried_in_g": plan.carried_in_g, "carried_out_g": plan.carried_out_g,
            "merkle_root": root, "as_of": as_of.isoformat(),
        }
        result.batches.append(view)
        head = Head(head.scheme_id, serials.last + 1, head.seq, head.head_hash)
        if dry_run:
            continue
        memo = {k: view[k] for k in ("batch_id", "vintage", "methodology", "event_count", "consumed_g", "carried_in_g", "carried_out_g", "merkle_root", "as_of")}
        movement_id, head = _append_movement(
            uow, head, kind=log.ISSUE, key=f"issue:{public_id}", request=log.request_hash(memo), from_org=None, to_org=None,
            quantity=plan.quantity, memo=memo, spent=[], created=[[public_id, serials.first, serials.last, SCHEME_HOLDER, HELD]], now=now,
        )
        batch_pk = uow.registry.add_batch(
            public_id=public_id, scheme_id=scheme_id, vintage=vintage, methodology=ref, serial_first=serials.first,
            serial_last=serials.last, quantity=plan.quantity, event_count=len(plan.consumed), consumed_g=plan.consumed_g,
            carried_in_g=plan.carried_in_g, carried_out_g=plan.carried_out_g,
            previous_batch_id=previous.id if previous is not None else None, merkle_root=root, as_of_day=as_of.toordinal(),
            movement_id=movement_id, issued_at=now,
        )
        uow.registry.add_batch_events([(c.event_pk, batch_pk, i, leaves[i]) for i, c in enumerate(plan.consumed)])
        uow.registry.add_block(
            scheme_id=scheme_id, batch_id=batch_pk, serial_first=serials.first, serial_last=serials.last,
            holder_org_id=None, status=HELD, movement_id=movement_id,
        )
        view["issued_at"] = now.isoformat()
    if not dry_run and result.batches:
        uow.registry.move_head(head, now)
    result.shortfall = _shortfall_in(uow, scheme_id)
    return result


def _shortfall_in(uow: UnitOfWork, scheme_id: str) -> list[dict[str, Any]]:
    rows = uow.registry.reversed_in_batches(scheme_id)
    batches = uow.registry.batches_by_id({b for b, _, _ in rows})
    return [
        {
            "batch_id": batches[b].public_id, "reversed_events": n, "reversed_g": g,
            "credits_to_cover": -(-g // TONNE_G),
        }
        for b, n, g in rows
    ]


def shortfall(store: Store, scheme_id: str) -> list[dict[str, Any]]:
    """Batches holding events whose ledger credit was reversed after issuance, and by how much.

    The batch stays as issued (its Merkle root still proves what was pooled); the operator covers
    the shortfall, e.g. by retiring ``credits_to_cover`` credits from the scheme's own holdings.
    """
    with store.unit_of_work(write=False) as uow:
        _scheme(uow, scheme_id)
        return _shortfall_in(uow, scheme_id)


# -- transfers and retirements --------------------------------------------------------------

def _choose(uow: UnitOfWork, scheme: Scheme, holder: int | None, quantity: int | None, batch: str | None, block: str | None) -> tuple[list[Block], int]:
    """The holder's held blocks to move from, oldest first, and the quantity."""
    batch_pk = None
    if batch is not None:
        found = uow.registry.batch(batch)
        if found is None or found.scheme_id != scheme.id:
            raise NotFound("batch_not_found", batch_id=batch)
        batch_pk = found.id
    live = [b for b in uow.registry.blocks(scheme.id, holder=holder, batch_id=batch_pk, status=HELD)]
    if block is not None:
        prefix, serials = parse_block_id(block)
        batches = uow.registry.batches_by_id({b.batch_id for b in live})
        live = [
            b for b in live
            if b.serials == serials and block_id(scheme.id, batches[b.batch_id].vintage, batches[b.batch_id].methodology, serials) == block
        ]
        if not live:
            raise NotFound("block_not_held", block_id=block)
        quantity = quantity or serials.quantity
        del prefix
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
    uow: UnitOfWork,
    scheme: Scheme,
    *,
    kind: str,
    from_ref: str,
    to_ref: str,
    quantity: int | None,
    batch: str | None,
    block: str | None,
    key: str | None,
    request: dict[str, Any],
    memo: dict[str, Any],
    now: datetime,
) -> tuple[MovementRow | None, int, list[tuple[int, SerialRange]]]:
    """Spend the holder's blocks and create the moved (and change) blocks. (replayed movement or None, movement id, moved)."""
    request_hash = log.request_hash(request)
    head = uow.registry.lock_head(scheme.id, now)
    before = _replayed(uow, scheme.id, key, request_hash)
    if before is not None:
        return before, before.id, []
    from_org = _holder_id(uow, scheme.id, from_ref)
    to_org = _holder_id(uow, scheme.id, to_ref)
    if kind == log.TRANSFER and from_org == to_org:
        raise InvalidInput("same_holder", holder=from_ref)
    blocks, quantity = _choose(uow, scheme, from_org, quantity, batch, block)
    move = plan_move(blocks, quantity)
    batches = uow.registry.batches_by_id({b.batch_id for b in move.spent})
    status = RETIRED if kind == log.RETIRE else HELD
    created = [[batches[b].public_id, r.first, r.last, to_ref, status] for b, r in move.moved]
    created += [[batches[b].public_id, r.first, r.last, from_ref, HELD] for b, r in move.change]
    spent = [[batches[b.batch_id].public_id, b.serials.first, b.serials.last] for b in move.spent]
    movement_id, head = _append_movement(
        uow, head, kind=kind, key=key, request=request_hash, from_org=from_org, to_org=to_org, quantity=move.quantity,
        memo=memo, spent=spent, created=created, now=now,
    )
    uow.registry.spend([b.id for b in move.spent], movement_id)
    for batch_pk, serials in move.moved:
        uow.registry.add_block(
            scheme_id=scheme.id, batch_id=batch_pk, serial_first=serials.first, serial_last=serials.last,
            holder_org_id=to_org, status=status, movement_id=movement_id,
        )
    for batch_pk, serials in move.change:
        uow.registry.add_block(
            scheme_id=scheme.id, batch_id=batch_pk, serial_first=serials.first, serial_last=serials.last,
            holder_org_id=from_org, status=HELD, movement_id=movement_id,
        )
    uow.registry.move_head(head, now)
    return None, movement_id, list(move.moved)


def _movement_view(uow: UnitOfWork, scheme: Scheme, movement_id: int, replayed: bool) -> dict[str, Any]:
    blocks = [b for b in uow.registry.blocks_of_movement(movement_id)]
    m = uow.registry.movement(movement_id)
    assert m is not None
    batches = uow.registry.batches_by_id({b.batch_id for b in blocks})
    orgs = _holders(uow, scheme, {m.from_org_id, m.to_org_id})
    moved = [b for b in blocks if b.holder_org_id == m.to_org_id and (m.kind == log.RETIRE) == (b.status == RETIRED)]
    return {
        "movement": m.seq,
        "kind": m.kind,
        "from": orgs[m.from_org_id],
        "to": orgs[m.to_org_id],
        "quantity": m.quantity,
        "blocks": [_block_view(batches[b.batch_id], b.serials) for b in moved],
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

    def work() -> dict[str, Any]:
        with store.unit_of_work() as uow:
            scheme = _scheme(uow, scheme_id)
            before, movement_id, _ = _move(
                uow, scheme, kind=log.TRANSFER, from_ref=from_holder, to_ref=to_holder, quantity=quantity, batch=batch,
                block=block, key=idempotency_key, request=request, memo={}, now=now,
            )
            if before is not None and before.kind != log.TRANSFER:
                raise Conflict("idempotency_conflict", key=idempotency_key)
            view = _movement_view(uow, scheme, movement_id, before is not None)
            audit.record(uow, actor, "credits.transfer", f"movement:{view['movement']}", {
                "from": view["from"]["id"], "to": view["to"]["id"], "quantity": view["quantity"],
                "blocks": [b["block_id"] for b in view["blocks"]], "replayed": view["replayed"],
            }, scheme_id, now=now)
            return view

    return _retrying(work)


def _retire_in(
    uow: UnitOfWork,
    scheme: Scheme,
    *,
    holder: str,
    quantity: int | None,
    beneficiary: str,
    purpose: str,
    details: dict[str, Any],
    batch: str | None,
    block: str | None,
    key: str | None,
    now: datetime,
) -> RetirementRow:
    beneficiary, purpose = _text("beneficiary", beneficiary), _text("purpose", purpose)
    request = {"kind": "retire", "holder": holder, "quantity": quantity, "batch": batch, "block": block,
               "beneficiary": beneficiary, "purpose": purpose, "details": details}
    memo = {"beneficiary": beneficiary, "purpose": purpose, "details": details}
    before, movement_id, _ = _move(
        uow, scheme, kind=log.RETIRE, from_ref=holder, to_ref=holder, quantity=quantity, batch=batch, block=block,
        key=key, request=request, memo=memo, now=now,
    )
    if before is not None:
        found = uow.registry.retirement_of_movement(before.id)
        if found is None:
            raise Conflict("idempotency_conflict", key=key)
        return found
    m = uow.registry.movement(movement_id)
    assert m is not None
    public_id = f"RET-{scheme.id}-{uow.registry.count_retirements(scheme.id) + 1:06d}"
    uow.registry.add_retirement(
        public_id=public_id, scheme_id=scheme.id, movement_id=movement_id, holder_org_id=m.from_org_id, quantity=m.quantity,
        beneficiary=beneficiary, purpose=purpose, details=details, created_at=now,
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

    def work() -> dict[str, Any]:
        with store.unit_of_work() as uow:
            scheme = _scheme(uow, scheme_id)
            found = _retire_in(
                uow, scheme, holder=holder, quantity=quantity, beneficiary=beneficiary, purpose=purpose,
                details=dict(details or {}), batch=batch, block=block, key=idempotency_key, now=now,
            )
            cert = _certificate_in(uow, found)
            _audit_retirement(uow, actor, "credits.retire", cert, now)
            return cert

    return _retrying(work)


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
    name = _text("purpose", event_name)

    def work() -> dict[str, Any]:
        with store.unit_of_work() as uow:
            scheme = _scheme(uow, scheme_id)
            found = _retire_in(
                uow, scheme, holder=holder, quantity=quantity, beneficiary=beneficiary or _holder_name(uow, scheme, holder),
                purpose=f"{name} 碳中和 / carbon neutrality of {name}", details={"event": name, "emission_t": str(emission_t)},
                batch=None, block=None, key=idempotency_key, now=now,
            )
            cert = _certificate_in(uow, found)
            _audit_retirement(uow, actor, "credits.neutralise", cert, now, emission_t=str(emission_t))
            return cert

    return _retrying(work)


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
    name = _text("purpose", event_name)

    def work() -> dict[str, Any]:
        with store.unit_of_work() as uow:
            scheme = _scheme(uow, scheme_id)
            buy_key = f"{idempotency_key}:buy"
            request = {"kind": "transfer", "from": SCHEME_HOLDER, "to": organisation, "quantity": quantity, "batch": None, "block": None}
            _move(
                uow, scheme, kind=log.TRANSFER, from_ref=SCHEME_HOLDER, to_ref=organisation, quantity=quantity, batch=None,
                block=None, key=buy_key, request=request, memo={"sale": name}, now=now,
            )
            found = _retire_in(
                uow, scheme, holder=organisation, quantity=quantity,
                beneficiary=beneficiary or _holder_name(uow, scheme, organisation),
                purpose=f"{name} 碳中和 / carbon neutrality of {name}", details={"event": name, "emission_t": str(emission_t)},
                batch=None, block=None, key=f"{idempotency_key}:retire", now=now,
            )
            cert = _certificate_in(uow, found)
            _audit_retirement(uow, actor, "credits.neutralise", cert, now, emission_t=str(emission_t), bought_from=SCHEME_HOLDER)
            return cert

    return _retrying(work)


def _audit_retirement(uow: UnitOfWork, actor: str, action: str, cert: dict[str, Any], now: datetime, **extra: Any) -> None:
    """Ids and quantities only: the beneficiary and purpose are free text that may name a person."""
    audit.record(uow, actor, action, cert["retirement_id"], {
        "holder": cert["holder"]["id"], "quantity": cert["quantity"], "blocks": [b["block_id"] for b in cert["blocks"]], **extra,
    }, cert["scheme_id"], now=now)


def _holder_name(uow: UnitOfWork, scheme: Scheme, ref: str) -> str:
    org_id = _holder_id(uow, scheme.id, ref)
    return _holders(uow, scheme, {org_id})[org_id]["name"]


# -- certificates and public listings -------------------------------------------------------

def retirement_url(public_id: str) -> str:
    return f"/registry/retirements/{public_id}"


def _certificate_in(uow: UnitOfWork, r: RetirementRow) -> dict[str, Any]:
    scheme = _scheme(uow, r.scheme_id)
    blocks = [b for b in uow.registry.blocks_of_movement(r.movement_id) if b.status == RETIRED]
    batches = uow.registry.batches_by_id({b.batch_id for b in blocks})
    holder = _holders(uow, scheme, {r.holder_org_id})[r.holder_org_id]
    views = [_block_view(batches[b.batch_id], b.serials) for b in blocks]
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
        return _certificate_in(uow, found)


def list_batches(store: Store, scheme_id: str | None = None, vintage: int | None = None) -> list[dict[str, Any]]:
    with store.unit_of_work(write=False) as uow:
        return [batch_view(b) for b in uow.registry.batches(scheme_id, vintage)]


def batch_detail(store: Store, batch_public_id: str) -> dict[str, Any]:
    """A batch with who holds its credits now and which were retired, with what certificate."""
    with store.unit_of_work(write=False) as uow:
        b = uow.registry.batch(batch_public_id)
        if b is None:
            raise NotFound("batch_not_found", batch_id=batch_public_id)
        scheme = _scheme(uow, b.scheme_id)
        live = uow.registry.blocks(b.scheme_id, batch_id=b.id)
        orgs = _holders(uow, scheme, {x.holder_org_id for x in live})
        retired_by = {r.movement_id: r.public_id for r in uow.registry.retirements(b.scheme_id)}
        view = batch_view(b)
        view["blocks"] = [
            {**_block_view(b, x.serials), "holder": orgs[x.holder_org_id], "status": x.status,
             "retirement_id": retired_by.get(x.movement_id) if x.status == RETIRED else None}
            for x in live
        ]
        return view


def holdings(store: Store, scheme_id: str | None = None, organisation: str | None = None) -> list[dict[str, Any]]:
    """Credits held and retired per holder and batch (unspent blocks only: the current state).

    ``organisation``: an organisation's public id, or "scheme" (with ``scheme_id``) for the scheme.
    """
    with store.unit_of_work(write=False) as uow:
        holder: int | None | str = "any"
        if organisation == SCHEME_HOLDER:
            if scheme_id is None:
                raise InvalidInput("invalid_request", details={"scheme": "missing"})
            holder = None
        elif organisation is not None:
            org = uow.organisations.get(organisation)
            if org is None or (scheme_id is not None and org.scheme_id != scheme_id):
                raise NotFound("organisation_not_found", organisation_id=organisation)
            holder, scheme_id = org.id, org.scheme_id
        scheme_ids = [scheme_id] if scheme_id is not None else uow.registry.scheme_ids()
        out: list[dict[str, Any]] = []
        for sid in scheme_ids:
            scheme = _scheme(uow, sid)
            live = uow.registry.blocks(sid, holder=holder)
            batches = uow.registry.batches_by_id({x.batch_id for x in live})
            orgs = _holders(uow, scheme, {x.holder_org_id for x in live})
            rows: dict[tuple[int | None, int], dict[str, Any]] = {}
            for x in live:
                b = batches[x.batch_id]
                row = rows.setdefault((x.holder_org_id, x.batch_id), {
                    "scheme_id": sid, "holder": orgs[x.holder_org_id], "batch_id": b.public_id, "vintage": b.vintage,
                    "methodology": b.methodology, "held": 0, "retired": 0, "blocks": [],
                })
                row["held" if x.status == HELD else "retired"] += x.serials.quantity
                row["blocks"].append({**_block_view(b, x.serials), "status": x.status})
            out.extend(rows[k] for k in sorted(rows, key=lambda k: (k[0] is not None, k[0] or 0, k[1])))
        return out


def list_retirements(store: Store, scheme_id: str | None = None) -> list[dict[str, Any]]:
    with store.unit_of_work(write=False) as uow:
        return [_certificate_in(uow, r) for r in uow.registry.retirements(scheme_id)]


def contributions(store: Store, account_id: int) -> list[dict[str, Any]]:
    """Which batches a person's reductions went into (they contributed them for their points)."""
    with store.unit_of_work(write=False) as uow:
        rows = uow.registry.contributions(account_id)
        batches = uow.registry.batches_by_id({b for b, _, _ in rows})
        return [
            {"batch_id": batches[b].public_id, "vintage": batches[b].vintage, "methodology": batches[b].methodology,
             "events": n, "carbon_g": g}
            for b, n, g in rows
        ]


# -- proofs ---------------------------------------------------------------------------------

def proof(store: Store, partner_id: str, event_id: str, batch: str | None = None) -> dict[str, Any]:
    """"Was my behaviour part of this batch?" The leaf record, the Merkle proof and its check.

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
        b = uow.registry.batches_by_id({batch_pk})[batch_pk]
        record = uow.registry.event_record(event_pk)
        assert record is not None
        leaf_rec = leaf_record(
            scheme_id=b.scheme_id, partner_id=record.partner_id, event_id=record.event_id, fingerprint=record.fingerprint,
            carbon_g=record.carbon_g, methodology=record.methodology, local_day=record.local_day,
        )
        leaves = uow.registry.leaves(batch_pk)
        position = uow.registry.position_of(batch_pk, event_pk)
        assert position is not None
        p = merkle_proof(leaves, position[0])
        return {
            "included": True,
            "partner_id": partner_id,
            "event_id": event_id,
            "batch_id": b.public_id,
            "merkle_root": b.merkle_root,
            "record": leaf_rec,
            "leaf": leaf_hash(leaf_rec),
            "index": p.index,
            "steps": [list(s) for s in p.steps],
            "verified": leaf_hash(leaf_rec) == p.leaf and verify_proof(leaf_hash(leaf_rec), p.steps, b.merkle_root),
        }


# -- verification ---------------------------------------------------------------------------

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
            "ok": self.ok, "schemes": self.schemes, "batches": self.batches, "movements": self.movements,
            "blocks": self.blocks, "problems": self.problems, "shortfall": self.shortfall, "vintages": self.vintages,
        }


def verify(store: Store, scheme_id: str | None = None) -> RegistryReport:
    """Recompute the registry from its rows and the events table; report every problem found.

    The movement log's hash chain and head; each batch's leaves (recomputed from the events as
    stored now), Merkle root, grams arithmetic, pool chain, vintage and methodology; the ledger's
    CO2E postings behind each batch; serial ranges (no overlap; each batch's range tiled exactly by
    its unspent blocks); no retired block ever spent; issued grams per vintage within the credited
    grams. Reversals after issuance are reported as shortfall, not as breaks.
    """
    report = RegistryReport()
    with store.unit_of_work(write=False, isolation="repeatable_read") as uow:
        ids = [scheme_id] if scheme_id is not None else uow.registry.scheme_ids()
        for sid in ids:
            _verify_scheme(uow, _scheme(uow, sid), report)
    return report


def _verify_scheme(uow: UnitOfWork, scheme: Scheme, report: RegistryReport) -> None:
    reg = uow.registry
    problems = report.problems
    report.schemes += 1
    sid = scheme.id
    batches = reg.batches(sid)
    by_pk = {b.id: b for b in batches}
    by_public = {b.public_id: b for b in batches}
    all_blocks = reg.blocks(sid, live_only=False)
    block_by_id = {b.id: b for b in all_blocks}
    orgs = _holders(uow, scheme, {b.holder_org_id for b in all_blocks})
    movements = reg.movements(sid)
    org_ids = {m.from_org_id for m in movements} | {m.to_org_id for m in movements}
    orgs.update(_holders(uow, scheme, org_ids))
    spends = reg.spends(sid)
    spent_by_movement: dict[int, list[BlockRow]] = {}
    for block_pk, movement_id in spends:
        spent_by_movement.setdefault(movement_id, []).append(block_by_id[block_pk])
    created_by_movement: dict[int, list[BlockRow]] = {}
    for b in all_blocks:
        created_by_movement.setdefault(b.movement_id, []).append(b)

    # the movement log
    prev, expected_seq = log.GENESIS_HASH, 1
    for m in movements:
        report.movements += 1
        where = f"scheme {sid} movement {m.seq}"
        if m.seq != expected_seq:
            problems.append(f"{where}: sequence gap (expected {expected_seq})")
        if m.prev_hash != prev:
            problems.append(f"{where}: prev_hash does not match the previous movement")
        spent = [[by_pk[b.batch_id].public_id, b.serials.first, b.serials.last] for b in spent_by_movement.get(m.id, [])]
        created = [
            [by_pk[b.batch_id].public_id, b.serials.first, b.serials.last, _holder_ref(orgs, b.holder_org_id), b.status]
            for b in created_by_movement.get(m.id, [])
        ]
        body = log.movement_body(
            scheme_id=sid, seq=m.seq, kind=m.kind, idempotency_key=m.idempotency_key, from_org_id=m.from_org_id,
            to_org_id=m.to_org_id, quantity=m.quantity, memo=m.memo, spent=spent, created=created, created_at=m.created_at,
        )
        if log.movement_hash(m.prev_hash, body) != m.row_hash:
            problems.append(f"{where}: hash mismatch (the movement or its blocks changed after they were written)")
        moved_in = sum(b.serials.quantity for b in spent_by_movement.get(m.id, []))
        moved_out = sum(b.serials.quantity for b in created_by_movement.get(m.id, []))
        if m.kind != log.ISSUE and moved_in != moved_out:
            problems.append(f"{where}: spends {moved_in} credits but creates {moved_out}")
        prev, expected_seq = m.row_hash, m.seq + 1
    head = reg.head(sid)
    if movements and (head is None or head.seq != movements[-1].seq or head.head_hash != movements[-1].row_hash):
        problems.append(f"scheme {sid}: registry head does not match the last movement")

    # blocks: no retired block is ever spent; unspent blocks tile each batch's range
    spent_ids = {b for b, _ in spends}
    report.blocks += len(all_blocks)
    for block_pk in sorted(spent_ids):
        if block_by_id[block_pk].status == RETIRED:
            problems.append(f"scheme {sid}: retired block {block_pk} was spent")
    for a, b in overlapping(x.serials for x in batches):
        problems.append(f"scheme {sid}: batch serial ranges {a.text()} and {b.text()} overlap")
    live_by_batch: dict[int, list[SerialRange]] = {}
    for x in all_blocks:
        if x.id not in spent_ids:
            live_by_batch.setdefault(x.batch_id, []).append(x.serials)
    for b in batches:
        if not covers_exactly(b.serials, live_by_batch.get(b.id, [])):
            problems.append(f"batch {b.public_id}: its unspent blocks do not tile serials {b.serials.text()} exactly")

    # batches: leaves, roots, grams, pools, the ledger
    issued_by_vintage: dict[int, int] = {}
    previous_of_pool: dict[tuple[int, str], BatchRow | None] = {}
    day_ranges: dict[int, tuple[int, int]] = {}
    for b in batches:
        report.batches += 1
        where = f"batch {b.public_id}"
        if b.public_id != block_id(sid, b.vintage, b.methodology, b.serials):
            problems.append(f"{where}: id does not name its serials")
        pool = (b.vintage, b.methodology)
        last = previous_of_pool.get(pool)
        if (last.id if last else None) != b.previous_batch_id:
            problems.append(f"{where}: does not follow the pool's previous batch")
        if b.carried_in_g != (last.carried_out_g if last else 0):
            problems.append(f"{where}: carried in {b.carried_in_g} g, the previous batch carried out {last.carried_out_g if last else 0} g")
        previous_of_pool[pool] = b
        if b.carried_in_g + b.consumed_g - b.carried_out_g != b.quantity * TONNE_G:
            problems.append(f"{where}: grams do not add up to {b.quantity} t")
        days = day_ranges.setdefault(b.vintage, vintage_days(b.vintage))
        leaves, stored, grams, count = [], [], 0, 0
        for r in reg.batch_event_records(b.id):
            count += 1
            rec = leaf_record(
                scheme_id=sid, partner_id=r.partner_id, event_id=r.event_id, fingerprint=r.fingerprint,
                carbon_g=int(r.carbon_g), methodology=r.methodology or "", local_day=int(r.local_day or 1),
            )
            leaves.append(leaf_hash(rec))
            stored.append(r.leaf_hash)
            grams += int(r.carbon_g)
            if r.scheme_id != sid or r.status != "credited" or r.methodology != b.methodology or not days[0] <= int(r.local_day or 0) <= days[1]:
                problems.append(f"{where}: event {r.id} is not a credited {b.methodology} event of {sid} in {b.vintage}")
        if count != b.event_count or grams != b.consumed_g:
            problems.append(f"{where}: records {b.event_count} events / {b.consumed_g} g, its events hold {count} / {grams} g")
        if leaves != stored:
            problems.append(f"{where}: {sum(1 for x, y in zip(leaves, stored) if x != y)} event(s) changed since issuance (leaf mismatch)")
        if merkle_root(stored) != b.merkle_root or merkle_root(leaves) != b.merkle_root:
            problems.append(f"{where}: Merkle root does not match its events")
        ledger_g = reg.ledger_co2e_of_batch(b.id)
        if ledger_g != b.consumed_g or ledger_g != grams:
            problems.append(
                f"{where}: the ledger credited {ledger_g} g for its events, the batch consumed {b.consumed_g} g, "
                f"the events now hold {grams} g"
            )
        issued_by_vintage[b.vintage] = issued_by_vintage.get(b.vintage, 0) + b.quantity * TONNE_G

    report.shortfall.extend(_shortfall_in(uow, sid))
    short_by_vintage: dict[int, int] = {}
    for s in report.shortfall:
        v = by_public[s["batch_id"]].vintage
        short_by_vintage[v] = short_by_vintage.get(v, 0) + s["reversed_g"]
    credited = reg.credited_grams_by_vintage(sid)
    for vintage in sorted(set(issued_by_vintage) | set(credited)):
        credited_g, reversed_g = credited.get(vintage, (0, 0))
        issued_g = issued_by_vintage.get(vintage, 0)
        eligible_g = credited_g - reversed_g
        report.vintages.append({
            "scheme_id": sid, "vintage": vintage, "credited_g": credited_g, "reversed_g": reversed_g,
            "eligible_g": eligible_g, "issued_g": issued_g, "shortfall_g": short_by_vintage.get(vintage, 0),
        })
        if issued_g > eligible_g + short_by_vintage.get(vintage, 0):
            problems.append(f"scheme {sid} vintage {vintage}: issued {issued_g} g exceeds eligible {eligible_g} g")


def organisation(store: Store, public_id: str) -> OrganisationRow:
    with store.unit_of_work(write=False) as uow:
        found = uow.organisations.get(public_id)
    if found is None:
        raise NotFound("organisation_not_found", organisation_id=public_id)
    return found
