"""Posting to, reversing in and verifying the ledger."""

from __future__ import annotations

import os
import random
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tanhui.domain.ledger import (
    GENESIS_HASH,
    LedgerAccount,
    LedgerVerifier,
    Posting,
    TransferGroup,
    VerifyReport,
    checkpoint_hash,
    reversing_postings,
)
from tanhui.domain.schemes import Scheme
from tanhui.errors import BusinessRuleViolation, NotFound
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.distribution import PKEY_VALUES, SYSTEM_PKEY
from tanhui.store.rows import Appended, CheckpointRow
from tanhui.store.uow import UnitOfWork


def lane_for(scheme: Scheme, idempotency_key: str | None) -> int:
    """The same key always lands in the same lane (so on the same chain of a person), so a replay
    waits behind the first attempt."""
    if idempotency_key is None:
        return random.randrange(scheme.ledger_chains)
    return zlib.crc32(idempotency_key.encode("utf-8")) % scheme.ledger_chains


def _scheme(uow: UnitOfWork, scheme_id: str) -> Scheme:
    scheme = uow.schemes.get(scheme_id)
    if scheme is None:
        raise NotFound("scheme_not_found", scheme_id=scheme_id)
    return scheme


def post(store: Store, group: TransferGroup, now: datetime | None = None) -> Appended:
    """Record one transfer group; a replay of its idempotency key returns the stored entry."""
    with store.unit_of_work() as uow:
        return post_in(uow, group, now or utcnow())


def post_in(uow: UnitOfWork, group: TransferGroup, now: datetime) -> Appended:
    """Same as ``post`` inside a caller's unit of work (so other writes share the transaction)."""
    scheme = _scheme(uow, group.scheme_id)
    [outcome] = uow.ledger.append([group], lane=lane_for(scheme, group.idempotency_key), now=now)
    return outcome


def transfer(
    store: Store,
    scheme_id: str,
    postings: Sequence[tuple[int, int, int]],
    *,
    kind: str,
    idempotency_key: str | None = None,
    memo: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Appended:
    group = TransferGroup(
        scheme_id=scheme_id,
        kind=kind,
        postings=tuple(Posting(a, b, amount) for a, b, amount in postings),
        idempotency_key=idempotency_key,
        memo=dict(memo or {}),
    )
    return post(store, group, now)


def reverse(
    store: Store,
    scheme_id: str,
    entry_id: int,
    *,
    idempotency_key: str | None = None,
    reason: str = "correction",
    now: datetime | None = None,
) -> Appended:
    """A correction: a new entry moving every amount back; the original stays as it was."""
    with store.unit_of_work() as uow:
        original = uow.ledger.entry(entry_id)
        if original is None or original.scheme_id != scheme_id:
            raise NotFound("entry_not_found", entry_id=entry_id)
        if original.reverses_entry_id is not None:
            raise BusinessRuleViolation("cannot_reverse_reversal", entry_id=entry_id)
        group = TransferGroup(
            scheme_id=scheme_id,
            kind="reversal",
            postings=reversing_postings(original.postings),
            idempotency_key=idempotency_key,
            memo={"reason": reason},
            reverses_entry_id=entry_id,
        )
        # The original's person key and a lane of its id: two reversals of one entry queue on one chain.
        scheme = _scheme(uow, scheme_id)
        [outcome] = uow.ledger.append([group], lane=entry_id % scheme.ledger_chains, now=now or utcnow())
        return outcome


def balance(store: Store, ledger_account_id: int) -> int:
    with store.unit_of_work(write=False) as uow:
        return uow.ledger.balance(ledger_account_id)


@dataclass(frozen=True, slots=True)
class Holdings:
    co2e_account_id: int
    points_account_id: int


def holdings(store: Store, account_id: int) -> Holdings:
    with store.unit_of_work(write=False) as uow:
        found = uow.ledger.holdings(account_id)
    if not found:
        raise NotFound("account_not_found", account_id=account_id)
    return Holdings(found["CO2E"].id, found["POINTS"].id)


def verify(store: Store, scheme_id: str | None = None, parts: int | None = None) -> VerifyReport:
    """Recompute every hash link and every balance from the journal, in one consistent snapshot.

    ``scheme_id`` limits the check to one scheme (its chains, accounts and sums are self-contained).
    On a Citus coordinator the journal is verified per shard in parallel (one group of person keys per
    shard, ``TANHUI_VERIFY_WORKERS`` at a time, default 4) and the parts merged: the services never write
    an entry whose postings leave its person key (but for the scheme's system accounts), so each part
    balances on its own and needs only its own worker's snapshot. A journal with an entry between two
    people's keys (`tanhui ledger transfer` can write one) is verified in one pass instead.
    ``parts`` splits the keys into that many groups on any engine (tests, and a check of the split itself).
    """
    store.require_initialised()
    groups = _pkey_groups(store, parts)
    if groups is not None and len(groups) > 1:
        return _verify_in_parts(store, scheme_id, groups)
    return _one_pass(store, scheme_id)


def _one_pass(store: Store, scheme_id: str | None) -> VerifyReport:
    with store.unit_of_work(write=False, isolation="repeatable_read") as uow:
        if scheme_id is not None:
            _scheme(uow, scheme_id)
        verifier = LedgerVerifier(uow.ledger.all_accounts(scheme_id))
        for entry, stored, stored_hash in uow.ledger.stream_journal(scheme_id):
            verifier.feed(entry, stored, stored_hash)
        report = verifier.finish(uow.ledger.stored_balances(scheme_id), uow.ledger.chain_heads(scheme_id))
        _check_counters(uow, scheme_id, report)
        return report


def _check_counters(uow: UnitOfWork, scheme_id: str | None, report: VerifyReport) -> None:
    """The operator reports' counters are projections too: the same figures from the source rows."""
    for drift in uow.reports.check(scheme_id):
        report.problems.append(f"{drift.table} {drift.key}: stored {drift.stored}, source rows give {drift.expected}")


def _pkey_groups(store: Store, parts: int | None) -> list[list[int]] | None:
    if parts is not None:
        return [list(PKEY_VALUES[i::parts]) for i in range(parts)]
    from tanhui.store.citus import shard_groups

    return shard_groups(store)


def _verify_in_parts(store: Store, scheme_id: str | None, groups: list[list[int]]) -> VerifyReport:
    with store.unit_of_work(write=False) as uow:
        if scheme_id is not None:
            _scheme(uow, scheme_id)

    def part(pkeys: list[int]) -> tuple[LedgerVerifier, dict[int, int | None], dict[str, tuple[int, str]]]:
        with store.unit_of_work(write=False, isolation="repeatable_read") as uow:
            verifier = LedgerVerifier(uow.ledger.all_accounts(scheme_id, [*pkeys, SYSTEM_PKEY]), part=True)
            for entry, stored, stored_hash in uow.ledger.stream_journal(scheme_id, pkeys=pkeys):
                verifier.feed(entry, stored, stored_hash)
            return verifier, uow.ledger.stored_balances(scheme_id, pkeys), uow.ledger.chain_heads(scheme_id, pkeys)

    workers = max(1, min(len(groups), int(os.environ.get("TANHUI_VERIFY_WORKERS", "4"))))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        done = list(pool.map(part, groups))
    if any(verifier.foreign for verifier, _stored, _heads in done):
        # an entry moved points between two people's keys (`tanhui ledger transfer` can): their running
        # balances cross parts, so this journal is verified in one pass
        return _one_pass(store, scheme_id)
    accounts: dict[int, LedgerAccount] = {}
    balances: dict[int, int | None] = {}
    heads: dict[str, tuple[int, str]] = {}
    for verifier, stored, chain_heads in done:
        accounts.update(verifier.accounts)
        balances.update(stored)
        heads.update(chain_heads)
    merged = LedgerVerifier(accounts)
    for verifier, _stored, _heads in done:
        merged.absorb(verifier)
    report = merged.finish(balances, heads)
    report.parts = len(groups)
    with store.unit_of_work(write=False, isolation="repeatable_read") as uow:
        _check_counters(uow, scheme_id, report)
    return report


@dataclass(slots=True)
class IncrementalReport:
    """One scheme's incremental verify: what it checked, from which checkpoint, and the one it recorded."""

    scheme_id: str
    report: VerifyReport
    since: int | None  # the checkpoint it started from (None: the first run, a full verify)
    recorded: int | None  # the checkpoint it recorded (None when it found a problem)
    total_entries: int  # entries verified from genesis up to the new heads


def verify_incremental(store: Store, scheme_id: str | None = None, now: datetime | None = None) -> list[IncrementalReport]:
    """Verify each scheme from its last checkpoint: only the entries recorded since (plus the
    checkpoint chain itself and the checkpointed heads), then record a new checkpoint when all is well.

    A scheme's first run has no checkpoint and is a full verify. What the window cannot see — a rewrite
    of an entry before the checkpoint — is what the full `tanhui verify` and the published daily heads
    (`tanhui ledger heads`) are for; run the full verify on a slower rhythm (e.g. weekly).
    """
    store.require_initialised()
    with store.unit_of_work(write=False) as uow:
        if scheme_id is not None:
            _scheme(uow, scheme_id)
            schemes = [scheme_id]
        else:
            schemes = [s.id for s in uow.schemes.list()]
    return [_verify_scheme_since_checkpoint(store, s, now or utcnow()) for s in schemes]


def _verify_scheme_since_checkpoint(store: Store, scheme_id: str, now: datetime) -> IncrementalReport:
    with store.unit_of_work(write=False, isolation="repeatable_read") as uow:
        checkpoints = uow.checkpoints.of_scheme(scheme_id)
        problems = _checkpoint_chain_problems(checkpoints)
        last = checkpoints[-1] if checkpoints else None
        if last is None:
            verifier = LedgerVerifier(uow.ledger.all_accounts(scheme_id))
            journal = uow.ledger.stream_journal(scheme_id)
            stored_balances = uow.ledger.stored_balances(scheme_id)
        else:
            for chain, (seq, digest) in sorted(last.heads.items()):
                if uow.ledger.entry_hash_at(chain, seq) != digest:
                    problems.append(f"chain {chain} seq {seq}: the entry differs from checkpoint {last.seq}'s head")
            after = {chain: seq for chain, (seq, _) in last.heads.items()}
            firsts = uow.ledger.first_entries_past(scheme_id, after)
            accounts = uow.ledger.accounts_by_ids(firsts)
            balances = {a: uow.ledger.balance_before(a, firsts[a]) for a, account in accounts.items() if account.tracked}
            verifier = LedgerVerifier(accounts, heads=last.heads, balances=balances)
            journal = uow.ledger.stream_journal(scheme_id, after=after)
            stored_balances = uow.ledger.stored_balances_of(accounts)
        for entry, stored_postings, stored_hash in journal:
            verifier.feed(entry, stored_postings, stored_hash)
        report = verifier.finish(stored_balances, uow.ledger.chain_heads(scheme_id))
        report.problems[:0] = problems
        heads = verifier.heads
    total = (last.entries if last else 0) + report.entries
    if not report.ok:
        return IncrementalReport(scheme_id, report, last.seq if last else None, None, total)
    seq = (last.seq if last else 0) + 1
    prev = last.checkpoint_hash if last else GENESIS_HASH
    digest = checkpoint_hash(prev, scheme_id=scheme_id, heads=heads, entries=total, created_at=now)
    with store.unit_of_work() as uow:
        uow.checkpoints.add(CheckpointRow(scheme_id, seq, heads, total, now, prev, digest))
    return IncrementalReport(scheme_id, report, last.seq if last else None, seq, total)


def _checkpoint_chain_problems(checkpoints: Sequence[CheckpointRow]) -> list[str]:
    problems: list[str] = []
    prev = GENESIS_HASH
    for number, row in enumerate(checkpoints, start=1):
        expected = checkpoint_hash(prev, scheme_id=row.scheme_id, heads=row.heads, entries=row.entries, created_at=row.created_at)
        if row.seq != number or row.prev_hash != prev or row.checkpoint_hash != expected:
            problems.append(f"checkpoint {row.seq} of scheme {row.scheme_id}: its hash chain is broken (edited or removed)")
        prev = row.checkpoint_hash
    return problems
