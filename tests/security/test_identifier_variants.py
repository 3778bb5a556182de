"""Issue 18, finding 10: trivial variants of a behaviour id or a user_ref are the same behaviour and the
same person, on both engines; rows written before the canonical forms keep being recognised.

Through real HTTP (the live fixture) for what a partner sees, and through the services with direct SQL for
rows as older code wrote them (their fingerprints and user_refs as sent)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tanhui.services import consent, ingest, partners, schemes
from tanhui.store import Store
from tests.api.test_ingestion_http import event
from tests.live import LiveServer, create_partner

WHEN = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
TRIP_VARIANTS = (
    "trip-77a",
    "TRIP\u200b-77A",
    "ＴＲＩＰ－７７Ａ",
    " TRIP-77A\u3000",
    "\ufeffTRIP-77A",
    "TRIP-77A\u200e",
    "Trip-77a",
)


def test_variants_of_a_trip_id_and_of_a_user_ref_over_http(live: LiveServer) -> None:
    live.tanhui("scheme", "create", "city", "--name", "变体测试")
    a = create_partner(live, "city", "公交甲", "bus_ride")
    b = create_partner(live, "city", "公交乙", "bus_ride")

    # user_ref: a trailing space or full-width digits are the same person; a format character is refused
    granted = a.consent("10086")
    assert granted.status_code == 201, granted.text
    person = granted.json()
    for variant in ("10086 ", "１００８６", "\u300010086", "10086\n"):
        again = a.consent(variant)
        assert again.status_code == 200, (variant, again.text)
        assert again.json()["consent_id"] == person["consent_id"] and again.json()["user_ref"] == "10086"
    for refused in ("100\u200b86", "10086\ufeff", "\u202e10086", "10\x0786"):
        answer = a.consent(refused)
        assert answer.status_code == 422, (refused, answer.text)
        assert answer.json()["error"]["details"] == {"user_ref": "invalid"}
    seen = a.request("GET", "/v1/partner/accounts/%EF%BC%91%EF%BC%90%EF%BC%90%EF%BC%98%EF%BC%96")  # １００８６
    assert seen.status_code == 200 and seen.json()["account_id"] == person["account_id"], seen.text
    assert b.consent("rider-b").status_code == 201

    first = a.events([event("a-1", "１００８６ ", "bus_ride", {"trip_id": "TRIP-77A"})])
    assert first.json()["results"][0]["status"] == "credited", first.text
    answer = a.events([event("a-bad-ref", "100\u200b86", "bus_ride", {"trip_id": "TRIP-99"})])
    assert answer.json()["results"][0]["reason"] == "invalid_data", answer.text
    assert a.request("GET", "/v1/partner/accounts/10086").json()["events_credited"] == 1  # the same account

    # the trip again from another partner, in every trivial disguise: one behaviour
    variants = [event(f"b-{i}", "rider-b", "bus_ride", {"trip_id": v}) for i, v in enumerate(TRIP_VARIANTS)]
    variants.append(event("b-other", "rider-b", "bus_ride", {"trip_id": "TRIP-78"}))
    results = b.events(variants).json()["results"]
    assert [r["reason"] for r in results[:-1]] == ["duplicate_behaviour"] * len(TRIP_VARIANTS), results
    assert results[-1]["status"] == "credited"
    # ... and from the same partner for the same person
    again = a.events([event("a-2", "10086", "bus_ride", {"trip_id": "ｔｒｉｐ－７７ａ"})]).json()["results"][0]
    assert again["reason"] == "duplicate_behaviour", again
    # an id of nothing visible is no id
    empty = a.events([event("a-3", "10086", "bus_ride", {"trip_id": "\u200b\u3000"})]).json()["results"][0]
    assert empty["reason"] == "invalid_data" and empty["details"] == {"trip_id": "invalid_type"}, empty


def _legacy_fingerprint(trip_id: str) -> str:
    """What main stored for a bus trip before finding 10: the id as sent, hashed."""
    return hashlib.sha256("\x1f".join(("bus_ride", "global", "", "trip", trip_id)).encode("utf-8")).hexdigest()[:32]


def _grant(store: Store, partner: Any, user_ref: str) -> tuple[bool, dict[str, Any]]:
    body = {"user_ref": user_ref, "scopes": ["behaviour:report"], "granted_at": WHEN}
    return consent.grant(store, partner, f"n-{uuid.uuid4().hex}", body)


def _one(store: Store, partner: Any, event_id: str, user_ref: str, trip_id: str) -> dict[str, Any]:
    sent = {"event_id": event_id, "user_ref": user_ref, "scenario": "bus_ride", "occurred_at": WHEN, "data": {"trip_id": trip_id}}
    return ingest.ingest_events(store, partner, [sent]).results[0]


def test_rows_written_before_the_canonical_forms_are_still_recognised(store: Store, scheme_id: str) -> None:
    schemes.create_scheme(store, scheme_id, "旧数据")
    a = partners.create_partner(store, scheme_id, "公交甲", ["bus_ride"]).partner
    b = partners.create_partner(store, scheme_id, "公交乙", ["bus_ride"]).partner
    tag = scheme_id.upper()
    _, alice = _grant(store, a, f"alice-{scheme_id}")
    _grant(store, b, f"bob-{scheme_id}")

    # two trips credited as older code stored them: the fingerprint of the id as it was sent
    for event_id, trip in ((f"old-caps-{scheme_id}", f"CAPS-{tag}"), (f"old-mixed-{scheme_id}", f"MiXeD-{tag}")):
        assert _one(store, a, event_id, f"alice-{scheme_id}", trip)["status"] == "credited"
        with store.engine.begin() as conn:  # the event row and its claim (behaviour_claims, migration 0014)
            stored = conn.execute(text("SELECT fingerprint FROM events WHERE event_id = :id"), {"id": event_id}).scalar_one()
            for table in ("events", "behaviour_claims"):
                conn.execute(
                    text(f"UPDATE {table} SET fingerprint = :fp WHERE fingerprint = :old"),
                    {"fp": _legacy_fingerprint(trip), "old": stored},
                )
    bob = f"bob-{scheme_id}"
    assert _one(store, b, f"b1-{scheme_id}", bob, f"CAPS-{tag}")["reason"] == "duplicate_behaviour"  # sent again as it was
    assert _one(store, b, f"b2-{scheme_id}", bob, f"caps-{tag.lower()}")["reason"] == "duplicate_behaviour"  # a variant
    assert _one(store, b, f"b3-{scheme_id}", bob, f"ＣＡＰＳ-{tag}\u200b")["reason"] == "duplicate_behaviour"
    assert _one(store, b, f"b4-{scheme_id}", bob, f"MiXeD-{tag}")["reason"] == "duplicate_behaviour"  # the exact resend
    assert _one(store, b, f"b5-{scheme_id}", bob, f"NEW-{tag}")["status"] == "credited"

    # a partner link recorded with a user_ref as sent (full-width digits): still that person
    legacy_ref = "１２３" + scheme_id
    _, carol = _grant(store, a, f"carol-{scheme_id}")
    with store.engine.begin() as conn:  # the link and its claim (partner_refs, migration 0014)
        for table in ("partner_links", "partner_refs"):
            conn.execute(
                text(f"UPDATE {table} SET user_ref = :legacy WHERE user_ref = :ref"),
                {"legacy": legacy_ref, "ref": f"carol-{scheme_id}"},
            )
    created, again = _grant(store, a, legacy_ref)
    assert not created and again["consent_id"] == carol["consent_id"]
    credited = _one(store, a, f"c1-{scheme_id}", legacy_ref, f"CAROL-{tag}")
    assert credited["status"] == "credited", credited
    view = consent.partner_account_view(store, a, f"n-{uuid.uuid4().hex}", legacy_ref)
    assert view["account_id"] == carol["account_id"] and view["events_credited"] == 1
    assert alice["account_id"] != carol["account_id"]
