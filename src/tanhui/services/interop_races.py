"""Races between platforms (docs/interop.md "At ingest and after a race"): two members credited the
same behaviour before either saw the other's claim. After a sync stored a peer's entries, every member
applies the same rule to the same logged values, so all agree on the winner without talking: of the
platforms whose claim stands, (recorded_at, platform id) earliest wins.

When a peer wins, this platform withdraws, each behaviour in one transaction: a reversing ledger entry
of the event's credit (never a deletion), the withdrawal (logged by the sequencer, so the winner and
the others see it), an audit row. Points the person already spent are not taken below zero: the
reversal takes what the balance holds and the withdrawal records the rest as the shortfall (the
scheme bears it, as it bears any reversal after spending). Grams credited are reversed in full
unless reversed already. A reversed event pooled into an issued credit batch shows in the registry's
shortfall, as any reversal does (services/registry/common.shortfall_in).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tanhui.domain import federation as fed
from tanhui.domain.ledger import ASSET_CO2E, ASSET_POINTS, Posting, TransferGroup
from tanhui.errors import BusinessRuleViolation, NotFound
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.services.federation import Member, member_of
from tanhui.store import Store
from tanhui.store.errors import UniqueViolation
from tanhui.store.rows import Withdrawal
from tanhui.store.uow import UnitOfWork

ATTEMPTS_MAX = 3  # a spend or another resolve between our read and our write: decided again
WITHDRAWN_BY = "system:interop"


def resolve(store: Store, now: datetime | None = None, fingerprints: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Withdraw every claim of this platform that a trusted peer's standing claim beats; the
    withdrawals made (none when this platform won every race, or is in no federation). Idempotent:
    a claim withdrawn once is not looked at again. ``fingerprints``: look at these only (a sync
    passes the entries it just stored; without it every contested claim is looked at)."""
    member = member_of(store)
    if member is None or (fingerprints is not None and not fingerprints):
        return []
    with store.unit_of_work(write=False) as uow:
        contested = uow.interop_claims.contested(fingerprints)
    done = []
    for fingerprint in contested:
        found = _resolve_one(store, member, fingerprint, now or utcnow())
        if found is not None:
            done.append(found)
    return done


def _resolve_one(store: Store, member: Member, fingerprint: str, now: datetime) -> dict[str, Any] | None:
    for attempt in range(ATTEMPTS_MAX):
        try:
            with store.unit_of_work() as uow:
                return _withdraw_if_lost(uow, member, fingerprint, now)
        except UniqueViolation:
            return None  # another resolve withdrew it first: nothing left to do
        except BusinessRuleViolation as error:
            # the person spent points between the balance read and the reversal: read again
            if error.code != "insufficient_balance" or attempt == ATTEMPTS_MAX - 1:
                raise
    return None


def _withdraw_if_lost(uow: UnitOfWork, member: Member, fingerprint: str, now: datetime) -> dict[str, Any] | None:
    repo = uow.interop_claims
    own = repo.own_claim(fingerprint)
    if own is None or repo.withdrawal(fingerprint) is not None:
        return None
    entries = repo.peer_entries([fingerprint])
    standing = fed.standing_claims(
        ((e.fingerprint, e.peer_pk, e.seq, e.kind, e.recorded_at) for e in entries), repo.trusted_peers()
    )
    claimants = standing.get(fingerprint, [])
    if not claimants:
        return None
    winner = fed.winner([(own.recorded_at, member.platform_id), *claimants])
    if winner == member.platform_id:
        return None
    event = repo.credited_event(own.event_pk, own.account_id)
    if event is None:
        raise NotFound("event_not_found", event=own.event_pk)
    reversal_id, short_g, short_points = _reverse(uow, event, fingerprint, winner, now)
    repo.add_withdrawal(
        Withdrawal(fingerprint, winner, own.pkey, own.account_id, own.event_pk, reversal_id, short_g, short_points, now)
    )
    details = {
        "claimed_by": winner,
        "reversal_entry": reversal_id,
        "shortfall_g": short_g,
        "shortfall_points": short_points,
    }
    audit.record(uow, WITHDRAWN_BY, "interop.withdraw", f"event:{own.event_pk}", details, event.scheme_id, now=now)
    return {"fingerprint": fingerprint, "event": own.event_pk, "account_id": own.account_id, **details}


def _reverse(uow: UnitOfWork, event: Any, fingerprint: str, winner: str, now: datetime) -> tuple[int | None, int, int]:
    """The reversing entry of the event's credit, taking no more than the person's balances hold:
    (its id, grams short, points short). None when nothing was credited or it was reversed already."""
    if event.entry_id is None:
        return None, 0, 0
    entry_id = int(event.entry_id)
    if uow.ledger.reversed_ids([entry_id]):
        return None, 0, 0  # an operator's correction reversed it already: nothing more to take
    original = uow.ledger.entry(entry_id)
    assert original is not None
    holdings = uow.ledger.holdings(int(event.account_id))
    mine = {holdings[asset].id: asset for asset in (ASSET_CO2E, ASSET_POINTS) if asset in holdings}
    left = {account_id: uow.ledger.balance(account_id) for account_id in mine}
    postings = []
    short = {ASSET_CO2E: 0, ASSET_POINTS: 0}
    for posting in reversed(original.postings):
        held = posting.to_account_id
        if held not in mine:
            continue
        taken = max(0, min(posting.amount, left[held]))
        left[held] -= taken
        short[mine[held]] += posting.amount - taken
        if taken > 0:
            postings.append(Posting(held, posting.from_account_id, taken))
    if not postings:
        return None, short[ASSET_CO2E], short[ASSET_POINTS]
    scheme = uow.schemes.get(event.scheme_id)
    assert scheme is not None
    group = TransferGroup(
        scheme_id=event.scheme_id,
        kind="reversal",
        postings=tuple(postings),
        idempotency_key=f"interop-withdrawal:{fingerprint}",
        memo={"reason": "interop_withdrawal", "claimed_by": winner},
        reverses_entry_id=entry_id,
    )
    # at the original's person key and a lane of its id, as services/ledger.reverse writes a correction
    [outcome] = uow.ledger.append([group], lane=entry_id % scheme.ledger_chains, now=now)
    assert outcome.entry is not None
    return outcome.entry.id, short[ASSET_CO2E], short[ASSET_POINTS]
