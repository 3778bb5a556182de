"""Model-based test of the ledger: random transfers, reversals, replays and conflicting replays.

A plain-Python model keeps the expected balance of every account; after every step, per asset
the balances sum to zero, no person's balance is negative, the store agrees with the model and
`verify` passes. Runs against SQLite and PostgreSQL (each example gets a scheme of its own).
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from tanhui.errors import BusinessRuleViolation, Conflict
from tanhui.services import ledger
from tanhui.store import Store
from tests.store.helpers import build

PEOPLE = 4


def make_machine(store: Store) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        entries = Bundle("entries")

        @initialize()
        def setup(self) -> None:
            self.scheme_id = f"m{uuid.uuid4().hex[:12]}"
            self.f = build(store, self.scheme_id, people=PEOPLE, chains=3)
            self.accounts = [self.f.issuance, self.f.redeemed, *self.f.people]
            self.expected = {a: 0 for a in self.accounts}
            self.sent: dict[str, tuple[tuple[int, int, int], ...]] = {}  # key -> postings
            self.reversed: set[int] = set()
            self.counter = 0

        def _key(self) -> str:
            self.counter += 1
            return f"k{self.counter}"

        def _apply(self, postings: tuple[tuple[int, int, int], ...]) -> bool:
            trial = dict(self.expected)
            for source, target, amount in postings:
                trial[source] -= amount
                trial[target] += amount
                if source in self.f.people and trial[source] < 0:
                    return False
            self.expected = trial
            return True

        @rule(target=entries, person=st.integers(0, PEOPLE - 1), amount=st.integers(1, 500))
        def reward(self, person: int, amount: int) -> int:
            postings = ((self.f.issuance, self.f.people[person], amount),)
            key = self._key()
            outcome = ledger.transfer(store, self.scheme_id, postings, kind="reward", idempotency_key=key)
            assert self._apply(postings)
            self.sent[key] = postings
            assert outcome.entry is not None and outcome.entry.id is not None
            return outcome.entry.id

        @rule(
            target=entries,
            moves=st.lists(
                st.tuples(st.integers(0, PEOPLE - 1), st.integers(-1, PEOPLE - 1), st.integers(1, 300)),
                min_size=1,
                max_size=3,
            ),
        )
        def spend_or_give(self, moves: list[tuple[int, int, int]]) -> int:
            postings = tuple(
                (self.f.people[a], self.f.redeemed if b < 0 or b == a else self.f.people[b], amount) for a, b, amount in moves
            )
            key = self._key()
            would_succeed = self._apply(postings)
            try:
                outcome = ledger.transfer(store, self.scheme_id, postings, kind="spend", idempotency_key=key)
            except BusinessRuleViolation as error:
                assert error.code == "insufficient_balance"
                assert not would_succeed
                return -1
            assert would_succeed, "the store accepted what would overdraw a person"
            self.sent[key] = postings
            assert outcome.entry is not None and outcome.entry.id is not None
            return outcome.entry.id

        @rule(data=st.data())
        def replay(self, data: st.DataObject) -> None:
            if not self.sent:
                return
            key = data.draw(st.sampled_from(sorted(self.sent)))
            outcome = ledger.transfer(store, self.scheme_id, self.sent[key], kind=self._kind(key), idempotency_key=key)
            assert outcome.replayed

        @rule(data=st.data(), extra=st.integers(1, 50))
        def conflicting_replay(self, data: st.DataObject, extra: int) -> None:
            if not self.sent:
                return
            key = data.draw(st.sampled_from(sorted(self.sent)))
            source, target, amount = self.sent[key][0]
            changed = ((source, target, amount + extra),) + self.sent[key][1:]
            with pytest.raises(Conflict):
                ledger.transfer(store, self.scheme_id, changed, kind=self._kind(key), idempotency_key=key)

        @rule(entry_id=consumes(entries))
        def reverse(self, entry_id: int) -> None:
            if entry_id < 0:
                return
            with store.unit_of_work(write=False) as uow:
                original = uow.ledger.entry(entry_id)
            assert original is not None
            undo = tuple((p.to_account_id, p.from_account_id, p.amount) for p in reversed(original.postings))
            would_succeed = entry_id not in self.reversed and self._apply(undo)
            try:
                ledger.reverse(store, self.scheme_id, entry_id, idempotency_key=f"undo-{entry_id}")
            except BusinessRuleViolation as error:
                assert not would_succeed, error.code
                return
            assert would_succeed
            self.reversed.add(entry_id)

        def _kind(self, key: str) -> str:
            return "reward" if self.sent[key][0][0] == self.f.issuance else "spend"

        @invariant()
        def store_agrees_with_model(self) -> None:
            if not hasattr(self, "f"):
                return
            assert sum(self.expected.values()) == 0
            for account, expected in self.expected.items():
                assert ledger.balance(store, account) == expected
            for person in self.f.people:
                assert self.expected[person] >= 0
            report = ledger.verify(store, self.scheme_id)
            assert report.ok, report.problems

    return LedgerMachine


@pytest.mark.slow
def test_ledger_state_machine(store: Store) -> None:
    machine = make_machine(store)
    machine.TestCase.settings = settings(
        max_examples=2 if store.dialect.distributed else 25 if store.dialect.name == "postgresql" else 40,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine.TestCase().runTest()
