"""The operators' review queue: behaviour reports the rules rejected, and what a reviewer decides.

A reviewer either **confirms** a rejection (it leaves the queue; the rejection stands) or, for a
report rejected as implausible (a step counter's 250,000 steps, a 300 km bus ride), **accepts** it
after checking it: the report is decided again exactly as ingestion decides it (consent, the same
behaviour twice, the day's and the month's caps, campaigns) with only the methodology's
plausibility rules set aside, and credited through the ledger like any credited report
(services/ingest.credit_after_review). Both are operator actions in the audit log, with the
reviewer as the actor, in the same transaction as what they decide.

The audit log is the record of the decisions: a confirmed rejection is an event with a
``review.confirm`` entry, so the queue needs no column of its own (no migration).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tanhui.domain import events as ev
from tanhui.domain.methodology import Library
from tanhui.errors import BusinessRuleViolation, InvalidInput, NotFound
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.services.federation import member_of
from tanhui.services.ingest import credit_after_review
from tanhui.services.methodologies import default_library
from tanhui.store import Store
from tanhui.store.errors import UniqueViolation
from tanhui.store.uow import UnitOfWork

PAGE = 50
PAGE_MAX = 200
STATES = ("open", "confirmed", "all")  # waiting for a reviewer, rejection confirmed, both
ACCEPTABLE = ("implausible",)  # the only rejection a person's judgement may overturn
CONFIRM, ACCEPT = "review.confirm", "review.accept"


@dataclass(frozen=True, slots=True)
class Confirmed:
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ReviewItem:
    id: int
    event_id: str
    partner_id: str
    partner_name: str
    account_id: int | None
    name: str | None  # the person's display name or username, where they have one
    scenario: str
    occurred_at: datetime | None
    received_at: datetime
    reason: str
    details: Any
    data: Any  # None once the retention period purged the partner's payload
    methodology: str | None
    confirmed: Confirmed | None

    @property
    def acceptable(self) -> bool:
        return self.reason in ACCEPTABLE and self.data is not None and self.confirmed is None


@dataclass(frozen=True, slots=True)
class ReviewPage:
    items: list[ReviewItem]
    total: int  # in the queue with this state and reason
    offset: int
    limit: int
    state: str
    reason: str | None
    by_reason: dict[str, int]  # the state's queue by reason (the filter's counts)


def _target(event_pk: int) -> str:
    return f"event:{event_pk}"


def _confirmed(uow: UnitOfWork, scheme_id: str) -> dict[int, Confirmed]:
    found: dict[int, Confirmed] = {}
    for entry in uow.audit.of_action(scheme_id, CONFIRM):
        kind, _colon, number = (entry.target or "").partition(":")
        if kind == "event" and number.isascii() and number.isdigit():
            found.setdefault(int(number), Confirmed(entry.actor, entry.created_at))
    return found


def queue(
    store: Store, scheme_id: str, *, reason: str | None = None, state: str = "open", offset: int = 0, limit: int = PAGE
) -> ReviewPage:
    """One page of the queue, newest first, with how many there are in all."""
    if state not in STATES:
        raise InvalidInput("invalid_request", details={"state": " or ".join(STATES)})
    if reason is not None and reason not in ev.REASON_ORDER:
        raise InvalidInput("invalid_request", details={"reason": "unknown"})
    if offset < 0 or not 1 <= limit <= PAGE_MAX:
        raise InvalidInput("invalid_request", details={"page": f"offset >= 0, limit 1..{PAGE_MAX}"})
    with store.unit_of_work(write=False) as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        confirmed = _confirmed(uow, scheme_id)
        ids = sorted(confirmed)
        exclude, only = (ids, None) if state == "open" else ((), ids) if state == "confirmed" else ((), None)
        by_reason = uow.reports.rejected_by_reason(scheme_id, exclude, only)
        total = by_reason.get(reason, 0) if reason else sum(by_reason.values())
        rows = uow.reports.rejected_page(scheme_id, (reason,) if reason else None, offset, limit, exclude, only)
        partners = {p.pk: p for p in uow.partners.list(scheme_id)}
        names = uow.accounts.names(r.account_id for r in rows if r.account_id is not None)
    items = [
        ReviewItem(
            int(r.id),
            r.event_id,
            partners[r.partner_pk].id,
            partners[r.partner_pk].name,
            None if r.account_id is None else int(r.account_id),
            names.get(int(r.account_id)) if r.account_id is not None else None,
            r.scenario,
            r.occurred_at,
            r.received_at,
            r.reason or "",
            r.details,
            r.data,
            r.methodology,
            confirmed.get(int(r.id)),
        )
        for r in rows
    ]
    return ReviewPage(items, total, offset, limit, state, reason, by_reason)


def _rejected(uow: UnitOfWork, scheme_id: str, event_pk: int) -> Any:
    """The rejected event, locked (found by its id, then locked among its person's rows)."""
    row = uow.events.for_review(event_pk)
    if row is not None:
        row = uow.events.for_review(event_pk, row.pkey, lock=True)
    if row is None or row.scheme_id != scheme_id or row.status != ev.REJECTED:
        raise NotFound("review_event_not_found", event=event_pk)
    return row


def confirm(store: Store, scheme_id: str, event_pk: int, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """The rejection stands: the event leaves the queue. Confirming again changes nothing."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        row = _rejected(uow, scheme_id, event_pk)
        done = _confirmed(uow, scheme_id).get(event_pk)
        if done is None:
            audit.record(uow, actor, CONFIRM, _target(event_pk), {"reason": row.reason}, scheme_id, now=now)
        return {"event": event_pk, "status": "confirmed", "reason": row.reason}


def accept(
    store: Store, scheme_id: str, event_pk: int, *, actor: str, now: datetime | None = None, library: Library | None = None
) -> dict[str, Any]:
    """An implausible report a reviewer checked and found true: credited through the ledger, as
    ingestion credits a report, with the reviewer in the audit log. Refused (nothing written) when
    another rule still refuses it, or when the retention period already purged its data."""
    now = now or utcnow()
    library = library or default_library()
    member = member_of(store)
    try:
        with store.unit_of_work() as uow:
            row = _rejected(uow, scheme_id, event_pk)
            if row.reason not in ACCEPTABLE:
                raise BusinessRuleViolation("review_not_implausible", event=event_pk)
            if _confirmed(uow, scheme_id).get(event_pk) is not None:
                raise BusinessRuleViolation("review_already_confirmed", event=event_pk)
            if row.data is None:
                raise BusinessRuleViolation("review_no_data", event=event_pk)
            scheme = uow.schemes.get(scheme_id)
            partner = next((p for p in uow.partners.list(scheme_id) if p.pk == row.partner_pk), None)
            assert scheme is not None and partner is not None
            decision = credit_after_review(uow, partner, scheme, row, library, now, member)
            if decision.status != ev.CREDITED or decision.account_id != row.account_id:
                raise BusinessRuleViolation(_still_refused(decision.reason), event=event_pk)
            audit.record(
                uow,
                actor,
                ACCEPT,
                _target(event_pk),
                {"reason": row.reason, "carbon_g": decision.carbon_g, "points": decision.points},
                scheme_id,
                now=now,
            )
            return {"event": event_pk, "status": ev.CREDITED, "carbon_g": decision.carbon_g, "points": decision.points}
    except UniqueViolation:  # the same behaviour was credited by a report that arrived meanwhile
        raise BusinessRuleViolation("review_rejected_duplicate_behaviour", event=event_pk) from None


def _still_refused(reason: str | None) -> str:
    known = ("no_consent", "duplicate_behaviour", "cap_reached")
    return f"review_rejected_{reason}" if reason in known else "review_rejected"
