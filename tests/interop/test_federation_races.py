"""Races between platforms (services/interop_races.resolve, docs/interop.md "At ingest and after a
race"), on SQLite and PostgreSQL: this platform and a peer credited one behaviour before either saw
the other's claim. The earliest (recorded_at, platform id) keeps it; the other reverses its credit
(taking no more than the person's balance holds, recording the shortfall), withdraws its claim, and
shows the person why. `tanhui verify` stays clean; resolving again changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_REDEEMED
from tanhui.services import accounts, audit, interop_races, ledger
from tanhui.services.principal import Principal
from tanhui.store import Store, migrate
from tanhui.store.schema import interop_withdrawals, journal_entries
from tests.interop.federation_helpers import (
    NOW,
    Platform,
    key_file,
    platform,
)


def _city(store: Store, tmp_path: Path, platform_id: str = "cn-m") -> Platform:
    found = platform(store)
    found.join(key_file(tmp_path / "federation.key"), platform_id)
    for peer in ("cn-b", "cn-z"):
        found.add_peer(peer)
    return found


def _balances(city: Platform, user_ref: str) -> tuple[int, int]:
    account_id = _account(city, user_ref)
    found = ledger.holdings(city.store, account_id)
    return ledger.balance(city.store, found.co2e_account_id), ledger.balance(city.store, found.points_account_id)


def _account(city: Platform, user_ref: str) -> int:
    with city.store.unit_of_work(write=False) as uow:
        return uow.consents.links_with_active_consent(city.partner.pk, [user_ref])[user_ref].account_id


def _withdrawals(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(interop_withdrawals)).scalar_one())


def test_when_this_platform_was_first_nothing_changes(store: Store, tmp_path: Path) -> None:
    city = _city(store, tmp_path)
    credited = city.bus("u1", "T-1")
    city.pulled("cn-b", "claim", city.fingerprint("T-1"), NOW + timedelta(seconds=1))
    city.pulled("cn-z", "claim", city.fingerprint("T-1"), NOW)  # same moment, a larger platform id
    assert interop_races.resolve(store) == []
    assert _balances(city, "u1") == (credited["carbon_g"], credited["points"]) and _withdrawals(store) == 0


@pytest.mark.parametrize("peer, recorded", [("cn-b", NOW), ("cn-z", NOW - timedelta(microseconds=1))])
def test_a_peer_that_was_first_keeps_it_and_this_platform_withdraws(store: Store, tmp_path: Path, peer: str, recorded) -> None:  # type: ignore[no-untyped-def]
    """cn-b at the same moment wins by its smaller id; cn-z one microsecond earlier wins by time."""
    city = _city(store, tmp_path)
    kept = city.bus("u1", "T-2")
    credited = city.bus("u1", "T-1")
    assert credited["status"] == "credited" and credited["points"] > 0
    city.pulled(peer, "claim", city.fingerprint("T-1"), recorded)
    assert interop_races.resolve(store, fingerprints=[city.fingerprint("T-2")]) == []  # a sync that stored others
    [done] = interop_races.resolve(store, now=NOW + timedelta(minutes=1), fingerprints=[city.fingerprint("T-1")])
    assert (done["claimed_by"], done["shortfall_g"], done["shortfall_points"]) == (peer, 0, 0)
    assert _balances(city, "u1") == (kept["carbon_g"], kept["points"])
    assert ledger.verify(store).ok
    with store.unit_of_work(write=False) as uow:
        entry = uow.ledger.entry(done["reversal_entry"])
        withdrawal = uow.interop_claims.withdrawal(city.fingerprint("T-1"))
    assert entry is not None and entry.kind == "reversal" and entry.memo == {"reason": "interop_withdrawal", "claimed_by": peer}
    assert withdrawal is not None and withdrawal.seq is None and withdrawal.event_pk == done["event"]
    [row] = audit.list_entries(store, city.scheme_id, action="interop.withdraw")
    assert (row.actor, row.target, row.details["claimed_by"]) == ("system:interop", f"event:{done['event']}", peer)
    # the person sees it: withdrawn, claimed by the peer; the other trip stays as it was
    history = accounts.history(store, Principal(_account(city, "u1")))["events"]
    shown = {e["event_id"]: e.get("withdrawn") for e in history}
    assert shown["bus-T-2"] is None
    assert shown["bus-T-1"] == {"claimed_by": peer, "withdrawn_at": (NOW + timedelta(minutes=1)).isoformat()}
    # the signed statement counts the kept trip only: a bank reading it sees no behaviour twice in the federation
    from tanhui.services import portable_statements

    year = NOW.astimezone(ZoneInfo("Asia/Shanghai")).year  # the scheme's zone
    payload = portable_statements.issue(store, Principal(_account(city, "u1")), year=year)["payload"]
    assert payload["carbon_g"] == kept["carbon_g"]
    # resolving again changes nothing
    assert interop_races.resolve(store) == [] and _withdrawals(store) == 1


def test_spent_points_are_taken_as_far_as_the_balance_goes(store: Store, tmp_path: Path) -> None:
    city = _city(store, tmp_path)
    credited = city.bus("u1", "T-1")
    points = credited["points"]
    account_id = _account(city, "u1")
    held = ledger.holdings(store, account_id)
    with store.unit_of_work(write=False) as uow:
        redeemed = uow.ledger.system_account(city.scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id
    ledger.transfer(store, city.scheme_id, [(held.points_account_id, redeemed, points - 1)], kind="redemption")
    city.pulled("cn-b", "claim", city.fingerprint("T-1"), NOW - timedelta(seconds=1))
    [done] = interop_races.resolve(store)
    assert (done["shortfall_g"], done["shortfall_points"]) == (0, points - 1)
    assert _balances(city, "u1") == (0, 0)  # never below zero
    assert ledger.verify(store).ok


def test_everything_spent_and_untrusted_peers(store: Store, tmp_path: Path) -> None:
    city = _city(store, tmp_path)
    city.bus("u1", "T-1")
    city.pulled("cn-z", "claim", city.fingerprint("T-1"), NOW - timedelta(hours=1))
    city.distrust("cn-z")  # it lied: nothing it sent counts
    assert interop_races.resolve(store) == []
    city.pulled("cn-b", "claim", city.fingerprint("T-1"), NOW - timedelta(minutes=1))
    city.pulled("cn-b", "withdrawal", city.fingerprint("T-1"), NOW)  # it lost to someone else and withdrew
    assert interop_races.resolve(store) == [] and _withdrawals(store) == 0


# -- the property: both sides decide alike --------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, Platform]]:
    folder = tmp_path_factory.mktemp("pair")
    key = key_file(folder / "federation.key")
    made = []
    for name in ("cn-a", "cn-b"):
        store = Store(f"sqlite:///{folder / name}.db")
        migrate.upgrade(store)
        side = platform(store)
        side.join(key, name)
        side.add_peer("cn-b" if name == "cn-a" else "cn-a")
        made.append(side)
    yield made[0], made[1]
    for side in made:
        side.store.dispose()


def _own_claim(side: Platform, fingerprint: str):  # type: ignore[no-untyped-def]
    with side.store.unit_of_work(write=False) as uow:
        return uow.interop_claims.own_claim(fingerprint)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    a_after=st.integers(-3, 3),
    b_after=st.integers(-3, 3),
    tick=st.sampled_from([timedelta(seconds=1), timedelta(microseconds=1)]),
)
def test_both_sides_agree_on_the_winner(pair: tuple[Platform, Platform], a_after: int, b_after: int, tick: timedelta) -> None:
    """The same trip credited on both before a sync; after each pulled the other's claim, exactly one
    withdrew, and each side's resolve named the same winner; a second sync and resolve change nothing."""
    a, b = pair
    trip = f"T-{uuid.uuid4().hex[:8]}"
    user = f"u{uuid.uuid4().hex[:6]}"
    assert a.bus(user, trip, now=NOW + a_after * tick)["status"] == "credited"
    assert b.bus(user, trip, now=NOW + b_after * tick)["status"] == "credited"
    fp = a.fingerprint(trip)
    assert fp == b.fingerprint(trip)  # one key, one fingerprint
    mine_a, mine_b = _own_claim(a, fp), _own_claim(b, fp)
    b.pulled("cn-a", "claim", fp, mine_a.recorded_at)
    a.pulled("cn-b", "claim", fp, mine_b.recorded_at)
    done = {"cn-a": interop_races.resolve(a.store), "cn-b": interop_races.resolve(b.store)}
    expected = min((mine_a.recorded_at, "cn-a"), (mine_b.recorded_at, "cn-b"))[1]
    loser = "cn-b" if expected == "cn-a" else "cn-a"
    assert done[expected] == [] and [d["claimed_by"] for d in done[loser]] == [expected]
    # the loser's withdrawal reaches the winner: it keeps its credit
    (a if expected == "cn-a" else b).pulled(loser, "withdrawal", fp, NOW + timedelta(minutes=5))
    assert interop_races.resolve(a.store) == [] and interop_races.resolve(b.store) == []


def test_a_reversed_event_pooled_into_credits_shows_as_shortfall(store: Store, tmp_path: Path) -> None:
    """The registry's rule for any reversal holds for a withdrawal: the batch's grams stay issued and
    the reversed share shows as its shortfall (docs/registry.md)."""
    from tanhui.services.registry import issuance
    from tanhui.services.registry.common import shortfall_in
    from tests.registry.helpers import NOW as REGISTRY_NOW
    from tests.registry.helpers import OCCURRED, REPORTED, VINTAGE, issue_day
    from tests.registry.helpers import city as registry_city

    key = key_file(tmp_path / "federation.key")
    c = registry_city(store, f"s{uuid.uuid4().hex[:10]}")
    from tanhui.services import interop

    interop.init_platform(store, "cn-m", "丙城", key, now=REPORTED - timedelta(days=1))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tanhui.domain import platform_signing as ps

    interop.add_peer(store, "cn-b", "https://cn-b.example.org", ps.public_key_text(Ed25519PrivateKey.generate()))
    events = [
        {
            "event_id": f"far-{i}",
            "user_ref": f"rider{i // 8}",
            "scenario": "bus_ride",
            "occurred_at": OCCURRED.isoformat(),
            "data": {"trip_id": f"far-{i}", "distance_km": "150"},
        }
        for i in range(256)
    ]
    assert {r["status"] for r in c.report(events)} == {"credited"}
    issued = issuance.issue(store, c.scheme_id, VINTAGE, as_of=issue_day(), now=REGISTRY_NOW)
    assert issued.batches
    side = Platform(store, c.scheme_id, c.partner, "cn-m")
    side.pulled("cn-b", "claim", side.fingerprint("far-0"), REPORTED - timedelta(seconds=1))
    [done] = interop_races.resolve(store, now=REGISTRY_NOW)
    with store.unit_of_work(write=False) as uow:
        [short] = shortfall_in(uow, c.scheme_id)
    assert (short.reversed_events, short.reversed_g) == (1, 4035)
    assert ledger.verify(store).ok
    with store.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(journal_entries).where(journal_entries.c.kind == "reversal")
            ).scalar_one()
            == 1
        )
    assert done["shortfall_g"] == 0


def test_the_person_sees_the_withdrawal_on_the_account_page_and_in_the_api(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Over real HTTP: the account page and its history say 已撤回 (Withdrawn) and who claimed it first;
    GET /v1/me/events carries ``withdrawn``."""
    import httpx

    from tanhui.services import identity

    store = Store(live.database_url)
    try:
        city = _city(store, tmp_path)
        city.bus("u1", "T-1")
        city.bus("u1", "T-2")
        city.pulled("cn-b", "claim", city.fingerprint("T-1"), NOW - timedelta(seconds=1))
        assert len(interop_races.resolve(store)) == 1
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            page = client.get(identity.login_link(store, _account(city, "u1")), follow_redirects=True)
            assert page.status_code == 200 and page.text.count('data-testid="withdrawn"') == 1
            assert "已撤回" in page.text and "已由 cn-b 先行登记" in page.text
            history = client.get("/me/history").text
            assert history.count('data-testid="withdrawn"') == 1 and "cn-b" in history
            english = client.get("/lang/en?next=/me/history", follow_redirects=True).text
            assert "Withdrawn" in english and "claimed by cn-b" in english
        token = identity.open_session(store, city.partner, uuid.uuid4().hex, "u1")["token"]
        found = httpx.get(live.base_url + "/v1/me/events", headers={"Authorization": f"Bearer {token}"}).json()["events"]
        shown = {e["event_id"]: e["withdrawn"] for e in found}
        assert shown["bus-T-2"] is None and shown["bus-T-1"]["claimed_by"] == "cn-b"
        assert live.tanhui("verify").returncode == 0
    finally:
        store.dispose()


def test_export_shows_withdrawals_and_erasure_keeps_the_pseudonymous_claims(store: Store, tmp_path: Path) -> None:
    """The claims and withdrawals hold a fingerprint (no personal data: an HMAC under the federation
    key), the account id and the event row: pseudonymous, like the events row's own fingerprint, and
    kept by erasure for the same reason (the federation's de-duplication, and a race lost after the
    erasure still reverses the credit on the kept ledger)."""
    from sqlalchemy import text

    from tanhui.services import privacy
    from tanhui.store.schema import interop_claims

    city = _city(store, tmp_path)
    city.bus("xiaoming-ref", "T-1")
    city.bus("xiaoming-ref", "T-2")
    account_id = _account(city, "xiaoming-ref")
    city.pulled("cn-b", "claim", city.fingerprint("T-1"), NOW - timedelta(seconds=1))
    assert len(interop_races.resolve(store)) == 1
    exported = {e["event_id"]: e.get("withdrawn") for e in privacy.export_person(store, Principal(account_id))["events"]}
    assert exported["bus-T-2"] is None and exported["bus-T-1"]["claimed_by"] == "cn-b"
    privacy.erase_person(store, Principal(account_id))
    with store.engine.connect() as conn:
        for table in ("interop_claims", "interop_withdrawals"):
            dump = str(conn.execute(text(f"SELECT * FROM {table}")).all())
            assert "xiaoming" not in dump and "T-1" not in dump.upper(), table
        assert conn.execute(select(func.count()).select_from(interop_claims)).scalar_one() == 2
    # a race lost after the erasure: reversed on the kept, pseudonymous ledger
    city.pulled("cn-z", "claim", city.fingerprint("T-2"), NOW - timedelta(seconds=1))
    [done] = interop_races.resolve(store)
    assert done["account_id"] == account_id and ledger.verify(store).ok
    assert _balances_of(store, account_id) == (0, 0)


def _balances_of(store: Store, account_id: int) -> tuple[int, int]:
    found = ledger.holdings(store, account_id)
    return ledger.balance(store, found.co2e_account_id), ledger.balance(store, found.points_account_id)
