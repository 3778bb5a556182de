"""Property test of the registry rules over a pure in-memory model (hypothesis state machine).

Any mix of crediting, reversal, issuance, transfer and retirement keeps: issued grams within the
eligible grams; no event in two batches; no overlapping serial ranges; retired serials never move;
per-vintage totals that reconcile with the (model) ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tanhui.domain.registry import (
    HELD,
    RETIRED,
    TONNE_G,
    Block,
    Candidate,
    SerialRange,
    covers_exactly,
    overlapping,
    plan_move,
    plan_pool,
)
from tanhui.errors import BusinessRuleViolation

VINTAGES = (2025, 2026)
METHODOLOGIES = ("bus-ride-cn@1", "electricity-saving-cn@1")
HOLDERS = (None, 1, 2)  # the scheme, two organisations


@dataclass
class Event:
    grams: int
    vintage: int
    methodology: str
    reversed: bool = False
    batch: int | None = None


@dataclass
class Batch:
    id: int
    vintage: int
    methodology: str
    serials: SerialRange
    events: tuple[int, ...]
    carried_in_g: int
    carried_out_g: int


@dataclass
class Registry:
    """What the services store, kept in memory; every decision is made by the domain functions."""

    events: dict[int, Event] = field(default_factory=dict)
    batches: list[Batch] = field(default_factory=list)
    blocks: dict[int, Block] = field(default_factory=dict)
    spent: set[int] = field(default_factory=set)
    next_serial: int = 1
    next_block: int = 1

    def live(self) -> list[Block]:
        return [b for i, b in sorted(self.blocks.items()) if i not in self.spent]

    def add_block(self, batch: int, serials: SerialRange, holder: int | None, status: str) -> None:
        self.blocks[self.next_block] = Block(self.next_block, batch, serials, holder, status)
        self.next_block += 1

    def issue(self, vintage: int) -> None:
        for ref in METHODOLOGIES:
            eligible = [
                Candidate(pk, e.grams)
                for pk, e in self.events.items()
                if e.vintage == vintage and e.methodology == ref and not e.reversed and e.batch is None
            ]
            previous = [b for b in self.batches if b.vintage == vintage and b.methodology == ref]
            carried = previous[-1].carried_out_g if previous else 0
            plan = plan_pool(carried, eligible)
            if plan.quantity == 0:
                continue
            serials = SerialRange(self.next_serial, self.next_serial + plan.quantity - 1)
            self.next_serial = serials.last + 1
            batch = Batch(
                len(self.batches) + 1,
                vintage,
                ref,
                serials,
                tuple(c.event_pk for c in plan.consumed),
                carried,
                plan.carried_out_g,
            )
            for pk in batch.events:
                assert self.events[pk].batch is None, "an event would be in two batches"
                self.events[pk].batch = batch.id
            self.batches.append(batch)
            self.add_block(batch.id, serials, None, HELD)

    def move(self, holder: int | None, to: int | None, quantity: int, status: str) -> None:
        mine = [b for b in self.live() if b.holder == holder]
        move = plan_move(mine, quantity)
        for b in move.spent:
            assert b.status == HELD
            self.spent.add(b.id)
        for batch, serials in move.moved:
            self.add_block(batch, serials, to, status)
        for batch, serials in move.change:
            self.add_block(batch, serials, holder, HELD)


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.r = Registry()
        self.retired_serials: set[int] = set()

    @rule(
        grams=st.integers(min_value=1, max_value=900_000),
        vintage=st.sampled_from(VINTAGES),
        methodology=st.sampled_from(METHODOLOGIES),
    )
    def credit(self, grams: int, vintage: int, methodology: str) -> None:
        self.r.events[len(self.r.events) + 1] = Event(grams, vintage, methodology)

    @precondition(lambda self: bool(self.r.events))
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        pk = data.draw(st.sampled_from(sorted(self.r.events)))
        self.r.events[pk].reversed = True  # before or after issuance: a batch keeps its events

    @rule(vintage=st.sampled_from(VINTAGES))
    def issue(self, vintage: int) -> None:
        self.r.issue(vintage)

    @rule(vintage=st.sampled_from(VINTAGES))
    def issue_twice_is_idempotent(self, vintage: int) -> None:
        self.r.issue(vintage)
        before = (len(self.r.batches), self.r.next_serial)
        self.r.issue(vintage)
        assert (len(self.r.batches), self.r.next_serial) == before

    @rule(holder=st.sampled_from(HOLDERS), to=st.sampled_from(HOLDERS), quantity=st.integers(min_value=1, max_value=4))
    def transfer(self, holder: int | None, to: int | None, quantity: int) -> None:
        if holder == to:
            return
        try:
            self.r.move(holder, to, quantity, HELD)
        except BusinessRuleViolation as error:
            assert error.code == "insufficient_credits"

    @rule(holder=st.sampled_from(HOLDERS), quantity=st.integers(min_value=1, max_value=3))
    def retire(self, holder: int | None, quantity: int) -> None:
        try:
            self.r.move(holder, holder, quantity, RETIRED)
        except BusinessRuleViolation as error:
            assert error.code == "insufficient_credits"
            return
        self.retired_serials = {
            s for b in self.r.live() if b.status == RETIRED for s in range(b.serials.first, b.serials.last + 1)
        }

    @invariant()
    def issued_within_eligible_and_reconciled(self) -> None:
        for vintage in VINTAGES:
            issued = sum(b.serials.quantity * TONNE_G for b in self.r.batches if b.vintage == vintage)
            credited = sum(e.grams for e in self.r.events.values() if e.vintage == vintage)
            consumed = sum(self.r.events[pk].grams for b in self.r.batches if b.vintage == vintage for pk in b.events)
            unreversed_or_batched = sum(
                e.grams for e in self.r.events.values() if e.vintage == vintage and (not e.reversed or e.batch)
            )
            assert issued <= consumed <= unreversed_or_batched <= credited
            for ref in METHODOLOGIES:
                pool = [b for b in self.r.batches if b.vintage == vintage and b.methodology == ref]
                pool_consumed = sum(self.r.events[pk].grams for b in pool for pk in b.events)
                pool_issued = sum(b.serials.quantity * TONNE_G for b in pool)
                carried = pool[-1].carried_out_g if pool else 0
                assert pool_issued + carried == pool_consumed  # the ledger's grams, each issued once

    @invariant()
    def no_event_in_two_batches(self) -> None:
        seen = [pk for b in self.r.batches for pk in b.events]
        assert len(seen) == len(set(seen))
        for b in self.r.batches:
            assert all(self.r.events[pk].batch == b.id for pk in b.events)

    @invariant()
    def serial_ranges_never_overlap(self) -> None:
        assert not overlapping(b.serials for b in self.r.batches)
        live = self.r.live()
        assert not overlapping(b.serials for b in live)
        for batch in self.r.batches:
            assert covers_exactly(batch.serials, [b.serials for b in live if b.batch_id == batch.id])

    @invariant()
    def retired_serials_never_move(self) -> None:
        retired_now = {s for b in self.r.live() if b.status == RETIRED for s in range(b.serials.first, b.serials.last + 1)}
        assert self.retired_serials <= retired_now
        assert all(self.r.blocks[i].status == HELD for i in self.r.spent)


RegistryMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestRegistryRules = RegistryMachine.TestCase
