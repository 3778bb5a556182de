"""The credit registry's tables: heads, movements, batches (with their events), blocks, retirements.

Every writer locks the scheme's head row first (``lock_head``), so serial allocation, the movement
log's hash chain and the choice of blocks to spend see one consistent state; the primary keys of
``credit_batch_events`` (an event in one batch only) and ``credit_block_spends`` (a block spent
once) hold even if that discipline were broken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, insert, select, update

from tanhui.domain.registry.log import GENESIS_HASH
from tanhui.domain.registry.records import (
    BatchEvent,
    BatchRow,
    BlockRow,
    EligibleEvent,
    Head,
    MovementRow,
    RetirementRow,
    Reversal,
    TransferRow,
)
from tanhui.domain.registry.serials import SerialRange
from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.base import Repository, chunks
from tanhui.store.schema import (
    accounts,
    credit_batch_events,
    credit_batches,
    credit_block_spends,
    credit_blocks,
    credit_movements,
    credit_registry_heads,
    credit_retirements,
    credit_transfer_outcomes,
    credit_transfers,
    events,
    journal_entries,
    ledger_accounts,
    partners,
    postings,
)


def _batch(r: Any) -> BatchRow:
    return BatchRow(
        int(r.id),
        r.public_id,
        r.scheme_id,
        int(r.vintage),
        r.methodology,
        SerialRange(int(r.serial_first), int(r.serial_last)),
        int(r.quantity),
        int(r.event_count),
        int(r.consumed_g),
        int(r.carried_in_g),
        int(r.carried_out_g),
        None if r.previous_batch_id is None else int(r.previous_batch_id),
        r.merkle_root,
        int(r.as_of_day),
        int(r.movement_id),
        r.issued_at,
    )


def _block(r: Any) -> BlockRow:
    return BlockRow(
        int(r.id),
        int(r.batch_id),
        SerialRange(int(r.serial_first), int(r.serial_last)),
        None if r.holder_org_id is None else int(r.holder_org_id),
        r.status,
        int(r.movement_id),
        None if r.spent_by is None else int(r.spent_by),
    )


def _movement(r: Any) -> MovementRow:
    return MovementRow(
        int(r.id),
        r.scheme_id,
        int(r.seq),
        r.kind,
        r.idempotency_key,
        r.request_hash,
        None if r.from_org_id is None else int(r.from_org_id),
        None if r.to_org_id is None else int(r.to_org_id),
        int(r.quantity),
        dict(r.memo),
        r.created_at,
        r.prev_hash,
        r.row_hash,
    )


def _retirement(r: Any) -> RetirementRow:
    return RetirementRow(
        int(r.id),
        r.public_id,
        r.scheme_id,
        int(r.movement_id),
        None if r.holder_org_id is None else int(r.holder_org_id),
        int(r.quantity),
        r.beneficiary,
        r.purpose,
        dict(r.details),
        r.created_at,
    )


def _transfer(r: Any) -> TransferRow:
    ended = r.state is not None
    return TransferRow(
        int(r.id),
        r.transfer_id,
        r.direction,
        r.origin_platform,
        r.peer_platform,
        r.scheme_id,
        None if r.org_id is None else int(r.org_id),
        int(r.quantity),
        r.idempotency_key,
        r.request_hash,
        dict(r.offer),
        r.offer_signature,
        None if r.movement_id is None else int(r.movement_id),
        r.created_at,
        r.state if ended else "pending",
        dict(r.receipt) if ended else None,
        r.receipt_signature,
        None if r.end_movement_id is None else int(r.end_movement_id),
        r.ended_at,
    )


_TRANSFER_COLUMNS = (
    *credit_transfers.c,
    credit_transfer_outcomes.c.state,
    credit_transfer_outcomes.c.receipt,
    credit_transfer_outcomes.c.receipt_signature,
    credit_transfer_outcomes.c.movement_id.label("end_movement_id"),
    credit_transfer_outcomes.c.created_at.label("ended_at"),
)
_TRANSFERS = credit_transfers.outerjoin(credit_transfer_outcomes, credit_transfer_outcomes.c.transfer_pk == credit_transfers.c.id)

_BLOCK_COLUMNS = (*credit_blocks.c, credit_block_spends.c.movement_id.label("spent_by"))


class RegistryRepository(Repository):
    # -- the head: the one row a registry writer locks -------------------------------------
    def lock_head(self, scheme_id: str, now: datetime) -> Head:
        self.conn.execute(
            self.dialect.insert_ignore(credit_registry_heads, ["scheme_id"]).values(
                scheme_id=scheme_id, next_serial=1, seq=0, head_hash=GENESIS_HASH, updated_at=now
            )
        )
        r = self.conn.execute(
            self.dialect.for_update(select(credit_registry_heads).where(credit_registry_heads.c.scheme_id == scheme_id))
        ).one()
        return Head(r.scheme_id, int(r.next_serial), int(r.seq), r.head_hash)

    def head(self, scheme_id: str) -> Head | None:
        r = self.conn.execute(select(credit_registry_heads).where(credit_registry_heads.c.scheme_id == scheme_id)).first()
        return None if r is None else Head(r.scheme_id, int(r.next_serial), int(r.seq), r.head_hash)

    def move_head(self, head: Head, now: datetime) -> None:
        self.conn.execute(
            update(credit_registry_heads)
            .where(credit_registry_heads.c.scheme_id == head.scheme_id)
            .values(next_serial=head.next_serial, seq=head.seq, head_hash=head.head_hash, updated_at=now)
        )

    # -- movements -------------------------------------------------------------------------
    def add_movement(self, **values: Any) -> int:
        return int(self.conn.execute(insert(credit_movements).values(**values).returning(credit_movements.c.id)).scalar_one())

    def movement_by_key(self, scheme_id: str, key: str) -> MovementRow | None:
        r = self.conn.execute(
            select(credit_movements).where(credit_movements.c.scheme_id == scheme_id, credit_movements.c.idempotency_key == key)
        ).first()
        return None if r is None else _movement(r)

    def movement(self, movement_id: int) -> MovementRow | None:
        r = self.conn.execute(select(credit_movements).where(credit_movements.c.id == movement_id)).first()
        return None if r is None else _movement(r)

    def movements(self, scheme_id: str) -> list[MovementRow]:
        rows = self.conn.execute(
            select(credit_movements).where(credit_movements.c.scheme_id == scheme_id).order_by(credit_movements.c.seq)
        )
        return [_movement(r) for r in rows]

    # -- issuance --------------------------------------------------------------------------
    def eligible_events(
        self, scheme_id: str, day_first: int, day_last: int, received_before: datetime, methodology: str | None = None
    ) -> list[EligibleEvent]:
        """Credited, unreversed, unbatched events of the scheme behaved on those days, in id order."""
        reversal = journal_entries.alias("reversal")
        query = (
            select(
                events.c.id,
                events.c.scenario,
                events.c.methodology,
                events.c.carbon_g,
                events.c.local_day,
                events.c.fingerprint,
                events.c.event_id,
                partners.c.id.label("partner_id"),
            )
            .join(partners, partners.c.pk == events.c.partner_pk)
            .where(
                events.c.scheme_id == scheme_id,
                events.c.status == "credited",
                events.c.carbon_g > 0,
                events.c.methodology.is_not(None),
                events.c.local_day >= day_first,
                events.c.local_day <= day_last,
                events.c.received_at < received_before,
                ~exists().where(credit_batch_events.c.pkey == events.c.pkey, credit_batch_events.c.event_id == events.c.id),
                ~exists().where(reversal.c.pkey == events.c.pkey, reversal.c.reverses_entry_id == events.c.entry_id),
            )
            .order_by(events.c.id)
        )
        if methodology is not None:
            query = query.where(events.c.methodology == methodology)
        return [
            EligibleEvent(
                int(r.id), r.scenario, r.methodology, int(r.carbon_g), int(r.local_day), r.fingerprint, r.event_id, r.partner_id
            )
            for r in self.conn.execute(query)
        ]

    def last_batch_in_pool(self, scheme_id: str, vintage: int, methodology: str) -> BatchRow | None:
        """The pool's last batch issued here (a batch minted from another registry is in no pool)."""
        r = self.conn.execute(
            select(credit_batches)
            .join(credit_movements, credit_movements.c.id == credit_batches.c.movement_id)
            .where(
                credit_batches.c.scheme_id == scheme_id,
                credit_batches.c.vintage == vintage,
                credit_batches.c.methodology == methodology,
                credit_movements.c.kind == "issue",
            )
            .order_by(credit_batches.c.id.desc())
            .limit(1)
        ).first()
        return None if r is None else _batch(r)

    def add_batch(self, **values: Any) -> int:
        return int(self.conn.execute(insert(credit_batches).values(**values).returning(credit_batches.c.id)).scalar_one())

    def add_batch_events(self, rows: Sequence[tuple[int, int, int, str]]) -> None:
        """(event pk, batch id, position, leaf hash) rows, through the driver's executemany."""
        for batch in chunks(rows, 5000):
            keys = dict(
                self.dialect.fetch_in(self.conn, "SELECT id, pkey FROM events WHERE id {IN}", sorted({r[0] for r in batch}))
            )  # each row lives with its event (store/distribution.py)
            self.dialect.insert_rows(
                self.conn,
                credit_batch_events,
                ("pkey", "event_id", "batch_id", "position", "leaf_hash"),
                [(keys[r[0]], *r) for r in batch],
            )

    def batches(self, scheme_id: str | None = None, vintage: int | None = None) -> list[BatchRow]:
        query = select(credit_batches).order_by(credit_batches.c.id)
        if scheme_id is not None:
            query = query.where(credit_batches.c.scheme_id == scheme_id)
        if vintage is not None:
            query = query.where(credit_batches.c.vintage == vintage)
        return [_batch(r) for r in self.conn.execute(query)]

    def batch(self, public_id: str) -> BatchRow | None:
        r = self.conn.execute(select(credit_batches).where(credit_batches.c.public_id == public_id)).first()
        return None if r is None else _batch(r)

    def minted_origins(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        """batch id -> the memo of the movement that minted it from another registry (others absent)."""
        found: dict[int, dict[str, Any]] = {}
        for batch in chunks(sorted(ids)):
            rows = self.conn.execute(
                select(credit_batches.c.id, credit_movements.c.memo)
                .join(credit_movements, credit_movements.c.id == credit_batches.c.movement_id)
                .where(credit_batches.c.id.in_(batch), credit_movements.c.kind == "transfer_in")
            )
            found.update((int(i), dict(memo)) for i, memo in rows)
        return found

    def batches_by_id(self, ids: set[int]) -> dict[int, BatchRow]:
        found: dict[int, BatchRow] = {}
        for batch in chunks(sorted(ids)):
            found.update(
                (int(r.id), _batch(r)) for r in self.conn.execute(select(credit_batches).where(credit_batches.c.id.in_(batch)))
            )
        return found

    def leaves(self, batch_id: int) -> list[str]:
        rows = self.conn.execute(
            select(credit_batch_events.c.leaf_hash)
            .where(credit_batch_events.c.batch_id == batch_id)
            .order_by(credit_batch_events.c.position)
        )
        return list(rows.scalars())

    def batch_event_records(self, batch_id: int) -> list[BatchEvent]:
        """Each consumed event as stored now, in leaf order (for verification)."""
        rows = self.conn.execute(
            select(
                credit_batch_events.c.position,
                credit_batch_events.c.leaf_hash,
                events.c.id,
                events.c.scheme_id,
                events.c.status,
                events.c.carbon_g,
                events.c.methodology,
                events.c.local_day,
                events.c.fingerprint,
                events.c.event_id,
                partners.c.id.label("partner_id"),
                accounts.c.erased_at,
            )
            .join(events, and_(events.c.pkey == credit_batch_events.c.pkey, events.c.id == credit_batch_events.c.event_id))
            .join(partners, partners.c.pk == events.c.partner_pk)
            .outerjoin(accounts, and_(accounts.c.pkey == events.c.pkey, accounts.c.id == events.c.account_id))
            .where(credit_batch_events.c.batch_id == batch_id)
            .order_by(credit_batch_events.c.position)
        )
        return [
            BatchEvent(
                int(r.position),
                r.leaf_hash,
                int(r.id),
                r.scheme_id,
                r.status,
                int(r.carbon_g),
                r.methodology,
                None if r.local_day is None else int(r.local_day),
                r.fingerprint,
                r.event_id,
                r.partner_id,
                r.erased_at is not None,
            )
            for r in rows
        ]

    def ledger_co2e_of_batch(self, batch_id: int) -> int:
        """Grams the ledger credited (CO2E postings) through the entries of the batch's events."""
        total = self.conn.execute(
            select(func.coalesce(func.sum(postings.c.amount), 0))
            .select_from(credit_batch_events)
            .join(events, and_(events.c.pkey == credit_batch_events.c.pkey, events.c.id == credit_batch_events.c.event_id))
            .join(postings, and_(postings.c.pkey == events.c.pkey, postings.c.entry_id == events.c.entry_id))
            .join(
                ledger_accounts, and_(ledger_accounts.c.pkey == postings.c.pkey, ledger_accounts.c.id == postings.c.to_account_id)
            )
            .where(credit_batch_events.c.batch_id == batch_id, ledger_accounts.c.asset == "CO2E")
        ).scalar_one()
        return int(total)

    def find_event(self, partner_id: str, event_id: str) -> tuple[int, int | None] | None:
        """(events.id, batch id or None) of a partner's event."""
        r = self.conn.execute(
            select(events.c.id, credit_batch_events.c.batch_id)
            .join(partners, partners.c.pk == events.c.partner_pk)
            .outerjoin(
                credit_batch_events,
                and_(credit_batch_events.c.pkey == events.c.pkey, credit_batch_events.c.event_id == events.c.id),
            )
            .where(partners.c.id == partner_id, events.c.event_id == event_id)
        ).first()
        return None if r is None else (int(r.id), None if r.batch_id is None else int(r.batch_id))

    def position_of(self, batch_id: int, event_pk: int) -> tuple[int, str] | None:
        r = self.conn.execute(
            select(credit_batch_events.c.position, credit_batch_events.c.leaf_hash).where(
                credit_batch_events.c.batch_id == batch_id, credit_batch_events.c.event_id == event_pk
            )
        ).first()
        return None if r is None else (int(r.position), r.leaf_hash)

    def event_record(self, event_pk: int) -> EligibleEvent | None:
        r = self.conn.execute(
            select(
                events.c.id,
                events.c.scenario,
                events.c.methodology,
                events.c.carbon_g,
                events.c.local_day,
                events.c.fingerprint,
                events.c.event_id,
                partners.c.id.label("partner_id"),
            )
            .join(partners, partners.c.pk == events.c.partner_pk)
            .where(events.c.id == event_pk)
        ).first()
        if r is None:
            return None
        return EligibleEvent(
            int(r.id),
            r.scenario,
            r.methodology or "",
            int(r.carbon_g),
            int(r.local_day or 0),
            r.fingerprint,
            r.event_id,
            r.partner_id,
        )

    def reversed_in_batches(self, scheme_id: str) -> list[Reversal]:
        """(batch id, events, grams) of consumed events whose ledger entry was reversed since."""
        reversal = journal_entries.alias("reversal")
        rows = self.conn.execute(
            select(credit_batch_events.c.batch_id, func.count(), func.sum(events.c.carbon_g))
            .join(events, and_(events.c.pkey == credit_batch_events.c.pkey, events.c.id == credit_batch_events.c.event_id))
            .join(credit_batches, credit_batches.c.id == credit_batch_events.c.batch_id)
            .where(
                credit_batches.c.scheme_id == scheme_id,
                exists().where(reversal.c.pkey == events.c.pkey, reversal.c.reverses_entry_id == events.c.entry_id),
            )
            .group_by(credit_batch_events.c.batch_id)
            .order_by(credit_batch_events.c.batch_id)
        )
        return [Reversal(int(b), int(n), int(g or 0)) for b, n, g in rows]

    def contributions(self, account_id: int) -> list[tuple[int, int, int]]:
        """(batch id, events, grams) of one person's events pooled into batches."""
        rows = self.conn.execute(
            select(credit_batch_events.c.batch_id, func.count(), func.sum(events.c.carbon_g))
            .join(events, and_(events.c.pkey == credit_batch_events.c.pkey, events.c.id == credit_batch_events.c.event_id))
            .where(events.c.pkey == pkey_of(account_id), events.c.account_id == account_id)
            .group_by(credit_batch_events.c.batch_id)
            .order_by(credit_batch_events.c.batch_id)
        )
        return [(int(b), int(n), int(g or 0)) for b, n, g in rows]

    def credited_grams_by_vintage(self, scheme_id: str) -> dict[int, tuple[int, int]]:
        """Per vintage year: (credited grams, of which reversed since) from the events table."""
        reversal = journal_entries.alias("reversal")
        is_reversed = exists().where(reversal.c.pkey == events.c.pkey, reversal.c.reverses_entry_id == events.c.entry_id)
        rows = self.conn.execute(
            select(events.c.local_day, events.c.carbon_g, is_reversed.label("reversed")).where(
                events.c.scheme_id == scheme_id, events.c.status == "credited", events.c.carbon_g > 0
            )
        )
        from datetime import date

        totals: dict[int, list[int]] = {}
        for day, grams, was_reversed in rows:
            year = date.fromordinal(int(day)).year
            entry = totals.setdefault(year, [0, 0])
            entry[0] += int(grams)
            if was_reversed:
                entry[1] += int(grams)
        return {y: (t[0], t[1]) for y, t in totals.items()}

    # -- blocks ----------------------------------------------------------------------------
    def add_block(self, **values: Any) -> int:
        return int(self.conn.execute(insert(credit_blocks).values(**values).returning(credit_blocks.c.id)).scalar_one())

    def spend(self, block_ids: Sequence[int], movement_id: int) -> None:
        if block_ids:
            self.conn.execute(insert(credit_block_spends), [{"block_id": b, "movement_id": movement_id} for b in block_ids])

    def blocks(
        self,
        scheme_id: str,
        *,
        live_only: bool = True,
        holder: int | None | str = "any",
        batch_id: int | None = None,
        status: str | None = None,
    ) -> list[BlockRow]:
        """Blocks in (batch, serial) order; ``holder`` an organisation id, None for the scheme, "any"."""
        query = (
            select(*_BLOCK_COLUMNS)
            .select_from(credit_blocks.outerjoin(credit_block_spends, credit_block_spends.c.block_id == credit_blocks.c.id))
            .where(credit_blocks.c.scheme_id == scheme_id)
            .order_by(credit_blocks.c.batch_id, credit_blocks.c.serial_first, credit_blocks.c.id)
        )
        if live_only:
            query = query.where(credit_block_spends.c.block_id.is_(None))
        if holder is None:
            query = query.where(credit_blocks.c.holder_org_id.is_(None))
        elif holder != "any":
            query = query.where(credit_blocks.c.holder_org_id == holder)
        if batch_id is not None:
            query = query.where(credit_blocks.c.batch_id == batch_id)
        if status is not None:
            query = query.where(credit_blocks.c.status == status)
        return [_block(r) for r in self.conn.execute(query)]

    def blocks_of_movement(self, movement_id: int) -> list[BlockRow]:
        query = (
            select(*_BLOCK_COLUMNS)
            .select_from(credit_blocks.outerjoin(credit_block_spends, credit_block_spends.c.block_id == credit_blocks.c.id))
            .where(credit_blocks.c.movement_id == movement_id)
            .order_by(credit_blocks.c.batch_id, credit_blocks.c.serial_first)
        )
        return [_block(r) for r in self.conn.execute(query)]

    def spends(self, scheme_id: str) -> list[tuple[int, int]]:
        """(block id, movement id) of every spend in the scheme."""
        rows = self.conn.execute(
            select(credit_block_spends.c.block_id, credit_block_spends.c.movement_id)
            .join(credit_blocks, credit_blocks.c.id == credit_block_spends.c.block_id)
            .where(credit_blocks.c.scheme_id == scheme_id)
        )
        return [(int(b), int(m)) for b, m in rows]

    # -- retirements -----------------------------------------------------------------------
    def count_retirements(self, scheme_id: str) -> int:
        return int(self.conn.execute(select(func.count()).where(credit_retirements.c.scheme_id == scheme_id)).scalar_one())

    def add_retirement(self, **values: Any) -> int:
        return int(self.conn.execute(insert(credit_retirements).values(**values).returning(credit_retirements.c.id)).scalar_one())

    def retirement(self, public_id: str) -> RetirementRow | None:
        r = self.conn.execute(select(credit_retirements).where(credit_retirements.c.public_id == public_id)).first()
        return None if r is None else _retirement(r)

    def retirement_of_movement(self, movement_id: int) -> RetirementRow | None:
        r = self.conn.execute(select(credit_retirements).where(credit_retirements.c.movement_id == movement_id)).first()
        return None if r is None else _retirement(r)

    def retirements(self, scheme_id: str | None = None) -> list[RetirementRow]:
        query = select(credit_retirements).order_by(credit_retirements.c.id)
        if scheme_id is not None:
            query = query.where(credit_retirements.c.scheme_id == scheme_id)
        return [_retirement(r) for r in self.conn.execute(query)]

    # -- transfers between registries ------------------------------------------------------
    def add_transfer(self, **values: Any) -> int:
        return int(self.conn.execute(insert(credit_transfers).values(**values).returning(credit_transfers.c.id)).scalar_one())

    def add_transfer_outcome(self, **values: Any) -> None:
        self.conn.execute(insert(credit_transfer_outcomes).values(**values))

    def count_transfers(self, direction: str) -> int:
        return int(self.conn.execute(select(func.count()).where(credit_transfers.c.direction == direction)).scalar_one())

    def transfer(self, origin_platform: str, transfer_id: str) -> TransferRow | None:
        r = self.conn.execute(
            select(*_TRANSFER_COLUMNS)
            .select_from(_TRANSFERS)
            .where(credit_transfers.c.origin_platform == origin_platform, credit_transfers.c.transfer_id == transfer_id)
        ).first()
        return None if r is None else _transfer(r)

    def transfer_by_key(self, scheme_id: str, key: str) -> TransferRow | None:
        r = self.conn.execute(
            select(*_TRANSFER_COLUMNS)
            .select_from(_TRANSFERS)
            .where(credit_transfers.c.scheme_id == scheme_id, credit_transfers.c.idempotency_key == key)
        ).first()
        return None if r is None else _transfer(r)

    def transfers(
        self, *, scheme_id: str | None = None, direction: str | None = None, pending_only: bool = False
    ) -> list[TransferRow]:
        query = select(*_TRANSFER_COLUMNS).select_from(_TRANSFERS).order_by(credit_transfers.c.id)
        if scheme_id is not None:
            query = query.where(credit_transfers.c.scheme_id == scheme_id)
        if direction is not None:
            query = query.where(credit_transfers.c.direction == direction)
        if pending_only:
            query = query.where(credit_transfer_outcomes.c.transfer_pk.is_(None))
        return [_transfer(r) for r in self.conn.execute(query)]

    def scheme_ids(self) -> list[str]:
        return list(
            self.conn.execute(select(credit_registry_heads.c.scheme_id).order_by(credit_registry_heads.c.scheme_id)).scalars()
        )


__all__ = [
    "BatchEvent",
    "BatchRow",
    "BlockRow",
    "EligibleEvent",
    "Head",
    "MovementRow",
    "RegistryRepository",
    "RetirementRow",
    "Reversal",
    "TransferRow",
]
