"""What the registry's use cases share: scheme and holder look-ups, the retry on a unique-key race,
the shortfall read, and appending one movement to the scheme's hash-chained log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from tanhui.domain.registry import SCHEME_HOLDER, log
from tanhui.domain.registry.records import Head
from tanhui.domain.registry.verify import Shortfall
from tanhui.domain.registry.verify import shortfall as shortfall_of
from tanhui.domain.schemes import Scheme
from tanhui.errors import Conflict, InvalidInput, NotFound
from tanhui.store.errors import UniqueViolation
from tanhui.store.uow import UnitOfWork

ATTEMPTS_MAX = 3
TEXT_LEN_MAX = {"beneficiary": 200, "purpose": 500}
T = TypeVar("T")


def scheme_of(uow: UnitOfWork, scheme_id: str) -> Scheme:
    scheme = uow.schemes.get(scheme_id)
    if scheme is None:
        raise NotFound("scheme_not_found", scheme_id=scheme_id)
    return scheme


def retrying(work: Callable[[], T]) -> T:
    """A unique-key race (another process issued or spent first) rolls back; deciding again is right."""
    for attempt in range(ATTEMPTS_MAX):
        try:
            return work()
        except UniqueViolation:
            if attempt == ATTEMPTS_MAX - 1:
                raise Conflict("registry_busy") from None
    raise AssertionError("unreachable")


def holder_id(uow: UnitOfWork, scheme_id: str, ref: str) -> int | None:
    """An organisation's row id, or None for the scheme itself ("scheme")."""
    if ref == SCHEME_HOLDER:
        return None
    org = uow.organisations.get(ref)
    if org is None or org.scheme_id != scheme_id:
        raise NotFound("organisation_not_found", organisation_id=ref)
    return org.id


def holders(uow: UnitOfWork, scheme: Scheme, ids: set[int | None]) -> dict[int | None, dict[str, str]]:
    """{"id", "name"} of each holder: organisations by row id, the scheme under None."""
    orgs = uow.organisations.by_ids({i for i in ids if i is not None})
    found: dict[int | None, dict[str, str]] = {None: {"id": SCHEME_HOLDER, "name": scheme.name}}
    found.update({i: {"id": o.public_id, "name": o.name} for i, o in orgs.items()})
    return found


def text(name: str, value: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned or len(cleaned) > TEXT_LEN_MAX[name]:
        raise InvalidInput("invalid_text", details={"field": name}, field=name, max_len=TEXT_LEN_MAX[name])
    return cleaned


def shortfall_in(uow: UnitOfWork, scheme_id: str) -> list[Shortfall]:
    """Batches holding events whose ledger credit was reversed after issuance (see views.shortfall)."""
    reversals = uow.registry.reversed_in_batches(scheme_id)
    return shortfall_of(uow.registry.batches_by_id({r.batch_id for r in reversals}), reversals)


def append_movement(
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
    """Write the next movement of the log after ``head``: (its id, the head after it)."""
    seq = head.seq + 1
    body = log.movement_body(
        scheme_id=head.scheme_id,
        seq=seq,
        kind=kind,
        idempotency_key=key,
        from_org_id=from_org,
        to_org_id=to_org,
        quantity=quantity,
        memo=memo,
        spent=spent,
        created=created,
        created_at=now,
    )
    row_hash = log.movement_hash(head.head_hash, body)
    movement_id = uow.registry.add_movement(
        scheme_id=head.scheme_id,
        seq=seq,
        kind=kind,
        idempotency_key=key,
        request_hash=request,
        from_org_id=from_org,
        to_org_id=to_org,
        quantity=quantity,
        memo=memo,
        created_at=now,
        prev_hash=head.head_hash,
        row_hash=row_hash,
    )
    return movement_id, Head(head.scheme_id, head.next_serial, seq, row_hash)
