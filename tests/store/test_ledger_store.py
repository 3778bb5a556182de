"""The ledger through the real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tanhui.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from tanhui.services import ledger, schemes
from tanhui.store import Store, migrate
from tanhui.store.distribution import PLAN, Distributed
from tests.store.helpers import build


def test_migrations_match_the_models(store: Store) -> None:
    migrate.check(store)  # raises if schema.py and the migrations drift apart
    assert migrate.current(store) is not None


def test_upgrade_twice_is_harmless(store: Store) -> None:
    migrate.upgrade(store)
    migrate.check(store)


def test_issue_spend_and_read_balances(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id)
    alice, bob = f.people[0], f.people[1]
    ledger.transfer(store, scheme_id, [(f.issuance, alice, 100)], kind="reward", idempotency_key="r1")
    ledger.transfer(store, scheme_id, [(alice, bob, 30), (alice, f.redeemed, 20)], kind="spend", idempotency_key="s1")
    assert ledger.balance(store, alice) == 50
    assert ledger.balance(store, bob) == 30
    assert ledger.balance(store, f.redeemed) == 20
    assert ledger.balance(store, f.issuance) == -100
    report = ledger.verify(store, scheme_id)
    assert report.ok, report.problems
    assert report.entries == 2 and report.postings == 3


def test_replay_returns_the_stored_entry_and_changes_nothing(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id)
    first = ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 10)], kind="reward", idempotency_key="evt-1")
    again = ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 10)], kind="reward", idempotency_key="evt-1")
    assert not first.replayed and again.replayed
    assert again.entry is not None and first.entry is not None
    assert again.entry.id == first.entry.id and again.entry.entry_hash == first.entry.entry_hash
    assert ledger.balance(store, f.people[0]) == 10


def test_same_key_other_content_is_a_conflict(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id)
    ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 10)], kind="reward", idempotency_key="evt-1")
    with pytest.raises(Conflict) as caught:
        ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 11)], kind="reward", idempotency_key="evt-1")
    assert caught.value.code == "idempotency_conflict"
    assert ledger.balance(store, f.people[0]) == 10


def test_insufficient_balance_writes_nothing(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id)
    ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 10)], kind="reward", idempotency_key="r")
    with pytest.raises(BusinessRuleViolation) as caught:
        ledger.transfer(
            store, scheme_id, [(f.people[0], f.redeemed, 5), (f.people[0], f.redeemed, 6)], kind="spend", idempotency_key="s"
        )
    assert caught.value.code == "insufficient_balance"
    assert ledger.balance(store, f.people[0]) == 10
    assert ledger.verify(store, scheme_id).entries == 1


def test_postings_across_schemes_are_refused(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id)
    other = build(store, scheme_id + "b")
    with pytest.raises(InvalidInput):
        ledger.transfer(store, scheme_id, [(f.issuance, other.people[0], 10)], kind="reward")


def test_reversal_restores_balances_once(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id)
    credit = ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 10)], kind="reward", idempotency_key="r")
    assert credit.entry is not None
    undo = ledger.reverse(store, scheme_id, credit.entry.id, idempotency_key="undo-r")
    assert undo.entry is not None and undo.entry.reverses_entry_id == credit.entry.id
    assert ledger.balance(store, f.people[0]) == 0
    replay = ledger.reverse(store, scheme_id, credit.entry.id, idempotency_key="undo-r")
    assert replay.replayed
    with pytest.raises(BusinessRuleViolation) as caught:
        ledger.reverse(store, scheme_id, credit.entry.id, idempotency_key="undo-r-again")
    assert caught.value.code == "already_reversed"
    with pytest.raises(BusinessRuleViolation):
        ledger.reverse(store, scheme_id, undo.entry.id)
    with pytest.raises(NotFound):
        ledger.reverse(store, scheme_id, 10**9)
    assert ledger.verify(store, scheme_id).ok


def test_reversal_of_spent_points_is_refused(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id)
    credit = ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 10)], kind="reward", idempotency_key="r")
    ledger.transfer(store, scheme_id, [(f.people[0], f.redeemed, 8)], kind="spend", idempotency_key="s")
    assert credit.entry is not None
    with pytest.raises(BusinessRuleViolation) as caught:
        ledger.reverse(store, scheme_id, credit.entry.id)
    assert caught.value.code == "insufficient_balance"


def test_batch_append_keeps_going_past_a_refused_group(store: Store, scheme_id: str) -> None:
    from tanhui.domain.ledger import Posting, TransferGroup
    from tanhui.services.clock import utcnow

    f = build(store, scheme_id)
    groups = [
        TransferGroup(scheme_id, "reward", (Posting(f.issuance, f.people[0], 5),), idempotency_key="a"),
        TransferGroup(scheme_id, "spend", (Posting(f.people[1], f.redeemed, 5),), idempotency_key="b"),  # no funds
        TransferGroup(scheme_id, "reward", (Posting(f.issuance, f.people[0], 5),), idempotency_key="a"),  # replay in batch
        TransferGroup(scheme_id, "reward", (Posting(f.issuance, f.people[0], 6),), idempotency_key="a"),  # conflict
        TransferGroup(scheme_id, "reward", (Posting(f.issuance, f.people[2], 7),), idempotency_key="c"),
    ]
    with store.unit_of_work() as uow:
        outcomes = uow.ledger.append(groups, lane=0, now=utcnow(), raise_on_error=False)
    assert [o.error.code if o.error else ("replayed" if o.replayed else "new") for o in outcomes] == [
        "new",
        "insufficient_balance",
        "replayed",
        "idempotency_conflict",
        "new",
    ]
    assert outcomes[0].entry and outcomes[4].entry and outcomes[4].entry.id > outcomes[0].entry.id
    assert ledger.balance(store, f.people[0]) == 5 and ledger.balance(store, f.people[2]) == 7
    assert ledger.verify(store, scheme_id).ok


def test_the_database_refuses_to_rewrite_the_journal(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id)
    ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 10)], kind="reward", idempotency_key="r")
    for statement in ("UPDATE postings SET amount = 11", "DELETE FROM postings", "UPDATE journal_entries SET kind = 'x'"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))


def _refused(store: Store, statement: str, params: dict[str, object], constraint: str) -> None:
    """The statement fails as a foreign key refuses it: PostgreSQL names the key (0021's statement-level
    checks raise SQLSTATE 23503 under the constraint's name; Citus a shard's copy of it), SQLite says only
    that a key failed. On Citus a key the distribution plan drops is not checked (verify checks it)."""
    table, column = re.fullmatch(r"fk_(postings|journal_entries|events|event_claims)_(.+?_(?:id|pk))_.+", constraint).groups()  # type: ignore[union-attr]
    placement = PLAN[table]
    if store.dialect.distributed and isinstance(placement, Distributed) and (column,) in placement.dropped_fks:
        return
    expected = "FOREIGN KEY constraint failed" if store.dialect.name == "sqlite" else constraint
    with pytest.raises(IntegrityError, match=expected), store.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_the_ledgers_references_hold_on_every_engine(store: Store, scheme_id: str) -> None:
    """Postings name an entry and two accounts that exist, an entry its chain, an event claim its partner;
    a statement of many rows with one bad one is refused whole; a referenced account is never deleted or
    re-keyed. On PostgreSQL these are statement-level checks (0021), elsewhere constraints."""
    from tanhui.services import partners

    f = build(store, scheme_id)
    ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 10)], kind="reward", idempotency_key="r")
    with store.engine.connect() as conn:
        entry, pkey, chain = conn.execute(
            text("SELECT id, pkey, chain_id FROM journal_entries WHERE scheme_id = :s"), {"s": scheme_id}
        ).one()
    missing = 9_000_000_000 + entry
    posting = "INSERT INTO postings (pkey, entry_id, from_account_id, to_account_id, amount) VALUES "
    ok = "(:p, :e, :a, :b, 1)"
    base = {"p": pkey, "e": entry, "a": f.issuance, "b": f.people[1]}
    _refused(store, posting + ok, {**base, "b": missing}, "fk_postings_to_account_id_ledger_accounts")
    _refused(store, posting + ok, {**base, "a": missing}, "fk_postings_from_account_id_ledger_accounts")
    _refused(store, posting + ok, {**base, "e": missing}, "fk_postings_entry_id_journal_entries")
    _refused(store, posting + ok + ", (:p, :e, :a, :x, 1)", {**base, "x": missing}, "fk_postings_to_account_id_ledger_accounts")
    _refused(
        store,
        "INSERT INTO journal_entries (pkey, scheme_id, chain_id, seq, kind, content_hash, memo, created_at, prev_hash, entry_hash)"
        " VALUES (:p, :s, :c, 999, 'x', 'h', '{}', '2026-12-01 00:00:00+00', 'p', 'e')",
        {"p": pkey, "s": scheme_id, "c": chain + "-missing"},
        "fk_journal_entries_chain_id_journal_chains",
    )
    partner = partners.create_partner(store, scheme_id, "p", ["bus_ride"]).partner
    claim = "INSERT INTO event_claims (event_id, partner_pk) VALUES (:e, :k)"
    _refused(store, claim, {"e": f"{scheme_id}-1", "k": partner.pk + 10**9}, "fk_event_claims_partner_pk_partners")
    with store.engine.connect() as conn:  # good rows of the same shapes pass the checks (and are rolled back)
        conn.execute(text(posting + ok + ", (:p, :e, :b, :a, 1)"), base)
        conn.execute(text(claim), {"e": f"{scheme_id}-1", "k": partner.pk})
        conn.rollback()
    if not store.dialect.distributed:  # Citus: the postings' account keys are dropped by the plan (above)
        kept = "FOREIGN KEY constraint failed" if store.dialect.name == "sqlite" else "kept for the ledger"
        for statement in (
            "DELETE FROM ledger_accounts WHERE id = :a",
            "UPDATE ledger_accounts SET id = id + 1000000000 WHERE id = :a",
        ):
            with pytest.raises(IntegrityError, match=kept), store.engine.begin() as conn:
                conn.execute(text(statement), {"a": f.people[0]})
    assert ledger.balance(store, f.people[0]) == 10 and ledger.verify(store, scheme_id).ok


def test_negative_user_balance_is_refused_by_the_database_too(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id)
    with pytest.raises(DBAPIError), store.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_accounts SET balance = -1 WHERE id = :id"), {"id": f.people[0]})


def test_scheme_create_conflict_and_unknown(store: Store, scheme_id: str) -> None:
    schemes.create_scheme(store, scheme_id, "一")
    with pytest.raises(Conflict):
        schemes.create_scheme(store, scheme_id, "二")
    with pytest.raises(NotFound):
        schemes.get_scheme(store, scheme_id + "x")
    with pytest.raises(NotFound):
        ledger.verify(store, scheme_id + "x")


def test_expired_nonces_are_forgotten_and_fresh_ones_kept(store: Store, scheme_id: str) -> None:
    from datetime import timedelta

    from tanhui.services import partners
    from tanhui.services.clock import utcnow

    schemes.create_scheme(store, scheme_id, "n")
    created = partners.create_partner(store, scheme_id, "p", ["bus_ride"])
    now = utcnow()
    with store.unit_of_work() as uow:
        partners.spend_nonce(uow, created.partner, "old-nonce-000000001", now - timedelta(seconds=700))
        partners.spend_nonce(uow, created.partner, "new-nonce-000000001", now - timedelta(seconds=10))
    assert partners.forget_old_nonces(store, now) >= 1
    with store.unit_of_work() as uow:
        assert uow.partners.use_nonce(created.partner.pk, "old-nonce-000000001", now)  # forgotten: usable (stale anyway)
        assert not uow.partners.use_nonce(created.partner.pk, "new-nonce-000000001", now)  # still remembered
