"""What changes between a batch's preparation and its write transaction is honoured.

`ingest.prepare` reads people's ledger accounts and computes behaviour fingerprints before the
write turn (services/ingest.py); the importer's other process, an HTTP worker or an operator may act
in between. The ``turn`` hook runs exactly there, so these tests act at that moment, on both engines.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from tanhui.services import consent, ingest, ledger, partners, schemes
from tanhui.store import Store
from tanhui.store.repositories.partners import PartnerRow

WHEN = datetime.now(UTC) - timedelta(hours=2)


def _scheme(store: Store) -> tuple[str, PartnerRow]:
    scheme_id = "t" + uuid.uuid4().hex[:10]
    schemes.create_scheme(store, scheme_id, "回合")
    return scheme_id, partners.create_partner(store, scheme_id, "bus", ["bus_ride", "metro_ride"]).partner


def _grant(store: Store, partner: PartnerRow, ref: str) -> None:
    consent.grant(
        store,
        partner,
        f"n-{uuid.uuid4().hex}",
        {"user_ref": ref, "scopes": ["behaviour:report"], "granted_at": (WHEN - timedelta(days=1)).isoformat()},
    )


def _ride(event_id: str, ref: str, trip: str | None = None) -> dict[str, Any]:
    # trip ids are global behaviour identities (any scheme): unique per test run
    trip = trip or f"{event_id}-{uuid.uuid4().hex}"
    return {
        "event_id": event_id,
        "user_ref": ref,
        "scenario": "bus_ride",
        "occurred_at": WHEN.isoformat(),
        "data": {"trip_id": trip},
    }


@contextmanager
def _between(action: Callable[[], None]) -> Iterator[None]:
    action()  # after prepare, before the write transaction
    yield


def _balances(store: Store, partner: PartnerRow, ref: str) -> dict[str, int]:
    with store.unit_of_work(write=False) as uow:
        link = uow.consents.link(partner.pk, ref)
        assert link is not None
        return {asset: uow.ledger.balance(account.id) for asset, account in uow.ledger.holdings(link[1]).items()}


def test_a_person_linked_after_prepare_is_credited_to_their_own_account(store: Store) -> None:
    scheme_id, partner = _scheme(store)
    _grant(store, partner, "early")
    batch = [_ride("e1", "early"), _ride("e2", "late")]
    outcome = ingest.ingest_events(store, partner, batch, turn=_between(lambda: _grant(store, partner, "late")))
    assert [r["status"] for r in outcome.results] == ["credited", "credited"]
    assert _balances(store, partner, "late") == {"CO2E": outcome.results[1]["carbon_g"], "POINTS": outcome.results[1]["points"]}
    assert ledger.verify(store, scheme_id).ok


def test_a_consent_withdrawn_after_prepare_stops_the_credit(store: Store) -> None:
    scheme_id, partner = _scheme(store)
    _grant(store, partner, "p")
    outcome = ingest.ingest_events(
        store,
        partner,
        [_ride("e1", "p")],
        turn=_between(lambda: consent.revoke_by_partner(store, partner, f"n-{uuid.uuid4().hex}", "p")),
    )
    assert outcome.results[0]["status"] == "rejected" and outcome.results[0]["reason"] == "no_consent"
    assert _balances(store, partner, "p") == {"CO2E": 0, "POINTS": 0}
    assert ledger.verify(store, scheme_id).ok


def test_a_behaviour_claimed_after_prepare_is_not_credited_twice(store: Store) -> None:
    """The fingerprint computed before the turn is checked against what is claimed in it."""
    scheme_id, partner = _scheme(store)
    _grant(store, partner, "p")
    trip = f"T-{uuid.uuid4().hex}"

    def other_batch() -> None:
        assert ingest.ingest_events(store, partner, [_ride("other", "p", trip=trip)]).results[0]["status"] == "credited"

    outcome = ingest.ingest_events(store, partner, [_ride("mine", "p", trip=trip)], turn=_between(other_batch))
    assert outcome.results[0]["reason"] == "duplicate_behaviour"
    assert ledger.verify(store, scheme_id).ok


def test_settings_changed_after_prepare_decide_the_batch(store: Store) -> None:
    scheme_id, partner = _scheme(store)
    _grant(store, partner, "p")

    def new_rule() -> None:
        with store.unit_of_work() as uow:
            scheme = uow.schemes.get(scheme_id)
            assert scheme is not None
            uow.schemes.update(scheme_id, scheme.name, {**scheme.settings, "points_rules": {"bus_ride": {"per_event": 7}}})

    outcome = ingest.ingest_events(store, partner, [_ride("e1", "p")], turn=_between(new_rule))
    assert outcome.results[0]["status"] == "credited" and outcome.results[0]["points"] == 7, outcome.results
    assert ledger.verify(store, scheme_id).ok
