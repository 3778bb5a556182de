"""Issuance: pool a vintage's eligible credited grams per methodology and issue whole tonnes as
serial-numbered credits (the remainder rule of domain/registry/issuance.py), one batch per pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tanhui.domain.registry import (
    HELD,
    SCHEME_HOLDER,
    TONNE_G,
    Candidate,
    PoolPlan,
    RegistrySettings,
    SerialRange,
    block_id,
    leaf_hash,
    leaf_record,
    log,
    merkle_root,
    plan_pool,
    serial_id,
    vintage_days,
)
from tanhui.domain.registry.records import BatchRow, EligibleEvent, Head
from tanhui.domain.schemes import Scheme
from tanhui.services import audit
from tanhui.services.clock import check_as_of, local_today, utcnow
from tanhui.services.registry.common import append_movement, retrying, scheme_of, shortfall_in
from tanhui.store import Store
from tanhui.store.uow import UnitOfWork

MEMO_KEYS = (
    "batch_id",
    "vintage",
    "methodology",
    "event_count",
    "consumed_g",
    "carried_in_g",
    "carried_out_g",
    "merkle_root",
    "as_of",
)


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
            "scheme_id": self.scheme_id,
            "vintage": self.vintage,
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "issued": self.issued,
            "batches": self.batches,
            "pools": self.pools,
            "shortfall": self.shortfall,
        }


@dataclass(frozen=True, slots=True)
class PoolIssue:
    """One pool's plan with what issuing it means: its events, leaves, root, serials and public id."""

    methodology: str
    previous: BatchRow | None
    plan: PoolPlan
    leaves: tuple[str, ...]
    root: str
    serials: SerialRange
    public_id: str


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
                audit.record(
                    uow,
                    actor,
                    "credits.issue",
                    f"vintage:{vintage}",
                    {
                        "methodology": methodology,
                        "as_of": result.as_of.isoformat(),
                        "issued": result.issued,
                        "batches": [b["batch_id"] for b in result.batches],
                    },
                    scheme_id,
                    now=now,
                )
            return result

    return work() if dry_run else retrying(work)


def _received_before(scheme: Scheme, last_day: date) -> datetime:
    """The first instant after the scheme-local day ``last_day``, in UTC."""
    return datetime.combine(last_day + timedelta(days=1), time(0), ZoneInfo(scheme.timezone)).astimezone(UTC)


def _eligible_by_pool(
    uow: UnitOfWork, scheme: Scheme, settings: RegistrySettings, days: tuple[int, int], methodology: str | None, as_of: date
) -> dict[str, list[EligibleEvent]]:
    """The vintage's eligible events (holding period served, issuable) per methodology."""
    received_before = _received_before(scheme, settings.last_eligible_day(as_of))
    pools: dict[str, list[EligibleEvent]] = {}
    for e in uow.registry.eligible_events(scheme.id, days[0], days[1], received_before, methodology):
        if settings.allows(e.scenario, e.methodology):
            pools.setdefault(e.methodology, []).append(e)
    return pools


def _issue_in(
    uow: UnitOfWork, scheme_id: str, vintage: int, methodology: str | None, as_of: date | None, dry_run: bool, now: datetime
) -> IssueResult:
    scheme = scheme_of(uow, scheme_id)
    settings = RegistrySettings.from_scheme(scheme.settings)
    days = vintage_days(vintage)
    as_of = check_as_of(as_of, scheme.timezone, now) if as_of else local_today(now, scheme.timezone)
    if dry_run:
        head = uow.registry.head(scheme_id) or Head(scheme_id, 1, 0, log.GENESIS_HASH)
    else:
        head = uow.registry.lock_head(scheme_id, now)
    pools = _eligible_by_pool(uow, scheme, settings, days, methodology, as_of)
    result = IssueResult(scheme_id, vintage, as_of, dry_run)
    for ref in sorted(pools):
        found = pools[ref]
        previous = uow.registry.last_batch_in_pool(scheme_id, vintage, ref)
        plan = plan_pool(previous.carried_out_g if previous is not None else 0, [Candidate(e.pk, e.carbon_g) for e in found])
        result.pools.append(_pool_view(ref, found, plan))
        if plan.quantity == 0:
            continue
        pool = _pool_issue(scheme_id, vintage, ref, found, previous, plan, head.next_serial)
        view = _batch_view(scheme_id, vintage, as_of, pool)
        result.batches.append(view)
        head = Head(head.scheme_id, pool.serials.last + 1, head.seq, head.head_hash)
        if not dry_run:
            head = _write_batch(uow, head, vintage, as_of, pool, {k: view[k] for k in MEMO_KEYS}, now)
            view["issued_at"] = now.isoformat()
    if not dry_run and result.batches:
        uow.registry.move_head(head, now)
    result.shortfall = [s.to_dict() for s in shortfall_in(uow, scheme_id)]
    return result


def _pool_issue(
    scheme_id: str,
    vintage: int,
    ref: str,
    found: list[EligibleEvent],
    previous: BatchRow | None,
    plan: PoolPlan,
    next_serial: int,
) -> PoolIssue:
    """What issuing a pool's plan means: the consumed events' leaves, their root, the serials from ``next_serial``."""
    by_pk = {e.pk: e for e in found}
    leaves = tuple(
        leaf_hash(
            leaf_record(
                scheme_id=scheme_id,
                partner_id=e.partner_id,
                event_id=e.event_id,
                fingerprint=e.fingerprint,
                carbon_g=e.carbon_g,
                methodology=e.methodology,
                local_day=e.local_day,
            )
        )
        for e in (by_pk[c.event_pk] for c in plan.consumed)
    )
    serials = SerialRange(next_serial, next_serial + plan.quantity - 1)
    return PoolIssue(ref, previous, plan, leaves, merkle_root(leaves), serials, block_id(scheme_id, vintage, ref, serials))


def _pool_view(ref: str, found: list[EligibleEvent], plan: PoolPlan) -> dict[str, Any]:
    eligible_g = sum(e.carbon_g for e in found)
    return {
        "methodology": ref,
        "eligible_events": len(found),
        "eligible_g": eligible_g,
        "carried_in_g": plan.carried_in_g,
        "issued": plan.quantity,
        "consumed_events": len(plan.consumed),
        "carried_out_g": plan.carried_out_g,
        "pooled_remainder_g": plan.carried_in_g + eligible_g - plan.quantity * TONNE_G,
    }


def _batch_view(scheme_id: str, vintage: int, as_of: date, pool: PoolIssue) -> dict[str, Any]:
    plan, ref = pool.plan, pool.methodology
    return {
        "batch_id": pool.public_id,
        "scheme_id": scheme_id,
        "vintage": vintage,
        "methodology": ref,
        "serial_first": serial_id(scheme_id, vintage, ref, pool.serials.first),
        "serial_last": serial_id(scheme_id, vintage, ref, pool.serials.last),
        "quantity": plan.quantity,
        "issued_g": plan.issued_g,
        "event_count": len(plan.consumed),
        "consumed_g": plan.consumed_g,
        "carried_in_g": plan.carried_in_g,
        "carried_out_g": plan.carried_out_g,
        "merkle_root": pool.root,
        "as_of": as_of.isoformat(),
    }


def _write_batch(
    uow: UnitOfWork, head: Head, vintage: int, as_of: date, pool: PoolIssue, memo: dict[str, Any], now: datetime
) -> Head:
    """The issue movement, the batch, its events (with their leaves) and its one block, held by the scheme."""
    plan, serials, scheme_id = pool.plan, pool.serials, head.scheme_id
    movement_id, head = append_movement(
        uow,
        head,
        kind=log.ISSUE,
        key=f"issue:{pool.public_id}",
        request=log.request_hash(memo),
        from_org=None,
        to_org=None,
        quantity=plan.quantity,
        memo=memo,
        spent=[],
        created=[[pool.public_id, serials.first, serials.last, SCHEME_HOLDER, HELD]],
        now=now,
    )
    batch_pk = uow.registry.add_batch(
        public_id=pool.public_id,
        scheme_id=scheme_id,
        vintage=vintage,
        methodology=pool.methodology,
        serial_first=serials.first,
        serial_last=serials.last,
        quantity=plan.quantity,
        event_count=len(plan.consumed),
        consumed_g=plan.consumed_g,
        carried_in_g=plan.carried_in_g,
        carried_out_g=plan.carried_out_g,
        previous_batch_id=pool.previous.id if pool.previous is not None else None,
        merkle_root=pool.root,
        as_of_day=as_of.toordinal(),
        movement_id=movement_id,
        issued_at=now,
    )
    uow.registry.add_batch_events([(c.event_pk, batch_pk, i, pool.leaves[i]) for i, c in enumerate(plan.consumed)])
    uow.registry.add_block(
        scheme_id=scheme_id,
        batch_id=batch_pk,
        serial_first=serials.first,
        serial_last=serials.last,
        holder_org_id=None,
        status=HELD,
        movement_id=movement_id,
    )
    return head
