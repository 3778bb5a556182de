"""`verify` in parts: the journal split by person key, verified in parallel and merged (issue 15).

On Citus each part is one shard's keys (the default there); `parts=N` makes the same split on any
engine. The merged report must equal one pass over the whole journal, and a break in any part must
still be found.
"""

from __future__ import annotations

import random

from sqlalchemy import select, text, update

from tanhui.services import accounts, ledger
from tanhui.store import Store
from tanhui.store.schema import ledger_accounts, postings
from tests.store.helpers import build


def _busy(store: Store, scheme_id: str, gifts: bool = False) -> None:
    """Rewards and spending, as the services write them; with ``gifts``, transfers between two people
    as `tanhui ledger transfer` writes them (one entry across two person keys)."""
    f = build(store, scheme_id, people=12, chains=2)
    rng = random.Random(5)
    for i in range(60):
        a, b = rng.sample(f.people, 2)
        ledger.transfer(store, scheme_id, [(f.issuance, a, rng.randint(5, 40))], kind="reward", idempotency_key=f"r{i}")
        if gifts and rng.random() < 0.4:
            ledger.transfer(store, scheme_id, [(a, b, 3)], kind="gift", idempotency_key=f"g{i}")
        if rng.random() < 0.3:
            ledger.transfer(store, scheme_id, [(a, f.redeemed, 2)], kind="spend", idempotency_key=f"s{i}")


def test_the_parts_merged_equal_one_pass(store: Store, scheme_id: str) -> None:
    _busy(store, scheme_id)
    whole = ledger.verify(store, scheme_id, parts=1)
    assert whole.ok, whole.problems
    for parts in (3, 8):
        split = ledger.verify(store, scheme_id, parts=parts)
        assert split.ok and split.parts == parts, split.problems
        assert (split.chains, split.entries, split.postings, split.accounts) == (
            whole.chains,
            whole.entries,
            whole.postings,
            whole.accounts,
        )
    default = ledger.verify(store, scheme_id)  # one pass, or one part per shard on Citus
    assert default.ok and default.entries == whole.entries
    assert default.parts == (_shards(store, "journal_entries") if store.dialect.distributed else 1)


def test_an_entry_between_two_peoples_keys_is_verified_in_one_pass(store: Store, scheme_id: str) -> None:
    _busy(store, scheme_id, gifts=True)
    report = ledger.verify(store, scheme_id, parts=4)
    assert report.ok and report.parts == 1, report.problems


def test_a_break_in_one_part_is_found(store: Store, scheme_id: str) -> None:
    _busy(store, scheme_id)
    person = accounts.open_account(store, scheme_id, display_name="victim")
    points = ledger.holdings(store, person).points_account_id
    with store.unit_of_work(write=False) as uow:
        issuance = uow.ledger.system_account(scheme_id, "POINTS", "issuance").id
    ledger.transfer(store, scheme_id, [(issuance, points, 50)], kind="reward", idempotency_key="victim")
    with store.engine.begin() as conn:  # the materialised balance is a projection: no guard on it
        conn.execute(update(ledger_accounts).where(ledger_accounts.c.id == points).values(balance=ledger_accounts.c.balance + 7))
        assert conn.execute(select(postings.c.id).where(postings.c.to_account_id == points)).first() is not None
    for parts in (None, 4):
        report = ledger.verify(store, scheme_id, parts=parts)
        assert not report.ok
        assert any(f"account {points}: stored balance 57, journal gives 50" in p for p in report.problems), report.problems


def _shards(store: Store, table: str) -> int:
    """How many shards Citus made of the table (32 by default; the tests' clusters make 4)."""
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = CAST(:t AS regclass)"), {"t": table}
            ).scalar_one()
        )
