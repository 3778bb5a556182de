"""The journal, its postings and the balance projection.

``append`` is the one write path into the ledger. It takes the chain's head lock first and then the
tracked balances in ascending id order (the order every writer uses, so PostgreSQL never deadlocks),
decides every group with the pure rules in ``tanhui.domain.ledger``, and writes the whole batch
with set-based statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, insert, or_, select

from tanhui.domain.canonical import canonical_json
from tanhui.domain.ledger import (
    ASSETS,
    GENESIS_HASH,
    HOLDINGS,
    SYSTEM_ACCOUNT_CODES,
    JournalEntry,
    LedgerAccount,
    Posting,
    StoredPosting,
    TransferGroup,
    apply_postings,
    chain_entry,
    validate_group,
)
from tanhui.errors import BusinessRuleViolation, Conflict, NotFound, TanhuiError
from tanhui.store.distribution import SYSTEM_PKEY, pkey_of
from tanhui.store.repositories.base import Repository, chunks
from tanhui.store.repositories.reports import ReportRepository
from tanhui.store.repositories.schemes import chain_name, lane_name
from tanhui.store.schema import journal_chains, journal_entries, ledger_accounts, ledger_keys, postings


@dataclass(frozen=True, slots=True)
class Appended:
    """The outcome of one group: the entry (new or, on a replay, the stored one) or an error."""

    entry: JournalEntry | None
    replayed: bool = False
    error: TanhuiError | None = None


def _account(row: Row[Any]) -> LedgerAccount:
    return LedgerAccount(
        id=row.id,
        scheme_id=row.scheme_id,
        asset=row.asset,
        code=row.code,
        non_negative=bool(row.non_negative),
        tracked=bool(row.tracked),
        owner_account_id=row.owner_account_id,
    )


def _entry(row: Row[Any], entry_postings: tuple[Posting, ...]) -> JournalEntry:
    return JournalEntry(
        id=row.id,
        scheme_id=row.scheme_id,
        chain_id=row.chain_id,
        seq=row.seq,
        kind=row.kind,
        idempotency_key=row.idempotency_key,
        content_hash=row.content_hash,
        postings=entry_postings,
        memo=row.memo,
        reverses_entry_id=row.reverses_entry_id,
        created_at=row.created_at,
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
    )


ENTRY_COLUMNS = (
    "id",
    "pkey",
    "scheme_id",
    "chain_id",
    "seq",
    "kind",
    "idempotency_key",
    "content_hash",
    "memo",
    "reverses_entry_id",
    "created_at",
    "prev_hash",
    "entry_hash",
)
POSTING_COLUMNS = ("pkey", "entry_id", "from_account_id", "to_account_id", "amount", "from_balance_after", "to_balance_after")


class LedgerRepository(Repository):
    # -- accounts ---------------------------------------------------------------------------

    def create_system_accounts(self, scheme_id: str) -> None:
        self.conn.execute(
            insert(ledger_accounts),
            [
                {
                    "pkey": SYSTEM_PKEY,
                    "scheme_id": scheme_id,
                    "asset": asset,
                    "code": code,
                    "owner_account_id": None,
                    "non_negative": False,
                    "tracked": False,
                    "balance": None,
                }
                for asset in ASSETS
                for code in SYSTEM_ACCOUNT_CODES
            ],
        )

    def system_account(self, scheme_id: str, asset: str, code: str) -> LedgerAccount:
        row = self.conn.execute(
            select(ledger_accounts).where(
                ledger_accounts.c.pkey == SYSTEM_PKEY,
                ledger_accounts.c.scheme_id == scheme_id,
                ledger_accounts.c.asset == asset,
                ledger_accounts.c.code == code,
                ledger_accounts.c.owner_account_id.is_(None),
            )
        ).first()
        if row is None:
            raise NotFound("ledger_account_not_found", ledger_account_id=f"{scheme_id}:{asset}:{code}")
        return _account(row)

    def holdings(self, account_id: int) -> dict[str, LedgerAccount]:
        rows = self.conn.execute(
            select(ledger_accounts).where(
                ledger_accounts.c.pkey == pkey_of(account_id), ledger_accounts.c.owner_account_id == account_id
            )
        )
        return {row.asset: _account(row) for row in rows}

    def holdings_many(self, account_ids: Iterable[int]) -> dict[int, dict[str, LedgerAccount]]:
        """People's holdings ledger accounts, by owner and asset (the ingest path asks for ~1,000)."""
        found: dict[int, dict[str, LedgerAccount]] = {}
        for batch in chunks(sorted(set(account_ids))):
            rows = self.conn.execute(
                select(
                    ledger_accounts.c.id, ledger_accounts.c.scheme_id, ledger_accounts.c.asset, ledger_accounts.c.owner_account_id
                ).where(self.dialect.in_values(ledger_accounts.c.owner_account_id, batch), ledger_accounts.c.code == HOLDINGS)
            )
            for ledger_id, scheme_id, asset, owner in rows:
                # holdings are always tracked and never negative (AccountRepository.open)
                found.setdefault(owner, {})[asset] = LedgerAccount(ledger_id, scheme_id, asset, HOLDINGS, True, True, owner)
        return found

    def holdings_by_ref(self, partner_pk: int, user_refs: Sequence[str]) -> dict[str, tuple[int, dict[str, LedgerAccount]]]:
        """user_ref -> (account, its holdings by asset) for a partner's linked people. Ledger
        accounts never change once opened, so the ingest path reads these before its write turn."""
        found: dict[str, tuple[int, dict[str, LedgerAccount]]] = {}
        for ref, owner, ledger_id, scheme_id, asset in self.dialect.fetch_in(
            self.conn,
            "SELECT l.user_ref, l.account_id, a.id, a.scheme_id, a.asset FROM partner_links l"
            " JOIN ledger_accounts a ON a.pkey = l.pkey AND a.owner_account_id = l.account_id AND a.code = 'holdings'"
            " WHERE l.user_ref {IN} AND l.partner_pk = ?",
            sorted(set(user_refs)),
            (partner_pk,),
        ):
            found.setdefault(ref, (owner, {}))[1][asset] = LedgerAccount(ledger_id, scheme_id, asset, HOLDINGS, True, True, owner)
        return found

    def lock_lane(self, scheme_id: str, lane: int) -> None:
        """Queue behind the lane's other writer (one partner's batches share a lane), so the facts a
        batch reads before appending stay true until it commits. A lock, not a row: nothing is written."""
        self.dialect.lock_key(self.conn, f"lane:{lane_name(scheme_id, lane)}")

    def accounts_by_id(self, ids: Iterable[int]) -> dict[int, LedgerAccount]:
        found: dict[int, LedgerAccount] = {}
        for batch in chunks(sorted(set(ids))):
            for row in self.conn.execute(select(ledger_accounts).where(self.dialect.in_values(ledger_accounts.c.id, batch))):
                found[row.id] = _account(row)
        return found

    def all_accounts(self, scheme_id: str | None = None, pkeys: Sequence[int] | None = None) -> dict[int, LedgerAccount]:
        query = select(ledger_accounts)
        if scheme_id is not None:
            query = query.where(ledger_accounts.c.scheme_id == scheme_id)
        if pkeys is not None:
            query = query.where(self.dialect.in_values(ledger_accounts.c.pkey, sorted(pkeys)))
        return {row.id: _account(row) for row in self.conn.execute(query)}

    def balance(self, ledger_account_id: int) -> int:
        """A tracked account's materialised balance; an untracked one's sum from the postings."""
        row = self.conn.execute(
            select(ledger_accounts.c.tracked, ledger_accounts.c.balance).where(ledger_accounts.c.id == ledger_account_id)
        ).first()
        if row is None:
            raise NotFound("ledger_account_not_found", ledger_account_id=ledger_account_id)
        if row.tracked:
            return int(row.balance)
        return self.balance_from_postings(ledger_account_id)

    def balance_from_postings(self, ledger_account_id: int) -> int:
        incoming = self.conn.execute(
            select(func.coalesce(func.sum(postings.c.amount), 0)).where(postings.c.to_account_id == ledger_account_id)
        ).scalar_one()
        outgoing = self.conn.execute(
            select(func.coalesce(func.sum(postings.c.amount), 0)).where(postings.c.from_account_id == ledger_account_id)
        ).scalar_one()
        return int(incoming) - int(outgoing)

    def stored_balances(self, scheme_id: str | None = None, pkeys: Sequence[int] | None = None) -> dict[int, int | None]:
        query = select(ledger_accounts.c.id, ledger_accounts.c.balance)
        if scheme_id is not None:
            query = query.where(ledger_accounts.c.scheme_id == scheme_id)
        if pkeys is not None:
            query = query.where(self.dialect.in_values(ledger_accounts.c.pkey, sorted(pkeys)))
        return {row.id: row.balance for row in self.conn.execute(query)}

    def stored_balances_of(self, ids: Iterable[int]) -> dict[int, int | None]:
        found: dict[int, int | None] = {}
        for chunk in chunks(list(ids)):
            query = select(ledger_accounts.c.id, ledger_accounts.c.balance).where(
                self.dialect.in_values(ledger_accounts.c.id, chunk)
            )
            found.update({row.id: row.balance for row in self.conn.execute(query)})
        return found

    # -- reading the journal ----------------------------------------------------------------

    def entry(self, entry_id: int) -> JournalEntry | None:
        row = self.conn.execute(select(journal_entries).where(journal_entries.c.id == entry_id)).first()
        if row is None:
            return None
        return _entry(row, self._postings_of([row.id])[row.id])

    def entries_by_keys(self, scheme_id: str, keys: Sequence[str]) -> dict[str, JournalEntry]:
        rows: list[Any] = []
        for batch in chunks(keys):
            rows.extend(
                self.conn.execute(
                    select(journal_entries).where(
                        journal_entries.c.scheme_id == scheme_id, journal_entries.c.idempotency_key.in_(batch)
                    )
                )
            )
        by_entry = self._postings_of([row.id for row in rows])
        return {row.idempotency_key: _entry(row, by_entry[row.id]) for row in rows}

    def reversed_ids(self, entry_ids: Iterable[int]) -> set[int]:
        found: set[int] = set()
        for batch in chunks(list(entry_ids)):
            found.update(
                self.conn.execute(
                    select(journal_entries.c.reverses_entry_id).where(journal_entries.c.reverses_entry_id.in_(batch))
                ).scalars()
            )
        return found

    def _postings_of(self, entry_ids: Sequence[int]) -> dict[int, tuple[Posting, ...]]:
        grouped: dict[int, list[Posting]] = {entry_id: [] for entry_id in entry_ids}
        for batch in chunks(entry_ids):
            rows = self.conn.execute(
                select(postings.c.entry_id, postings.c.from_account_id, postings.c.to_account_id, postings.c.amount)
                .where(postings.c.entry_id.in_(batch))
                .order_by(postings.c.id)
            )
            for row in rows:
                grouped[row.entry_id].append(Posting(row.from_account_id, row.to_account_id, row.amount))
        return {entry_id: tuple(items) for entry_id, items in grouped.items()}

    def chain_heads(self, scheme_id: str | None = None, pkeys: Sequence[int] | None = None) -> dict[str, tuple[int, str]]:
        query = select(journal_chains)
        if scheme_id is not None:
            query = query.where(journal_chains.c.scheme_id == scheme_id)
        if pkeys is not None:
            query = query.where(self.dialect.in_values(journal_chains.c.pkey, sorted(pkeys)))
        return {row.id: (row.seq, row.head_hash) for row in self.conn.execute(query)}

    def chain_ids(self, scheme_id: str) -> list[str]:
        """The scheme's hash chains, in id order."""
        query = select(journal_chains.c.id).where(journal_chains.c.scheme_id == scheme_id).order_by(journal_chains.c.id)
        return [row[0] for row in self.conn.execute(query)]

    def chain_head_before(self, chain_id: str, before: datetime) -> tuple[int, str] | None:
        """(seq, entry hash) of the chain's last entry recorded before a moment; None if it had none."""
        row = self.conn.execute(
            select(journal_entries.c.seq, journal_entries.c.entry_hash)
            .where(journal_entries.c.chain_id == chain_id, journal_entries.c.created_at < before)
            .order_by(journal_entries.c.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else (int(row.seq), row.entry_hash)

    def people_balances(self, scheme_id: str, asset: str, batch: int = 50_000) -> Iterator[int]:
        """Every person's balance of one asset in the scheme, unordered, streamed in batches (a
        scheme has millions: nothing holds them all but the caller)."""
        query = select(ledger_accounts.c.balance).where(
            ledger_accounts.c.scheme_id == scheme_id,
            ledger_accounts.c.asset == asset,
            ledger_accounts.c.owner_account_id.is_not(None),
        )
        for (balance,) in self.conn.execute(query.execution_options(stream_results=True, yield_per=batch)):
            yield int(balance)

    def stream_journal(
        self,
        scheme_id: str | None = None,
        partition_size: int = 5000,
        after: Mapping[str, int] | None = None,
        pkeys: Sequence[int] | None = None,
    ) -> Iterator[tuple[JournalEntry, list[StoredPosting], str]]:
        """Every entry in recording (id) order with its stored postings, streamed in constant memory;
        with ``after`` ({chain_id: seq}, one scheme), only the entries past those chain positions; with
        ``pkeys``, only the entries under those person keys (one shard's, on Citus)."""
        query = (
            select(
                journal_entries,
                postings.c.from_account_id,
                postings.c.to_account_id,
                postings.c.amount,
                postings.c.from_balance_after,
                postings.c.to_balance_after,
            )
            .select_from(
                journal_entries.outerjoin(
                    postings, and_(postings.c.pkey == journal_entries.c.pkey, postings.c.entry_id == journal_entries.c.id)
                )
            )
            .order_by(journal_entries.c.id, postings.c.id)
        )
        if scheme_id is not None:
            query = query.where(journal_entries.c.scheme_id == scheme_id)
        if after is not None:
            query = query.where(_past(after))
        if pkeys is not None:
            query = query.where(self.dialect.in_values(journal_entries.c.pkey, sorted(pkeys)))
        result = self.conn.execution_options(stream_results=True, yield_per=partition_size).execute(query)
        current = None
        items: list[StoredPosting] = []
        for row in result:
            if current is None or row.id != current.id:
                if current is not None:
                    yield _entry(current, tuple(i.posting for i in items)), items, current.entry_hash
                current, items = row, []
            if row.amount is not None:
                items.append(
                    StoredPosting(
                        Posting(row.from_account_id, row.to_account_id, row.amount),
                        row.from_balance_after,
                        row.to_balance_after,
                    )
                )
        if current is not None:
            yield _entry(current, tuple(i.posting for i in items)), items, current.entry_hash

    def first_entries_past(self, scheme_id: str, after: Mapping[str, int]) -> dict[int, int]:
        """Each ledger account the entries past ``after`` touch, with the first such entry's id."""
        window = (
            select(journal_entries.c.pkey, journal_entries.c.id)
            .where(journal_entries.c.scheme_id == scheme_id, _past(after))
            .subquery()
        )
        firsts: dict[int, int] = {}
        for side in (postings.c.from_account_id, postings.c.to_account_id):
            query = (
                select(side.label("account"), func.min(postings.c.entry_id))
                .join(window, and_(window.c.pkey == postings.c.pkey, window.c.id == postings.c.entry_id))
                .group_by(side)
            )
            for account, first in self.conn.execute(query):
                firsts[account] = min(first, firsts.get(account, first))
        return firsts

    def accounts_by_ids(self, ids: Iterable[int]) -> dict[int, LedgerAccount]:
        found: dict[int, LedgerAccount] = {}
        for chunk in chunks(list(ids)):
            for row in self.conn.execute(select(ledger_accounts).where(self.dialect.in_values(ledger_accounts.c.id, chunk))):
                found[row.id] = _account(row)
        return found

    def balance_before(self, ledger_account_id: int, entry_id: int) -> int:
        """A tracked account's balance after its last posting recorded before ``entry_id`` (0 if none):
        an account's postings are recorded in id order, since writers hold its lock while they insert."""
        last: tuple[int, int, int] | None = None  # (entry id, posting id, balance after)
        for side, after_column in (
            (postings.c.from_account_id, postings.c.from_balance_after),
            (postings.c.to_account_id, postings.c.to_balance_after),
        ):
            row = self.conn.execute(
                select(postings.c.entry_id, postings.c.id, after_column)
                .where(side == ledger_account_id, postings.c.entry_id < entry_id)
                .order_by(postings.c.entry_id.desc(), postings.c.id.desc())
                .limit(1)
            ).first()
            if row is not None and (last is None or (row[0], row[1]) > last[:2]):
                last = (int(row[0]), int(row[1]), int(row[2]))
        return 0 if last is None else last[2]

    def entry_hash_at(self, chain_id: str, seq: int) -> str | None:
        row = self.conn.execute(
            select(journal_entries.c.entry_hash).where(journal_entries.c.chain_id == chain_id, journal_entries.c.seq == seq)
        ).first()
        return None if row is None else str(row[0])

    # -- the write path ---------------------------------------------------------------------

    def append(
        self,
        groups: Sequence[TransferGroup],
        *,
        now: datetime,
        lane: int = 0,
        raise_on_error: bool = True,
        known_accounts: Mapping[int, LedgerAccount] | None = None,
    ) -> list[Appended]:
        """Record groups, each all or nothing, at the end of its chain: the chain of the group's person
        key and ``lane``, so a person's entries stay on the person's node (a reversal: at its original's key).

        With ``raise_on_error`` (single requests) the first refused group raises and the caller's
        unit of work rolls back. Without it (batches) a refused group gets an ``Appended`` carrying
        the error and the others are still written. ``known_accounts`` spares re-reading ledger
        accounts the caller already loaded in this transaction (their balances are still locked
        and read here). Locks: the chains' heads in name order, then the tracked balances in id order.
        """
        account_ids = {p.from_account_id for g in groups for p in g.postings} | {
            p.to_account_id for g in groups for p in g.postings
        }
        accounts = self._load_accounts(account_ids, known_accounts or {})
        originals = self._entry_keys(g.reverses_entry_id for g in groups if g.reverses_entry_id is not None)
        chain_of = [
            chain_name(g.scheme_id, originals.get(g.reverses_entry_id or 0) or _group_pkey(g, accounts), lane) for g in groups
        ]
        # The heads first: a replay of a key lands on the same chain and waits here for the first attempt.
        heads = self._lock_chains({c: g.scheme_id for c, g in zip(chain_of, groups, strict=True)}, now)

        keys_by_scheme: dict[str, list[str]] = {}
        for group in groups:
            if group.idempotency_key is not None:
                keys_by_scheme.setdefault(group.scheme_id, []).append(group.idempotency_key)
        existing: dict[tuple[str, str], JournalEntry] = {}
        for scheme_id, keys in keys_by_scheme.items():
            for key, entry in self.entries_by_keys(scheme_id, keys).items():
                existing[(scheme_id, key)] = entry
        already_reversed = self.reversed_ids(g.reverses_entry_id for g in groups if g.reverses_entry_id is not None)
        balances = self._lock_balances(accounts)

        # Ids up front (the most this call can use); any left unused are a gap, as sequences have.
        free_ids = iter(self.dialect.allocate_ids(self.conn, journal_entries, len(groups)))
        outcomes: list[Appended] = []
        new_entries: list[tuple[JournalEntry, list[tuple[int | None, int | None]]]] = []
        touched: dict[int, int] = {}
        for group, chain in zip(groups, chain_of, strict=True):
            try:
                if group.idempotency_key is not None:
                    stored = existing.get((group.scheme_id, group.idempotency_key))
                    if stored is not None:
                        if stored.content_hash != group.content_hash():
                            raise Conflict("idempotency_conflict", key=group.idempotency_key)
                        outcomes.append(Appended(stored, replayed=True))
                        continue
                if group.reverses_entry_id is not None and group.reverses_entry_id in already_reversed:
                    raise BusinessRuleViolation("already_reversed", entry_id=group.reverses_entry_id)
                validate_group(group, accounts)
                changed, after = apply_postings(group.postings, accounts, balances)
            except TanhuiError as error:
                if raise_on_error:
                    raise
                outcomes.append(Appended(None, error=error))
                continue
            balances.update(changed)
            touched.update(changed)
            head = heads[chain]
            entry = chain_entry(
                group, chain_id=chain, seq=head.seq + 1, prev_hash=head.hash, created_at=now, entry_id=next(free_ids)
            )
            head.seq, head.hash, head.moved = entry.seq, entry.entry_hash, True
            new_entries.append((entry, after))
            outcomes.append(Appended(entry))
            if group.idempotency_key is not None:
                existing[(group.scheme_id, group.idempotency_key)] = entry
            if group.reverses_entry_id is not None:
                already_reversed.add(group.reverses_entry_id)

        if new_entries:
            self._write(new_entries, touched, {a: _account_pkey(accounts[a]) for a in touched}, heads, now=now)
            self._count_flows(new_entries, accounts, lane_name(new_entries[0][0].scheme_id, lane), now)
        return outcomes

    def _load_accounts(self, account_ids: set[int], known: Mapping[int, LedgerAccount]) -> dict[int, LedgerAccount]:
        """Ledger accounts never change once opened: read without a lock."""
        accounts = {i: known[i] for i in account_ids if i in known}
        unknown = sorted(account_ids - accounts.keys())
        for batch in chunks(unknown):
            for row in self.conn.execute(select(ledger_accounts).where(self.dialect.in_values(ledger_accounts.c.id, batch))):
                accounts[row.id] = _account(row)
        return accounts

    def _lock_balances(self, accounts: Mapping[int, LedgerAccount]) -> dict[int, int]:
        tracked = sorted(i for i, a in accounts.items() if a.tracked)
        if not tracked:
            return {}
        keys = sorted({pkey_of(a.owner_account_id) for a in accounts.values() if a.tracked and a.owner_account_id is not None})
        within, params = self.dialect.any_of("pkey", keys)  # the people's keys: a distributed engine reads their nodes only
        rows = self.dialect.lock_in(
            self.conn, "ledger_accounts", "id, balance", f"id {{IN}} AND {within}", tracked, params, touch="balance"
        )
        return {int(account_id): int(balance) for account_id, balance in rows}

    def _entry_keys(self, entry_ids: Iterable[int]) -> dict[int, int]:
        """The person key of each entry (a reversal lives with its original)."""
        ids = sorted(set(entry_ids))
        return {
            int(i): int(k) for i, k in self.dialect.fetch_in(self.conn, "SELECT id, pkey FROM journal_entries WHERE id {IN}", ids)
        }

    def _lock_chains(self, wanted: Mapping[str, str], now: datetime) -> dict[str, _Head]:
        """The heads of the chains named (chain -> scheme), locked in name order; a chain not there
        yet starts at its genesis."""
        names = sorted(wanted)
        heads = self._read_heads(names)
        missing = [n for n in names if n not in heads]
        if missing:
            self.conn.execute(
                self.dialect.insert_ignore(journal_chains),
                [
                    {
                        "id": n,
                        "pkey": int(n.rsplit("/", 2)[1]),
                        "scheme_id": wanted[n],
                        "seq": 0,
                        "head_hash": GENESIS_HASH,
                        "updated_at": now,
                    }
                    for n in missing
                ],
            )
            heads.update(self._read_heads(missing))
        return heads

    def _read_heads(self, names: Sequence[str]) -> dict[str, _Head]:
        return {
            name: _Head(int(pkey), int(seq), head_hash)
            for name, pkey, seq, head_hash in self.dialect.lock_in(
                self.conn, "journal_chains", "id, pkey, seq, head_hash", "id {IN}", names, touch="seq"
            )
        }

    def _count_flows(
        self,
        new_entries: list[tuple[JournalEntry, list[tuple[int | None, int | None]]]],
        accounts: Mapping[int, LedgerAccount],
        shard: str,
        now: datetime,
    ) -> None:
        """The operator reports' flows through system accounts (points issued, redeemed, ...), per lane."""
        flows: dict[int, list[int]] = {}
        for entry, _after in new_entries:
            for p in entry.postings:
                if not accounts[p.from_account_id].tracked:
                    flows.setdefault(p.from_account_id, [0, 0])[0] += p.amount
                if not accounts[p.to_account_id].tracked:
                    flows.setdefault(p.to_account_id, [0, 0])[1] += p.amount
        if flows:
            ReportRepository(self.conn, self.dialect).add_flows(shard, now, {a: (o, i) for a, (o, i) in flows.items()})

    def _write(
        self,
        new_entries: list[tuple[JournalEntry, list[tuple[int | None, int | None]]]],
        touched: dict[int, int],
        keys: Mapping[int, int],
        heads: Mapping[str, _Head],
        *,
        now: datetime,
    ) -> None:
        """``keys``: each touched ledger account's person key."""
        d = self.dialect
        d.insert_rows(
            self.conn,
            journal_entries,
            ENTRY_COLUMNS,
            [
                (
                    e.id,
                    heads[e.chain_id].pkey,
                    e.scheme_id,
                    e.chain_id,
                    e.seq,
                    e.kind,
                    e.idempotency_key,
                    e.content_hash,
                    canonical_json(e.memo),
                    e.reverses_entry_id,
                    d.bind_time(e.created_at),
                    e.prev_hash,
                    e.entry_hash,
                )
                for e, _after in new_entries
            ],
        )
        d.insert_rows(
            self.conn,
            postings,
            POSTING_COLUMNS,
            [
                (heads[entry.chain_id].pkey, entry.id, p.from_account_id, p.to_account_id, p.amount, source_after, target_after)
                for entry, after in new_entries
                for p, (source_after, target_after) in zip(entry.postings, after, strict=True)
            ],
        )
        # A key is claimed once per scheme (store/distribution.py): a race with another writer is a
        # unique-key violation here, and the caller decides again.
        d.insert_rows(
            self.conn,
            ledger_keys,
            ("idempotency_key", "scheme_id"),
            [(e.idempotency_key, e.scheme_id) for e, _after in new_entries if e.idempotency_key is not None],
        )
        d.update_rows(
            self.conn,
            ledger_accounts,
            ("balance",),
            ("pkey", "id"),
            sorted(((b, keys[a], a) for a, b in touched.items()), key=lambda r: (r[1], r[2])),
        )
        # the heads in one statement (a batch moves ~250 of them), keyed by person key and chain
        stamp = d.bind_time(now)
        d.update_rows(
            self.conn,
            journal_chains,
            ("seq", "head_hash", "updated_at"),
            ("pkey", "id"),
            [(h.seq, h.hash, stamp, h.pkey, name) for name, h in sorted(heads.items()) if h.moved],
        )


@dataclass(slots=True)
class _Head:
    """A chain's head while a call appends to it."""

    pkey: int
    seq: int
    hash: str
    moved: bool = False


def _account_pkey(account: LedgerAccount) -> int:
    """Where a ledger account lives: its owner's key; the scheme's system accounts at the system key."""
    return SYSTEM_PKEY if account.owner_account_id is None else pkey_of(account.owner_account_id)


def _group_pkey(group: TransferGroup, accounts: Mapping[int, LedgerAccount]) -> int:
    """The key of the person whose holdings the group moves first; the system key when it moves
    none (e.g. points from escrow to redeemed)."""
    for p in group.postings:
        for account_id in (p.from_account_id, p.to_account_id):
            account = accounts.get(account_id)
            if account is not None and account.owner_account_id is not None:
                return pkey_of(account.owner_account_id)
    return SYSTEM_PKEY


def _past(after: Mapping[str, int]) -> ColumnElement[bool]:
    """Entries past the given chain positions: later seqs of known chains, and every entry of a new chain."""
    known = list(after)
    return or_(
        journal_entries.c.chain_id.not_in(known),
        *(and_(journal_entries.c.chain_id == chain, journal_entries.c.seq > seq) for chain, seq in after.items()),
    )
