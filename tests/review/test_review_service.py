"""The review queue (issue 17): confirming a rejection, and accepting an implausible report after review,
which credits it through the ledger as ingestion would, with the reviewer in the audit log. Both engines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tanhui.errors import BusinessRuleViolation, NotFound
from tanhui.services import audit, consent, ingest, ledger, reports, retention, review, scheme_file
from tanhui.services.ingest import find_partner
from tanhui.store import Store
from tests.web.helpers import scheme_text

REVIEWER = "operator:reviewer"


@dataclass
class Walkers:
    scheme_id: str
    person: int
    now: datetime
    bad: dict[str, int]  # event id -> stored event pk


def _walk(event_id: str, when: datetime, steps: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_ref": "walker-1",
        "scenario": "walking",
        "occurred_at": when.isoformat(),
        "data": {"steps": steps},
    }


@pytest.fixture
def walkers(store: Store, scheme_id: str, tmp_path: Path) -> Walkers:
    path = tmp_path / "scheme.toml"
    path.write_text(scheme_text(scheme_id), encoding="utf-8")
    report = scheme_file.apply(store, path)
    partner = find_partner(store, next(p["partner_id"] for p in report.partners_created if p["name"] == "健步走APP"))
    now = datetime.now(UTC).replace(microsecond=0)
    _, view = consent.grant(
        store,
        partner,
        f"n-{scheme_id}",
        {"user_ref": "walker-1", "scopes": ["behaviour:report"], "granted_at": (now - timedelta(days=9)).isoformat()},
    )
    days = [now - timedelta(days=k, hours=2) for k in (1, 2, 3)]
    results = ingest.ingest_events(
        store,
        partner,
        [
            _walk("day1-good", days[0], 8000),  # credited: that day's walk is claimed
            _walk("day1-huge", days[0], 250_000),  # implausible, and the day's walk is credited already
            _walk("day2-huge", days[1], 180_000),  # implausible, nothing else that day
            _walk("day3-huge", days[2], 120_000),  # implausible: its rejection will be confirmed
        ],
        now=now,
    ).results
    assert [r["status"] for r in results] == ["credited", "rejected", "rejected", "rejected"]
    page = review.queue(store, scheme_id, reason="implausible")
    bad = {item.event_id: item.id for item in page.items}
    return Walkers(scheme_id, int(view["account_id"]), now, bad)


def _balances(store: Store, person: int) -> tuple[int, int]:
    held = ledger.holdings(store, person)
    return ledger.balance(store, held.co2e_account_id), ledger.balance(store, held.points_account_id)


def _entries(store: Store, scheme_id: str, action: str) -> list[Any]:
    return audit.list_entries(store, scheme_id, action)


def test_accepting_an_implausible_report_credits_it_through_the_ledger(store: Store, walkers: Walkers) -> None:
    s, person = walkers.scheme_id, walkers.person
    before = _balances(store, person)
    day2 = walkers.bad["day2-huge"]
    stats_before = reports.stats(store, s)

    done = review.accept(store, s, day2, actor=REVIEWER)

    # 180,000 steps are 2,952 g, capped at the day's 296 g; walking's points: 1 per 10 g, at most 30 a day
    assert done == {"event": day2, "status": "credited", "carbon_g": 296, "points": 29}
    assert _balances(store, person) == (before[0] + 296, before[1] + 29)
    with store.unit_of_work(write=False) as uow:
        row = uow.events.for_review(day2)
        entry = uow.ledger.entry(row.entry_id)
    assert (row.status, row.reason, row.carbon_g, row.points) == ("credited", None, 296, 29)
    assert row.explanation["capped_carbon_g"] == 296 and row.fingerprint
    assert entry is not None and entry.kind == "behaviour_credit"
    assert sorted(p.amount for p in entry.postings) == [29, 296]
    [logged] = _entries(store, s, "review.accept")
    assert (logged.actor, logged.target, logged.details) == (
        REVIEWER,
        f"event:{day2}",
        {"reason": "implausible", "carbon_g": 296, "points": 29},
    )
    # the counters moved with it: the stats and `tanhui verify` (ledger and report counters) agree
    stats = reports.stats(store, s)
    assert stats["events_credited"] == stats_before["events_credited"] + 1
    assert stats["carbon_g_total"] == stats_before["carbon_g_total"] + 296
    assert ledger.verify(store, s).ok, ledger.verify(store, s).problems
    # no longer in the queue; a second acceptance finds nothing to accept
    page = review.queue(store, s)
    assert day2 not in [i.id for i in page.items] and page.total == 2
    with pytest.raises(NotFound):
        review.accept(store, s, day2, actor=REVIEWER)
    assert len(_entries(store, s, "review.accept")) == 1


def test_accepting_is_refused_when_another_rule_still_refuses_and_nothing_is_written(store: Store, walkers: Walkers) -> None:
    s, person = walkers.scheme_id, walkers.person
    before = _balances(store, person)
    with pytest.raises(BusinessRuleViolation) as refused:
        review.accept(store, s, walkers.bad["day1-huge"], actor=REVIEWER)  # that day's walk is credited already
    assert refused.value.code == "review_rejected_duplicate_behaviour"
    assert _balances(store, person) == before and not _entries(store, s, "review.accept")
    assert review.queue(store, s).total == 3
    assert ledger.verify(store, s).ok


def test_confirming_a_rejection_takes_it_out_of_the_queue_for_good(store: Store, walkers: Walkers) -> None:
    s = walkers.scheme_id
    day3 = walkers.bad["day3-huge"]
    assert review.confirm(store, s, day3, actor=REVIEWER)["status"] == "confirmed"
    assert review.confirm(store, s, day3, actor="operator:another")["status"] == "confirmed"  # again: nothing new
    [logged] = _entries(store, s, "review.confirm")
    assert (logged.actor, logged.target, logged.details) == (REVIEWER, f"event:{day3}", {"reason": "implausible"})
    open_queue, confirmed = review.queue(store, s), review.queue(store, s, state="confirmed")
    assert day3 not in [i.id for i in open_queue.items] and open_queue.total == 2
    assert [i.id for i in confirmed.items] == [day3] and confirmed.items[0].confirmed is not None
    assert confirmed.items[0].confirmed.actor == REVIEWER and not confirmed.items[0].acceptable
    with pytest.raises(BusinessRuleViolation) as refused:
        review.accept(store, s, day3, actor=REVIEWER)
    assert refused.value.code == "review_already_confirmed"
    with pytest.raises(NotFound):
        review.confirm(store, "other-scheme", day3, actor=REVIEWER)


def test_the_queue_pages_newest_first_with_its_total(store: Store, walkers: Walkers) -> None:
    s = walkers.scheme_id
    whole = review.queue(store, s)
    assert whole.total == 3 and whole.by_reason == {"implausible": 3}
    assert [i.id for i in whole.items] == sorted((i.id for i in whole.items), reverse=True)
    pages = [review.queue(store, s, offset=k, limit=1) for k in range(4)]
    assert [p.total for p in pages] == [3, 3, 3, 3]
    assert [i.id for p in pages for i in p.items] == [i.id for i in whole.items]
    assert all(i.name is None and i.partner_name == "健步走APP" for i in whole.items)


def test_a_report_whose_data_was_purged_cannot_be_recalculated(store: Store, walkers: Walkers) -> None:
    s = walkers.scheme_id
    later = walkers.now + timedelta(days=400)
    retention.purge_payloads(store, s, later.date(), now=later)
    with pytest.raises(BusinessRuleViolation) as refused:
        review.accept(store, s, walkers.bad["day2-huge"], actor=REVIEWER, now=later)
    assert refused.value.code == "review_no_data"
    assert not review.queue(store, s).items[0].acceptable
