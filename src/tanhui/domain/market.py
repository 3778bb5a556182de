"""The marketplace (积分商城): items, orders and their life cycle, as pure rules.

An order holds the buyer's points in the scheme's escrow account (`held`) when it is placed; it is
*posted* (escrow -> `redeemed`) when fulfilled (a coupon, at once) or delivered (a physical good),
and *voided* (escrow -> buyer) when cancelled before shipping. Each of the three ledger movements has
its own idempotency key, and the state machine below allows at most one of post/void per order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tanhui.errors import BusinessRuleViolation, InvalidInput

KINDS = ("coupon", "physical", "service", "donation")
QUANTITY_MAX = 10

# Tanhui's own coupon codes (a coupon without a merchant pool): 16 characters drawn at random from an
# alphabet without look-alikes (no 0/O, 1/I/L), about 79 bits, shown as TH- and four groups of four letters. Nothing
# in a code comes from the order, so no one can compute a valid code from what a page shows.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16
CODE_GROUP = 4

# A coupon is valid for this many days from the scheme-local day it was redeemed, that day included;
# a scheme sets its own with `coupon_valid_days` in [settings] (domain/scheme_settings.py).
COUPON_VALID_DAYS = 90
COUPON_VALID_DAYS_KEY = "coupon_valid_days"
PICKUP_POINTS_KEY = "pickup_points"

PENDING = "pending"  # placed, points held; a physical good not yet shipped
SHIPPED = "shipped"
DELIVERED = "delivered"  # points posted
FULFILLED = "fulfilled"  # coupon/service/donation: points posted at once
CANCELLED = "cancelled"  # points returned, stock returned

# status -> statuses it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PENDING: (SHIPPED, CANCELLED, FULFILLED),
    SHIPPED: (DELIVERED,),
    DELIVERED: (),
    FULFILLED: (),
    CANCELLED: (),
}


CARRIER_LEN_MAX = 40
TRACKING_LEN_MAX = 40


def shipment(carrier: Any, tracking: Any) -> dict[str, str]:
    """A shipment's carrier (顺丰速运, 中国邮政 EMS, …) and its tracking number, both required: the
    person needs them to follow the parcel. A tracking number is letters, digits and dashes."""
    problems: dict[str, str] = {}
    carrier = carrier.strip() if isinstance(carrier, str) else ""
    tracking = tracking.strip().upper() if isinstance(tracking, str) else ""
    if not 1 <= len(carrier) <= CARRIER_LEN_MAX or any(ord(c) < 32 for c in carrier):
        problems["carrier"] = f"1..{CARRIER_LEN_MAX} characters"
    if not 4 <= len(tracking) <= TRACKING_LEN_MAX or not all(c.isascii() and (c.isalnum() or c == "-") for c in tracking):
        problems["tracking"] = f"4..{TRACKING_LEN_MAX} letters, digits or dashes"
    if problems:
        raise InvalidInput("invalid_shipment", details=problems, fields=", ".join(sorted(problems)))
    return {"carrier": carrier, "tracking": tracking}


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    public_id: str
    scheme_id: str
    key: str
    kind: str
    category: str
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    points_price: int
    stock: int
    per_person_limit: int | None
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    merchant: str
    status: str

    def on_sale(self, now: datetime) -> bool:
        if self.status != "active":
            return False
        if self.sale_starts_at is not None and now < self.sale_starts_at:
            return False
        return self.sale_ends_at is None or now < self.sale_ends_at

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" and self.title_en else self.title_zh

    def to_dict(self, lang: str = "zh-CN") -> dict[str, Any]:
        return {
            "id": self.public_id,
            "key": self.key,
            "title": self.title(lang),
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "description": self.description_en if lang == "en" and self.description_en else self.description_zh,
            "kind": self.kind,
            "category": self.category,
            "points_price": self.points_price,
            "stock": self.stock,
            "per_person_limit": self.per_person_limit,
            "sale_starts_at": self.sale_starts_at.isoformat() if self.sale_starts_at else None,
            "sale_ends_at": self.sale_ends_at.isoformat() if self.sale_ends_at else None,
            "merchant": self.merchant,
            "status": self.status,
        }


def check_order(item: Item, quantity: int, now: datetime, already_ordered: int) -> int:
    """The points an order costs, or the first reason it cannot be placed."""
    if type(quantity) is not int or not 1 <= quantity <= QUANTITY_MAX:
        raise InvalidInput("invalid_request", details={"quantity": f"1..{QUANTITY_MAX}"})
    if not item.on_sale(now):
        raise BusinessRuleViolation("not_on_sale", item_id=item.public_id)
    if item.per_person_limit is not None and already_ordered + quantity > item.per_person_limit:
        raise BusinessRuleViolation("limit_reached", item_id=item.public_id, limit=item.per_person_limit)
    if item.stock < quantity:
        raise BusinessRuleViolation("out_of_stock", item_id=item.public_id)
    return item.points_price * quantity


def obstacle(item: Item, quantity: int, now: datetime, already_ordered: int, balance: int) -> str | None:
    """Why an order could not be placed now (the code `check_order` or the ledger would refuse it
    with), or None: what the market shows beside a disabled button."""
    try:
        points = check_order(item, quantity, now, already_ordered)
    except BusinessRuleViolation as refused:
        return refused.code
    except InvalidInput:
        return "invalid_quantity"
    return "insufficient_points" if points > balance else None


def most_affordable(item: Item, already_ordered: int, balance: int) -> int:
    """The largest quantity one order could take: stock, the per-person limit, the points, QUANTITY_MAX."""
    most = min(QUANTITY_MAX, item.stock, balance // item.points_price)
    if item.per_person_limit is not None:
        most = min(most, item.per_person_limit - already_ordered)
    return max(0, most)


def settles_at_once(kind: str) -> bool:
    """Coupons, services and donations are fulfilled when ordered; physical goods ship first."""
    return kind != "physical"


def next_status(current: str, wanted: str, order_id: str) -> str:
    if wanted not in TRANSITIONS.get(current, ()):
        raise BusinessRuleViolation("order_transition", order_id=order_id, status=current, wanted=wanted)
    return wanted


def validate_item_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Operator input for an item: clear errors per field, nothing half-checked."""
    problems: dict[str, str] = {}
    kind = fields.get("kind", "coupon")
    if kind not in KINDS:
        problems["kind"] = f"one of {', '.join(KINDS)}"
    title = (fields.get("title_zh") or "").strip()
    if not title or len(title) > 200:
        problems["title"] = "1..200 characters"
    price = fields.get("points_price")
    if type(price) is not int or price <= 0:
        problems["points_price"] = "a positive integer"
    stock = fields.get("stock", 0)
    if type(stock) is not int or stock < 0:
        problems["stock"] = "an integer >= 0"
    limit = fields.get("per_person_limit")
    if limit is not None and (type(limit) is not int or limit <= 0):
        problems["per_person_limit"] = "a positive integer"
    starts, ends = fields.get("sale_starts_at"), fields.get("sale_ends_at")
    if starts is not None and ends is not None and ends <= starts:
        problems["sale_ends_at"] = "after sale_starts_at"
    if problems:
        raise InvalidInput("invalid_item", details=problems, fields=", ".join(sorted(problems)))
    return {**fields, "kind": kind, "title_zh": title}


def platform_code(randbelow: Callable[[int], int]) -> str:
    """A coupon code from ``randbelow(n)`` (uniform in 0..n-1; the service passes ``secrets.randbelow``)."""
    chars = "".join(CODE_ALPHABET[randbelow(len(CODE_ALPHABET))] for _ in range(CODE_LENGTH))
    return "TH-" + "-".join(chars[i : i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def coupon_last_day(redeemed_on: date, valid_days: int) -> date:
    """The last scheme-local day a coupon can be used: redeemed on day 1, usable through day `valid_days`."""
    return redeemed_on + timedelta(days=valid_days - 1)


def coupon_valid_days(settings: Mapping[str, Any]) -> int:
    value = settings.get(COUPON_VALID_DAYS_KEY, COUPON_VALID_DAYS)
    return value if type(value) is int and value > 0 else COUPON_VALID_DAYS


# -- delivery of physical goods (issue 17) ---------------------------------------------------------

DELIVERY_METHODS = ("address", "pickup")
RECIPIENT_LEN_MAX = 50
PLACE_LEN = (5, 200)
PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,18}[0-9]$")


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a physical good goes: sent to an address, or collected at a pick-up point."""

    method: str
    recipient: str
    phone: str
    place: str  # the address, or the pick-up point chosen

    def to_dict(self) -> dict[str, str]:
        return {"method": self.method, "recipient": self.recipient, "phone": self.phone, "place": self.place}


def pickup_points(settings: Mapping[str, Any], merchant: str) -> tuple[str, ...]:
    """The scheme's pick-up points (`pickup_points` in [settings]); without any, the merchant's own shop."""
    listed = settings.get(PICKUP_POINTS_KEY)
    if isinstance(listed, list) and listed:
        return tuple(str(p) for p in listed)
    return (merchant,) if merchant else ()


def check_delivery(fields: Mapping[str, Any], points: Sequence[str]) -> Delivery:
    """A buyer's delivery details, every problem named at once (InvalidInput `invalid_delivery`)."""

    def text(name: str) -> str:
        value = fields.get(name)
        return " ".join(value.split()) if isinstance(value, str) else ""

    problems: dict[str, str] = {}
    method = text("method")
    if method not in DELIVERY_METHODS:
        problems["method"] = " or ".join(DELIVERY_METHODS)
    recipient, phone, place = text("recipient"), text("phone"), text("place")
    if not 1 <= len(recipient) <= RECIPIENT_LEN_MAX:
        problems["recipient"] = f"1..{RECIPIENT_LEN_MAX} characters"
    if not PHONE.match(phone):
        problems["phone"] = "a phone number: digits, spaces or dashes, 6 to 20"
    if method == "pickup" and place not in points:
        problems["place"] = "one of the pick-up points offered"
    elif method == "address" and not PLACE_LEN[0] <= len(place) <= PLACE_LEN[1]:
        problems["place"] = f"{PLACE_LEN[0]}..{PLACE_LEN[1]} characters"
    if problems:
        raise InvalidInput("invalid_delivery", details=problems, fields=", ".join(sorted(problems)))
    return Delivery(method, recipient, phone, place)
