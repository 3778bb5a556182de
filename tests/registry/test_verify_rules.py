"""The registry verifier's rules (domain/registry/verify.py) without a database: each rule holds on a
registry built by hand the way the services write one, and finds the break it exists for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.domain.registry import (
    HELD,
    RETIRED,
    SCHEME_HOLDER,
    TONNE_G,
    SerialRange,
    block_id,
    leaf_hash,
    leaf_record,
    log,
    merkle_root,
)
from tanhui.domain.registry import verify as rules
from tanhui.domain.registry.records import BatchEvent, BatchRow, BlockRow, Head, MovementRow, Reversal
from tanhui.domain.registry.verify import BatchContents, RegistryState, Shortfall, VintageTotal

SCHEME = "city"
VINTAGE = 2026
METHOD = "bus-ride-cn@1"
ORG, ORG_REF = 7, "org_buyer"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
DAY = date(2026, 2, 10).toordinal()


def events(grams: list[int], first_pk: int) -> tuple[BatchEvent, ...]:
    """Credited events of the scheme and pool, with the leaves issuance stored for them."""
    out = []
    for i, g in enumerate(grams):
        record = leaf_record(
            scheme_id=SCHEME,
            partner_id="ptn_a",
            event_id=f"e{first_pk + i}",
            fingerprint=None,
            carbon_g=g,
            methodology=METHOD,
            local_day=DAY,
        )
        pk = first_pk + i
        out.append(BatchEvent(i, leaf_hash(record), pk, SCHEME, "credited", g, METHOD, DAY, None, f"e{pk}", "ptn_a"))
    return tuple(out)


class Registry:
    """Builds a consistent registry state as the services write it: issue, then move blocks."""

    def __init__(self) -> None:
        self.movements: list[MovementRow] = []
        self.batches: list[BatchRow] = []
        self.blocks: list[BlockRow] = []
        self.spends: list[tuple[int, int]] = []
        self.contents: dict[int, tuple[BatchEvent, ...]] = {}

    def _log(
        self, kind: str, quantity: int, spent: list[BlockRow], created: list[BlockRow], org: tuple[int | None, int | None]
    ) -> int:
        seq = len(self.movements) + 1
        prev = self.movements[-1].row_hash if self.movements else log.GENESIS_HASH
        name = {b.id: b.public_id for b in self.batches}
        ref = {None: SCHEME_HOLDER, ORG: ORG_REF}
        body = log.movement_body(
            scheme_id=SCHEME,
            seq=seq,
            kind=kind,
            idempotency_key=f"k{seq}",
            from_org_id=org[0],
            to_org_id=org[1],
            quantity=quantity,
            memo={},
            spent=[[name[b.batch_id], b.serials.first, b.serials.last] for b in spent],
            created=[[name[b.batch_id], b.serials.first, b.serials.last, ref[b.holder_org_id], b.status] for b in created],
            created_at=T0 + timedelta(minutes=seq),
        )
        self.movements.append(
            MovementRow(
                seq * 10,
                SCHEME,
                seq,
                kind,
                f"k{seq}",
                "",
                org[0],
                org[1],
                quantity,
                {},
                T0 + timedelta(minutes=seq),
                prev,
                log.movement_hash(prev, body),
            )
        )
        return seq * 10

    def issue(self, grams: list[int], quantity: int, carried_in: int) -> BatchRow:
        first = self.batches[-1].serials.last + 1 if self.batches else 1
        serials = SerialRange(first, first + quantity - 1)
        contents = events(grams, 100 * (len(self.batches) + 1))
        previous = next((b for b in reversed(self.batches) if (b.vintage, b.methodology) == (VINTAGE, METHOD)), None)
        batch = BatchRow(
            len(self.batches) + 1,
            block_id(SCHEME, VINTAGE, METHOD, serials),
            SCHEME,
            VINTAGE,
            METHOD,
            serials,
            quantity,
            len(grams),
            sum(grams),
            carried_in,
            carried_in + sum(grams) - quantity * TONNE_G,
            previous.id if previous else None,
            merkle_root([e.stored_leaf for e in contents]),
            DAY + 40,
            0,
            T0,
        )
        self.batches.append(batch)
        self.contents[batch.id] = contents
        block = BlockRow(len(self.blocks) + 1, batch.id, serials, None, HELD, 10 * (len(self.movements) + 1), None)
        movement = self._log(log.ISSUE, quantity, [], [block], (None, None))
        self.blocks.append(replace(block, movement_id=movement))
        return batch

    def move(self, block: int, quantity: int, to: int | None, status: str = HELD) -> None:
        """Spend one block: ``quantity`` of it goes to ``to`` (with ``status``), the rest stays as change."""
        spent = next(b for b in self.blocks if b.id == block)
        moved, change = spent.serials.split(quantity)
        movement = 10 * (len(self.movements) + 1)
        created = [BlockRow(len(self.blocks) + 1, spent.batch_id, moved, to, status, movement, None)]
        if change is not None:
            created.append(BlockRow(len(self.blocks) + 2, spent.batch_id, change, spent.holder_org_id, HELD, movement, None))
        kind = log.RETIRE if status == RETIRED else log.TRANSFER
        self._log(kind, quantity, [spent], created, (spent.holder_org_id, to))
        self.spends.append((block, movement))
        self.blocks.extend(created)

    def state(self, **changes: Any) -> RegistryState:
        last = self.movements[-1]
        good = RegistryState(
            SCHEME,
            Head(SCHEME, self.batches[-1].serials.last + 1, last.seq, last.row_hash),
            tuple(self.movements),
            tuple(self.batches),
            tuple(self.blocks),
            tuple(self.spends),
            {ORG: ORG_REF},
        )
        return replace(good, **changes)


@pytest.fixture
def registry() -> Registry:
    """Batch 1 (2 t, carries 400 kg out), batch 2 (1 t, carries it in); 1 t of batch 1 sold to ORG, who retires it."""
    r = Registry()
    r.issue([800_000, 800_000, 800_000], 2, 0)
    r.issue([300_000, 300_000], 1, 400_000)
    r.move(1, 1, ORG)  # blocks 3 (ORG, serial 1) and 4 (change: scheme, serial 2)
    r.move(3, 1, ORG, RETIRED)  # block 5 (ORG, serial 1, retired)
    return r


def contents(r: Registry, which: int = 1, **changes: Any) -> BatchContents:
    b = r.batches[which - 1]
    return replace(BatchContents(b, r.contents[b.id], b.consumed_g), **changes)


def with_movement(r: Registry, which: int, **changes: Any) -> tuple[MovementRow, ...]:
    return tuple(replace(m, **changes) if m.seq == which else m for m in r.movements)


def with_batch(r: Registry, batch: int, **changes: Any) -> tuple[BatchRow, ...]:
    return tuple(replace(b, **changes) if b.id == batch else b for b in r.batches)


def test_the_hand_built_registry_passes_every_rule(registry: Registry) -> None:
    state = registry.state()
    for rule in rules.STATE_RULES:
        assert rule(state) == [], rule.__name__
    for batch in (1, 2):
        for batch_rule in rules.BATCH_RULES:
            assert batch_rule(SCHEME, contents(registry, which=batch)) == [], batch_rule.__name__
    assert rules.state_problems(state) == [] and rules.batch_problems(SCHEME, contents(registry)) == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 5), st.booleans()), max_size=12))
def test_any_history_of_moves_passes_every_rule(steps: list[tuple[int, int, bool]]) -> None:
    """Whatever the services may write (moves of whole or partial live held blocks, retirements), no rule objects."""
    r = Registry()
    r.issue([800_000, 800_000, 800_000], 2, 0)
    r.issue([2_600_000], 3, 400_000)
    for pick, quantity, retire in steps:
        spent = {b for b, _ in r.spends}
        live = [b for b in r.blocks if b.id not in spent and b.status == HELD]
        if not live:
            break
        block = live[pick % len(live)]
        # a retirement stays with its holder; a transfer goes from the scheme to ORG or back
        to = block.holder_org_id if retire else (ORG if block.holder_org_id is None else None)
        r.move(block.id, min(quantity, block.serials.quantity), to, RETIRED if retire else HELD)
    assert rules.state_problems(r.state()) == []
    assert all(rules.batch_problems(SCHEME, contents(r, which=i)) == [] for i in (1, 2))


def test_every_rule_runs_once() -> None:
    listed = [r.__name__ for r in (*rules.STATE_RULES, *rules.BATCH_RULES)]
    assert len(listed) == len(set(listed)) == 15  # transfers_signed: tests/registry/test_transfer_verify_rules.py


# -- the movement log ---------------------------------------------------------------------------


def test_movement_chain_finds_a_gap_and_a_broken_link(registry: Registry) -> None:
    assert rules.movement_chain(registry.state()) == []
    gap = registry.state(movements=with_movement(registry, 3, seq=4))
    assert rules.movement_chain(gap) == [
        f"scheme {SCHEME} movement 4: sequence gap (expected 3)",
        f"scheme {SCHEME} movement 4: sequence gap (expected 5)",
    ]
    unlinked = registry.state(movements=with_movement(registry, 2, prev_hash="f" * 64))
    assert rules.movement_chain(unlinked) == [f"scheme {SCHEME} movement 2: prev_hash does not match the previous movement"]
    assert rules.movement_chain(registry.state(movements=())) == []


def test_movement_hashes_find_a_changed_movement_or_block(registry: Registry) -> None:
    assert rules.movement_hashes(registry.state()) == []
    memo = registry.state(movements=with_movement(registry, 3, memo={"sale": "changed"}))
    assert rules.movement_hashes(memo) == [
        f"scheme {SCHEME} movement 3: hash mismatch (the movement or its blocks changed after they were written)"
    ]
    # block 4 (the change of movement 3) handed to the buyer afterwards
    stolen = tuple(replace(b, holder_org_id=ORG) if b.id == 4 else b for b in registry.blocks)
    assert [p.split(":")[0] for p in rules.movement_hashes(registry.state(blocks=stolen))] == [f"scheme {SCHEME} movement 3"]
    # a spend recorded against another movement changes both movements' bodies
    moved_spend = registry.state(spends=((1, 40), (3, 40)))
    assert len(rules.movement_hashes(moved_spend)) == 2


def test_movement_quantities_find_credits_created_or_lost(registry: Registry) -> None:
    assert rules.movement_quantities(registry.state()) == []
    without_change = registry.state(blocks=tuple(b for b in registry.blocks if b.id != 4))
    assert rules.movement_quantities(without_change) == [f"scheme {SCHEME} movement 3: spends 2 credits but creates 1"]
    # a transfer whose spend is lost; the issuances (movements 1 and 2) spend nothing and are not reported
    assert rules.movement_quantities(registry.state(spends=((3, 40),))) == [
        f"scheme {SCHEME} movement 3: spends 0 credits but creates 2"
    ]


def test_registry_head_names_the_last_movement(registry: Registry) -> None:
    assert rules.registry_head(registry.state()) == []
    last = registry.movements[-1]
    behind = Head(SCHEME, 4, last.seq - 1, registry.movements[-2].row_hash)
    expected = [f"scheme {SCHEME}: registry head does not match the last movement"]
    assert rules.registry_head(registry.state(head=behind)) == expected
    assert rules.registry_head(registry.state(head=replace(behind, seq=last.seq))) == expected
    assert rules.registry_head(registry.state(head=None)) == expected
    assert rules.registry_head(registry.state(head=None, movements=())) == []


# -- serials and blocks -------------------------------------------------------------------------


def test_a_retired_block_is_never_spent(registry: Registry) -> None:
    assert rules.retired_never_spent(registry.state()) == []
    spent_again = registry.state(spends=(*registry.spends, (5, 50)))
    assert rules.retired_never_spent(spent_again) == [f"scheme {SCHEME}: retired block 5 was spent"]


def test_batch_serial_ranges_do_not_overlap(registry: Registry) -> None:
    assert rules.serials_disjoint(registry.state()) == []
    overlapping = registry.state(batches=with_batch(registry, 2, serials=SerialRange(2, 3)))
    assert rules.serials_disjoint(overlapping) == [
        f"scheme {SCHEME}: batch serial ranges 00000001-00000002 and 00000002-00000003 overlap"
    ]


def test_unspent_blocks_tile_each_batch(registry: Registry) -> None:
    assert rules.unspent_blocks_tile(registry.state()) == []
    b1, b2 = registry.batches
    unspent_twice = registry.state(spends=registry.spends[1:])  # block 1 live again beside its parts
    assert rules.unspent_blocks_tile(unspent_twice) == [
        f"batch {b1.public_id}: its unspent blocks do not tile serials 00000001-00000002 exactly"
    ]
    lost = registry.state(blocks=tuple(b for b in registry.blocks if b.id != 2))
    assert rules.unspent_blocks_tile(lost) == [
        f"batch {b2.public_id}: its unspent blocks do not tile serials 00000003-00000003 exactly"
    ]


# -- batches ------------------------------------------------------------------------------------


def test_batch_ids_name_their_serials(registry: Registry) -> None:
    assert rules.batch_ids_name_serials(registry.state()) == []
    renamed = registry.state(batches=with_batch(registry, 2, public_id="TH-city-2026-bus-ride-cn@1-00000009-00000009"))
    assert rules.batch_ids_name_serials(renamed) == [
        "batch TH-city-2026-bus-ride-cn@1-00000009-00000009: id does not name its serials"
    ]


def test_pool_chain(registry: Registry) -> None:
    assert rules.pool_chain(registry.state()) == []
    b2 = registry.batches[1]
    detached = registry.state(batches=with_batch(registry, 2, previous_batch_id=None))
    assert rules.pool_chain(detached) == [f"batch {b2.public_id}: does not follow the pool's previous batch"]
    carried = registry.state(batches=with_batch(registry, 2, carried_in_g=500_000))
    assert rules.pool_chain(carried) == [f"batch {b2.public_id}: carried in 500000 g, the previous batch carried out 400000 g"]
    # another methodology is another pool: its first batch follows none and carries nothing in
    other = registry.state(batches=with_batch(registry, 2, methodology="walking-cn@1"))
    assert rules.pool_chain(other) == [
        f"batch {b2.public_id}: does not follow the pool's previous batch",
        f"batch {b2.public_id}: carried in 400000 g, the previous batch carried out 0 g",
    ]


def test_batch_grams_add_up_to_whole_tonnes(registry: Registry) -> None:
    assert rules.batch_grams(registry.state()) == []
    b1 = registry.batches[0]
    short = registry.state(batches=with_batch(registry, 1, carried_out_g=b1.carried_out_g + 1))
    assert rules.batch_grams(short) == [f"batch {b1.public_id}: grams do not add up to 2 t"]


def test_batch_events_belong_to_the_scheme_methodology_and_vintage(registry: Registry) -> None:
    assert rules.batch_events_belong(SCHEME, contents(registry)) == []
    b1, good = registry.batches[0], registry.contents[1]
    for change in (
        {"status": "rejected"},
        {"methodology": "walking-cn@1"},
        {"scheme_id": "town"},
        {"local_day": date(2025, 12, 31).toordinal()},
        {"local_day": None},
    ):
        broken = contents(registry, events=(good[0], replace(good[1], **change), good[2]))
        assert rules.batch_events_belong(SCHEME, broken) == [
            f"batch {b1.public_id}: event {good[1].pk} is not a credited {METHOD} event of {SCHEME} in {VINTAGE}"
        ], change


def test_batch_totals_match_its_events(registry: Registry) -> None:
    assert rules.batch_totals(SCHEME, contents(registry)) == []
    b1, good = registry.batches[0], registry.contents[1]
    missing = contents(registry, events=good[:2])
    assert rules.batch_totals(SCHEME, missing) == [
        f"batch {b1.public_id}: records 3 events / 2400000 g, its events hold 2 / 1600000 g"
    ]


def test_batch_leaves_and_root_unchanged_since_issuance(registry: Registry) -> None:
    assert rules.batch_leaves(SCHEME, contents(registry)) == []
    b1, good = registry.batches[0], registry.contents[1]
    heavier = contents(registry, events=(good[0], replace(good[1], carbon_g=999_999), good[2]))
    assert rules.batch_leaves(SCHEME, heavier) == [
        f"batch {b1.public_id}: 1 event(s) changed since issuance (leaf mismatch)",
        f"batch {b1.public_id}: Merkle root does not match its events",
    ]
    rooted = contents(registry, batch=replace(b1, merkle_root="0" * 64))
    assert rules.batch_leaves(SCHEME, rooted) == [f"batch {b1.public_id}: Merkle root does not match its events"]
    # the events and their stored leaves swapped together still break the root (order is part of it)
    swapped = contents(registry, events=(good[1], good[0], good[2]))
    assert rules.batch_leaves(SCHEME, swapped) == [f"batch {b1.public_id}: Merkle root does not match its events"]


def test_batch_ledger_postings_match_the_consumed_grams(registry: Registry) -> None:
    assert rules.batch_ledger(SCHEME, contents(registry)) == []
    b1 = registry.batches[0]
    assert rules.batch_ledger(SCHEME, contents(registry, ledger_g=2_000_000)) == [
        (
            f"batch {b1.public_id}: the ledger credited 2000000 g for its events, "
            "the batch consumed 2400000 g, the events now hold 2400000 g"
        )
    ]
    drifted = contents(registry, events=(*registry.contents[1][:2], replace(registry.contents[1][2], carbon_g=1)))
    assert rules.batch_ledger(SCHEME, drifted) == [
        (
            f"batch {b1.public_id}: the ledger credited 2400000 g for its events, "
            "the batch consumed 2400000 g, the events now hold 1600001 g"
        )
    ]


# -- vintages -----------------------------------------------------------------------------------


def test_reversals_after_issuance_are_a_shortfall(registry: Registry) -> None:
    batches = {b.id: b for b in registry.batches}
    assert rules.shortfall(batches, []) == []
    [short] = rules.shortfall(batches, [Reversal(1, 2, 1_000_001)])
    assert short == Shortfall(registry.batches[0].public_id, VINTAGE, 2, 1_000_001)
    assert short.to_dict() == {"batch_id": short.batch_id, "reversed_events": 2, "reversed_g": 1_000_001, "credits_to_cover": 2}


def test_issued_grams_stay_within_the_credited_grams(registry: Registry) -> None:
    issued = 3 * TONNE_G
    [total] = rules.vintage_totals(SCHEME, registry.batches, [], {VINTAGE: (3_200_000, 0)})
    assert total == VintageTotal(SCHEME, VINTAGE, 3_200_000, 0, issued, 0) and total.eligible_g == 3_200_000
    assert rules.vintages_within_credited([total]) == []
    [over] = rules.vintage_totals(SCHEME, registry.batches, [], {VINTAGE: (2_500_000, 0)})
    assert rules.vintages_within_credited([over]) == [
        f"scheme {SCHEME} vintage {VINTAGE}: issued 3000000 g exceeds eligible 2500000 g"
    ]
    # grams issued with no credited grams of that vintage at all
    [nothing] = rules.vintage_totals(SCHEME, registry.batches, [], {})
    assert rules.vintages_within_credited([nothing]) == [
        f"scheme {SCHEME} vintage {VINTAGE}: issued 3000000 g exceeds eligible 0 g"
    ]


def test_a_reversal_after_issuance_is_not_a_break(registry: Registry) -> None:
    """3.2 t credited, 1 t of it reversed after 3 t were issued: 2.2 t eligible now, the 1 t is a shortfall."""
    credited = {VINTAGE: (3_200_000, 1_000_000), VINTAGE + 1: (50_000, 0)}
    short = rules.shortfall({b.id: b for b in registry.batches}, [Reversal(1, 1, 1_000_000)])
    totals = rules.vintage_totals(SCHEME, registry.batches, short, credited)
    assert [t.to_dict() for t in totals] == [
        {
            "scheme_id": SCHEME,
            "vintage": VINTAGE,
            "credited_g": 3_200_000,
            "reversed_g": 1_000_000,
            "eligible_g": 2_200_000,
            "issued_g": 3_000_000,
            "shortfall_g": 1_000_000,
        },
        {
            "scheme_id": SCHEME,
            "vintage": VINTAGE + 1,
            "credited_g": 50_000,
            "reversed_g": 0,
            "eligible_g": 50_000,
            "issued_g": 0,
            "shortfall_g": 0,
        },
    ]
    assert rules.vintages_within_credited(totals) == []
    unreported = rules.vintage_totals(SCHEME, registry.batches, [], credited)
    assert rules.vintages_within_credited(unreported) == [
        f"scheme {SCHEME} vintage {VINTAGE}: issued 3000000 g exceeds eligible 2200000 g"
    ]
