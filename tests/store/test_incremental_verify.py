"""`tanhui verify --incremental`: from the last checkpoint, only the entries since (issue 15).

A daily verify must cost the day's entries, not the ledger's life; and it must still find what the
full verify finds in those entries, a broken link to what came before, and an edited checkpoint.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import select, text, update

from tanhui.services import ledger
from tanhui.store import Store
from tanhui.store.schema import journal_entries, ledger_accounts, ledger_checkpoints, postings
from tests.security.test_ledger_heads import _rewrite_chain_consistently
from tests.store.helpers import Fixture, build, guards_off_on_citus

T0 = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)


def _activity(store: Store, f: Fixture, n: int, seed: int) -> None:
    """n transfers: points issued to people, moved between them and redeemed (never below zero)."""
    rng = random.Random(seed)
    held = {p: ledger.balance(store, p) for p in f.people}
    for i in range(n):
        person = rng.choice(f.people)
        choice = rng.random()
        if choice < 0.5 or held[person] == 0:
            amount = rng.randint(1, 50)
            ledger.transfer(store, f.scheme_id, [(f.issuance, person, amount)], kind="earn", idempotency_key=f"e{seed}-{i}")
            held[person] += amount
        elif choice < 0.8:
            other = rng.choice([p for p in f.people if p != person])
            amount = rng.randint(1, held[person])
            ledger.transfer(store, f.scheme_id, [(person, other, amount)], kind="gift")
            held[person] -= amount
            held[other] += amount
        else:
            amount = rng.randint(1, held[person])
            ledger.transfer(store, f.scheme_id, [(person, f.redeemed, amount)], kind="spend")
            held[person] -= amount


def _one(store: Store, scheme_id: str) -> ledger.IncrementalReport:
    [result] = ledger.verify_incremental(store, scheme_id, now=T0)
    return result


def _guards_off(store: Store, conn: object, table: str) -> None:
    if store.dialect.distributed:
        guards_off_on_citus(conn)
    elif store.dialect.name == "postgresql":
        conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))  # type: ignore[attr-defined]
    else:
        names = [r[0] for r in conn.execute(text(f"SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='{table}'"))]  # type: ignore[attr-defined]
        for name in names:
            conn.execute(text(f'DROP TRIGGER "{name}"'))  # type: ignore[attr-defined]


def _guards_on(store: Store, conn: object, table: str) -> None:
    if store.dialect.name == "postgresql" and not store.dialect.distributed:
        conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))  # type: ignore[attr-defined]


def test_the_second_run_checks_only_the_entries_since_the_first(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id, people=6)
    _activity(store, f, 120, seed=1)
    first = _one(store, scheme_id)
    assert first.report.ok, first.report.problems
    assert first.since is None and first.recorded == 1 and first.report.entries == first.total_entries >= 120
    _activity(store, f, 30, seed=2)
    second = _one(store, scheme_id)
    assert second.report.ok, second.report.problems
    assert second.since == 1 and second.recorded == 2
    assert second.report.entries == 30  # the window, not the journal
    full = ledger.verify(store, scheme_id)
    assert full.ok and full.entries == second.total_entries == first.total_entries + 30
    third = _one(store, scheme_id)  # nothing new: nothing to check, still a checkpoint
    assert third.report.ok and third.report.entries == 0 and third.recorded == 3


def test_a_changed_amount_or_balance_after_the_checkpoint_is_found(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id, people=4)
    _activity(store, f, 40, seed=3)
    assert _one(store, scheme_id).report.ok
    _activity(store, f, 10, seed=4)
    with store.engine.begin() as conn:
        newest = conn.execute(
            select(postings.c.id, postings.c.to_account_id)
            .where(postings.c.to_account_id.in_(f.people))
            .order_by(postings.c.id.desc())
            .limit(1)
        ).one()
        _guards_off(store, conn, "postings")
        conn.execute(update(postings).where(postings.c.id == newest.id).values(to_balance_after=postings.c.to_balance_after + 7))
        _guards_on(store, conn, "postings")
    result = _one(store, scheme_id)
    assert not result.report.ok and result.recorded is None
    assert any("balance after posting" in p for p in result.report.problems), result.report.problems


def test_a_window_that_does_not_continue_the_balance_before_it_is_found(store: Store, scheme_id: str) -> None:
    """The stored balance and the window's balances agree with each other, but not with the history."""
    f = build(store, scheme_id, people=3)
    _activity(store, f, 30, seed=5)
    assert _one(store, scheme_id).report.ok
    person = f.people[0]
    ledger.transfer(store, f.scheme_id, [(f.issuance, person, 5)], kind="earn")
    with store.engine.begin() as conn:
        last = conn.execute(
            select(postings.c.id).where(postings.c.to_account_id == person).order_by(postings.c.id.desc()).limit(1)
        ).scalar_one()
        _guards_off(store, conn, "postings")
        conn.execute(update(postings).where(postings.c.id == last).values(to_balance_after=postings.c.to_balance_after + 1000))
        _guards_on(store, conn, "postings")
        conn.execute(
            update(ledger_accounts).where(ledger_accounts.c.id == person).values(balance=ledger_accounts.c.balance + 1000)
        )
    result = _one(store, scheme_id)
    assert not result.report.ok
    assert any(f"account {person}" in p and "balance after posting" in p for p in result.report.problems), result.report.problems


def test_an_edited_checkpoint_or_an_edited_head_entry_is_found(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id, people=3)
    _activity(store, f, 20, seed=6)
    assert _one(store, scheme_id).report.ok
    with store.engine.begin() as conn:
        _guards_off(store, conn, "ledger_checkpoints")
        conn.execute(
            update(ledger_checkpoints)
            .where(ledger_checkpoints.c.scheme_id == scheme_id)
            .values(entries=ledger_checkpoints.c.entries + 1)
        )
        _guards_on(store, conn, "ledger_checkpoints")
    result = _one(store, scheme_id)
    assert not result.report.ok and any("hash chain is broken" in p for p in result.report.problems)


def test_a_consistent_rewrite_of_a_checkpointed_entry_is_found(store: Store, scheme_id: str) -> None:
    """An insider rewrites the last checkpointed entry of a chain and recomputes its hash and the head:
    the window alone would continue from the new hash; the checkpoint remembers the old one."""
    f = build(store, scheme_id, people=3, chains=1)
    _activity(store, f, 10, seed=8)
    first = _one(store, scheme_id)
    assert first.report.ok
    chain, (seq, _digest) = sorted(store_checkpoint_heads(store, scheme_id).items())[0]
    with store.engine.connect() as conn:
        entry_id = conn.execute(
            select(journal_entries.c.id).where(journal_entries.c.chain_id == chain, journal_entries.c.seq == seq)
        ).scalar_one()
    _rewrite_chain_consistently(store, entry_id, {"rewritten": True})
    with store.engine.begin() as conn:  # the insider's guard back on (the PostgreSQL database is shared)
        _guards_on(store, conn, "journal_entries")
    assert ledger.verify(store, scheme_id).ok  # the rewrite is consistent: the full verify cannot see it
    result = _one(store, scheme_id)
    assert not result.report.ok
    assert any(f"chain {chain} seq {seq}: the entry differs" in p for p in result.report.problems), result.report.problems


def store_checkpoint_heads(store: Store, scheme_id: str) -> dict[str, tuple[int, str]]:
    with store.unit_of_work(write=False) as uow:
        return uow.checkpoints.of_scheme(scheme_id)[-1].heads


def test_checkpoints_are_append_only(store: Store, scheme_id: str) -> None:
    f = build(store, scheme_id, people=2)
    _activity(store, f, 5, seed=7)
    assert _one(store, scheme_id).report.ok
    for statement in (
        update(ledger_checkpoints).where(ledger_checkpoints.c.scheme_id == scheme_id).values(entries=0),
        ledger_checkpoints.delete().where(ledger_checkpoints.c.scheme_id == scheme_id),
    ):
        try:
            with store.engine.begin() as conn:
                conn.execute(statement)
        except Exception as error:  # the database refuses: sqlite3/psycopg raise their own errors
            assert "append-only" in str(error) or "append_only" in str(error), error
        else:
            raise AssertionError("the checkpoint row was changed")


def test_the_command_checks_the_day_and_records_a_checkpoint(fresh_store_url: str) -> None:
    """`tanhui verify --incremental`: the first run is full, the next one reads only the entries since,
    and a posting changed after the checkpoint makes it exit 1 naming the account."""
    import json

    from tanhui.store import migrate
    from tests.live import cli

    store = Store(fresh_store_url)
    try:
        migrate.upgrade(store)
        f = build(store, "daily", people=4)
        _activity(store, f, 40, seed=11)
        first = json.loads(cli(fresh_store_url, "verify", "--incremental", "--json").stdout)
        [scheme] = first["schemes"]
        assert first["ok"] and scheme["since_checkpoint"] is None and scheme["recorded_checkpoint"] == 1
        assert scheme["entries"] == scheme["total_entries"] >= 40
        _activity(store, f, 7, seed=12)
        second = json.loads(cli(fresh_store_url, "verify", "--incremental", "--json").stdout)["schemes"][0]
        assert second["since_checkpoint"] == 1 and second["recorded_checkpoint"] == 2
        assert second["entries"] == 7 and second["total_entries"] == scheme["total_entries"] + 7
        text_run = cli(fresh_store_url, "verify", "--incremental")
        assert text_run.stdout.startswith("OK: daily since checkpoint 2: 0 entries checked")
        _activity(store, f, 3, seed=13)
        with store.engine.begin() as conn:
            _guards_off(store, conn, "postings")
            newest = conn.execute(select(postings.c.id).order_by(postings.c.id.desc()).limit(1)).scalar_one()
            conn.execute(update(postings).where(postings.c.id == newest).values(amount=postings.c.amount + 1))
            _guards_on(store, conn, "postings")
        broken = cli(fresh_store_url, "verify", "--incremental", check=False)
        assert broken.returncode == 1 and broken.stderr.startswith("BROKEN: daily: "), broken.stderr
    finally:
        store.dispose()
