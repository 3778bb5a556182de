"""Ingest behaviour events: each report becomes exactly one outcome (api-v1.md "Behaviour events").

prepare -> read the facts -> decide (domain/ingest.py: ``decide_batch``) -> write.

Before the write transaction (``prepare``): the pure stage (parsing, quantifying, hashing, the
events' JSON) and the reads of what never changes once written (people's ledger accounts, the
scheme's issuance accounts). Inside it, only what earlier batches may have changed: one set-based
query per kind of fact (earlier events, consents, claimed behaviours, usage, holdings), the decision
(pure), one insert per table. One transaction per batch; one bad event never fails the batch. The
importer's processes prepare in parallel and take turns for the transaction.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tanhui import metrics
from tanhui.domain import events as ev
from tanhui.domain import federation as fed
from tanhui.domain.canonical import canonical_json
from tanhui.domain.engagement import campaigns_from_settings
from tanhui.domain.ingest import (
    Decision,
    Facts,
    Link,
    Staged,
    UsageKey,
    Used,
    consent_asked,
    decide_batch,
    fingerprints_for,
    may_credit,
    month_key,
)
from tanhui.domain.ingest import stage as stage_events
from tanhui.domain.ledger import ASSET_CO2E, ASSET_POINTS, SYSTEM_ISSUANCE, LedgerAccount
from tanhui.domain.methodology import Library
from tanhui.domain.points import rules_for_scheme
from tanhui.domain.schemes import Scheme
from tanhui.errors import NotFound
from tanhui.services.clock import utcnow
from tanhui.services.federation import Member, member_of
from tanhui.services.methodologies import REGION_KEY, default_library, scheme_pins
from tanhui.services.partners import spend_nonce
from tanhui.store import Store
from tanhui.store.distribution import pkey_of
from tanhui.store.errors import UniqueViolation
from tanhui.store.rows import EVENT_COLUMNS, PartnerRow, lane_name
from tanhui.store.uow import UnitOfWork

ATTEMPTS_MAX = 3  # a unique-key race with another process: the batch is decided again


@dataclass(slots=True)
class Prepared:
    """A batch after ``prepare``: staged events and the unchanging facts the write turn needs."""

    scheme: Scheme
    staged: list[Staged]
    people: dict[str, tuple[int, dict[str, LedgerAccount]]]  # user_ref -> (account, holdings by asset)
    issuance: tuple[LedgerAccount, LedgerAccount]  # the scheme's CO2E and POINTS issuance accounts
    member: Member | None = None  # this platform in its federation (None: not in one)


@dataclass(slots=True)
class BatchOutcome:
    results: list[dict[str, Any]]
    summary: dict[str, int]
    stored: int = 0


def stage(events: Sequence[Any], partner: PartnerRow, scheme: Scheme, library: Library, received_at: datetime) -> list[Staged]:
    """The pure stage (domain/ingest.py) with the scheme's methodology pins and region."""
    return stage_events(
        events, scheme, partner.scenarios, library, received_at, pins=scheme_pins(scheme), region=scheme.settings.get(REGION_KEY)
    )


def ingest_events(
    store: Store,
    partner: PartnerRow,
    events: Sequence[Any],
    *,
    nonce: str | None = None,
    now: datetime | None = None,
    library: Library | None = None,
    turn: AbstractContextManager[Any] | None = None,
) -> BatchOutcome:
    """Decide and store one batch. A replayed batch changes nothing and answers `duplicate`.

    ``turn`` is held around the write transaction only (services/bulk.py: the importer's processes
    prepare their batches in parallel and take turns to write them, in file order).
    """
    received_at = now or utcnow()
    library = library or default_library()
    # Prepared before the write transaction, so another writer (an HTTP worker, the importer's
    # other process) holds SQLite's lock only for the store's own work.
    prepared = prepare(store, partner, events, library, received_at)
    with turn or nullcontext():
        outcome = _write_with_retries(store, partner, events, prepared, library, received_at, nonce)
    metrics.record_batch(outcome, partner.scheme_id, events)  # after the commit: counted once
    return outcome


def prepare(store: Store, partner: PartnerRow, events: Sequence[Any], library: Library, received_at: datetime) -> Prepared | None:
    """Stage the batch and read what no other batch can change; None when the scheme is gone."""
    member = member_of(store)
    with store.unit_of_work(write=False) as uow:
        scheme = uow.schemes.get(partner.scheme_id)
        if scheme is None:
            return None
        return _prepared(uow, partner, scheme, stage(events, partner, scheme, library, received_at), member)


def _prepared(uow: UnitOfWork, partner: PartnerRow, scheme: Scheme, staged: list[Staged], member: Member | None) -> Prepared:
    """The staged batch with the people's ledger accounts, the issuance accounts and store-shaped
    values (times as bound, behaviour fingerprints for the people known now; the turn recomputes a
    fingerprint only if the person's account is not the one assumed here; federation fingerprints of
    global behaviours when this platform is in a federation)."""
    refs = [s.event.user_ref for s in staged if s.event.user_ref is not None and consent_asked(s)]
    people = uow.ledger.holdings_by_ref(partner.pk, refs) if refs else {}
    issuance = (
        uow.ledger.system_account(scheme.id, ASSET_CO2E, SYSTEM_ISSUANCE),
        uow.ledger.system_account(scheme.id, ASSET_POINTS, SYSTEM_ISSUANCE),
    )
    bind = uow.events.bind_time
    for item in staged:
        event = item.event
        item.occurred_bound = bind(event.occurred_at)
        if item.identity is not None and event.user_ref is not None:
            person = people.get(event.user_ref)
            if person is not None:
                item.fingerprint, item.earlier_fingerprints = fingerprints_for(item, person[0])
                item.fingerprint_account = person[0]
        if member is not None and item.identity is not None and fed.federated(item.identity_scope):
            assert event.scenario is not None
            item.federation_fingerprint = fed.fingerprint(member.key, event.scenario, item.identity)
    return Prepared(scheme, staged, people, issuance, member)


def _write_with_retries(
    store: Store,
    partner: PartnerRow,
    events: Sequence[Any],
    prepared: Prepared | None,
    library: Library,
    received_at: datetime,
    nonce: str | None,
) -> BatchOutcome:
    for attempt in range(ATTEMPTS_MAX):
        try:
            with store.unit_of_work() as uow:
                if nonce is not None:
                    spend_nonce(uow, partner, nonce, received_at)
                scheme = uow.schemes.get(partner.scheme_id)
                if scheme is None:
                    raise NotFound("scheme_not_found", scheme_id=partner.scheme_id)
                if prepared is None or scheme != prepared.scheme:
                    # the scheme's settings changed meanwhile (or it was just created): judge by the new ones
                    member = prepared.member if prepared is not None else member_of(store)
                    prepared = _prepared(uow, partner, scheme, stage(events, partner, scheme, library, received_at), member)
                return _decide_and_write(uow, partner, prepared, received_at, uow.events.bind_time)
        except UniqueViolation:
            # Another process claimed one of these event ids or behaviours between our read and
            # our write; everything rolled back, so deciding again gives the right answers.
            if attempt == ATTEMPTS_MAX - 1:
                raise
    raise AssertionError("unreachable")


def _decide_and_write(uow: UnitOfWork, partner: PartnerRow, prepared: Prepared, received_at: datetime, bind: Any) -> BatchOutcome:
    scheme, staged = prepared.scheme, prepared.staged
    lane = zlib.crc32(partner.id.encode()) % scheme.ledger_chains
    # One partner's batches queue in one lane: the facts read below stay true until we commit.
    uow.ledger.lock_lane(scheme.id, lane)
    facts = _facts(uow, partner, prepared)
    decisions = decide_batch(staged, facts)

    groups = [d.transfer for d in decisions if d.transfer is not None]
    if groups:
        known = {a.id: a for mine in facts.holdings.values() for a in mine.values()}
        known.update({a.id: a for a in facts.issuance})
        appended = iter(uow.ledger.append(groups, lane=lane, now=received_at, known_accounts=known))
    else:
        appended = iter(())
    received = bind(received_at)
    fixed = (scheme.id, partner.pk)
    rows = []
    for item, decision in zip(staged, decisions, strict=True):
        if not decision.stored:
            continue
        entry_id = None
        if decision.transfer is not None:
            entry = next(appended).entry
            assert entry is not None
            entry_id = entry.id
        rows.append(_row(fixed, item, received, decision, entry_id))
    uow.events.add_many(rows)
    _claim(uow, partner, staged, decisions, received)
    _count(uow, scheme.id, lane_name(scheme.id, lane), rows)
    results = [d.result() for d in decisions]
    return BatchOutcome(results, ev.summarise(results), stored=len(rows))


def _claim(uow: UnitOfWork, partner: PartnerRow, staged: Sequence[Staged], decisions: Sequence[Decision], recorded: Any) -> None:
    """This platform's claims of the global behaviours just credited, in the same transaction
    (docs/interop.md "Claims"): the sequencer logs them; a peer that credits one after its next sync
    refuses it. ``recorded``: the batch's arrival as the store binds it."""
    credited = [
        (item, d)
        for item, d in zip(staged, decisions, strict=True)
        if d.federation_fingerprint is not None and d.status == ev.CREDITED
    ]
    if not credited:
        return
    ids = uow.interop_claims.event_pks(
        partner.pk,
        [d.event_id for _, d in credited if d.event_id is not None],
        [d.account_id for _, d in credited if d.account_id is not None],
    )
    rows = []
    for item, d in credited:
        assert d.account_id is not None and d.event_id is not None and item.event.scenario is not None
        rows.append(
            (d.federation_fingerprint, item.event.scenario, recorded, pkey_of(d.account_id), d.account_id, ids[d.event_id])
        )
    uow.interop_claims.add_own_claims(rows)


def _peer_claims(uow: UnitOfWork, candidates: Sequence[tuple[Staged, int]]) -> dict[str, str]:
    """Federation fingerprint -> the trusted peer that won it, for the candidates' global behaviours:
    one query by fingerprint; the peers' trust only when some peer named one of them."""
    fingerprints = [item.federation_fingerprint for item, _ in candidates if item.federation_fingerprint is not None]
    if not fingerprints:
        return {}
    entries = uow.interop_claims.peer_entries(fingerprints)
    if not entries:
        return {}
    trusted = uow.interop_claims.trusted_peers()
    standing = fed.standing_claims(((e.fingerprint, e.peer_pk, e.seq, e.kind, e.recorded_at) for e in entries), trusted)
    return {fingerprint: fed.winner(claimants) for fingerprint, claimants in standing.items()}


def _links(uow: UnitOfWork, partner: PartnerRow, events: Sequence[ev.IncomingEvent]) -> dict[str, Link]:
    """Canonical user_ref -> its link; a link recorded before user_refs were canonical (issue 18,
    finding 10) is found by the user_ref exactly as sent, when the canonical one has none."""
    if not events:
        return {}
    links: dict[str, Link] = dict(
        uow.consents.links_with_active_consent(partner.pk, [e.user_ref for e in events if e.user_ref is not None])
    )
    sent = {e.user_ref_sent: e.user_ref for e in events if e.user_ref_sent is not None and e.user_ref is not None}
    sent = {ref: canonical for ref, canonical in sent.items() if canonical not in links}
    if sent:
        for ref, link in sorted(uow.consents.links_with_active_consent(partner.pk, list(sent)).items()):
            links.setdefault(sent[ref], link)
    return links


def _facts(uow: UnitOfWork, partner: PartnerRow, prepared: Prepared, judged_again: str | None = None) -> Facts:
    """What the decision needs from the store: one set-based query per kind of fact.

    ``judged_again``: the id of a stored event being decided once more (an operator accepted it after
    review); its own stored row is not an earlier report of it."""
    scheme, staged = prepared.scheme, prepared.staged
    ids = [s.event.event_id for s in staged if s.event.event_id is not None and s.event.event_id != judged_again]
    earlier = uow.events.outcomes(partner.pk, ids)
    links = _links(uow, partner, [s.event for s in staged if s.event.user_ref is not None and consent_asked(s)])
    candidates = may_credit(staged, earlier, links)

    fingerprints: list[str] = []
    for item, account_id in candidates:
        found, before = fingerprints_for(item, account_id)
        if found is not None:
            fingerprints.append(found)
            fingerprints.extend(before)
    claimed = frozenset(uow.events.claimed(fingerprints)) if fingerprints else frozenset()

    # Usage on the days this batch touches; whole months only for scenarios with a monthly cap.
    used_day: dict[UsageKey, Used] = {}
    if candidates:
        for account_id, scenario, day_number, count, carbon_g, points in uow.events.usage(
            {(account_id, item.day.toordinal()) for item, account_id in candidates if item.day is not None}
        ):
            used_day[(account_id, scenario, day_number)] = (count, carbon_g, points)
    used_month: dict[UsageKey, Used] = {}
    monthly = [
        (item.day, account_id)
        for item, account_id in candidates
        if item.day is not None and item.methodology is not None and any(cap.period == "month" for cap in item.methodology.caps)
    ]
    if monthly:
        first = min(day for day, _ in monthly).replace(day=1)
        last = ev.month_bounds(max(day for day, _ in monthly))[1]
        for account_id, scenario, day_number, count, carbon_g, points in uow.events.usage_between(
            {a for _, a in monthly}, first.toordinal(), last.toordinal()
        ):
            key = (account_id, scenario, month_key(date.fromordinal(day_number)))
            events_so_far, carbon_so_far, points_so_far = used_month.get(key, (0, 0, 0))
            used_month[key] = (events_so_far + count, carbon_so_far + carbon_g, points_so_far + points)

    # People's holdings were read before the turn; anyone linked since is read now.
    holdings = {person[0]: person[1] for person in prepared.people.values()}
    missing = {a for _, a in candidates if a not in holdings}
    if missing:
        holdings.update(uow.ledger.holdings_many(missing))
    return Facts(
        scheme.id,
        partner.id,
        earlier,
        links,
        claimed,
        used_day,
        used_month,
        holdings,
        prepared.issuance,
        rules_for_scheme(scheme.settings),
        campaigns_from_settings(scheme.settings),
        _peer_claims(uow, candidates) if prepared.member is not None else {},
    )


# Positions in an events row (EVENT_COLUMNS) that the report counters read.
_PARTNER, _ACCOUNT, _SCENARIO, _DAY, _STATUS, _REASON, _CARBON, _POINTS = (
    EVENT_COLUMNS.index(c)
    for c in ("partner_pk", "account_id", "scenario", "local_day", "status", "reason", "carbon_g", "points")
)


def _count(uow: UnitOfWork, scheme_id: str, lane: str, rows: list[tuple[Any, ...]]) -> None:
    """The operator reports' counters for the stored rows (same transaction, counted per lane)."""
    facts: dict[tuple[int, str, int, str, str], list[int]] = {}
    active: set[tuple[int, int]] = set()
    for row in rows:
        day = row[_DAY]
        if day is None:
            continue
        key = (day, row[_SCENARIO], row[_PARTNER], row[_STATUS], row[_REASON] or "")
        found = facts.get(key)
        if found is None:
            facts[key] = [1, row[_CARBON], row[_POINTS]]
        else:
            found[0] += 1
            found[1] += row[_CARBON]
            found[2] += row[_POINTS]
        if row[_STATUS] == ev.CREDITED and row[_ACCOUNT] is not None:
            active.add((row[_ACCOUNT], day))
    uow.reports.add_facts(scheme_id, facts)
    uow.reports.mark_active(scheme_id, lane, active)


def _row(fixed: tuple[str, int], item: Staged, received: Any, decision: Decision, entry_id: int | None) -> tuple[Any, ...]:
    """The stored events row, in EVENT_COLUMNS order, its values as the store binds them."""
    event = item.event
    details = decision.details
    return (
        *fixed,
        event.event_id,
        event.user_ref,
        decision.account_id,
        (event.scenario or "")[:64],
        item.occurred_bound,
        received,
        item.day.toordinal() if item.day is not None else None,
        decision.status,
        decision.reason,
        decision.carbon_g,
        decision.points,
        decision.methodology,
        item.content_hash,
        decision.fingerprint,
        entry_id,
        item.data_json,
        decision.explanation_json,
        canonical_json(details) if details else None,
    )


def credit_after_review(
    uow: UnitOfWork, partner: PartnerRow, scheme: Scheme, row: Any, library: Library, now: datetime, member: Member | None = None
) -> Decision:
    """An implausible event an operator accepted after review, decided again as ingestion decides it
    (consent, the same behaviour credited before, the day's and the month's caps, campaigns) with
    only its plausibility rules set aside, and judged as of its arrival (the time window).

    Credited, it is written as a batch writes a credited event: the postings in the partner's lane
    (whose lock keeps the usage read here true until the commit), the events row (now credited), the
    report counters moved from the rejection to the credit, this platform's claim of a global behaviour
    (``member``: its federation; recorded now, when it is credited). Otherwise the decision says why not
    and nothing is written.
    """
    raw = {
        "event_id": row.event_id,
        "user_ref": row.user_ref,
        "scenario": row.scenario,
        "occurred_at": None if row.occurred_at is None else row.occurred_at.isoformat(),
        "data": row.data,
    }
    staged = stage_events(
        [raw],
        scheme,
        partner.scenarios,
        library,
        row.received_at,
        pins=scheme_pins(scheme),
        region=scheme.settings.get(REGION_KEY),
        plausibility=False,
    )
    lane = zlib.crc32(partner.id.encode()) % scheme.ledger_chains
    uow.ledger.lock_lane(scheme.id, lane)  # the partner's batches queue in this lane too
    prepared = _prepared(uow, partner, scheme, staged, member)
    [decision] = decide_batch(staged, _facts(uow, partner, prepared, judged_again=row.event_id))
    if decision.status != ev.CREDITED or decision.account_id != row.account_id:
        return decision  # refused (or the reference now names someone else: nothing to credit to)
    entry_id = None
    if decision.transfer is not None:
        [outcome] = uow.ledger.append([decision.transfer], lane=lane, now=now)
        assert outcome.entry is not None
        entry_id = outcome.entry.id
    uow.events.accept(
        row.id,
        row.pkey,
        {
            "status": ev.CREDITED,
            "reason": None,
            "account_id": decision.account_id,
            "carbon_g": decision.carbon_g,
            "points": decision.points,
            "methodology": decision.methodology,
            "fingerprint": decision.fingerprint,
            "entry_id": entry_id,
            "explanation": None if decision.explanation_json is None else json.loads(decision.explanation_json),
        },
    )
    if decision.federation_fingerprint is not None and decision.account_id is not None:
        uow.interop_claims.add_own_claims(
            [(decision.federation_fingerprint, row.scenario, uow.events.bind_time(now), row.pkey, decision.account_id, row.id)]
        )
    day = row.local_day
    if day is not None:
        uow.reports.move_fact(
            scheme.id,
            (day, row.scenario, partner.pk, ev.REJECTED, row.reason or ""),
            (day, row.scenario, partner.pk, ev.CREDITED, ""),
            decision.carbon_g,
            decision.points,
        )
        assert decision.account_id is not None
        uow.reports.mark_active(scheme.id, lane_name(scheme.id, lane), [(decision.account_id, day)])
    return decision


def find_partner(store: Store, partner_id: str) -> PartnerRow:
    with store.unit_of_work(write=False) as uow:
        partner = uow.partners.get(partner_id)
    if partner is None:
        raise NotFound("partner_not_found", partner_id=partner_id)
    return partner
