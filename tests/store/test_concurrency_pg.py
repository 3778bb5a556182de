"""Races on a real PostgreSQL server: row locks, not luck, keep balances right."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tanhui.errors import BusinessRuleViolation
from tanhui.services import ledger
from tanhui.store import Store
from tests.store.helpers import build

pytestmark = pytest.mark.postgres


def test_twenty_threads_spend_from_one_hundred(pg_shared_store: Store, scheme_id: str) -> None:
    store = pg_shared_store
    f = build(store, scheme_id, people=1)
    person = f.people[0]
    ledger.transfer(store, scheme_id, [(f.issuance, person, 100)], kind="reward", idempotency_key="fund")

    def spend(i: int) -> str:
        try:
            ledger.transfer(store, scheme_id, [(person, f.redeemed, 10)], kind="spend", idempotency_key=f"spend-{i}")
            return "ok"
        except BusinessRuleViolation as error:
            return error.code

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(spend, range(20)))

    assert results.count("ok") == 10
    assert results.count("insufficient_balance") == 10
    assert ledger.balance(store, person) == 0
    assert ledger.balance(store, f.redeemed) == 100
    report = ledger.verify(store, scheme_id)
    assert report.ok, report.problems


def test_the_same_key_raced_from_many_threads_is_written_once(pg_shared_store: Store, scheme_id: str) -> None:
    store = pg_shared_store
    f = build(store, scheme_id, people=1)

    def credit(_: int) -> bool:
        return ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 7)], kind="reward", idempotency_key="same").replayed

    with ThreadPoolExecutor(max_workers=10) as pool:
        replayed = list(pool.map(credit, range(10)))
    assert replayed.count(False) == 1
    assert ledger.balance(store, f.people[0]) == 7


def test_concurrent_reversals_of_one_entry_reverse_it_once(pg_shared_store: Store, scheme_id: str) -> None:
    store = pg_shared_store
    f = build(store, scheme_id, people=1)
    entry = ledger.transfer(store, scheme_id, [(f.issuance, f.people[0], 9)], kind="reward", idempotency_key="r").entry
    assert entry is not None

    def undo(i: int) -> str:
        try:
            ledger.reverse(store, scheme_id, entry.id, idempotency_key=f"undo-{i}")
            return "ok"
        except BusinessRuleViolation as error:
            return error.code

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(undo, range(8)))
    assert results.count("ok") == 1
    assert ledger.balance(store, f.people[0]) == 0
