"""The registry on both engines: issuance, remainder, holding period, reversal, transfers,
retirements, proofs, certificates, verification and tampering."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DatabaseError

from tanhui.domain.registry import TONNE_G, verify_proof
from tanhui.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from tanhui.services import ledger, organisations
from tanhui.services.registry import issuance, movements, verify, views
from tanhui.store import Store
from tanhui.store.schema import events
from tests.registry.helpers import NOW, VINTAGE, City, city, issue_day


def entry_of(store: Store, city_: City, event_id: str) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(events.c.entry_id).where(events.c.partner_pk == city_.partner.pk, events.c.event_id == event_id)
            ).scalar_one()
        )


def test_issue_pools_whole_tonnes_once(store: Store, scheme_id: str) -> None:
    c = city(store, scheme_id)
    credited = c.tonnes(2)
    c.bus("rider", "T-1")  # 80 g in its own pool
    early = issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(29), now=NOW)
    assert early.issued == 0 and not early.batches  # still in the holding period
    dry = issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), dry_run=True, now=NOW)
    assert dry.issued == 2 and views.list_batches(store, scheme_id) == []
    result = issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW)
    assert result.issued == 2 and [b["batch_id"] for b in result.batches] == [b["batch_id"] for b in dry.batches]
    [batch] = result.batches
    assert batch["batch_id"] == f"TH-{scheme_id}-{VINTAGE}-electricity-saving-cn@1-00000001-00000002"
    assert batch["consumed_g"] - batch["carried_out_g"] == 2 * TONNE_G and batch["consumed_g"] <= credited
    bus_pool = next(p for p in result.pools if p["methodology"] == "bus-ride-cn@1")
    assert bus_pool["issued"] == 0 and bus_pool["pooled_remainder_g"] == 80
    again = issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW)
    assert again.issued == 0 and len(views.list_batches(store, scheme_id)) == 1

    # more reductions: the next batch opens with the carried grams and continues the serials
    c.tonnes(1, prefix="v")
    nxt = issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW)
    [second] = nxt.batches
    assert second["carried_in_g"] == batch["carried_out_g"]
    assert second["serial_first"].endswith("-00000003")
    assert issuance.issue(store, scheme_id, VINTAGE + 1, as_of=issue_day(), now=NOW).issued == 0
    report = verify.verify(store, scheme_id)
    assert report.ok, report.problems
    vintage = next(v for v in report.vintages if v["vintage"] == VINTAGE)
    assert vintage["issued_g"] == (2 + second["quantity"]) * TONNE_G <= vintage["eligible_g"]


def test_only_issuable_methodologies(store: Store, scheme_id: str) -> None:
    c = city(store, scheme_id, settings={"registry": {"holding_days": 10, "issuable": ["bus_ride"]}})
    c.tonnes(1)
    assert issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(10), now=NOW).issued == 0
    with pytest.raises(NotFound):
        issuance.issue(store, "nope", VINTAGE, now=NOW)
    with pytest.raises(InvalidInput):
        issuance.issue(store, scheme_id, 1999, now=NOW)


def test_reversal_before_issuance_excludes_after_issuance_is_flagged(store: Store, scheme_id: str) -> None:
    c = city(store, scheme_id)
    c.tonnes(2)
    ledger.reverse(store, scheme_id, entry_of(store, c, "el-u-0"), reason="fraud review")  # before: not eligible
    result = issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW)
    assert result.issued >= 1 and not result.shortfall
    assert views.proof(store, c.partner.id, "el-u-0")["included"] is False
    consumed = next(e for e in c.credited if views.proof(store, c.partner.id, e)["included"])
    ledger.reverse(store, scheme_id, entry_of(store, c, consumed), reason="late correction")
    [short] = views.shortfall(store, scheme_id)
    assert short["batch_id"] == result.batches[0]["batch_id"] and short["reversed_events"] == 1
    assert short["reversed_g"] == c.credited[consumed]["carbon_g"] and short["credits_to_cover"] == 1
    report = verify.verify(store, scheme_id)
    assert report.ok, report.problems  # the batch stays consistent; the shortfall is reported
    assert report.shortfall == [short]
    assert views.proof(store, c.partner.id, consumed)["verified"] is True
    assert issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW).shortfall == [short]
    # the operator covers it by retiring from the scheme's own holdings
    cert = movements.retire(
        store,
        scheme_id,
        holder="scheme",
        quantity=1,
        beneficiary="绿芽积分",
        purpose="冲正缺口补足 / reversal shortfall",
        now=NOW,
    )
    assert cert["holder"]["id"] == "scheme" and cert["quantity"] == 1


def test_transfer_retire_and_certificate(store: Store, scheme_id: str) -> None:
    c = city(store, scheme_id)
    c.tonnes(5)
    [batch] = issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW).batches
    buyer = organisations.create(store, scheme_id, "城市马拉松组委会", "company")
    other = organisations.create(store, scheme_id, "绿色学校", "school")
    moved = movements.transfer(
        store, scheme_id, from_holder="scheme", to_holder=buyer.public_id, quantity=3, idempotency_key="buy-1", now=NOW
    )
    assert moved["quantity"] == 3 and not moved["replayed"]
    assert [b["block_id"] for b in moved["blocks"]] == [f"TH-{scheme_id}-{VINTAGE}-electricity-saving-cn@1-00000001-00000003"]
    replay = movements.transfer(
        store, scheme_id, from_holder="scheme", to_holder=buyer.public_id, quantity=3, idempotency_key="buy-1", now=NOW
    )
    assert replay["replayed"] and replay["blocks"] == moved["blocks"]
    with pytest.raises(Conflict):
        movements.transfer(
            store, scheme_id, from_holder="scheme", to_holder=buyer.public_id, quantity=2, idempotency_key="buy-1", now=NOW
        )
    # a partial block: 2 of the buyer's 3 go on to the school
    block = moved["blocks"][0]["block_id"]
    part = movements.transfer(
        store,
        scheme_id,
        from_holder=buyer.public_id,
        to_holder=other.public_id,
        block=block,
        quantity=1,
        idempotency_key="gift",
        now=NOW,
    )
    assert part["blocks"][0]["serial_first"].endswith("-00000001") and part["blocks"][0]["quantity"] == 1
    with pytest.raises(BusinessRuleViolation) as error:
        movements.transfer(
            store,
            scheme_id,
            from_holder=buyer.public_id,
            to_holder=other.public_id,
            quantity=3,
            idempotency_key="too-many",
            now=NOW,
        )
    assert error.value.code == "insufficient_credits"
    with pytest.raises(InvalidInput):
        movements.transfer(
            store, scheme_id, from_holder=buyer.public_id, to_holder=buyer.public_id, quantity=1, idempotency_key="self", now=NOW
        )

    cert = movements.neutralise_event(
        store,
        scheme_id,
        holder=buyer.public_id,
        event_name="2026 城市马拉松",
        emission_t="1.3",
        idempotency_key="marathon",
        now=NOW,
    )
    assert cert["quantity"] == 2 and cert["beneficiary"] == "城市马拉松组委会" and "2026 城市马拉松" in cert["purpose"]
    assert cert["blocks"][0]["merkle_root"] == batch["merkle_root"] and cert["vintages"] == [VINTAGE]
    assert (
        movements.neutralise_event(
            store,
            scheme_id,
            holder=buyer.public_id,
            event_name="2026 城市马拉松",
            emission_t="1.3",
            idempotency_key="marathon",
            now=NOW,
        )
        == cert
    )
    retired_block = cert["blocks"][0]["block_id"]
    with pytest.raises(NotFound):  # retired serials never move again
        movements.transfer(
            store,
            scheme_id,
            from_holder=buyer.public_id,
            to_holder=other.public_id,
            block=retired_block,
            idempotency_key="steal",
            now=NOW,
        )
    with pytest.raises(BusinessRuleViolation):
        movements.retire(store, scheme_id, holder=buyer.public_id, quantity=1, beneficiary="x", purpose="y", now=NOW)
    with pytest.raises(InvalidInput):
        movements.retire(store, scheme_id, holder=other.public_id, quantity=1, beneficiary=" ", purpose="y", now=NOW)
    assert views.certificate(store, cert["retirement_id"]) == cert
    held = {(h["holder"]["id"], h["held"], h["retired"]) for h in views.holdings(store, scheme_id)}
    assert held == {("scheme", 2, 0), (buyer.public_id, 0, 2), (other.public_id, 1, 0)}
    assert views.holdings(store, organisation=other.public_id)[0]["held"] == 1
    detail = views.batch_detail(store, batch["batch_id"])
    assert sum(b["quantity"] for b in detail["blocks"]) == batch["quantity"]
    assert [b["retirement_id"] for b in detail["blocks"] if b["status"] == "retired"] == [cert["retirement_id"]]

    bought = movements.buy_and_neutralise(
        store,
        scheme_id,
        organisation=other.public_id,
        event_name="校园运动会",
        emission_t="0.4",
        idempotency_key="sports-day",
        now=NOW,
    )
    assert bought["quantity"] == 1 and bought["holder"]["id"] == other.public_id
    assert [r["retirement_id"] for r in views.list_retirements(store, scheme_id)] == [
        cert["retirement_id"],
        bought["retirement_id"],
    ]
    report = verify.verify(store, scheme_id)
    assert report.ok, report.problems


def test_proofs_for_included_and_excluded_events(store: Store, scheme_id: str) -> None:
    c = city(store, scheme_id)
    c.tonnes(1)
    c.electricity("late", 1000, "2026-05", event_id="not-pooled")
    result = issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW)
    [batch] = result.batches
    proofs = {e: views.proof(store, c.partner.id, e) for e in c.credited}
    included = [p for p in proofs.values() if p["included"]]
    excluded = [p for p in proofs.values() if not p["included"]]
    assert len(included) == batch["event_count"] and excluded
    for p in included:
        assert p["verified"] and p["merkle_root"] == batch["merkle_root"]
        assert verify_proof(p["leaf"], p["steps"], batch["merkle_root"])
    outsider = views.proof(store, c.partner.id, excluded[0]["event_id"], batch["batch_id"])
    assert outsider["included"] is False
    # the excluded event's own leaf does not verify against any included event's path
    from datetime import date

    from tanhui.domain.registry import leaf_hash, leaf_record

    fake = leaf_hash(
        leaf_record(
            scheme_id=scheme_id,
            partner_id=c.partner.id,
            event_id=excluded[0]["event_id"],
            fingerprint=None,
            carbon_g=1,
            methodology="electricity-saving-cn@1",
            local_day=date.today().toordinal(),
        )
    )
    assert not any(verify_proof(fake, p["steps"], batch["merkle_root"]) for p in included)
    with pytest.raises(NotFound):
        views.proof(store, c.partner.id, "no-such-event")


def test_verify_finds_tampering(store: Store, scheme_id: str) -> None:
    c = city(store, scheme_id)
    c.tonnes(1)
    issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW)
    consumed = next(e for e in c.credited if views.proof(store, c.partner.id, e)["included"])
    with store.engine.begin() as conn:
        conn.execute(
            update(events).where(events.c.partner_pk == c.partner.pk, events.c.event_id == consumed).values(carbon_g=999_999)
        )
    problems = verify.verify(store, scheme_id).problems
    assert any("leaf mismatch" in p for p in problems), problems
    assert any("ledger credited" in p for p in problems), problems
    # registry history is append-only in the database itself (a trigger on either engine)
    with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("UPDATE credit_batches SET quantity = quantity + 1"))


def test_two_issuances_racing_issue_each_event_once(store: Store, scheme_id: str) -> None:
    c = city(store, scheme_id)
    c.tonnes(3)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW).issued)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(results) == [0, 0, 0, 3]
    report = verify.verify(store, scheme_id)
    assert report.ok and report.batches == 1, report.problems


def test_contributions_show_the_batches_of_a_person(store: Store, scheme_id: str) -> None:
    c = city(store, scheme_id)
    c.tonnes(1)
    [batch] = issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW).batches
    with store.engine.connect() as conn:
        account_id = int(
            conn.execute(
                select(events.c.account_id).where(events.c.partner_pk == c.partner.pk, events.c.event_id == "el-u-0")
            ).scalar_one()
        )
    [mine] = views.contributions(store, account_id)
    assert mine["batch_id"] == batch["batch_id"] and mine["events"] == 2 and mine["carbon_g"] > 0
