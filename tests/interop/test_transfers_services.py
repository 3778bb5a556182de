"""Credit transfer between two registries through the services (two databases, SQLite and PostgreSQL):
escrow and offer on the origin, minting and the receipt on the destination, settle, refusal and cancel,
replays, and what `tanhui credits verify` says on both sides, also of a tampered receipt."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update

from tanhui import secretbox
from tanhui.domain.registry import transfer as tr
from tanhui.errors import Conflict, InvalidInput
from tanhui.services import interop, organisations, schemes
from tanhui.services.registry import issuance, movements, transfers, views
from tanhui.services.registry import verify as registry_verify
from tanhui.store import Store, migrate
from tanhui.store.schema import credit_transfer_outcomes
from tests.registry.helpers import NOW, VINTAGE, city, issue_day


@dataclass
class Pair:
    a: Store
    b: Store
    scheme_a: str
    scheme_b: str
    org_a: str
    org_b: str


def _stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"]
        drop = None
    else:
        databases = request.getfixturevalue("pg_databases")
        urls = [databases.create(), databases.create()]
        drop = databases.drop
    stores = [Store(u) for u in urls]
    for s in stores:
        migrate.upgrade(s)
    yield stores[0], stores[1]
    for s, u in zip(stores, urls, strict=True):
        s.dispose()
        if drop is not None:
            drop(u)


def build_pair(a: Store, b: Store, tmp_path: Path) -> Pair:
    """Two platforms that know each other; A's organisation holds 5 credits, B has an organisation."""
    key = tmp_path / "federation.key"
    secretbox.write_key_file(key, [secretbox.new_key_text()], replace=False)
    made_a = interop.init_platform(a, "cn-a", "甲城", key)
    made_b = interop.init_platform(b, "cn-b", "乙城", key)
    interop.add_peer(a, "cn-b", "http://127.0.0.1:9", made_b["public_key"])
    interop.add_peer(b, "cn-a", "http://127.0.0.1:9", made_a["public_key"])
    c = city(a, "citya")
    c.tonnes(5)
    issuance.issue(a, "citya", VINTAGE, as_of=issue_day(), now=NOW)
    org_a = organisations.create(a, "citya", "甲城公交集团").public_id
    movements.transfer(a, "citya", from_holder="scheme", to_holder=org_a, quantity=5, idempotency_key="sale", now=NOW)
    schemes.create_scheme(b, "cityb", "乙城积分", now=NOW)
    org_b = organisations.create(b, "cityb", "甲城公交集团（乙城账户）").public_id
    return Pair(a, b, "citya", "cityb", org_a, org_b)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    for a, b in _stores(request, tmp_path):
        yield build_pair(a, b, tmp_path)


def _peer(store: Store, platform_id: str) -> Any:
    return interop.active_peer(store, platform_id)


def _offer_to_b(p: Pair, quantity: int = 3, key: str = "t1", to_org: str | None = None) -> dict[str, Any]:
    out = transfers.transfer_out(
        p.a,
        p.scheme_a,
        from_org=p.org_a,
        to_platform="cn-b",
        to_org=to_org or p.org_b,
        quantity=quantity,
        idempotency_key=key,
        deliver_now=False,
    )
    assert out["state"] == "pending"
    return out


def _b_answers(p: Pair, out: dict[str, Any]) -> dict[str, Any]:
    return transfers.receive(
        p.b, _peer(p.b, "cn-a"), uuid.uuid4().hex, {"offer": out["offer"], "signature": out["offer_signature"]}
    )


def _settle(p: Pair, out: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    with p.a.unit_of_work(write=False) as uow:
        row = uow.registry.transfer("cn-a", out["transfer_id"])
    assert row is not None
    ended, error = transfers.accept_receipt(p.a, row, answer["receipt"], answer["signature"])
    assert error is None, error
    return transfers.transfer_view(p.a, ended)


def _held(store: Store, scheme: str, org: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    with store.unit_of_work(write=False) as uow:
        o = uow.organisations.get(org)
        assert o is not None
        for b in uow.registry.blocks(scheme, holder=o.id):
            totals[b.status] = totals.get(b.status, 0) + b.serials.quantity
    return totals


def test_transfer_escrows_mints_once_and_settles(pair: Pair) -> None:
    p = pair
    out = _offer_to_b(p, 3)
    assert _held(p.a, p.scheme_a, p.org_a) == {"held": 2, "escrow": 3}
    # the same operator request again: the same transfer, nothing more in escrow
    again = _offer_to_b(p, 3)
    assert again["transfer_id"] == out["transfer_id"]
    with pytest.raises(Conflict):
        _offer_to_b(p, 4)  # the same key, another request
    assert _held(p.a, p.scheme_a, p.org_a) == {"held": 2, "escrow": 3}

    first = _b_answers(p, out)
    replay = _b_answers(p, out)  # the offer delivered twice (a retry after a lost answer)
    assert first == replay
    receipt = first["receipt"]
    assert receipt["outcome"] == "minted" and receipt["quantity"] == 3
    assert _held(p.b, p.scheme_b, p.org_b) == {"held": 3}
    batches_b = views.list_batches(p.b, p.scheme_b)
    assert len(batches_b) == len(out["offer"]["blocks"]) and batches_b[0]["vintage"] == VINTAGE

    asked = transfers.status(p.b, _peer(p.b, "cn-a"), uuid.uuid4().hex, out["transfer_id"])
    assert asked == first  # GET /v1/interop/transfers/{id}: the receipt given
    done = _settle(p, out, first)
    assert done["state"] == "completed"
    assert _settle(p, out, replay)["state"] == "completed"  # a second receipt changes nothing
    assert _held(p.a, p.scheme_a, p.org_a) == {"held": 2, "transferred": 3}
    with pytest.raises(Exception) as spent:  # transferred credits are never spendable again
        movements.transfer(p.a, p.scheme_a, from_holder=p.org_a, to_holder="scheme", quantity=3, idempotency_key="x")
    assert "insufficient_credits" in str(spent.value.args) or getattr(spent.value, "code", "") == "insufficient_credits"

    # both registries show the movement
    [on_a] = transfers.list_transfers(p.a, p.scheme_a)
    [on_b] = transfers.list_transfers(p.b, p.scheme_b)
    assert on_a["direction"] == "out" and on_a["destination_platform"] == "cn-b" and on_a["minted"] == receipt["minted"]
    assert on_b["direction"] == "in" and on_b["origin_platform"] == "cn-a" and on_b["origin_blocks"] == on_a["origin_blocks"]
    for store in (p.a, p.b):
        report = registry_verify.verify(store)
        assert report.ok, report.problems
    # the audit log: offered and settled on A, received on B, once each whatever was repeated
    from tanhui.services import audit

    def logged(store: Store, scheme: str) -> list[tuple[str, str]]:
        return sorted((r.action, r.target) for r in audit.list_entries(store, scheme) if r.action.startswith("credits.transfer_"))

    tid = out["transfer_id"]
    assert logged(p.a, p.scheme_a) == [("credits.transfer_out", tid), ("credits.transfer_settle", tid)]
    assert [action for action, _ in logged(p.b, p.scheme_b)] == ["credits.transfer_in"]


def test_refusal_cancels_and_gives_the_credits_back(pair: Pair) -> None:
    p = pair
    out = _offer_to_b(p, 2, key="nobody", to_org="org_doesnotexist")
    answer = _b_answers(p, out)
    assert answer["receipt"]["outcome"] == "refused" and answer["receipt"]["code"] == "organisation_not_found"
    assert _b_answers(p, out) == answer  # a refusal is final: the same answer again
    assert _settle(p, out, answer)["state"] == "cancelled"
    assert _held(p.a, p.scheme_a, p.org_a) == {"held": 5}
    assert views.list_batches(p.b, p.scheme_b) == []
    for store in (p.a, p.b):
        assert registry_verify.verify(store).ok


def test_forged_offers_and_receipts_change_nothing(pair: Pair) -> None:
    p = pair
    out = _offer_to_b(p, 1)
    forged = dict(out["offer"], quantity=out["offer"]["quantity"])  # same offer, bad signature below
    answer = transfers.receive(p.b, _peer(p.b, "cn-a"), uuid.uuid4().hex, {"offer": forged, "signature": "ed25519=" + "A" * 86})
    assert answer["receipt"]["outcome"] == "refused" and answer["receipt"]["code"] == "bad_offer_signature"
    with pytest.raises(InvalidInput):
        transfers.receive(p.b, _peer(p.b, "cn-a"), uuid.uuid4().hex, {"offer": {"type": "x"}, "signature": "y"})
    # a receipt for the offer that does not verify: the transfer stays pending
    with p.a.unit_of_work(write=False) as uow:
        row = uow.registry.transfer("cn-a", out["transfer_id"])
    assert row is not None
    fake = tr.receipt(
        out["offer"],
        outcome="minted",
        code=None,
        destination_scheme="cityb",
        minted=[tr.MintedBlock(b["block_id"], "TH-x", 1, b["quantity"]) for b in out["offer"]["blocks"]],
        at=1,
    )
    still, error = transfers.accept_receipt(p.a, row, fake, "ed25519=" + "A" * 86)
    assert still.state == "pending" and error is not None and error["reason"] == "bad_signature"


def test_verify_reports_a_tampered_receipt(pair: Pair) -> None:
    p = pair
    out = _offer_to_b(p, 2)
    _settle(p, out, _b_answers(p, out))
    assert registry_verify.verify(p.a).ok
    with p.a.engine.begin() as conn:  # the append-only guard dropped, as an intruder with the database would
        if p.a.engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE credit_transfer_outcomes DISABLE TRIGGER credit_transfer_outcomes_append_only"))
        else:
            conn.execute(text("DROP TRIGGER credit_transfer_outcomes_no_update"))
        [(pk, receipt)] = conn.execute(select(credit_transfer_outcomes.c.transfer_pk, credit_transfer_outcomes.c.receipt)).all()
        forged = dict(receipt, quantity=20)
        conn.execute(update(credit_transfer_outcomes).where(credit_transfer_outcomes.c.transfer_pk == pk).values(receipt=forged))
    report = registry_verify.verify(p.a)
    assert not report.ok and any(out["transfer_id"] in problem and "receipt" in problem for problem in report.problems), (
        report.problems
    )


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("offer"), st.booleans()),
        st.tuples(st.just("deliver"), st.sampled_from(["ok", "lost_request", "lost_response", "duplicate", "late_then_ok"])),
    ),
    min_size=1,
    max_size=8,
)


def _totals(p: Pair) -> tuple[dict[str, int], int]:
    """(A's organisation's credits by state, the credits B's organisation holds)."""
    return _held(p.a, p.scheme_a, p.org_a), _held(p.b, p.scheme_b, p.org_b).get("held", 0)


def _deliver_in_process(p: Pair, fate: str, pending: list[dict[str, Any]]) -> None:
    """One delivery of the oldest pending offer with what the network did to it (no HTTP: the same calls)."""
    out = pending[0]
    if fate == "lost_request":
        return
    answer = _b_answers(p, out)
    if fate == "lost_response":
        return
    if fate == "duplicate":
        assert _b_answers(p, out) == answer
    if fate == "late_then_ok":  # an old answer arrives after a resend: both are the same receipt
        answer = _b_answers(p, out)
    _settle(p, out, answer)
    if fate == "duplicate":
        _settle(p, out, answer)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_interleaving_of_losses_and_repeats_moves_each_credit_once(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, Any]]
) -> None:
    """Model: offers, deliveries lost before or after B acted, duplicated or late, in any order; then
    every pending transfer resumed. Credits are conserved at every step (held + escrow + transferred on A
    = the supply; B holds exactly what A transferred, plus what it minted for transfers A has not settled
    yet, which are in escrow on A: live in one registry only), and at the end nothing is pending. SQLite
    only: each example builds two platforms."""
    tmp = tmp_path_factory.mktemp("model")
    a, b = Store(f"sqlite:///{tmp / 'a.db'}"), Store(f"sqlite:///{tmp / 'b.db'}")
    try:
        for s in (a, b):
            migrate.upgrade(s)
        p = build_pair(a, b, tmp)
        n = 0
        for op, arg in ops:
            pending = [t for t in transfers.list_transfers(a, p.scheme_a, "out") if t["state"] == "pending"]
            if op == "offer":
                n += 1
                try:
                    _offer_to_b(p, 1, key=f"m{n}", to_org=None if arg else "org_unknown")
                except Exception as error:  # the organisation has no credits left to offer
                    assert getattr(error, "code", "") == "insufficient_credits"
            elif pending:
                _deliver_in_process(p, arg, pending)
            _conserved(p)
        for t in [t for t in transfers.list_transfers(a, p.scheme_a, "out") if t["state"] == "pending"]:
            _settle(p, t, _b_answers(p, t))  # resume
        on_a, b_held = _totals(p)
        assert on_a.get("escrow", 0) == 0 and on_a.get("transferred", 0) == b_held
        assert registry_verify.verify(a).ok and registry_verify.verify(b).ok
    finally:
        a.dispose()
        b.dispose()


def _conserved(p: Pair) -> None:
    on_a, b_held = _totals(p)
    assert sum(on_a.values()) == 5 and set(on_a) <= {"held", "escrow", "transferred"}
    minted_unsettled = sum(
        t["quantity"]
        for t in transfers.list_transfers(p.b, p.scheme_b, "in")
        if t["state"] == "completed" and transfers.transfer_detail(p.a, "cn-a", t["transfer_id"])["state"] == "pending"
    )
    assert b_held == on_a.get("transferred", 0) + minted_unsettled
    assert minted_unsettled <= on_a.get("escrow", 0)
