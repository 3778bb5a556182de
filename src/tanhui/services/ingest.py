"""Ingest behaviour events: each report becomes exactly one outcome (api-v1.md "Behaviour events").

validate -> consent -> de-duplicate -> fraud rules -> quantify -> credit carbon and points.

Before the write transaction (``prepare``): the pure work (parsing, quantifying, hashing, the
events' JSON) and the reads of what never changes once written (people's ledger accounts, the
scheme's issuance accounts). Inside it, only what earlier batches may have changed: one set-based
query per kind of fact (earlier events, consents, claimed behaviours, usage, balances), the
decisions in Python, one insert per table. One transaction per batch; one bad event never fails
the batch. The importer's processes prepare in parallel and take turns for the transaction.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo


from tanhui import metrics
from tanhui.store.errors import UniqueViolation
from tanhui.domain import events as ev
from tanhui.domain.engagement import Campaign, campaign_points, campaigns_from_settings
from tanhui.domain.canonical import canonical_json
from tanhui.domain.ledger import ASSET_CO2E, ASSET_POINTS, SYSTEM_ISSUANCE, LedgerAccount, Posting, TransferGroup
from tanhui.domain.methodology import Library, Methodology, QuantifyContext
from tanhui.domain.points import rule_for, rules_for_scheme
from tanhui.domain.schemes import Scheme
from tanhui.errors import BusinessRuleViolation, InvalidInput, NotFound
from tanhui.services.clock import utcnow
from tanhui.services.methodologies import REGION_KEY, default_library, scheme_pins
from tanhui.services.partners import spend_nonce
from tanhui.store import Store
from tanhui.store.repositories.events import EVENT_COLUMNS
from tanhui.store.repositories.partners import PartnerRow
from tanhui.store.repositories.schemes import chain_id
from tanhui.store.uow import UnitOfWork

ATTEMPTS_MAX = 3  # a unique-key race with another process: the batch is decided again


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(slots=True)
class Staged:
    """One event after the pure stage: what the store does not need to know to judge."""

    index: int
    event: ev.IncomingEvent
    reason: str | None = None  # the first reason found before the store is asked
    details: dict[str, Any] | None = None
    methodology: Methodology | None = None
    carbon_g: int = 0
    explanation: dict[str, Any] | None = None
    identity: tuple[str, ...] | None = None
    identity_scope: str = "global"
    implausible: dict[str, Any] | None = None
    late_reason: str | None = None  # too_old / in_future: judged after consent
    day: date | None = None
    content_hash: str = ""
    data_json: str | None = None
    explanation_json: str | None = None
    occurred_bound: Any = None  # occurred_at as the store binds it (set by prepare)
    fingerprint: str | None = None  # of the behaviour, for ``fingerprint_account`` (set by prepare)
    fingerprint_account: int | None = None


@dataclass(slots=True)
class Prepared:
    """A batch after ``prepare``: staged events and the unchanging facts the write turn needs."""

    scheme: Scheme
    staged: list[Staged]
    people: dict[str, tuple[int, dict[str, LedgerAccount]]]  # user_ref -> (account, holdings by asset)
    issuance: tuple[LedgerAccount, LedgerAccount]  # the scheme's CO2E and POINTS issuance accounts


@dataclass(slots=True)
class BatchOutcome:
    results: list[dict[str, Any]]
    summary: dict[str, int]
    stored: int = 0


@dataclass(slots=True)
class _Usage:
    day: dict[tuple[int, str, int], ev.Usage] = field(default_factory=dict)
    month: dict[tuple[int, str, int], ev.Usage] = field(default_factory=dict)

    def get(self, table: dict[tuple[int, str, int], ev.Usage], key: tuple[int, str, int]) -> ev.Usage:
        found = table.get(key)
        if found is None:
            found = table[key] = ev.Usage()
        return found


def _month_key(day: date) -> int:
    return day.year * 100 + day.month


def stage(events: Sequence[Any], partner: PartnerRow, scheme: Scheme, library: Library, received_at: datetime) -> list[Staged]:
    """Parse, resolve the methodology and quantify every event; no store access."""
    tz = _zone(scheme.timezone)
    window_days = int(scheme.settings.get("acceptance_window_days", ev.DEFAULT_ACCEPTANCE_WINDOW_DAYS))
    pins = scheme_pins(scheme)
    region = scheme.settings.get(REGION_KEY)
    allowed = set(partner.scenarios)
    staged: list[Staged] = []
    for index, raw in enumerate(events):
        event = ev.parse_event(raw)
        item = Staged(index, event)
        staged.append(item)
        if event.event_id is None:
            item.reason, item.details = "invalid_data", dict(event.problems)
            continue
        item.content_hash = event.content_hash()
        item.data_json = canonical_json(event.data) if event.data else None
        if event.scenario is None:
            item.reason, item.details = "invalid_data", dict(event.problems)
            continue
        if event.occurred_at is not None:
            item.day = event.occurred_at.astimezone(tz).date()
        try:
            methodology = library.resolve(event.scenario, on=item.day or received_at.astimezone(tz).date(), pins=pins)
        except NotFound:
            item.reason = "unknown_scenario"
            continue
        if methodology.scenario != event.scenario:
            item.reason = "unknown_scenario"  # partners send scenario keys, not methodology ids
            continue
        item.methodology = methodology
        if event.scenario not in allowed:
            item.reason = "scenario_not_allowed"
            continue
        if event.problems:
            item.reason, item.details = "invalid_data", dict(event.problems)
            continue
        assert event.occurred_at is not None and item.day is not None
        try:
            quantity = methodology.quantify(
                event.data, QuantifyContext(occurred_at=event.occurred_at, local_date=item.day, default_region=region)
            )
        except InvalidInput as error:
            item.reason, item.details = "invalid_data", dict(error.details)
            continue
        except BusinessRuleViolation as error:
            if error.code != "implausible":
                raise
            item.implausible = dict(error.details) or {"rule": error.message("en")}
        else:
            item.carbon_g = quantity.carbon_g
            item.explanation = quantity.explanation
            item.explanation_json = canonical_json(quantity.explanation) if quantity.explanation is not None else None
            item.identity = quantity.identity
            item.identity_scope = quantity.identity_scope
        item.late_reason = ev.time_window_reason(event.occurred_at, received_at, window_days)
    return staged


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
    with store.unit_of_work(write=False) as uow:
        scheme = uow.schemes.get(partner.scheme_id)
        if scheme is None:
            return None
        return _prepared(uow, partner, scheme, stage(events, partner, scheme, library, received_at))


def _prepared(uow: UnitOfWork, partner: PartnerRow, scheme: Scheme, staged: list[Staged]) -> Prepared:
    """The staged batch with the people's ledger accounts, the issuance accounts and store-shaped
    values (times as bound, behaviour fingerprints for the people known now; the turn recomputes a
    fingerprint only if the person's account is not the one assumed here)."""
    refs = [s.event.user_ref for s in staged if s.reason is None and s.event.user_ref is not None]
    people = uow.ledger.holdings_by_ref(partner.pk, refs) if refs else {}
    issuance = (
        uow.ledger.system_account(scheme.id, ASSET_CO2E, SYSTEM_ISSUANCE),
        uow.ledger.system_account(scheme.id, ASSET_POINTS, SYSTEM_ISSUANCE),
    )
    bind = uow.dialect.bind_time
    for item in staged:
        event = item.event
        item.occurred_bound = bind(event.occurred_at)
        if item.identity is not None and event.user_ref is not None and event.scenario is not None:
            person = people.get(event.user_ref)
            if person is not None:
                item.fingerprint = ev.fingerprint(event.scenario, item.identity_scope, item.identity, person[0])
                item.fingerprint_account = person[0]
    return Prepared(scheme, staged, people, issuance)


def _write_with_retries(
    store: Store, partner: PartnerRow, events: Sequence[Any], prepared: Prepared | None,
    library: Library, received_at: datetime, nonce: str | None,
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
                    prepared = _prepared(uow, partner, scheme, stage(events, partner, scheme, library, received_at))
                return _decide_and_write(uow, partner, prepared, received_at, store.dialect.bind_time)
        except UniqueViolation:
            # Another process claimed one of these event ids or behaviours between our read and
            # our write; everything rolled back, so deciding again gives the right answers.
            if attempt == ATTEMPTS_MAX - 1:
                raise
    raise AssertionError("unreachable")


def _decide_and_write(uow: UnitOfWork, partner: PartnerRow, prepared: Prepared, received_at: datetime, bind: Any) -> BatchOutcome:
    scheme, staged = prepared.scheme, prepared.staged
    chain = chain_id(scheme.id, zlib.crc32(partner.id.encode()) % scheme.ledger_chains)
    # One partner's batches queue on one chain: the checks below stay true until we commit.
    uow.ledger.lock_chain(chain)

    ids = [s.event.event_id for s in staged if s.event.event_id is not None]
    earlier = uow.events.outcomes(partner.pk, ids)
    user_refs = [s.event.user_ref for s in staged if s.event.user_ref is not None and s.reason is None]
    links = uow.consents.links_with_active_consent(partner.pk, user_refs) if user_refs else {}

    rules = rules_for_scheme(scheme.settings)
    campaigns = campaigns_from_settings(scheme.settings)
    results: list[dict[str, Any] | None] = [None] * len(staged)
    seen: dict[str, tuple[str, dict[str, Any]]] = {}  # event_id -> (content hash, result) within the batch
    candidates: list[tuple[Staged, int]] = []
    replays: list[tuple[int, str, str]] = []
    rows: list[tuple[Any, ...]] = []
    received = bind(received_at)
    fixed = (scheme.id, partner.pk)

    for item in staged:
        event = item.event
        event_id = event.event_id
        if event_id is None:
            results[item.index] = ev.result(_shown_id(event.raw), ev.REJECTED, "invalid_data", details=item.details)
            continue
        content_hash = item.content_hash
        before = earlier.get(event_id)
        if before is not None:
            results[item.index] = _replay(event_id, content_hash, before.content_hash, before.carbon_g, before.points, before.methodology)
            continue
        if event_id in seen:
            replays.append((item.index, event_id, content_hash))  # answered once the first is decided
            continue
        link = links.get(event.user_ref) if event.user_ref is not None else None
        reason = item.reason
        if reason is None and (link is None or not link.consenting):
            reason = "no_consent"
        reason = reason or item.late_reason or ("implausible" if item.implausible is not None else None)
        methodology_ref = item.methodology.ref if item.methodology is not None else None
        if reason is not None:
            details = item.details if reason == "invalid_data" else (item.implausible if reason == "implausible" else None)
            result = ev.result(event_id, ev.REJECTED, reason, methodology=methodology_ref, details=details)
            results[item.index] = result
            seen[event_id] = (content_hash, result)
            rows.append(_row(fixed, item, received, link.account_id if link else None, result))
            continue
        assert link is not None
        candidates.append((item, link.account_id))
        seen[event_id] = (content_hash, {"carbon_g": 0, "points": 0, "methodology": methodology_ref})

    if candidates:
        rows.extend(_credit(uow, partner, prepared, candidates, rules, campaigns, results, seen, received, received_at, chain))
    for index, event_id, content_hash in replays:
        first_hash, first = seen[event_id]
        results[index] = _replay(event_id, content_hash, first_hash, first["carbon_g"], first["points"], first["methodology"])
    uow.events.add_many(rows)
    _count(uow, scheme.id, chain, rows)
    final = [r for r in results if r is not None]
    assert len(final) == len(staged)
    return BatchOutcome(final, ev.summarise(final), stored=len(rows))


def _credit(
    uow: UnitOfWork,
    partner: PartnerRow,
    prepared: Prepared,
    candidates: list[tuple[Staged, int]],
    rules: dict[str, Any],
    campaigns: tuple[Campaign, ...],
    results: list[dict[str, Any] | None],
    seen: dict[str, tuple[str, dict[str, Any]]],
    received: Any,
    received_at: datetime,
    chain: str,
) -> list[tuple[Any, ...]]:
    """Behaviour de-duplication, caps and points for the events that passed every other rule."""
    scheme = prepared.scheme
    fixed = (scheme.id, partner.pk)
    fingerprints: dict[int, str] = {}
    for item, account_id in candidates:
        if item.identity is not None:
            if item.fingerprint is not None and item.fingerprint_account == account_id:
                fingerprints[item.index] = item.fingerprint
            else:
                assert item.event.scenario is not None
                fingerprints[item.index] = ev.fingerprint(item.event.scenario, item.identity_scope, item.identity, account_id)
    claimed = uow.events.claimed(fingerprints.values()) if fingerprints else set()

    # Usage on the days this batch touches; whole months only for scenarios with a monthly cap.
    usage = _Usage()
    for account_id, scenario, day_number, count, carbon_g, points in uow.events.usage(
        {(account_id, item.day.toordinal()) for item, account_id in candidates if item.day is not None}
    ):
        usage.day[(account_id, scenario, day_number)] = ev.Usage(count, carbon_g, points)
    monthly = [
        (item.day, account_id)
        for item, account_id in candidates
        if item.day is not None and any(cap.period == "month" for cap in item.methodology.caps)  # type: ignore[union-attr]
    ]
    if monthly:
        first = min(day for day, _ in monthly).replace(day=1)
        last = ev.month_bounds(max(day for day, _ in monthly))[1]
        for account_id, scenario, day_number, count, carbon_g, points in uow.events.usage_between(
            {a for _, a in monthly}, first.toordinal(), last.toordinal()
        ):
            u = usage.get(usage.month, (account_id, scenario, _month_key(date.fromordinal(day_number))))
            u.events += count
            u.carbon_g += carbon_g
            u.points += points

    # People's holdings were read before the turn; anyone linked since is read now.
    holdings = {person[0]: person[1] for person in prepared.people.values()}
    missing = {a for _, a in candidates if a not in holdings}
    if missing:
        holdings.update(uow.ledger.holdings_many(missing))
    issuance_co2e, issuance_points = prepared.issuance

    rows: list[tuple[Any, ...]] = []
    credited: list[tuple[Staged, int, dict[str, Any], str | None, str | None]] = []
    groups: list[TransferGroup] = []
    for item, account_id in candidates:
        event = item.event
        assert event.event_id is not None and event.scenario is not None and item.methodology is not None and item.day is not None
        methodology = item.methodology
        content_hash = item.content_hash
        fp = fingerprints.get(item.index)
        if fp is not None and fp in claimed:
            result = ev.result(event.event_id, ev.REJECTED, "duplicate_behaviour", methodology=methodology.ref)
            _settle(item, result, results, seen, content_hash)
            rows.append(_row(fixed, item, received, account_id, result))
            continue
        day_number = item.day.toordinal()
        day_usage = usage.get(usage.day, (account_id, event.scenario, day_number))
        month_usage = usage.get(usage.month, (account_id, event.scenario, _month_key(item.day)))
        carbon_g = item.carbon_g
        allowed = True
        for cap in methodology.caps:
            used = day_usage if cap.period == "day" else month_usage
            allowed, carbon_g = ev.cap_allows(cap.max_events, cap.max_carbon_g, used, carbon_g)
            if not allowed:
                break
        if not allowed:
            result = ev.result(event.event_id, ev.REJECTED, "cap_reached", methodology=methodology.ref)
            _settle(item, result, results, seen, content_hash)
            rows.append(_row(fixed, item, received, account_id, result))
            continue
        rule = rule_for(rules, event.scenario)
        # Campaigns first (e.g. a low-carbon day's double points), then the daily cap keeps the budget.
        earned, _campaigns = campaign_points(campaigns, event.scenario, item.day, rule.points_for(carbon_g))
        points = rule.capped(earned, day_usage.points)
        for u in (day_usage, month_usage):
            u.events += 1
            u.carbon_g += carbon_g
            u.points += points
        if fp is not None:
            claimed.add(fp)
        result = ev.result(event.event_id, ev.CREDITED, None, carbon_g, points, methodology.ref)
        _settle(item, result, results, seen, content_hash)
        explanation_json = item.explanation_json
        if item.explanation is not None and carbon_g != item.carbon_g:
            explanation_json = canonical_json({**item.explanation, "capped_carbon_g": carbon_g})
        postings = []
        mine = holdings[account_id]
        if carbon_g > 0:
            postings.append(Posting(issuance_co2e.id, mine[ASSET_CO2E].id, carbon_g))
        if points > 0:
            postings.append(Posting(issuance_points.id, mine[ASSET_POINTS].id, points))
        if postings:
            groups.append(
                TransferGroup(
                    scheme_id=scheme.id,
                    kind="behaviour_credit",
                    postings=tuple(postings),
                    memo={"partner": partner.id, "event_id": event.event_id, "scenario": event.scenario},
                )
            )
        credited.append((item, account_id, result, fp, explanation_json))

    known = {a.id: a for mine in holdings.values() for a in mine.values()}
    known.update({a.id: a for a in (issuance_co2e, issuance_points)})
    appended = iter(uow.ledger.append(groups, chain_id=chain, now=received_at, known_accounts=known)) if groups else iter(())
    for item, account_id, result, fp, explanation_json in credited:
        entry_id = None
        if result["carbon_g"] > 0 or result["points"] > 0:
            entry = next(appended).entry
            assert entry is not None
            entry_id = entry.id
        rows.append(_row(fixed, item, received, account_id, result, fp, entry_id, explanation_json))
    return rows


# Positions in an events row (EVENT_COLUMNS) that the report counters read.
_PARTNER, _ACCOUNT, _SCENARIO, _DAY, _STATUS, _REASON, _CARBON, _POINTS = (
    EVENT_COLUMNS.index(c) for c in ("partner_pk", "account_id", "scenario", "local_day", "status", "reason", "carbon_g", "points")
)


def _count(uow: UnitOfWork, scheme_id: str, chain: str, rows: list[tuple[Any, ...]]) -> None:
    """The operator reports' counters for the stored rows (same transaction, same chain)."""
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
    uow.reports.mark_active(scheme_id, chain, active)


def _settle(item: Staged, result: dict[str, Any], results: list[dict[str, Any] | None], seen: dict[str, tuple[str, dict[str, Any]]], content_hash: str) -> None:
    results[item.index] = result
    assert item.event.event_id is not None
    seen[item.event.event_id] = (content_hash, result)


def _replay(event_id: str, content_hash: str, first_hash: str, carbon_g: int, points: int, methodology: str | None) -> dict[str, Any]:
    if content_hash == first_hash:
        return ev.result(event_id, ev.DUPLICATE, "duplicate_event", carbon_g, points, methodology)
    return ev.result(event_id, ev.REJECTED, "event_id_reused")


def _shown_id(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("event_id"), str):
        return raw["event_id"][:128]
    return None


def _row(
    fixed: tuple[str, int],
    item: Staged,
    received: Any,
    account_id: int | None,
    result: dict[str, Any],
    fingerprint: str | None = None,
    entry_id: int | None = None,
    explanation_json: str | None = None,
) -> tuple[Any, ...]:
    """The stored events row, in EVENT_COLUMNS order, its values as the store binds them."""
    event = item.event
    details = result.get("details")
    return (
        *fixed, event.event_id, event.user_ref, account_id, (event.scenario or "")[:64], item.occurred_bound, received,
        item.day.toordinal() if item.day is not None else None, result["status"], result["reason"], result["carbon_g"],
        result["points"], result["methodology"], item.content_hash,
        fingerprint if result["status"] == ev.CREDITED else None, entry_id, item.data_json,
        explanation_json if result["status"] == ev.CREDITED else None, canonical_json(details) if details is not None else None,
    )


def find_partner(store: Store, partner_id: str) -> PartnerRow:
    with store.unit_of_work(write=False) as uow:
        partner = uow.partners.get(partner_id)
    if partner is None:
        raise NotFound("partner_not_found", partner_id=partner_id)
    return partner

