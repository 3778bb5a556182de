"""The marketplace use cases: catalog, orders (hold -> post | void), coupon pools, exports."""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tanhui.domain import market as rules
from tanhui.domain.canonical import canonical_json, sha256_hex
from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_HELD, SYSTEM_REDEEMED, Posting, TransferGroup
from tanhui.domain.market import Item
from tanhui.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.services.ledger import post_in
from tanhui.store import Store
from tanhui.store.errors import UniqueViolation
from tanhui.store.rows import OrderRow
from tanhui.store.uow import UnitOfWork

ATTEMPTS_MAX = 3
IDEMPOTENCY_KEY_LEN_MAX = 128


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{random_secrets.token_hex(8)}"


# -- catalog ---------------------------------------------------------------------------------

ITEM_FIELDS = (
    "key",
    "kind",
    "category",
    "title_zh",
    "title_en",
    "description_zh",
    "description_en",
    "points_price",
    "stock",
    "per_person_limit",
    "sale_starts_at",
    "sale_ends_at",
    "merchant",
    "status",
)


def add_item(store: Store, scheme_id: str, fields: dict[str, Any], now: datetime | None = None, *, actor: str = "system") -> Item:
    now = now or utcnow()
    checked = rules.validate_item_fields(fields)
    with store.unit_of_work() as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        item = _add_item_in(uow, scheme_id, checked, now)
        audit.record(
            uow,
            actor,
            "market.item_add",
            item.public_id,
            {"key": item.key, "kind": item.kind, "points_price": item.points_price, "stock": item.stock},
            scheme_id,
            now=now,
        )
        return item


def _add_item_in(uow: UnitOfWork, scheme_id: str, checked: dict[str, Any], now: datetime) -> Item:
    public_id = new_public_id("itm")
    key = checked.get("key") or public_id
    if uow.market.item_by_key(scheme_id, key) is not None:
        raise Conflict("item_exists", key=key)
    values = {
        "public_id": public_id,
        "scheme_id": scheme_id,
        "key": key,
        "kind": checked["kind"],
        "category": checked.get("category") or "other",
        "title_zh": checked["title_zh"],
        "title_en": checked.get("title_en") or "",
        "description_zh": checked.get("description_zh") or "",
        "description_en": checked.get("description_en") or "",
        "points_price": checked["points_price"],
        "stock": checked.get("stock", 0),
        "per_person_limit": checked.get("per_person_limit"),
        "sale_starts_at": checked.get("sale_starts_at"),
        "sale_ends_at": checked.get("sale_ends_at"),
        "merchant": checked.get("merchant") or "",
        "status": checked.get("status") or "active",
        "created_at": now,
        "updated_at": now,
    }
    return uow.market.add_item(values)


def update_item(
    store: Store, item_public_id: str, changes: dict[str, Any], now: datetime | None = None, *, actor: str = "system"
) -> Item:
    now = now or utcnow()
    with store.unit_of_work() as uow:
        item = uow.market.item(item_public_id, lock=True)
        if item is None:
            raise NotFound("item_not_found", item_id=item_public_id)
        updated = _update_item_in(uow, item, changes, now)
        audit.record(
            uow, actor, "market.item_update", item.public_id, _item_changes(item, updated, changes), item.scheme_id, now=now
        )
        return updated


AUDITED_VALUES = ("points_price", "stock", "status", "per_person_limit")  # texts are named, not copied


def _item_changes(before: Item, after: Item, changes: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {"fields": sorted(changes)}
    shown.update({f: [getattr(before, f), getattr(after, f)] for f in AUDITED_VALUES if f in changes})
    return shown


def _update_item_in(uow: UnitOfWork, item: Item, changes: dict[str, Any], now: datetime) -> Item:
    unknown = set(changes) - set(ITEM_FIELDS)
    if unknown:
        raise InvalidInput("invalid_item", details={f: "unknown field" for f in unknown}, fields=", ".join(sorted(unknown)))
    merged = {**{f: getattr(item, f) for f in ITEM_FIELDS}, **changes}
    if merged.get("status") not in ("active", "hidden"):
        raise InvalidInput("invalid_item", details={"status": "active or hidden"}, fields="status")
    rules.validate_item_fields(merged)
    uow.market.update_item(item.id, {**{k: v for k, v in changes.items()}, "updated_at": now})
    found = uow.market.item_by_pk(item.id)
    assert found is not None
    return found


def list_items(store: Store, scheme_id: str, *, only_active: bool = False, category: str | None = None) -> list[Item]:
    with store.unit_of_work(write=False) as uow:
        return uow.market.items(scheme_id, only_active=only_active, category=category)


def redeemability(store: Store, account_id: int, item: Item, quantity: int = 1, now: datetime | None = None) -> dict[str, Any]:
    """What the person could order of an item now: their balance, the first reason an order of
    `quantity` would be refused (None when it would go through) and the largest quantity allowed."""
    now = now or utcnow()
    with store.unit_of_work(write=False) as uow:
        balance = uow.ledger.balance(_points_account(uow, account_id))
        already = uow.market.quantity_ordered(account_id, item.id)
    return {
        "balance": balance,
        "obstacle": rules.obstacle(item, quantity, now, already, balance),
        "most": rules.most_affordable(item, already, balance),
        "short": max(0, item.points_price * quantity - balance),
    }


def get_item(store: Store, item_public_id: str) -> Item:
    with store.unit_of_work(write=False) as uow:
        item = uow.market.item(item_public_id)
    if item is None:
        raise NotFound("item_not_found", item_id=item_public_id)
    return item


def import_codes(
    store: Store, item_public_id: str, codes: list[str], now: datetime | None = None, *, actor: str = "system"
) -> dict[str, int]:
    """Add a merchant's coupon codes to an item's pool; the item's stock grows by the new codes."""
    now = now or utcnow()
    cleaned = [c.strip() for c in codes if c.strip()]
    bad = [c for c in cleaned if len(c) > 128]
    if bad:
        raise InvalidInput("invalid_codes", details={"codes": "at most 128 characters each"}, count=len(bad))
    with store.unit_of_work() as uow:
        item = uow.market.item(item_public_id, lock=True)
        if item is None:
            raise NotFound("item_not_found", item_id=item_public_id)
        if item.kind != "coupon":
            raise InvalidInput("invalid_codes", details={"item": "not a coupon"}, count=len(cleaned))
        added = uow.market.import_codes(item.id, cleaned, now)
        uow.market.change_stock(item.id, added, now)
        # counts only: the codes are the coupons' value
        audit.record(
            uow,
            actor,
            "market.import_codes",
            item.public_id,
            {"added": added, "skipped": len(cleaned) - added},
            item.scheme_id,
            now=now,
        )
        return {"added": added, "skipped": len(cleaned) - added, "unused": uow.market.unused_codes(item.id)}


# -- orders ----------------------------------------------------------------------------------


def _request_hash(item_public_id: str, quantity: Any) -> str:
    return sha256_hex(canonical_json({"item_id": item_public_id, "quantity": quantity}))


def _held(uow: UnitOfWork, scheme_id: str) -> int:
    return uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_HELD).id


def _points_account(uow: UnitOfWork, account_id: int) -> int:
    holdings = uow.ledger.holdings(account_id)
    if not holdings:
        raise NotFound("account_not_found", account_id=account_id)
    return holdings[ASSET_POINTS].id


def _move(
    uow: UnitOfWork,
    scheme_id: str,
    kind: str,
    source: int,
    target: int,
    amount: int,
    key: str,
    memo: dict[str, Any],
    now: datetime,
) -> int:
    outcome = post_in(uow, TransferGroup(scheme_id, kind, (Posting(source, target, amount),), key, memo), now)
    assert outcome.entry is not None and outcome.entry.id is not None
    return outcome.entry.id


def place_order(
    store: Store,
    account_id: int,
    item_public_id: Any,
    quantity: Any,
    idempotency_key: str | None,
    now: datetime | None = None,
    *,
    delivery: Mapping[str, Any] | None = None,
) -> tuple[bool, dict[str, Any]]:
    """(created, order). Holds the points and takes stock in one transaction; coupons, services and
    donations are fulfilled at once. A retry with the same Idempotency-Key returns the same order.
    `delivery` (a physical good: method, recipient, phone, place) is checked before anything moves and
    kept beside the order (order_deliveries), apart from the ledger, so erasure can delete it."""
    now = now or utcnow()
    if not idempotency_key or len(idempotency_key) > IDEMPOTENCY_KEY_LEN_MAX:
        raise InvalidInput("invalid_request", details={"Idempotency-Key": f"required, 1..{IDEMPOTENCY_KEY_LEN_MAX} characters"})
    if not isinstance(item_public_id, str) or not item_public_id:
        raise InvalidInput("invalid_request", details={"item_id": "required"})
    request_hash = _request_hash(item_public_id, quantity)
    for attempt in range(ATTEMPTS_MAX):
        try:
            with store.unit_of_work() as uow:
                return _place_in(uow, account_id, item_public_id, quantity, idempotency_key, request_hash, now, delivery)
        except UniqueViolation:
            if attempt == ATTEMPTS_MAX - 1:  # a concurrent retry with the same key won: answer with it
                raise
    raise AssertionError("unreachable")


def _place_in(
    uow: UnitOfWork,
    account_id: int,
    item_public_id: str,
    quantity: Any,
    key: str,
    request_hash: str,
    now: datetime,
    delivery: Mapping[str, Any] | None = None,
) -> tuple[bool, dict[str, Any]]:
    existing = uow.market.order_by_key(account_id, key)
    if existing is not None:
        if existing.request_hash != request_hash:
            raise Conflict("idempotency_conflict", key=key)
        return False, existing.to_dict()
    account = uow.accounts.get(account_id)
    item = uow.market.item(item_public_id, lock=True)  # the item's row lock queues concurrent buyers
    if account is None or item is None or item.scheme_id != account.scheme_id:
        raise NotFound("item_not_found", item_id=item_public_id)
    points = rules.check_order(item, quantity, now, uow.market.quantity_ordered(account_id, item.id))
    send_to = None
    if delivery is not None and item.kind == "physical":
        scheme = uow.schemes.get(item.scheme_id)
        send_to = rules.check_delivery(delivery, rules.pickup_points(scheme.settings if scheme else {}, item.merchant))
    public_id = uow.market.new_order_id(account_id)
    mine, held = _points_account(uow, account_id), _held(uow, item.scheme_id)
    memo = {"order": public_id, "item": item.public_id, "quantity": quantity}
    try:
        hold_id = _move(uow, item.scheme_id, "order_hold", mine, held, points, f"order:{public_id}:hold", memo, now)
    except BusinessRuleViolation as error:
        if error.code == "insufficient_balance":
            raise BusinessRuleViolation("insufficient_points", points=points, balance=error.params.get("balance")) from None
        raise
    uow.market.change_stock(item.id, -quantity, now)
    order_pk = uow.market.add_order(
        {
            "public_id": public_id,
            "scheme_id": item.scheme_id,
            "account_id": account_id,
            "item_id": item.id,
            "quantity": quantity,
            "points": points,
            "status": rules.PENDING,
            "idempotency_key": key,
            "request_hash": request_hash,
            "hold_entry_id": hold_id,
            "created_at": now,
            "updated_at": now,
        },
        by="person",
    )
    if send_to is not None:
        uow.market.add_delivery(order_pk, account_id, send_to.to_dict(), now)
    if rules.settles_at_once(item.kind):
        codes: list[str] | None = None
        if item.kind == "coupon":
            codes = uow.market.take_codes(item.id, order_pk, quantity)
            if not codes:
                if uow.market.unused_codes(item.id) or uow.market.pool_ever_used(item.id):
                    raise BusinessRuleViolation("out_of_stock", item_id=item.public_id)
                codes = _platform_codes(quantity)  # no merchant pool: Tanhui's own codes
        redeemed = uow.ledger.system_account(item.scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id
        post_id = _move(uow, item.scheme_id, "order_post", held, redeemed, points, f"order:{public_id}:post", memo, now)
        uow.market.set_order(
            order_pk,
            {"status": rules.FULFILLED, "settle_entry_id": post_id, "coupon_codes": codes, "updated_at": now},
            by="system",
        )
    order = uow.market.order(public_id)
    assert order is not None
    return True, order.to_dict()


def _platform_codes(quantity: int) -> list[str]:
    """Random codes (domain/market.py: ~79 bits each), distinct within the order; stored on the order
    like codes taken from a merchant's pool. Orders placed before keep the codes they were given."""
    codes: list[str] = []
    while len(codes) < quantity:
        code = rules.platform_code(random_secrets.randbelow)
        if code not in codes:
            codes.append(code)
    return codes


def _owned_order(uow: UnitOfWork, order_public_id: str, account_id: int | None, scheme_id: str | None = None) -> OrderRow:
    """The order, locked; another person's (or, for an operator, another scheme's) does not exist."""
    order = uow.market.order(order_public_id, lock=True)
    if order is None or (account_id is not None and order.account_id != account_id):
        raise NotFound("order_not_found", order_id=order_public_id)
    if scheme_id is not None and order.scheme_id != scheme_id:
        raise NotFound("order_not_found", order_id=order_public_id)
    return order


def cancel_order(
    store: Store,
    order_public_id: str,
    *,
    account_id: int | None = None,
    now: datetime | None = None,
    by: str = "person",
    actor: str = "system",
    scheme_id: str | None = None,
) -> dict[str, Any]:
    """Before shipping: the hold is voided (points back) and the stock returns.

    An operator's cancel (``by="operator"``) is audited; a person cancelling their own order is
    recorded by the order's own history instead. ``scheme_id``: only an order of that scheme.
    """
    now = now or utcnow()
    with store.unit_of_work() as uow:
        order = _owned_order(uow, order_public_id, account_id, scheme_id)
        if by == "operator":
            audit.record(uow, actor, "market.cancel", order.public_id, {"was": order.status}, order.scheme_id, now=now)
        return cancel_in(uow, order, now, by)


def cancel_in(uow: UnitOfWork, order: OrderRow, now: datetime, by: str) -> dict[str, Any]:
    """The cancellation inside the caller's transaction (an operator's, a person's, an erasure's):
    the hold is voided through the ledger, the stock returns."""
    if order.status == rules.CANCELLED:
        return order.to_dict()  # cancelling twice is harmless
    if order.status != rules.PENDING:
        raise BusinessRuleViolation("not_cancellable", order_id=order.public_id, status=order.status)
    uow.market.item_by_pk(order.item_id, lock=True)
    mine, held = _points_account(uow, order.account_id), _held(uow, order.scheme_id)
    void_id = _move(
        uow,
        order.scheme_id,
        "order_void",
        held,
        mine,
        order.points,
        f"order:{order.public_id}:void",
        {"order": order.public_id},
        now,
    )
    uow.market.change_stock(order.item_id, order.quantity, now)
    uow.market.set_order(order.id, {"status": rules.CANCELLED, "settle_entry_id": void_id, "updated_at": now}, by=by)
    found = uow.market.order(order.public_id)
    assert found is not None
    return found.to_dict()


def ship_order(
    store: Store,
    order_public_id: str,
    now: datetime | None = None,
    *,
    actor: str = "system",
    carrier: str | None = None,
    tracking: str | None = None,
    scheme_id: str | None = None,
) -> dict[str, Any]:
    """Shipped, with the carrier and tracking number when given (the dashboard asks for both; the
    CLI may leave them out). They are kept in the audit entry of the shipment, which the order
    pages read (no column on the order: see docs/web.md, "Orders")."""
    now = now or utcnow()
    parcel = rules.shipment(carrier, tracking) if carrier is not None or tracking is not None else {}
    with store.unit_of_work() as uow:
        order = _owned_order(uow, order_public_id, None, scheme_id)
        rules.next_status(order.status, rules.SHIPPED, order.public_id)
        uow.market.set_order(order.id, {"status": rules.SHIPPED, "updated_at": now}, by="operator")
        audit.record(uow, actor, "market.ship", order.public_id, {"was": order.status, **parcel}, order.scheme_id, now=now)
        found = uow.market.order(order.public_id)
        assert found is not None
        return found.to_dict()


@dataclass(frozen=True, slots=True)
class Shipment:
    carrier: str | None
    tracking: str | None
    at: datetime


def pickup_points(store: Store, item: Item) -> tuple[str, ...]:
    """Where a physical good of this item can be collected (the scheme's points, else the merchant's shop)."""
    with store.unit_of_work(write=False) as uow:
        scheme = uow.schemes.get(item.scheme_id)
    return rules.pickup_points(scheme.settings if scheme else {}, item.merchant)


def deliveries(store: Store, order_public_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """Where each of these orders goes (orders of physical goods placed with delivery details)."""
    if not order_public_ids:
        return {}
    with store.unit_of_work(write=False) as uow:
        return uow.market.deliveries(order_public_ids)


def shipments(store: Store, scheme_id: str, order_public_ids: Sequence[str]) -> dict[str, Shipment]:
    """How each of these orders was shipped (the last shipment recorded for it)."""
    if not order_public_ids:
        return {}
    with store.unit_of_work(write=False) as uow:
        entries = uow.audit.for_targets(scheme_id, "market.ship", order_public_ids)
    found = {}
    for e in entries:  # oldest first: the last one wins
        details = e.details or {}
        found[e.target or ""] = Shipment(details.get("carrier"), details.get("tracking"), e.created_at)
    return found


def deliver_order(
    store: Store, order_public_id: str, now: datetime | None = None, *, actor: str = "system", scheme_id: str | None = None
) -> dict[str, Any]:
    """Delivered: the held points are posted to the scheme's redeemed account."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        order = _owned_order(uow, order_public_id, None, scheme_id)
        rules.next_status(order.status, rules.DELIVERED, order.public_id)
        held = _held(uow, order.scheme_id)
        redeemed = uow.ledger.system_account(order.scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id
        post_id = _move(
            uow,
            order.scheme_id,
            "order_post",
            held,
            redeemed,
            order.points,
            f"order:{order.public_id}:post",
            {"order": order.public_id},
            now,
        )
        uow.market.set_order(order.id, {"status": rules.DELIVERED, "settle_entry_id": post_id, "updated_at": now}, by="operator")
        audit.record(
            uow, actor, "market.deliver", order.public_id, {"was": order.status, "points": order.points}, order.scheme_id, now=now
        )
        found = uow.market.order(order.public_id)
        assert found is not None
        return found.to_dict()


def orders_of(store: Store, account_id: int) -> list[dict[str, Any]]:
    with store.unit_of_work(write=False) as uow:
        return [o.to_dict() for o in uow.market.orders_of(account_id)]


@dataclass(frozen=True, slots=True)
class OrdersPage:
    orders: list[OrderRow]
    total: int  # of this status (all statuses when none)
    by_status: dict[str, int]
    names: dict[int, str]  # the buyers' names, where they have one


def orders_page(store: Store, scheme_id: str, status: str | None, offset: int, limit: int) -> OrdersPage:
    """A page of the scheme's orders for the dashboard, newest first, with the counts by status."""
    if status is not None and status not in rules.TRANSITIONS:
        raise InvalidInput("invalid_request", details={"status": "unknown"})
    with store.unit_of_work(write=False) as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        counts = uow.market.order_counts(scheme_id)
        found = uow.market.orders_page(scheme_id, status, offset, limit)
        names = uow.accounts.names(o.account_id for o in found)
    total = counts.get(status, 0) if status else sum(counts.values())
    return OrdersPage(found, total, counts, names)


def scheme_orders(store: Store, scheme_id: str, status: str | None = None) -> list[OrderRow]:
    with store.unit_of_work(write=False) as uow:
        return uow.market.orders_of_scheme(scheme_id, status)
