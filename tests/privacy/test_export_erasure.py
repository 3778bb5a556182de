"""PIPL through a real server, on SQLite and PostgreSQL: consent with purpose and scope, processing stops at
withdrawal, GET /v1/me/export returns everything held about the person, DELETE /v1/me erases the
personal data (name, username, partner user_refs unlinked, raw payloads) while the ledger keeps
pseudonymous entries and `tanhui verify` still passes. Passwords are argon2id hashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from tanhui.services import identity
from tanhui.store import Store
from tests.live import LiveServer, create_partner

NOW = datetime.now(UTC)


def bus(event_id: str, user_ref: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_ref": user_ref,
        "scenario": "bus_ride",
        "occurred_at": (NOW - timedelta(minutes=30)).isoformat(),
        "data": {"trip_id": f"trip-{event_id}", "line": "K12"},
    }


def test_consent_withdrawal_export_and_erasure(live: LiveServer) -> None:
    live.tanhui("scheme", "create", "city", "--name", "绿芽积分")
    a = create_partner(live, "city", "公交", "bus_ride")
    b = create_partner(live, "city", "地铁", "bus_ride")
    http = httpx.Client(base_url=live.base_url)
    try:
        # The person's own sign-in (a partner's session may not make binding codes nor see other partners).
        setup = Store(live.database_url)
        try:
            identity.register(setup, "city", "xiaoming", "correct horse battery", display_name="王小明")
        finally:
            setup.dispose()
        token = http.post("/v1/auth/token", json={"username": "xiaoming", "password": "correct horse battery"}).json()["token"]
        me = {"Authorization": f"Bearer {token}"}
        code = http.post("/v1/me/binding-codes", headers=me).json()["code"]
        assert a.consent("xiaoming-at-a", binding_code=code).status_code == 201
        code = http.post("/v1/me/binding-codes", headers=me).json()["code"]
        assert b.consent("xiaoming-at-b", binding_code=code).status_code == 201  # a second source, same person
        assert a.events([bus("a1", "xiaoming-at-a"), bus("a2", "xiaoming-at-a")]).json()["summary"]["credited"] == 2
        assert b.events([bus("b1", "xiaoming-at-b")]).json()["summary"]["credited"] == 1

        # Consent records carry purpose and scope; withdrawal at one partner stops its processing at once.
        consents = http.get("/v1/me/consents", headers=me).json()["consents"]
        assert {c["partner_id"] for c in consents} == {a.partner_id, b.partner_id}
        assert all(c["scopes"] == ["behaviour:report"] and c["purpose"] and c["status"] == "active" for c in consents)
        assert b.request("DELETE", "/v1/partner/consents/xiaoming-at-b").status_code == 200
        late = b.events([bus("b2", "xiaoming-at-b")]).json()["results"][0]
        assert (late["status"], late["reason"]) == ("rejected", "no_consent")
        assert a.events([bus("a3", "xiaoming-at-a")]).json()["summary"]["credited"] == 1  # the other partner still works

        # The right of access: everything held about the person.
        export = http.get("/v1/me/export", headers=me)
        assert export.status_code == 200, export.text
        doc = export.json()
        text_ = json.dumps(doc, ensure_ascii=False)
        assert "王小明" in text_ and "xiaoming-at-a" in text_ and "xiaoming-at-b" in text_
        assert {e["event_id"] for e in doc["events"]} >= {"a1", "a2", "a3", "b1", "b2"}
        assert any(e.get("data") for e in doc["events"])  # the raw payloads as received
        assert len(doc["consents"]) == 2 and doc["ledger"]["postings"]
        assert http.get("/v1/me/export").status_code == 401

        # Erasure.
        erased = http.delete("/v1/me", headers=me)
        assert erased.status_code == 200 and erased.json()["status"] == "erased", erased.text
        assert http.get("/v1/me", headers=me).status_code == 401  # the session is gone with the person
        assert a.request("GET", "/v1/partner/accounts/xiaoming-at-a").status_code == 404
        gone = a.events([bus("a4", "xiaoming-at-a")]).json()["results"][0]
        assert gone["status"] == "rejected" and gone["reason"] == "no_consent"
        account_id = doc["account"]["account_id"]
        store = Store(live.database_url)
        try:
            with store.engine.connect() as conn:
                q = lambda sql, **p: conn.execute(text(sql), p).all()  # noqa: E731
                assert q("SELECT * FROM account_profiles WHERE account_id = :a", a=int(account_id)) == []
                assert (
                    q("SELECT user_ref FROM partner_links WHERE account_id = :a AND user_ref IS NOT NULL", a=int(account_id))
                    == []
                )
                assert (
                    q(
                        "SELECT event_id FROM events WHERE account_id = :a AND (user_ref IS NOT NULL OR data IS NOT NULL)",
                        a=int(account_id),
                    )
                    == []
                )
                assert q("SELECT * FROM credentials WHERE account_id = :a", a=int(account_id)) == []
                assert (
                    len(q("SELECT id FROM events WHERE account_id = :a AND status = 'credited'", a=int(account_id))) == 4
                )  # pseudonymous outcomes stay
                for table in ("events", "partner_links", "account_profiles", "consents", "accounts"):
                    dump = json.dumps([list(map(str, r)) for r in q(f"SELECT * FROM {table}")], ensure_ascii=False)
                    assert "王小明" not in dump, table
                # Nothing linked to the erased account still names the person; the one event partner A sent
                # after the erasure (a4) is kept, as every report is, unlinked: rejected with no account.
                for table in ("events", "partner_links"):
                    dump = json.dumps(
                        [list(map(str, r)) for r in q(f"SELECT * FROM {table} WHERE account_id = :a", a=int(account_id))],
                        ensure_ascii=False,
                    )
                    assert "xiaoming" not in dump, table
                assert q("SELECT account_id, status FROM events WHERE event_id = 'a4'")[0] == (None, "rejected")
        finally:
            store.dispose()
        verify = live.tanhui("verify", check=False)
        assert verify.returncode == 0, verify.stderr
        # The same user_ref later is a new person, not the erased one.
        again = a.consent("xiaoming-at-a")
        assert again.status_code == 201 and again.json()["account_id"] != account_id
    finally:
        http.close()
        a.close()
        b.close()


def test_passwords_are_stored_as_argon2id(store: Store, scheme_id: str) -> None:
    from tanhui.services import schemes

    schemes.create_scheme(store, scheme_id, "口令")
    name = f"user{scheme_id}"
    account_id = identity.register(store, scheme_id, name, "correct horse battery staple")
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM credentials WHERE account_id = :a"), {"a": account_id}).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert identity.authenticate(store, name, "correct horse battery staple") == account_id
