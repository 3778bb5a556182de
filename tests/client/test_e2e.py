"""The partner SDK against the real server in its own process (see conftest.py `live_server`)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tanhui.client import PartnerClient, TanhuiAPIError
from tests.client.conftest import RunningServer, start_live_server


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def bus_ride(event_id: str, user_ref: str = "u1", **data: Any) -> dict[str, Any]:
    return {"event_id": event_id, "user_ref": user_ref, "scenario": "bus_ride", "occurred_at": now_rfc3339(), "data": data}


def set_up_partner(server: RunningServer, scenarios: str = "bus_ride,clean_plate") -> dict[str, Any]:
    done = server.tanhui("scheme", "create", "city", "--name", "测试城市")
    assert done.returncode == 0, done.stderr
    return server.partner("city", "公交", scenarios)


def client_of(server: RunningServer, partner: dict[str, Any], secret: str | None = None) -> PartnerClient:
    return PartnerClient(server.base_url, partner["partner_id"], secret or partner["secret"], timeout=30, lang="en")


def test_consent_events_account_session_revoke(live_server: RunningServer) -> None:
    partner = set_up_partner(live_server)
    assert set(partner) >= {"partner_id", "secret", "scheme_id", "scenarios"}
    assert partner["scheme_id"] == "city" and set(partner["scenarios"]) == {"bus_ride", "clean_plate"}

    with client_of(live_server, partner) as tanhui:
        consent = tanhui.grant_consent("u1", display_name="乘客一")
        assert consent["status"] == "active" and consent["user_ref"] == "u1"
        assert set(consent) >= {"consent_id", "account_id", "user_ref", "scopes", "status", "granted_at"}
        assert consent["scopes"] == ["behaviour:report"]
        assert tanhui.grant_consent("u1") == consent  # granting again while active: the same consent

        ride = bus_ride("e1")
        first = tanhui.send_events([ride], keep_results=True)
        assert first.results is not None
        (credited,) = first.results
        assert (credited["event_id"], credited["status"], credited["reason"]) == ("e1", "credited", None)
        assert (credited["carbon_g"], credited["points"]) == (80, 10)
        assert credited["methodology"]
        assert first.summary == {"credited": 1, "duplicate": 0, "rejected": 0, "carbon_g": 80, "points": 10}
        assert first.batches == 1

        again = tanhui.send_events([ride], keep_results=True)
        assert again.results is not None
        (duplicate,) = again.results
        assert (duplicate["status"], duplicate["reason"]) == ("duplicate", "duplicate_event")
        assert (duplicate["carbon_g"], duplicate["points"], duplicate["methodology"]) == (80, 10, credited["methodology"])
        assert again.summary == {"credited": 0, "duplicate": 1, "rejected": 0, "carbon_g": 0, "points": 0}

        account = tanhui.account("u1")
        assert account["carbon_g_total"] == 80
        assert account["points_balance"] == 10 and account["events_credited"] == 1 and account["rank_in_scheme"] == 1
        assert account["account_id"] == consent["account_id"]

        session = tanhui.session("u1")
        assert session["token"] and session["expires_at"]
        assert session["login_url"].startswith("/")

        revoked = tanhui.revoke_consent("u1")
        assert revoked["status"] == "revoked" and revoked["revoked_at"]

        late = tanhui.send_events([bus_ride("e2")], keep_results=True)
        assert late.results is not None
        assert (late.results[0]["status"], late.results[0]["reason"]) == ("rejected", "no_consent")
        assert late.reasons == {"no_consent": 1}

        # A partner sees a person only while their consent to it is active.
        with pytest.raises(TanhuiAPIError) as gone:
            tanhui.account("u1")
        assert gone.value.status == 404 and gone.value.code == "consent_not_found"


def test_many_events_in_batches_and_a_quoted_user_ref(live_server: RunningServer) -> None:
    partner = set_up_partner(live_server)
    user_ref = "乘客 #2?x=1%"  # space, '#', '?', '%' and non-ASCII travel quoted and signed as sent
    with client_of(live_server, partner) as tanhui:
        tanhui.grant_consent(user_ref)
        rides = (bus_ride(f"trip-{n}", user_ref, trip_id=f"T{n}") for n in range(2500))
        report = tanhui.send_events(rides, batch_size=1000)
        assert (report.batches, report.events) == (3, 2500)
        assert report.credited + report.rejected == 2500
        assert report.credited >= 6  # an ordinary day's rides fit the default cap
        assert set(report.reasons) <= {"cap_reached"}
        account = tanhui.account(user_ref)
        assert account["carbon_g_total"] == report.carbon_g and account["points_balance"] == report.points
        assert tanhui.session(user_ref)["token"]
        assert tanhui.revoke_consent(user_ref)["status"] == "revoked"


def test_a_user_ref_with_a_slash_reaches_its_account(live_server: RunningServer) -> None:
    partner = set_up_partner(live_server)
    with client_of(live_server, partner) as tanhui:
        tanhui.grant_consent("dept/42")
        assert tanhui.account("dept/42")["carbon_g_total"] == 0


def test_authentication_errors_come_back_as_codes(live_server: RunningServer) -> None:
    partner = set_up_partner(live_server)
    with client_of(live_server, partner, secret="sk_wrong") as wrong:
        with pytest.raises(TanhuiAPIError) as raised:
            wrong.account("u1")
        assert (raised.value.status, raised.value.code) == (401, "bad_signature")
        assert raised.value.message  # human text, English because of lang="en"
    stranger = PartnerClient(live_server.base_url, "ptn_doesnotexist00", "sk_x")
    with stranger, pytest.raises(TanhuiAPIError) as raised:
        stranger.send_events([bus_ride("e1")])  # 401 is not retried
    assert (raised.value.status, raised.value.code) == (401, "unknown_partner")


def test_rotating_the_secret_keeps_both_valid_until_retired(live_server: RunningServer) -> None:
    partner = set_up_partner(live_server)
    rotated = live_server.tanhui("partner", "rotate-secret", partner["partner_id"], "--json")
    assert rotated.returncode == 0, rotated.stderr
    new_secret = json.loads(rotated.stdout)["secret"]
    assert new_secret != partner["secret"]
    with client_of(live_server, partner) as old, client_of(live_server, partner, new_secret) as new:
        assert old.grant_consent("u1")["status"] == "active"
        assert new.account("u1")["carbon_g_total"] == 0
        retired = live_server.tanhui("partner", "rotate-secret", partner["partner_id"], "--retire-old")
        assert retired.returncode == 0, retired.stderr
        assert new.account("u1")["carbon_g_total"] == 0
        with pytest.raises(TanhuiAPIError) as raised:
            old.account("u1")
        assert raised.value.code == "bad_signature"


@pytest.mark.slow
def test_send_events_waits_out_a_real_429(tmp_path: Any) -> None:
    """60 requests a minute: a burst of 10, then one a second. The SDK sleeps Retry-After and resends."""
    with start_live_server(tmp_path, env={"TANHUI_PARTNER_RATE_PER_MINUTE": "60"}) as server:
        partner = set_up_partner(server, "bus_ride")
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            time.sleep(seconds)

        with PartnerClient(server.base_url, partner["partner_id"], partner["secret"], sleep=sleep) as tanhui:
            tanhui.grant_consent("u1")
            report = tanhui.send_events((bus_ride(f"e{n}", trip_id=f"T{n}") for n in range(12)), batch_size=1)
    assert report.batches == 12 and report.retries >= 1
    assert sleeps and all(s >= 1 for s in sleeps)  # Retry-After is whole seconds, at least 1
    assert report.credited + report.rejected == 12 and report.duplicate == 0


def test_a_binding_code_connects_a_second_partner_to_the_same_person(live_server: RunningServer) -> None:
    bus = set_up_partner(live_server)
    canteen = live_server.partner("city", "食堂", "clean_plate")
    with client_of(live_server, bus) as bus_api, client_of(live_server, canteen) as canteen_api:
        first = bus_api.grant_consent("bus-user-1")
        token = bus_api.session("bus-user-1")["token"]
        # The bus app's session asks for a binding code; the person gives it to the canteen app, which grants
        # consent with it: one account, two sources.
        made = httpx.post(live_server.base_url + "/v1/me/binding-codes", headers={"Authorization": f"Bearer {token}"})
        assert made.status_code == 201, made.text
        code = made.json()["code"]
        second = canteen_api.grant_consent("canteen-9", binding_code=code)
        assert second["account_id"] == first["account_id"]
        meal = {
            "event_id": "m1",
            "user_ref": "canteen-9",
            "scenario": "clean_plate",
            "occurred_at": now_rfc3339(),
            "data": {"meal": "lunch"},
        }
        assert canteen_api.send_events([meal]).credited == 1
        assert bus_api.account("bus-user-1")["events_credited"] == 1  # the same account, seen by the bus app
        with pytest.raises(TanhuiAPIError) as used:  # single use
            canteen_api.grant_consent("canteen-10", binding_code=code)
        assert (used.value.status, used.value.code) == (422, "invalid_binding_code")
        me = httpx.get(live_server.base_url + "/v1/me/consents", headers={"Authorization": f"Bearer {token}"})
        # the bus app's session sees its own consent only
        assert {c["partner_id"] for c in me.json()["consents"]} == {bus["partner_id"]}
