"""Catalog items, coupon code pools, orders (with their status history) and check-ins."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update

from tanhui.domain.market import Item
from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.base import Repository, chunks
from tanhui.store.schema import (
    accounts,
    checkins,
    coupon_codes,
    journal_entries,
    ledger_accounts,
    market_items,
    order_deliveries,
    order_history,
    orders,
    postings,
)


def _item(row: Any) -> Item:
    return Item(
        row.id,
        row.public_id,
        row.scheme_id,
        row.key,
        row.kind,
        row.category,
        row.title_zh,
        row.title_en,
        row.description_zh,
        row.description_en,
        int(row.points_price),
        int(row.stock),
        row.per_person_limit,
        row.sale_starts_at,
        row.sale_ends_at,
        row.merchant,
        row.status,
    )


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: int
    public_id: str
    scheme_id: str
    account_id: int
    item_id: int
    item_public_id: str
    item_title: str
    item_kind: str
    quantity: int
    points: int
    status: str
    idempotency_key: str
    request_hash: str
    hold_entry_id: int
    settle_entry_id: int | None
    coupon_codes: list[str] | None
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "order_id": self.public_id,
            "status": self.status,
            "item_id": self.item_public_id,
            "item_title": self.item_title,
            "kind": self.item_kind,
            "quantity": self.quantity,
            "points": self.points,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
        if self.coupon_codes:
            out["coupon_code"] = self.coupon_codes[0]
            out["coupon_codes"] = list(self.coupon_codes)
        return out


_ORDER_COLUMNS = (
    orders,
    market_items.c.public_id.label("item_public_id"),
    market_items.c.title_zh.label("item_title"),
    market_items.c.kind.label("item_kind"),
)


def _order(row: Any) -> OrderRow:
    return OrderRow(
        row.id,
        row.public_id,
        row.scheme_id,
        row.account_id,
        row.item_id,
        row.item_public_id,
        row.item_title,
        row.item_kind,
        row.quantity,
        int(row.points),
        row.status,
        row.idempotency_key,
        row.request_hash,
        row.hold_entry_id,
        row.settle_entry_id,
        row.coupon_codes,
        row.created_at,
        row.updated_at,
    )


class MarketRepository(Repository):
    # -- items ----------------------------------------------------------------------------
    def add_item(self, values: dict[str, Any]) -> Item:
        item_id = self.conn.execute(insert(market_items).values(**values).returning(market_items.c.id)).scalar_one()
        found = self.item_by_pk(int(item_id))
        assert found is not None
        return found

    def update_item(self, item_pk: int, values: dict[str, Any]) -> None:
        self.conn.execute(update(market_items).where(market_items.c.id == item_pk).values(**values))

    def item_by_pk(self, item_pk: int, lock: bool = False) -> Item | None:
        query = select(market_items).where(market_items.c.id == item_pk)
        row = self.conn.execute(self.dialect.for_update(query) if lock else query).first()
        return None if row is None else _item(row)

    def item(self, public_id: str, lock: bool = False) -> Item | None:
        query = select(market_items).where(market_items.c.public_id == public_id)
        row = self.conn.execute(self.dialect.for_update(query) if lock else query).first()
        return None if row is None else _item(row)

    def item_by_key(self, scheme_id: str, key: str) -> Item | None:
        row = self.conn.execute(
            select(market_items).where(market_items.c.scheme_id == scheme_id, market_items.c.key == key)
        ).first()
        return None if row is None else _item(row)

    def items(self, scheme_id: str, *, only_active: bool = False, category: str | None = None) -> list[Item]:
        query = select(market_items).where(market_items.c.scheme_id == scheme_id)
        if only_active:
            query = query.where(market_items.c.status == "active")
        if category:
            query = query.where(market_items.c.category == category)
        return [
            _item(row)
            for row in self.conn.execute(query.order_by(market_items.c.category, market_items.c.points_price, market_items.c.id))
        ]

    def change_stock(self, item_pk: int, delta: int, now: datetime) -> None:
        self.conn.execute(
            update(market_items).where(market_items.c.id == item_pk).values(stock=market_items.c.stock + delta, updated_at=now)
        )

    # -- coupon codes -----------------------------------------------------------------------
    def import_codes(self, item_pk: int, codes: Sequence[str], now: datetime) -> int:
        """New codes only (a code already in the pool is skipped); returns how many were added."""
        existing: set[str] = set()
        for batch in chunks(list(codes)):
            existing.update(
                self.conn.execute(
                    select(coupon_codes.c.code).where(coupon_codes.c.item_id == item_pk, coupon_codes.c.code.in_(batch))
                ).scalars()
            )
        fresh = sorted(set(codes) - existing)
        if fresh:
            self.conn.execute(insert(coupon_codes), [{"item_id": item_pk, "code": c, "imported_at": now} for c in fresh])
        return len(fresh)

    def take_codes(self, item_pk: int, order_pk: int, count: int) -> list[str]:
        """Assign `count` unused codes to an order (the item row is locked by the caller)."""
        rows = self.conn.execute(
            select(coupon_codes.c.id, coupon_codes.c.code)
            .where(coupon_codes.c.item_id == item_pk, coupon_codes.c.order_id.is_(None))
            .order_by(coupon_codes.c.id)
            .limit(count)
        ).all()
        if len(rows) < count:
            return []
        self.conn.execute(update(coupon_codes).where(coupon_codes.c.id.in_([r.id for r in rows])).values(order_id=order_pk))
        return [r.code for r in rows]

    def unused_codes(self, item_pk: int) -> int:
        return int(
            self.conn.execute(
                select(func.count()).where(coupon_codes.c.item_id == item_pk, coupon_codes.c.order_id.is_(None))
            ).scalar_one()
        )

    def pool_ever_used(self, item_pk: int) -> bool:
        """Whether the item ever had merchant codes imported (used or not)."""
        found = self.conn.execute(select(coupon_codes.c.item_id).where(coupon_codes.c.item_id == item_pk).limit(1)).first()
        return found is not None

    # -- orders -----------------------------------------------------------------------------
    def add_order(self, values: dict[str, Any], by: str) -> int:
        pkey = pkey_of(int(values["account_id"]))
        order_pk = int(self.conn.execute(insert(orders).values(pkey=pkey, **values).returning(orders.c.id)).scalar_one())
        self.conn.execute(
            insert(order_history).values(pkey=pkey, order_id=order_pk, status=values["status"], at=values["created_at"], by=by)
        )
        return order_pk

    def set_order(self, order_pk: int, values: dict[str, Any], by: str) -> None:
        pkey = self.conn.execute(
            update(orders).where(orders.c.id == order_pk).values(**values).returning(orders.c.pkey)
        ).scalar_one()
        if "status" in values:
            self.conn.execute(
                insert(order_history).values(
                    pkey=pkey, order_id=order_pk, status=values["status"], at=values["updated_at"], by=by
                )
            )

    # -- where physical goods go: personal data beside the order, deleted on erasure ---------------

    def add_delivery(self, order_pk: int, account_id: int, delivery: dict[str, str], now: datetime) -> None:
        self.conn.execute(
            insert(order_deliveries).values(pkey=pkey_of(account_id), order_id=order_pk, created_at=now, **delivery)
        )

    def deliveries(self, order_public_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Order public id -> {method, recipient, phone, place} for those orders that have one."""
        found: dict[str, dict[str, str]] = {}
        d = order_deliveries.c
        for part in chunks(list(order_public_ids)):
            rows = self.conn.execute(
                select(orders.c.public_id, d.method, d.recipient, d.phone, d.place)
                .select_from(order_deliveries.join(orders, and_(orders.c.id == d.order_id, orders.c.pkey == d.pkey)))
                .where(orders.c.public_id.in_(part))
            )
            for r in rows:
                found[r.public_id] = {"method": r.method, "recipient": r.recipient, "phone": r.phone, "place": r.place}
        return found

    def erase_deliveries(self, account_id: int) -> int:
        """The person's addresses and phone numbers go with the account; the orders and the ledger stay.
        The freed bytes are overwritten (SQLite's secure_delete, as the rest of the erasure)."""
        self.dialect.overwrite_freed(self.conn, True)
        mine = select(orders.c.id).where(orders.c.pkey == pkey_of(account_id), orders.c.account_id == account_id)
        gone = self.conn.execute(
            delete(order_deliveries).where(order_deliveries.c.pkey == pkey_of(account_id), order_deliveries.c.order_id.in_(mine))
        )
        return int(gone.rowcount or 0)

    def _orders(self) -> Any:
        return select(*_ORDER_COLUMNS).select_from(orders.join(market_items, market_items.c.id == orders.c.item_id))

    @staticmethod
    def new_order_id(account_id: int) -> str:
        """``ord_k`` + the buyer's person key (3 hex digits) + 12 random hex digits: a lookup by id
        reads one node (store/distribution.py). Ids made before person keys have no ``k``."""
        return f"ord_k{pkey_of(account_id):03x}{secrets.token_hex(6)}"

    def _order_pkey(self, public_id: str) -> int | None:
        if len(public_id) == 20 and public_id.startswith("ord_k"):
            try:
                return int(public_id[5:8], 16)
            except ValueError:
                return None
        found = self.conn.execute(select(orders.c.pkey).where(orders.c.public_id == public_id)).first()
        return None if found is None else int(found[0])

    def order(self, public_id: str, lock: bool = False) -> OrderRow | None:
        pkey = self._order_pkey(public_id)
        if pkey is None:
            return None
        query = self._orders().where(orders.c.pkey == pkey, orders.c.public_id == public_id)
        if lock:
            query = self.dialect.for_update(query, of=orders)
        row = self.conn.execute(query).first()
        return None if row is None else _order(row)

    def order_by_key(self, account_id: int, key: str) -> OrderRow | None:
        row = self.conn.execute(
            self._orders().where(
                orders.c.pkey == pkey_of(account_id), orders.c.account_id == account_id, orders.c.idempotency_key == key
            )
        ).first()
        return None if row is None else _order(row)

    def orders_of(self, account_id: int, limit: int = 100) -> list[OrderRow]:
        return [
            _order(r)
            for r in self.conn.execute(
                self._orders()
                .where(orders.c.pkey == pkey_of(account_id), orders.c.account_id == account_id)
                .order_by(orders.c.id.desc())
                .limit(limit)
            )
        ]

    def orders_of_scheme(self, scheme_id: str, status: str | None = None) -> list[OrderRow]:
        query = self._orders().where(orders.c.scheme_id == scheme_id)
        if status:
            query = query.where(orders.c.status == status)
        return [_order(r) for r in self.conn.execute(query.order_by(orders.c.id))]

    def orders_page(self, scheme_id: str, status: str | None, offset: int, limit: int) -> list[OrderRow]:
        """A page of the scheme's orders, newest first."""
        query = self._orders().where(orders.c.scheme_id == scheme_id)
        if status:
            query = query.where(orders.c.status == status)
        return [_order(r) for r in self.conn.execute(query.order_by(orders.c.id.desc()).offset(offset).limit(limit))]

    def order_counts(self, scheme_id: str) -> dict[str, int]:
        """The scheme's orders by status."""
        rows = self.conn.execute(
            select(orders.c.status, func.count()).where(orders.c.scheme_id == scheme_id).group_by(orders.c.status)
        )
        return {status: int(n) for status, n in rows}

    def orders_between(self, scheme_id: str, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
        """Orders placed in [start, end), by their status now: (orders, points)."""
        rows = self.conn.execute(
            select(orders.c.status, func.count(), func.coalesce(func.sum(orders.c.points), 0))
            .where(orders.c.scheme_id == scheme_id, orders.c.created_at >= start, orders.c.created_at < end)
            .group_by(orders.c.status)
        )
        return {status: (int(n), int(points)) for status, n, points in rows}

    def open_orders_by_merchant(self, scheme_id: str, statuses: Sequence[str]) -> list[tuple[str, int, int]]:
        """(merchant, orders, points) of the orders in these statuses, most points first."""
        points = func.coalesce(func.sum(orders.c.points), 0)
        rows = self.conn.execute(
            select(market_items.c.merchant, func.count(), points)
            .select_from(orders.join(market_items, market_items.c.id == orders.c.item_id))
            .where(orders.c.scheme_id == scheme_id, orders.c.status.in_(statuses))
            .group_by(market_items.c.merchant)
            .order_by(points.desc(), market_items.c.merchant)
        )
        return [(merchant or "", int(n), int(p)) for merchant, n, p in rows]

    def quantity_ordered(self, account_id: int, item_pk: int) -> int:
        """What a person already has of an item, counting every order that was not cancelled."""
        return int(
            self.conn.execute(
                select(func.coalesce(func.sum(orders.c.quantity), 0)).where(
                    orders.c.account_id == account_id, orders.c.item_id == item_pk, orders.c.status != "cancelled"
                )
            ).scalar_one()
        )

    # -- check-ins --------------------------------------------------------------------------
    def last_checkin(self, account_id: int) -> tuple[int, int] | None:
        row = self.conn.execute(
            select(checkins.c.local_day, checkins.c.streak)
            .where(checkins.c.account_id == account_id)
            .order_by(checkins.c.local_day.desc())
            .limit(1)
        ).first()
        return None if row is None else (int(row.local_day), int(row.streak))

    def checkin(self, account_id: int, local_day: int) -> Any:
        return self.conn.execute(
            select(checkins).where(checkins.c.account_id == account_id, checkins.c.local_day == local_day)
        ).first()

    def add_checkin(self, values: dict[str, Any]) -> bool:
        """False when this person already checked in that day (the primary key says so)."""
        inserted = self.conn.execute(
            self.dialect.insert_ignore(checkins)  # its key (with the person key on Citus)
            .values(pkey=pkey_of(int(values["account_id"])), **values)
            .returning(checkins.c.local_day)
        ).first()
        return inserted is not None

    def set_checkin_entry(self, account_id: int, local_day: int, entry_id: int) -> None:
        self.conn.execute(
            update(checkins)
            .where(checkins.c.account_id == account_id, checkins.c.local_day == local_day)
            .values(entry_id=entry_id)
        )

    def checkins_between(self, scheme_id: str, day_from: int, day_to: int) -> tuple[int, int]:
        """(check-ins, points with their streak bonuses) of the scheme's people on local days in [from, to]."""
        c = checkins.c
        row = self.conn.execute(
            select(func.count(), func.coalesce(func.sum(c.points + c.bonus), 0))
            # on the person key too: both are kept by person, so on Citus the join stays on each node
            .select_from(checkins.join(accounts, and_(accounts.c.id == c.account_id, accounts.c.pkey == c.pkey)))
            .where(accounts.c.scheme_id == scheme_id, c.local_day >= day_from, c.local_day <= day_to)
        ).one()
        return int(row[0]), int(row[1])

    def best_streak(self, account_id: int) -> int:
        return int(
            self.conn.execute(
                select(func.coalesce(func.max(checkins.c.streak), 0)).where(checkins.c.account_id == account_id)
            ).scalar_one()
        )

    # -- expiry -----------------------------------------------------------------------------
    def points_flows(
        self, scheme_id: str, held_account_id: int, before: datetime, until: datetime
    ) -> dict[int, tuple[int, int, int]]:
        """Per person's points ledger account: (earned before `before`, paid out up to `until`,
        returned from escrow until `until`). Earned = every inflow except escrow returns."""
        holders = select(ledger_accounts.c.id).where(
            ledger_accounts.c.scheme_id == scheme_id,
            ledger_accounts.c.asset == "POINTS",
            ledger_accounts.c.owner_account_id.is_not(None),
        )
        joined = postings.join(
            journal_entries, and_(journal_entries.c.pkey == postings.c.pkey, journal_entries.c.id == postings.c.entry_id)
        )
        flows: dict[int, list[int]] = {}
        earned = self.conn.execute(
            select(postings.c.to_account_id, func.sum(postings.c.amount))
            .select_from(joined)
            .where(
                postings.c.to_account_id.in_(holders),
                postings.c.from_account_id != held_account_id,
                journal_entries.c.created_at < before,
            )
            .group_by(postings.c.to_account_id)
        )
        for account_id, amount in earned:
            flows.setdefault(account_id, [0, 0, 0])[0] = int(amount)
        paid = self.conn.execute(
            select(postings.c.from_account_id, func.sum(postings.c.amount))
            .select_from(joined)
            .where(postings.c.from_account_id.in_(holders), journal_entries.c.created_at <= until)
            .group_by(postings.c.from_account_id)
        )
        for account_id, amount in paid:
            flows.setdefault(account_id, [0, 0, 0])[1] = int(amount)
        returned = self.conn.execute(
            select(postings.c.to_account_id, func.sum(postings.c.amount))
            .select_from(joined)
            .where(
                postings.c.to_account_id.in_(holders),
                postings.c.from_account_id == held_account_id,
                journal_entries.c.created_at <= until,
            )
            .group_by(postings.c.to_account_id)
        )
        for account_id, amount in returned:
            flows.setdefault(account_id, [0, 0, 0])[2] = int(amount)
        return {k: (v[0], v[1], v[2]) for k, v in flows.items()}


__all__ = ["MarketRepository", "OrderRow"]
