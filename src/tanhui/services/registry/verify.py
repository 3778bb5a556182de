"""``tanhui credits verify``: read each scheme's registry in one snapshot and run the pure checks of
domain/registry/verify.py over it. Reads here, rules there: nothing in this module decides a problem."""

from __future__ import annotations

from tanhui.domain.registry import verify as rules
from tanhui.domain.registry.verify import BatchContents, RegistryReport, RegistryState
from tanhui.domain.schemes import Scheme
from tanhui.services.registry.common import scheme_of, shortfall_in
from tanhui.store import Store
from tanhui.store.uow import UnitOfWork

__all__ = ["RegistryReport", "verify"]


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
            _verify_scheme(uow, scheme_of(uow, sid), report)
    return report


def read_state(uow: UnitOfWork, scheme: Scheme) -> RegistryState:
    """One scheme's movement log, batches, blocks (spent or not), spends and the public ids of the holders."""
    reg = uow.registry
    movements = reg.movements(scheme.id)
    blocks = reg.blocks(scheme.id, live_only=False)
    org_ids = {b.holder_org_id for b in blocks} | {m.from_org_id for m in movements} | {m.to_org_id for m in movements}
    orgs = uow.organisations.by_ids({i for i in org_ids if i is not None})
    own = uow.interop.platform()
    return RegistryState(
        scheme_id=scheme.id,
        head=reg.head(scheme.id),
        movements=tuple(movements),
        batches=tuple(reg.batches(scheme.id)),
        blocks=tuple(blocks),
        spends=tuple(reg.spends(scheme.id)),
        holders={i: o.public_id for i, o in orgs.items()},
        transfers=tuple(reg.transfers(scheme_id=scheme.id)),
        own_key=own.public_key if own is not None else None,
        peer_keys={p.platform_id: p.public_key for p in uow.interop.peers(include_removed=True)},
    )


def _verify_scheme(uow: UnitOfWork, scheme: Scheme, report: RegistryReport) -> None:
    state = read_state(uow, scheme)
    report.schemes += 1
    report.movements += len(state.movements)
    report.blocks += len(state.blocks)
    report.batches += len(state.batches)
    report.problems.extend(rules.state_problems(state))
    minted = state.minted_here()
    for b in state.batches:  # one batch's events in memory at a time
        if b.id in minted:
            continue  # minted from another registry: no events here; rules.transfers_signed checks it
        contents = BatchContents(b, tuple(uow.registry.batch_event_records(b.id)), uow.registry.ledger_co2e_of_batch(b.id))
        report.problems.extend(rules.batch_problems(scheme.id, contents))
    short = shortfall_in(uow, scheme.id)
    report.shortfall.extend(s.to_dict() for s in short)
    issued_here = [b for b in state.batches if b.id not in minted]
    totals = rules.vintage_totals(scheme.id, issued_here, short, uow.registry.credited_grams_by_vintage(scheme.id))
    report.vintages.extend(t.to_dict() for t in totals)
    report.problems.extend(rules.vintages_within_credited(totals))
