"""The batch decision: what becomes of each event of a partner's batch (api-v1.md "Behaviour events").

Pure. ``stage`` does what needs nothing from the store (parse, resolve the methodology, quantify,
the time window) and records every fault it finds, not only the first. ``decide_batch`` then judges
each event against ``Facts``, the frozen value the ingest service read from the store, and answers
one ``Decision`` per event: its outcome, and the row and ledger postings the service writes.

The reasons are applied in the order ``events.REASON_ORDER`` declares: ``CHECKS`` holds one check per
reason and ``decide_batch`` runs them in that order; the first that fails the event gives its reason.
The checks do not depend on one another, so the constant alone decides which reason wins.

Events of one batch are decided in input order, each seeing what the earlier ones did (an event id
or a behaviour they claimed, the caps they used): ``carried_forward`` states the same thing for a
batch decided event by event.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from tanhui.domain import events as ev
from tanhui.domain.canonical import canonical_json
from tanhui.domain.engagement import Campaign, campaign_points
from tanhui.domain.ledger import ASSET_CO2E, ASSET_POINTS, LedgerAccount, Posting, TransferGroup
from tanhui.domain.methodology import Library, Methodology, QuantifyContext
from tanhui.domain.points import PointsRule, rule_for
from tanhui.domain.schemes import Scheme
from tanhui.errors import BusinessRuleViolation, InvalidInput, NotFound

# The faults ``stage`` can find; the others need the store's facts.
STAGED_REASONS = frozenset({"unknown_scenario", "scenario_not_allowed", "invalid_data", "too_old", "in_future", "implausible"})
# A staged fault ranked before consent: the person is not looked up for such an event.
_BEFORE_CONSENT = frozenset(ev.REASON_ORDER[: ev.REASON_ORDER.index("no_consent")]) & STAGED_REASONS

UsageKey = tuple[int, str, int]  # (person's account, scenario, local day as an ordinal | month as yyyymm)
Used = tuple[int, int, int]  # credited (events, carbon_g, points) in that period


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def month_key(day: date) -> int:
    return day.year * 100 + day.month


# -- staging -------------------------------------------------------------------------------


@dataclass(slots=True)
class Staged:
    """One event after ``stage``: what is known of it without the store."""

    index: int
    event: ev.IncomingEvent
    faults: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)  # reason -> its details
    methodology: Methodology | None = None
    carbon_g: int = 0
    explanation: dict[str, Any] | None = None
    identity: tuple[str, ...] | None = None
    identity_scope: str | None = "global"
    day: date | None = None
    content_hash: str = ""
    data_json: str | None = None
    explanation_json: str | None = None
    occurred_bound: Any = None  # occurred_at as the store binds it (set by the ingest service)
    fingerprint: str | None = None  # of the behaviour, for ``fingerprint_account`` (set by the ingest service)
    fingerprint_account: int | None = None
    earlier_fingerprints: tuple[str, ...] = ()  # the forms it may be stored under from before (same account)
    # its federation fingerprint (domain/federation.py): global identities only, when this platform is
    # in a federation (set by the ingest service, which holds the federation key)
    federation_fingerprint: str | None = None


def stage(
    events: Sequence[Any],
    scheme: Scheme,
    allowed: Collection[str],
    library: Library,
    received_at: datetime,
    *,
    pins: Mapping[str, str],
    region: str | None,
    plausibility: bool = True,
) -> list[Staged]:
    """Parse, resolve the methodology and quantify every event; every fault found is recorded.

    ``plausibility=False`` only for an implausible event an operator accepted after review.

    An event without an id or without a scenario is only ``invalid_data``. Quantifying needs a methodology and valid
    fields, so an event without them cannot also be found implausible or carry a behaviour identity
    (their reasons rank after the ones that stop it anyway).
    """
    tz = _zone(scheme.timezone)
    window_days = int(scheme.settings.get("acceptance_window_days", ev.DEFAULT_ACCEPTANCE_WINDOW_DAYS))
    allowed = frozenset(allowed)
    staged: list[Staged] = []
    for index, raw in enumerate(events):
        event = ev.parse_event(raw)
        item = Staged(index, event)
        staged.append(item)
        faults = item.faults
        if event.event_id is None:
            faults["invalid_data"] = dict(event.problems)
            continue
        item.content_hash = event.content_hash()
        item.data_json = canonical_json(event.data) if event.data else None
        if event.scenario is None:
            # invalid data, not an unknown scenario; kept without a local day (no report counts it)
            faults["invalid_data"] = dict(event.problems)
            continue
        late = None
        if event.occurred_at is not None:
            item.day = event.occurred_at.astimezone(tz).date()
            late = ev.time_window_reason(event.occurred_at, received_at, window_days)
            if late is not None:
                faults[late] = None
        if event.problems:
            faults["invalid_data"] = dict(event.problems)
        if event.scenario not in allowed:
            faults["scenario_not_allowed"] = None
        try:
            # a late event is resolved as of its arrival: no methodology in force in year 1 is still too_old
            on = item.day if item.day is not None and late is None else received_at.astimezone(tz).date()
            methodology = library.resolve(event.scenario, on=on, pins=pins)
        except NotFound:
            faults["unknown_scenario"] = None
            continue
        if methodology.scenario != event.scenario:
            faults["unknown_scenario"] = None  # partners send scenario keys, not methodology ids
            continue
        item.methodology = methodology
        if event.problems:
            continue
        assert event.occurred_at is not None and item.day is not None
        try:
            quantity = methodology.quantify(
                event.data,
                QuantifyContext(occurred_at=event.occurred_at, local_date=item.day, default_region=region),
                plausibility=plausibility,
            )
        except InvalidInput as error:
            faults["invalid_data"] = dict(error.details)
        except BusinessRuleViolation as error:
            if error.code != "implausible":
                raise
            faults["implausible"] = dict(error.details) or {"rule": error.message("en")}
        else:
            item.carbon_g = quantity.carbon_g
            item.explanation = quantity.explanation
            item.explanation_json = canonical_json(quantity.explanation) if quantity.explanation is not None else None
            item.identity = quantity.identity
            item.identity_scope = quantity.identity_scope
    return staged


def consent_asked(item: Staged) -> bool:
    """Whether the event gets as far as consent: the person is looked up only for these."""
    return not item.faults or not (item.faults.keys() & _BEFORE_CONSENT)


def fingerprint_for(item: Staged, account_id: int) -> str | None:
    """The behaviour's fingerprint when it is ``account_id``'s (the one staged when it already was)."""
    return fingerprints_for(item, account_id)[0]


def fingerprints_for(item: Staged, account_id: int) -> tuple[str | None, tuple[str, ...]]:
    """(fingerprint, earlier fingerprints) of the behaviour when it is ``account_id``'s; the staged ones
    when they were computed for that account. The earlier ones (``events.earlier_fingerprints``: the forms
    a row from before identities were canonical may hold; none for most ids) are looked for too."""
    if item.identity is None:
        return None, ()
    if item.fingerprint is not None and item.fingerprint_account == account_id:
        return item.fingerprint, item.earlier_fingerprints
    assert item.event.scenario is not None and item.identity_scope is not None
    return ev.fingerprints(item.event.scenario, item.identity_scope, item.identity, account_id)


# -- facts ---------------------------------------------------------------------------------


class Earlier(Protocol):
    """An event the partner sent before (the store's StoredOutcome, or ``Recorded``)."""

    @property
    def content_hash(self) -> str: ...
    @property
    def carbon_g(self) -> int: ...
    @property
    def points(self) -> int: ...
    @property
    def methodology(self) -> str | None: ...


class Link(Protocol):
    """A partner's user_ref linked to a person (the store's consents Link)."""

    @property
    def account_id(self) -> int: ...
    @property
    def consenting(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Recorded:
    """An earlier event as the decision knows it: decided earlier in the batch, or carried forward."""

    content_hash: str
    carbon_g: int
    points: int
    methodology: str | None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the store knew when the batch was decided. Only the events that ``may_credit`` need
    their person's claims, usage and holdings read; anything absent counts as none."""

    scheme_id: str
    partner_id: str
    earlier: Mapping[str, Earlier]  # event_id -> the partner's earlier event of that id
    links: Mapping[str, Link]  # user_ref -> link, for the events that get as far as consent
    claimed: frozenset[str]  # fingerprints of behaviours already credited (also the earlier forms asked for)
    used_day: Mapping[UsageKey, Used]
    used_month: Mapping[UsageKey, Used]
    holdings: Mapping[int, Mapping[str, LedgerAccount]]  # person's account -> holdings ledger account by asset
    issuance: tuple[LedgerAccount, LedgerAccount]  # the scheme's CO2E and POINTS issuance accounts
    rules: Mapping[str, PointsRule]
    campaigns: tuple[Campaign, ...] = ()
    # federation fingerprint -> the platform id of the trusted peer whose standing claim wins it
    # (docs/interop.md "Claims"); asked for the credit candidates' global behaviours only
    peer_claims: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("earlier", "links", "used_day", "used_month", "holdings", "rules", "peer_claims"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(value))


def may_credit(staged: Sequence[Staged], earlier: Mapping[str, Earlier], links: Mapping[str, Link]) -> list[tuple[Staged, int]]:
    """The events that get past every check the first facts decide, with their person's account:
    the ones whose behaviour claims, usage and holdings the store is asked for."""
    found = []
    for item in staged:
        event = item.event
        if item.faults or event.event_id is None or event.event_id in earlier or event.user_ref is None:
            continue
        link = links.get(event.user_ref)
        if link is not None and link.consenting and item.methodology is not None and item.day is not None:
            found.append((item, link.account_id))
    return found


# -- decisions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """One event's outcome (the endpoint's result) and what the store keeps of it."""

    index: int
    event_id: str | None
    status: str
    reason: str | None
    carbon_g: int = 0
    points: int = 0
    methodology: str | None = None
    details: Mapping[str, Any] | None = None
    stored: bool = True  # an events row is written (not for a replay, nor for an event without an id)
    account_id: int | None = None  # the person the row is kept for
    fingerprint: str | None = None  # credited: the behaviour it claims
    transfer: TransferGroup | None = None  # credited with grams or points: the postings to make
    explanation_json: str | None = None  # credited: the quantification, with ``capped_carbon_g`` when capped
    federation_fingerprint: str | None = None  # credited with a global identity in a federation: its claim

    def result(self) -> dict[str, Any]:
        return ev.result(self.event_id, self.status, self.reason, self.carbon_g, self.points, self.methodology, self.details)


class _Work:
    """The batch's working state: the facts plus what the events decided so far changed, and the
    current event's look-ups (set by ``begin``, read by the checks)."""

    __slots__ = (
        "facts",
        "seen",
        "claimed",
        "used_day",
        "used_month",
        "before",
        "link",
        "fingerprint",
        "earlier_fingerprints",
        "grams",
        "usage",
    )

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.seen: dict[str, Recorded] = {}  # event_id -> the first of that id in the batch
        self.claimed: set[str] = set()  # behaviours claimed by this batch
        self.used_day: dict[UsageKey, ev.Usage] = {}  # working copies of the usage touched
        self.used_month: dict[UsageKey, ev.Usage] = {}
        self.before: Earlier | None = None
        self.link: Link | None = None
        self.fingerprint: str | None = None
        self.earlier_fingerprints: tuple[str, ...] = ()
        self.grams = 0  # what the caps allow of the event's grams
        self.usage: tuple[ev.Usage, ev.Usage] | None = None  # (day, month) usage of the event's person and scenario

    def begin(self, item: Staged) -> None:
        event = item.event
        event_id = event.event_id
        self.before = None if event_id is None else (self.facts.earlier.get(event_id) or self.seen.get(event_id))
        self.link = link = None if event.user_ref is None or event_id is None else self.facts.links.get(event.user_ref)
        self.fingerprint, self.earlier_fingerprints = (None, ()) if link is None else fingerprints_for(item, link.account_id)
        self.usage = None

    def used(self, table: dict[UsageKey, ev.Usage], known: Mapping[UsageKey, Used], key: UsageKey) -> ev.Usage:
        found = table.get(key)
        if found is None:
            so_far = known.get(key)
            found = table[key] = ev.Usage(*so_far) if so_far is not None else ev.Usage()
        return found

    def reject(self, item: Staged, reason: str, details: Mapping[str, Any] | None = None) -> Decision:
        """A rejection; kept as a row unless the event has no id (then its result shows what was sent)."""
        event_id = item.event.event_id
        return Decision(
            item.index,
            event_id if event_id is not None else _shown_id(item.event.raw),
            ev.REJECTED,
            reason,
            0,
            0,
            item.methodology.ref if item.methodology is not None else None,
            details,
            event_id is not None,
            self.link.account_id if self.link is not None else None,
        )


def _shown_id(raw: Any) -> str | None:
    value = raw.get("event_id") if isinstance(raw, dict) else None
    return value[:128] if isinstance(value, str) else None


Check = Callable[[Staged, _Work], "Decision | None"]


def _duplicate_event(item: Staged, work: _Work) -> Decision | None:
    before = work.before
    if before is None or before.content_hash != item.content_hash:
        return None
    return Decision(
        item.index,
        item.event.event_id,
        ev.DUPLICATE,
        "duplicate_event",
        before.carbon_g,
        before.points,
        before.methodology,
        stored=False,
    )


def _event_id_reused(item: Staged, work: _Work) -> Decision | None:
    before = work.before
    if before is None or before.content_hash == item.content_hash:
        return None
    return Decision(item.index, item.event.event_id, ev.REJECTED, "event_id_reused", stored=False)


def _staged(reason: str) -> Check:
    def check(item: Staged, work: _Work) -> Decision | None:
        faults = item.faults
        if faults and reason in faults:
            return work.reject(item, reason, faults[reason])
        return None

    check.__name__ = f"_{reason}"
    return check


def _no_consent(item: Staged, work: _Work) -> Decision | None:
    if work.link is None or not work.link.consenting:
        return work.reject(item, "no_consent")
    return None


def _duplicate_behaviour(item: Staged, work: _Work) -> Decision | None:
    fp = work.fingerprint
    if fp is None:
        return None
    claimed = work.facts.claimed
    if fp in claimed or fp in work.claimed or any(earlier in claimed for earlier in work.earlier_fingerprints):
        return work.reject(item, "duplicate_behaviour")
    federated = item.federation_fingerprint
    if federated is not None:
        peer = work.facts.peer_claims.get(federated)
        if peer is not None:  # credited on another platform of the federation first
            return work.reject(item, "duplicate_behaviour", {"claimed_by": peer})
    return None


def _cap_reached(item: Staged, work: _Work) -> Decision | None:
    """The caps of the event's methodology against its person's usage; sets the grams they allow."""
    methodology, link, day, scenario = item.methodology, work.link, item.day, item.event.scenario
    work.grams = item.carbon_g
    if methodology is None or link is None or day is None or scenario is None:
        return None
    day_usage = work.used(work.used_day, work.facts.used_day, (link.account_id, scenario, day.toordinal()))
    month_usage = work.used(work.used_month, work.facts.used_month, (link.account_id, scenario, month_key(day)))
    work.usage = (day_usage, month_usage)
    carbon_g = item.carbon_g
    for cap in methodology.caps:
        used = day_usage if cap.period == "day" else month_usage
        allowed, carbon_g = ev.cap_allows(cap.max_events, cap.max_carbon_g, used, carbon_g)
        if not allowed:
            return work.reject(item, "cap_reached")
    work.grams = carbon_g
    return None


# One check per reason; ``decide_batch`` runs them in REASON_ORDER.
CHECKS: Mapping[str, Check] = MappingProxyType(
    {
        "duplicate_event": _duplicate_event,
        "event_id_reused": _event_id_reused,
        **{reason: _staged(reason) for reason in sorted(STAGED_REASONS)},
        "no_consent": _no_consent,
        "duplicate_behaviour": _duplicate_behaviour,
        "cap_reached": _cap_reached,
    }
)
assert set(CHECKS) == set(ev.REASON_ORDER), "one check per reason"


def _credit(item: Staged, work: _Work) -> Decision:
    """An event that passed every check: its grams (as capped), its points and postings."""
    event, methodology, link, usage = item.event, item.methodology, work.link, work.usage
    assert event.event_id is not None and event.scenario is not None and item.day is not None
    assert methodology is not None and link is not None and usage is not None
    facts = work.facts
    carbon_g = work.grams
    day_usage, month_usage = usage
    rule = rule_for(facts.rules, event.scenario)
    # Campaigns first (e.g. a low-carbon day's double points), then the daily cap keeps the budget.
    earned, _campaigns = campaign_points(facts.campaigns, event.scenario, item.day, rule.points_for(carbon_g))
    points = rule.capped(earned, day_usage.points)
    for u in (day_usage, month_usage):
        u.events += 1
        u.carbon_g += carbon_g
        u.points += points
    fp = work.fingerprint
    if fp is not None:
        work.claimed.add(fp)
    explanation_json = item.explanation_json
    if item.explanation is not None and carbon_g != item.carbon_g:
        explanation_json = canonical_json({**item.explanation, "capped_carbon_g": carbon_g})
    transfer = None
    if carbon_g > 0 or points > 0:
        mine = facts.holdings[link.account_id]
        issuance_co2e, issuance_points = facts.issuance
        postings = []
        if carbon_g > 0:
            postings.append(Posting(issuance_co2e.id, mine[ASSET_CO2E].id, carbon_g))
        if points > 0:
            postings.append(Posting(issuance_points.id, mine[ASSET_POINTS].id, points))
        transfer = TransferGroup(
            scheme_id=facts.scheme_id,
            kind="behaviour_credit",
            postings=tuple(postings),
            # not the partner's event_id: it may be a trip id, and the journal is append-only and hash-chained,
            # so erasure could never remove it (issue 18). The event row names its entry (events.entry_id).
            memo={"partner": facts.partner_id, "scenario": event.scenario},
        )
    return Decision(
        item.index,
        event.event_id,
        ev.CREDITED,
        None,
        carbon_g,
        points,
        methodology.ref,
        None,
        True,
        link.account_id,
        fp,
        transfer,
        explanation_json,
        item.federation_fingerprint,
    )


def decide_batch(staged: Sequence[Staged], facts: Facts) -> tuple[Decision, ...]:
    """One decision per staged event, in input order; the first failed check in REASON_ORDER gives
    the reason, and an event that fails none is credited."""
    checks = tuple(CHECKS[reason] for reason in ev.REASON_ORDER)
    work = _Work(facts)
    decisions = []
    for item in staged:
        work.begin(item)
        for check in checks:
            decision = check(item, work)
            if decision is not None:
                break
        else:
            decision = _credit(item, work)
        event_id = item.event.event_id
        if decision.stored and event_id is not None and event_id not in work.seen:
            work.seen[event_id] = Recorded(item.content_hash, decision.carbon_g, decision.points, decision.methodology)
        decisions.append(decision)
    return tuple(decisions)


def carried_forward(facts: Facts, staged: Sequence[Staged], decisions: Sequence[Decision]) -> Facts:
    """The facts after these decisions were written: what the next batch would read."""
    earlier: dict[str, Earlier] = dict(facts.earlier)
    claimed = set(facts.claimed)
    used_day = dict(facts.used_day)
    used_month = dict(facts.used_month)
    for item, decision in zip(staged, decisions, strict=True):
        if decision.stored and decision.event_id is not None:
            earlier[decision.event_id] = Recorded(item.content_hash, decision.carbon_g, decision.points, decision.methodology)
        if decision.status != ev.CREDITED:
            continue
        assert decision.account_id is not None and item.day is not None and item.event.scenario is not None
        if decision.fingerprint is not None:
            claimed.add(decision.fingerprint)
        for table, key in (
            (used_day, (decision.account_id, item.event.scenario, item.day.toordinal())),
            (used_month, (decision.account_id, item.event.scenario, month_key(item.day))),
        ):
            events, carbon_g, points = table.get(key, (0, 0, 0))
            table[key] = (events + 1, carbon_g + decision.carbon_g, points + decision.points)
    return Facts(
        facts.scheme_id,
        facts.partner_id,
        earlier,
        facts.links,
        frozenset(claimed),
        used_day,
        used_month,
        facts.holdings,
        facts.issuance,
        facts.rules,
        facts.campaigns,
        facts.peer_claims,
    )
