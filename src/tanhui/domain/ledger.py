"""Double-entry ledger rules: postings, transfer groups, balances, the hash chain, verification.

Semantics follow TigerBeetle and Formance (see docs/architecture.md):

* An amount is a positive integer in the asset's smallest unit (grams CO2e, whole points).
* A posting moves an amount of one asset from one ledger account to another of the same scheme;
  an account's balance is what came in minus what went out, so per asset the sum is always zero.
* A transfer group (one journal entry) is atomic: all its postings apply, or none.
* An externally caused group carries an idempotency key; the same key with the same content is a
  replay (the stored entry is the answer), with other content it is a conflict.
* A correction is a reversing entry, never an update; an entry is reversed at most once.
* Entries are hash-chained: ``entry_hash = sha256(prev_hash + "\\n" + canonical(entry))``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tanhui.domain.canonical import canonical_json, sha256_hex, utc_text
from tanhui.errors import BusinessRuleViolation, InvalidInput

ASSET_CO2E = "CO2E"
ASSET_POINTS = "POINTS"
ASSETS = (ASSET_CO2E, ASSET_POINTS)

GENESIS_HASH = "0" * 64

# Codes of a scheme's system accounts (balances may go negative; not materialised, to keep
# the ingest path free of a hot row: their balance is the negated sum of everyone else's).
SYSTEM_ISSUANCE = "issuance"
SYSTEM_REDEEMED = "redeemed"
SYSTEM_HELD = "held"  # escrow of marketplace holds: an order's points wait here until posted or voided
SYSTEM_EXPIRED = "expired"  # points that expired under the scheme's policy
SYSTEM_ACCOUNT_CODES = (SYSTEM_ISSUANCE, SYSTEM_REDEEMED, SYSTEM_HELD, SYSTEM_EXPIRED)
HOLDINGS = "holdings"


@dataclass(frozen=True, slots=True)
class LedgerAccount:
    id: int
    scheme_id: str
    asset: str
    code: str
    non_negative: bool
    tracked: bool
    owner_account_id: int | None = None


@dataclass(frozen=True, slots=True)
class Posting:
    from_account_id: int
    to_account_id: int
    amount: int

    def as_list(self) -> list[int]:
        return [self.from_account_id, self.to_account_id, self.amount]


@dataclass(frozen=True, slots=True)
class TransferGroup:
    """What a caller asks the ledger to record, before it is chained."""

    scheme_id: str
    kind: str
    postings: tuple[Posting, ...]
    idempotency_key: str | None = None
    memo: Mapping[str, Any] = field(default_factory=dict)
    reverses_entry_id: int | None = None

    def content_hash(self) -> str:
        """Hash of what was asked, compared on a replay of the same idempotency key."""
        return sha256_hex(
            canonical_json(
                {
                    "scheme": self.scheme_id,
                    "kind": self.kind,
                    "postings": [p.as_list() for p in self.postings],
                    "memo": dict(self.memo),
                    "reverses": self.reverses_entry_id,
                }
            )
        )


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A recorded, chained transfer group. Immutable once written."""

    id: int | None
    scheme_id: str
    chain_id: str
    seq: int
    kind: str
    idempotency_key: str | None
    content_hash: str
    postings: tuple[Posting, ...]
    memo: Mapping[str, Any]
    reverses_entry_id: int | None
    created_at: datetime
    prev_hash: str
    entry_hash: str


def validate_group(group: TransferGroup, accounts: Mapping[int, LedgerAccount]) -> None:
    """Refuse a malformed group before anything is written."""
    if not group.postings:
        raise InvalidInput("invalid_posting", reason="a transfer group needs at least one posting")
    if group.idempotency_key is not None and not (1 <= len(group.idempotency_key) <= 200):
        raise InvalidInput("invalid_posting", reason="idempotency key must be 1-200 characters")
    for posting in group.postings:
        if type(posting.amount) is not int or posting.amount <= 0:
            raise InvalidInput("invalid_posting", reason=f"amount must be a positive integer, got {posting.amount!r}")
        if posting.from_account_id == posting.to_account_id:
            raise InvalidInput("invalid_posting", reason="an amount cannot move from an account to itself")
        source = accounts.get(posting.from_account_id)
        target = accounts.get(posting.to_account_id)
        if source is None or target is None:
            missing = posting.from_account_id if source is None else posting.to_account_id
            raise InvalidInput("invalid_posting", reason=f"unknown ledger account {missing}")
        if source.asset != target.asset:
            raise InvalidInput("invalid_posting", reason=f"assets differ: {source.asset} -> {target.asset}")
        if source.scheme_id != group.scheme_id or target.scheme_id != group.scheme_id:
            raise InvalidInput("invalid_posting", reason="both accounts must belong to the group's scheme")


def apply_postings(
    postings: Iterable[Posting],
    accounts: Mapping[int, LedgerAccount],
    balances: Mapping[int, int],
) -> tuple[dict[int, int], list[tuple[int | None, int | None]]]:
    """Apply postings to tracked balances, all or nothing.

    Returns the changed balances and, per posting, the (from, to) balance after it (None for
    untracked accounts). Raises ``insufficient_balance`` if a non-negative account would dip
    below zero at any point within the group.
    """
    changed: dict[int, int] = {}
    after: list[tuple[int | None, int | None]] = []
    for posting in postings:
        source = accounts[posting.from_account_id]
        target = accounts[posting.to_account_id]
        source_after = target_after = None
        if source.tracked:
            current = changed.get(source.id, balances.get(source.id, 0))
            source_after = current - posting.amount
            if source.non_negative and source_after < 0:
                raise BusinessRuleViolation(
                    "insufficient_balance", ledger_account_id=source.id, balance=current, amount=posting.amount
                )
            changed[source.id] = source_after
        if target.tracked:
            target_after = changed.get(target.id, balances.get(target.id, 0)) + posting.amount
            changed[target.id] = target_after
        after.append((source_after, target_after))
    return changed, after


def reversing_postings(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    """The postings that undo an entry: each amount moves back the way it came, in reverse order."""
    return tuple(Posting(p.to_account_id, p.from_account_id, p.amount) for p in reversed(tuple(postings)))


def entry_hash(
    prev_hash: str,
    *,
    scheme_id: str,
    chain_id: str,
    seq: int,
    kind: str,
    idempotency_key: str | None,
    content_hash: str,
    postings: Iterable[Posting],
    memo: Mapping[str, Any],
    reverses_entry_id: int | None,
    created_at: datetime,
) -> str:
    body = canonical_json(
        {
            "scheme": scheme_id,
            "chain": chain_id,
            "seq": seq,
            "kind": kind,
            "key": idempotency_key,
            "content": content_hash,
            "postings": [[p.from_account_id, p.to_account_id, p.amount] for p in postings],
            "memo": memo if type(memo) is dict else dict(memo),
            "reverses": reverses_entry_id,
            "at": utc_text(created_at),
        }
    )
    return sha256_hex(prev_hash + "\n" + body)


def chain_entry(
    group: TransferGroup, *, chain_id: str, seq: int, prev_hash: str, created_at: datetime, entry_id: int | None = None
) -> JournalEntry:
    """Turn a validated group into the next entry of a chain."""
    # Only a keyed group can be replayed, so only it needs the hash a replay is compared with;
    # the entry hash below covers every posting and the memo either way.
    content = group.content_hash() if group.idempotency_key is not None else ""
    digest = entry_hash(
        prev_hash,
        scheme_id=group.scheme_id,
        chain_id=chain_id,
        seq=seq,
        kind=group.kind,
        idempotency_key=group.idempotency_key,
        content_hash=content,
        postings=group.postings,
        memo=group.memo,
        reverses_entry_id=group.reverses_entry_id,
        created_at=created_at,
    )
    return JournalEntry(
        id=entry_id,
        scheme_id=group.scheme_id,
        chain_id=chain_id,
        seq=seq,
        kind=group.kind,
        idempotency_key=group.idempotency_key,
        content_hash=content,
        postings=group.postings,
        memo=group.memo if type(group.memo) is dict else dict(group.memo),  # a group is not changed once chained
        reverses_entry_id=group.reverses_entry_id,
        created_at=created_at,
        prev_hash=prev_hash,
        entry_hash=digest,
    )


@dataclass(slots=True)
class VerifyReport:
    chains: int = 0
    entries: int = 0
    postings: int = 0
    accounts: int = 0
    problems: list[str] = field(default_factory=list)
    parts: int = 1  # the journal verified in this many parts by person key, in parallel

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class StoredPosting:
    posting: Posting
    from_balance_after: int | None
    to_balance_after: int | None


class LedgerVerifier:
    """Streams the stored journal in recording order and reports every break, first break first.

    Feed entries in id order (the order they were recorded: a writer takes its chain's head lock
    and its accounts' locks before it inserts, so ids follow each chain's seq and each account's
    history); then ``finish`` with the stored balances and chain heads. It recomputes each entry
    hash, the chain links, the balance after every posting, the materialised balances, zero sums
    per (scheme, asset) and non-negativity.
    """

    def __init__(
        self,
        accounts: Mapping[int, LedgerAccount],
        *,
        heads: Mapping[str, tuple[int, str]] | None = None,
        balances: Mapping[int, int] | None = None,
        part: bool = False,
    ) -> None:
        """The whole journal from its genesis; or, with ``heads`` and ``balances`` (a checkpoint's chain
        heads and the tracked balances before the window), only the entries after the heads: then
        ``accounts`` holds the accounts those entries touch and the sums checked are the window's.
        With ``part``, the journal is one part of a split by person key and ``accounts`` that part's: a
        posting to an account outside them goes to ``foreign`` (the split does not hold for this journal,
        and the caller verifies it in one pass instead)."""
        self.accounts = accounts
        self.report = VerifyReport(accounts=len(accounts))
        self._last: dict[str, tuple[int, str]] = dict(heads or {})
        self._start: dict[int, int] = dict(balances or {})
        self._balances: dict[int, int] = dict(self._start)
        self._reversed: set[int] = set()
        self._fed: set[str] = set()
        self._part = part
        self.foreign: set[int] = set()

    @property
    def heads(self) -> dict[str, tuple[int, str]]:
        """(seq, entry hash) of each chain's last entry fed (or given): the next checkpoint's heads."""
        return dict(self._last)

    def feed(self, entry: JournalEntry, stored: Iterable[StoredPosting], stored_entry_hash: str) -> None:
        report = self.report
        where = f"entry {entry.id} (chain {entry.chain_id} seq {entry.seq})"
        prev_seq, prev_hash = self._last.get(entry.chain_id, (0, GENESIS_HASH))
        if entry.chain_id not in self._fed:
            self._fed.add(entry.chain_id)
            report.chains += 1
        report.entries += 1
        if entry.seq != prev_seq + 1:
            report.problems.append(f"{where}: sequence gap after seq {prev_seq}")
        if entry.prev_hash != prev_hash:
            report.problems.append(f"{where}: prev_hash does not match the previous entry's hash")
        stored = list(stored)
        postings = tuple(s.posting for s in stored)
        recomputed = entry_hash(
            entry.prev_hash,
            scheme_id=entry.scheme_id,
            chain_id=entry.chain_id,
            seq=entry.seq,
            kind=entry.kind,
            idempotency_key=entry.idempotency_key,
            content_hash=entry.content_hash,
            postings=postings,
            memo=entry.memo,
            reverses_entry_id=entry.reverses_entry_id,
            created_at=entry.created_at,
        )
        if recomputed != stored_entry_hash:
            report.problems.append(f"{where}: hash mismatch (content changed after it was written)")
        if entry.reverses_entry_id is not None:
            if entry.reverses_entry_id in self._reversed:
                report.problems.append(f"{where}: reverses entry {entry.reverses_entry_id} a second time")
            self._reversed.add(entry.reverses_entry_id)
        for item in stored:
            report.postings += 1
            p = item.posting
            if p.amount <= 0 or p.from_account_id == p.to_account_id:
                report.problems.append(f"{where}: malformed posting {p.as_list()}")
                continue
            source, target = self.accounts.get(p.from_account_id), self.accounts.get(p.to_account_id)
            if self._part and (source is None or target is None):
                self.foreign.update(a for a in (p.from_account_id, p.to_account_id) if a not in self.accounts)
                continue
            if source is None or target is None or source.asset != target.asset:
                report.problems.append(f"{where}: posting between unknown or different-asset accounts")
                continue
            self._balances[source.id] = self._balances.get(source.id, 0) - p.amount
            self._balances[target.id] = self._balances.get(target.id, 0) + p.amount
            if source.tracked and item.from_balance_after != self._balances[source.id]:
                report.problems.append(
                    f"{where}: balance after posting of account {source.id} is {item.from_balance_after}, "
                    f"journal gives {self._balances[source.id]}"
                )
            if target.tracked and item.to_balance_after != self._balances[target.id]:
                report.problems.append(
                    f"{where}: balance after posting of account {target.id} is {item.to_balance_after}, "
                    f"journal gives {self._balances[target.id]}"
                )
        self._last[entry.chain_id] = (entry.seq, stored_entry_hash)

    def absorb(self, part: LedgerVerifier) -> None:
        """Take in what another verifier fed: a part of the same journal, streamed apart (one shard's
        person keys, in parallel). The parts' chains are disjoint and their postings balance on their
        own, so the merged running sums equal one pass over the whole journal; ``finish`` once, after
        every part. Give the merged verifier every part's accounts."""
        report = self.report
        report.chains += part.report.chains
        report.entries += part.report.entries
        report.postings += part.report.postings
        report.problems.extend(part.report.problems)
        for again in sorted(self._reversed & part._reversed):
            report.problems.append(f"entry {again} is reversed in two parts of the journal")
        self._reversed |= part._reversed
        self._fed |= part._fed
        self._last.update(part._last)
        for account_id, balance in part._balances.items():
            self._balances[account_id] = self._balances.get(account_id, 0) + balance - part._start.get(account_id, 0)

    def finish(self, stored_balances: Mapping[int, int | None], chain_heads: Mapping[str, tuple[int, str]]) -> VerifyReport:
        """Compare the projection and the chain heads with what the journal says."""
        report = self.report
        for chain_id in sorted(set(chain_heads) | set(self._last)):
            last, head = self._last.get(chain_id), chain_heads.get(chain_id)
            if last is None:
                if head is not None and head[0] != 0:
                    report.problems.append(f"chain {chain_id}: head at seq {head[0]} but no entries")
            elif head != last:
                shown = "none" if head is None else f"seq {head[0]}"
                report.problems.append(f"chain {chain_id}: recorded head is {shown}, the journal ends at seq {last[0]}")
        sums: dict[tuple[str, str], int] = {}  # what the postings fed moved: the whole balance from genesis
        for account in self.accounts.values():
            balance = self._balances.get(account.id, 0)
            key = (account.scheme_id, account.asset)
            sums[key] = sums.get(key, 0) + balance - self._start.get(account.id, 0)
            if account.non_negative and balance < 0:
                report.problems.append(f"account {account.id}: negative balance {balance}")
            if account.tracked:
                stored = stored_balances.get(account.id)
                if stored != balance:
                    report.problems.append(f"account {account.id}: stored balance {stored}, journal gives {balance}")
        for (scheme_id, asset), total in sorted(sums.items()):
            if total != 0:
                report.problems.append(f"scheme {scheme_id} asset {asset}: balances sum to {total}, not 0")
        return report


def checkpoint_hash(
    prev_hash: str, *, scheme_id: str, heads: Mapping[str, tuple[int, str]], entries: int, created_at: datetime
) -> str:
    """The hash of a verification checkpoint, chained to the one before it (GENESIS_HASH for the first).

    A checkpoint says "every entry up to these chain heads verified, `entries` in all"; the next
    incremental verify starts from it. Changing any recorded checkpoint breaks every later hash.
    """
    body = canonical_json(
        {
            "scheme": scheme_id,
            "heads": {chain: [seq, digest] for chain, (seq, digest) in sorted(heads.items())},
            "entries": entries,
            "at": utc_text(created_at),
        }
    )
    return sha256_hex(prev_hash + "\n" + body)
