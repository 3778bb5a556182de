"""The scheme's orders on the dashboard and what an operator does with them: ship, deliver, cancel
(docs/web.md, "Orders").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui import messages
from tanhui.errors import NotFound, TanhuiError
from tanhui.services import audit, market
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web import security
from tanhui.web.deps import checked_form, language, scheme_scope, store_of
from tanhui.web.i18n import label, translator
from tanhui.web.render import (
    forbidden,
    html_errors,
    path_qs,
    redirect,
    render,
)
from tanhui.web.tables import (
    PAGE_SIZE,
    Paging,
    page_number,
)

router = APIRouter(include_in_schema=False)
ORDER_STATUSES = ("pending", "shipped", "delivered", "fulfilled", "cancelled")


CARRIERS = ("顺丰速运", "中国邮政 EMS", "京东物流", "中通快递", "圆通速递", "韵达快递", "申通快递", "极兔速递", "德邦快递")


@router.get("/admin/schemes/{scheme_id}/orders")
@html_errors
def scheme_orders_page(
    scheme_id: str,
    request: Request,
    status: str | None = None,
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """Orders newest first, 50 a page, with what an operator does next: ship (carrier and tracking
    number), deliver, or cancel (the points return through the ledger)."""
    _ = translator(lang)
    done, order = request.query_params.get("done"), request.query_params.get("order", "")
    words = {
        "shipped": _("Order {order} shipped."),
        "delivered": _("Order {order} delivered."),
        "cancelled": _("Order {order} cancelled; its points went back to the person."),
    }
    flash = words[done].format(order=order) if done in words and order.startswith("ord_") and order.isascii() else None
    return _orders_page(request, scope, lang, store, status or None, flash=flash)


def _orders_page(
    request: Request,
    scope: OperatorScope,
    lang: str,
    store: Store,
    status: str | None,
    *,
    code: int = 200,
    flash: str | None = None,
    error: str | None = None,
) -> Response:
    _ = translator(lang)
    named = label(lang)
    page_no = page_number(request)
    found = market.orders_page(store, scope.scheme_id, status, (page_no - 1) * PAGE_SIZE, PAGE_SIZE)
    base = f"/admin/schemes/{scope.scheme_id}/orders"
    filters = [(base, f"{_('All')} {sum(found.by_status.values()):,}", status is None)] + [
        (f"{base}?{urlencode({'status': s})}", f"{named('order_status', s)} {found.by_status.get(s, 0):,}", status == s)
        for s in ORDER_STATUSES
    ]
    paging = Paging(page_no, PAGE_SIZE, found.total, base, (("status", status),) if status else ())
    items = {i.public_id: i for i in market.list_items(store, scope.scheme_id)}
    parcels, send_to = _where_they_go(store, scope, found.orders)
    rows = [
        {
            "id": o.public_id,
            "title": items[o.item_public_id].title(lang) if o.item_public_id in items else o.item_title,
            "kind": named("item_kind", o.item_kind),
            "merchant": items[o.item_public_id].merchant if o.item_public_id in items else "",
            "quantity": o.quantity,
            "points": o.points,
            "status": o.status,
            "status_text": named("order_status", o.status),
            "person": found.names.get(o.account_id) or f"{_('Person')} #{o.account_id}",
            "created_at": o.created_at,
            "parcel": parcels.get(o.public_id),
            "delivery": send_to.get(o.public_id),
            "physical": o.item_kind == "physical",
        }
        for o in found.orders
    ]
    return render(
        request,
        "admin_orders.html",
        status=code,
        admin=scope,
        filters=filters,
        orders=rows,
        paging=paging,
        shown=paging.shown(lang, len(rows)),
        can_act=scope.role == "operator",
        back=path_qs(request),
        base=base,
        carriers=CARRIERS,
        export=f"/admin/schemes/{scope.scheme_id}/export/orders",
        flash=flash,
        error=error,
    )


def _where_they_go(store: Store, scope: OperatorScope, orders: list[Any]) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """How shipped orders travel, and where physical goods go: the buyer's address or pick-up point,
    personal data shown to operators only (a viewer's role sees neither the address nor the phone)."""
    parcels = market.shipments(store, scope.scheme_id, [o.public_id for o in orders if o.status in ("shipped", "delivered")])
    physical = [o.public_id for o in orders if o.item_kind == "physical"] if scope.role == "operator" else []
    return parcels, market.deliveries(store, physical)


@router.post("/admin/schemes/{scheme_id}/orders/{order_id}/{action}")
@html_errors
def order_action(
    scheme_id: str,
    order_id: str,
    action: str,
    request: Request,
    f: dict[str, str] = Depends(checked_form),
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """Ship (with carrier and tracking number), deliver or cancel one of the scheme's orders; the
    operator is the actor in the audit log. Another scheme's order does not exist here."""
    if action not in ("ship", "deliver", "cancel"):
        raise NotFound("not_found")
    if scope.role != "operator":
        return forbidden(request, admin=scope)
    base = f"/admin/schemes/{scheme_id}/orders"
    back = security.safe_next(f.get("back"), base)
    back = back if back.startswith(base) else base
    actor = audit.operator_actor(scope)
    try:
        if action == "ship":
            market.ship_order(
                store, order_id, actor=actor, carrier=f.get("carrier", ""), tracking=f.get("tracking", ""), scheme_id=scheme_id
            )
        elif action == "deliver":
            market.deliver_order(store, order_id, actor=actor, scheme_id=scheme_id)
        else:
            market.cancel_order(store, order_id, by="operator", actor=actor, scheme_id=scheme_id)
    except TanhuiError as refused:
        if refused.http_status == 404:
            raise
        status = dict(parse_qsl(back.partition("?")[2])).get("status")
        return _orders_page(
            request, scope, lang, store, status if status in ORDER_STATUSES else None, code=refused.http_status,
            error=_refusal(refused, lang),
        )  # fmt: skip
    kept = [(k, v) for k, v in parse_qsl(back.partition("?")[2]) if k not in ("done", "order")]
    done = {"ship": "shipped", "deliver": "delivered", "cancel": "cancelled"}[action]
    return redirect(f"{base}?{urlencode([*kept, ('done', done), ('order', order_id)])}")


def _refusal(error: TanhuiError, lang: str) -> str:
    """An order's refusal in words: its status named, never the stored code."""
    params = dict(error.params)
    for key in ("status", "wanted"):
        if key in params:
            params[key] = label(lang)("order_status", str(params[key]))
    return messages.render(error.code, lang, **params)
