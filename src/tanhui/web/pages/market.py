"""The points marketplace for the signed-in person: the catalog, an item, confirming and redeeming, my orders."""

from __future__ import annotations

import secrets as random_secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup

from tanhui import certificates
from tanhui.domain.market import QUANTITY_MAX, coupon_last_day, coupon_valid_days
from tanhui.errors import InvalidInput, NotFound
from tanhui.services import accounts, market, schemes
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.web import times
from tanhui.web.deps import checked_form, language, signed_in, store_of
from tanhui.web.i18n import translator
from tanhui.web.render import html_errors, own, redirect

router = APIRouter(include_in_schema=False)
# the delivery form's fields by their words (web/i18n_engagement.py), for naming a refused one
DELIVERY_FIELDS = {
    "method": "Delivery method",
    "recipient": "Recipient",
    "phone": "Mobile phone",
    "place": "Address or pick-up point",
}


def _points(store: Store, account_id: int) -> int:
    with store.unit_of_work(write=False) as uow:
        return uow.ledger.balance(uow.ledger.holdings(account_id)["POINTS"].id)


def _item_of(store: Store, account_id: int, item_id: str) -> Any:
    item = market.get_item(store, item_id)
    if item.scheme_id != accounts.scheme_of(store, account_id) or item.status != "active":
        raise NotFound("item_not_found", item_id=item_id)
    return item


@router.get("/market")
@html_errors
def market_page(
    request: Request, category: str | None = None, account_id: int = Depends(signed_in), store: Store = Depends(store_of)
) -> Response:
    scheme_id = accounts.scheme_of(store, account_id)
    every = market.list_items(store, scheme_id, only_active=True)
    categories = sorted({i.category for i in every})
    shown = [i for i in every if not category or i.category == category]
    return own(request, "market.html", items=shown, categories=categories, category=category, points=_points(store, account_id))


REASONS = {  # why a redeem button is disabled, in a person's words (the codes are the API's)
    "insufficient_points": "Not enough points: {short} more needed",
    "out_of_stock": "Out of stock",
    "not_on_sale": "Not on sale now",
    "limit_reached": "You have reached the limit per person ({limit})",
    "invalid_quantity": "Choose a quantity from 1 to {most}",
}


def _why(item: Any, can: dict[str, Any], lang: str) -> str | None:
    code = can["obstacle"]
    if code is None:
        return None
    words = translator(lang)(REASONS.get(code, "Not on sale now"))
    return words.format(short=f"{can['short']:,}", limit=item.per_person_limit, most=max(1, can["most"]))


@router.get("/market/items/{item_id}")
@html_errors
def item_page(
    item_id: str,
    request: Request,
    account_id: int = Depends(signed_in),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    item = _item_of(store, account_id, item_id)
    can = market.redeemability(store, account_id, item)
    return own(request, "item.html", item=item, points=can["balance"], confirm=False, can=can, why=_why(item, can, lang))


@router.get("/market/items/{item_id}/confirm")
@html_errors
def confirm_page(
    item_id: str,
    request: Request,
    quantity: int = 1,
    account_id: int = Depends(signed_in),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    item = _item_of(store, account_id, item_id)
    # the idempotency key rides in the form: a double submit places one order
    return _confirm(request, store, account_id, item, max(1, min(quantity, 99)), lang, "web-" + random_secrets.token_urlsafe(12))


def _confirm(
    request: Request,
    store: Store,
    account_id: int,
    item: Any,
    quantity: int,
    lang: str,
    key: str,
    sent: dict[str, str] | None = None,
    problems: dict[str, Any] | None = None,
) -> Response:
    """The confirmation form; a physical good asks where it goes (an address or a pick-up point), and a
    refused answer comes back with what was typed and each problem named by its field."""
    can = market.redeemability(store, account_id, item, quantity)
    physical = item.kind == "physical"
    return own(
        request,
        "item.html",
        item=item,
        points=can["balance"],
        confirm=True,
        quantity=quantity,
        key=key,
        can=can,
        why=_why(item, can, lang),
        pickup=market.pickup_points(store, item) if physical else (),
        sent=sent or {"method": "address"},
        problems=problems or {},
        delivery_fields=DELIVERY_FIELDS,
    )


@router.post("/market/items/{item_id}/redeem")
@html_errors
def redeem(
    item_id: str,
    request: Request,
    account_id: int = Depends(signed_in),
    f: dict[str, str] = Depends(checked_form),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    quantity = form_quantity(f.get("quantity", ""))
    item = _item_of(store, account_id, item_id)
    delivery = {k: f.get(k, "") for k in ("method", "recipient", "phone", "place")} if item.kind == "physical" else None
    if delivery is not None and delivery["method"] == "pickup":
        delivery["place"] = f.get("pickup", "")
    try:
        _created, order = market.place_order(store, account_id, item_id, quantity, f.get("key") or None, delivery=delivery)
    except InvalidInput as error:
        if error.code != "invalid_delivery":
            raise
        return _confirm(request, store, account_id, item, quantity, lang, f.get("key", ""), delivery, error.details)
    return redirect(f"/me/orders/{order['order_id']}")


def form_quantity(text: str) -> int:
    """The form's quantity: 1 when left empty; ASCII digits only ("²" passes str.isdigit, not int)."""
    text = text.strip()
    if not text:
        return 1
    if not (text.isascii() and text.isdigit() and len(text) <= 6):
        raise InvalidInput("invalid_request", details={"quantity": f"1..{QUANTITY_MAX}"})
    return int(text)


@router.get("/me/orders")
@html_errors
def orders_page(
    request: Request, account_id: int = Depends(signed_in), lang: str = Depends(language), store: Store = Depends(store_of)
) -> Response:
    orders = market.orders_of(store, account_id)
    return own(
        request,
        "orders.html",
        orders=orders,
        titles=_titles(store, account_id, lang),
        parcels=_parcels(store, account_id, orders),
        coupons=_coupons(request, store, account_id, orders, lang, with_qr=False),
        deliveries=market.deliveries(store, [o["order_id"] for o in orders if o["kind"] == "physical"]),
    )


def _parcels(store: Store, account_id: int, orders: list[dict[str, Any]]) -> dict[str, market.Shipment]:
    """How the shipped orders travel: carrier and tracking number, as the operator entered them."""
    sent = [o["order_id"] for o in orders if o["status"] in ("shipped", "delivered")]
    return market.shipments(store, accounts.scheme_of(store, account_id), sent)


def _coupons(
    request: Request, store: Store, account_id: int, orders: list[dict[str, Any]], lang: str, *, with_qr: bool
) -> dict[str, dict[str, Any]]:
    """For each order with coupon codes: the last day to use them (scheme-local), whether that is past,
    where to use them (the merchant and the item's own words) and, on an order's own page, each code's QR
    code for the merchant's scanner."""
    mine = [o for o in orders if o.get("coupon_codes")]
    if not mine:
        return {}
    scheme_id = accounts.scheme_of(store, account_id)
    days = coupon_valid_days(schemes.get_scheme(store, scheme_id).settings)
    local = times.for_request(request, lang)
    today = utcnow().astimezone(local.zone).date()
    items = {i.public_id: i for i in market.list_items(store, scheme_id)}
    words = translator(lang)("Coupon code")
    found = {}
    for o in mine:
        last = coupon_last_day(local.local(o["created_at"]).date(), days)
        item = items.get(o["item_id"])
        found[o["order_id"]] = {
            "last_day": times.day_text(last, lang),
            "expired": last < today,
            "merchant": item.merchant if item else "",
            "how": (item.description_en if lang == "en" and item.description_en else item.description_zh) if item else "",
            "qr": {c: Markup(certificates.qr_svg(c, f"{words} {c}")) for c in o["coupon_codes"]} if with_qr else {},
        }
    return found


def _titles(store: Store, account_id: int, lang: str) -> dict[str, str]:
    """Items' titles in the language (an order stores the item, its row carries only the Chinese title)."""
    return {i.public_id: i.title(lang) for i in market.list_items(store, accounts.scheme_of(store, account_id))}


@router.get("/me/orders/{order_id}")
@html_errors
def order_page(
    order_id: str,
    request: Request,
    account_id: int = Depends(signed_in),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    with store.unit_of_work(write=False) as uow:
        row = uow.market.order(order_id)
    if row is None or row.account_id != account_id:  # another person's order does not exist for you
        raise NotFound("order_not_found", order_id=order_id)
    found = [row.to_dict()]
    _ = translator(lang)
    return own(
        request,
        "orders.html",
        orders=found,
        titles=_titles(store, account_id, lang),
        parcels=_parcels(store, account_id, found),
        coupons=_coupons(request, store, account_id, found, lang, with_qr=True),
        deliveries=market.deliveries(store, [order_id] if found[0]["kind"] == "physical" else []),
        flash=_("Redeemed.") if found[0]["status"] == "fulfilled" else None,
    )


@router.post("/me/orders/{order_id}/cancel")
@html_errors
def cancel(
    order_id: str,
    request: Request,
    account_id: int = Depends(signed_in),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    market.cancel_order(store, order_id, account_id=account_id)
    return redirect("/me/orders")
