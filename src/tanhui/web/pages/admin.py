"""The operator dashboard: sign-in, the scheme's overview, review, catalog, orders, audit log and exports.

Every page under /admin/schemes/{scheme_id} checks the scheme in the URL against the operator's scope
(deps.scheme_scope) and answers 404 for any other scheme. The organisation pages are in organisations.py.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tanhui import messages, sign_in
from tanhui.errors import NotFound, TanhuiError
from tanhui.services import audit, identity, liability, market, reports, review
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web import charts, security, times
from tanhui.web.deps import checked_form, language, operator, scheme_scope, store_of
from tanhui.web.i18n import label, scenario_name, translator
from tanhui.web.labels import actor_name, review_reason
from tanhui.web.render import (
    client_host,
    forbidden,
    grams_as_kg,
    grams_as_tonnes,
    html_errors,
    path_qs,
    redirect,
    refused,
    render,
    web_lang,
)
from tanhui.web.tables import (
    EXPORT_TABLES,
    PAGE_SIZE,
    PERSONAL_TABLES,
    Paging,
    audit_rows,
    catalog_rows,
    export_rows,
    file_response,
    page_number,
    table_page,
)

router = APIRouter(include_in_schema=False)
ORDER_STATUSES = ("pending", "shipped", "delivered", "fulfilled", "cancelled")


@router.get("/admin")
def admin_home(request: Request, scope: OperatorScope | None = Depends(operator)) -> Response:
    return redirect(f"/admin/schemes/{scope.scheme_id}" if scope else "/admin/login")


def _admin_login_form(request: Request, status: int = 200, error: str | None = None, username: str = "") -> HTMLResponse:
    _ = translator(web_lang(request))
    next_ = security.safe_next(request.query_params.get("next"), "/admin")
    return render(
        request,
        "login.html",
        status=status,
        title=_("Operator sign-in"),
        button=_("Sign in"),
        error=error,
        form={"username": username},
        action="/admin/login?" + urlencode({"next": next_}),
        alt=None,
    )


@router.get("/admin/login")
def admin_login_page(request: Request) -> Response:
    return _admin_login_form(request)


@router.post("/admin/login")
async def admin_login(request: Request, f: dict[str, str] = Depends(checked_form), store: Store = Depends(store_of)) -> Response:
    """Throttled per client and per operator username (tanhui/sign_in.py): 429 with Retry-After once over."""
    username, password = f.get("username", ""), f.get("password", "")
    try:
        token, scope = await sign_in.guarded(
            sign_in.OPERATORS, client_host(request), username, partial(identity.operator_sign_in, store, username, password)
        )
    except TanhuiError as error:
        return refused(_admin_login_form(request, error.http_status, error.message(web_lang(request)), username), error)
    target = security.safe_next(request.query_params.get("next"), "/admin")
    response = redirect(target if target.startswith("/admin/schemes/") else f"/admin/schemes/{scope.scheme_id}")
    security.start_session(request, response, token, security.ADMIN_COOKIE)
    return response


@router.post("/admin/logout")
def admin_logout(request: Request, f: dict[str, str] = Depends(checked_form), store: Store = Depends(store_of)) -> Response:
    token = security.session_token(request, security.ADMIN_COOKIE)
    if token:
        identity.end_operator_session(store, token)
    response = redirect("/admin/login")
    response.delete_cookie(security.ADMIN_COOKIE, path="/")
    return response


@router.get("/admin/schemes/{scheme_id}")
@html_errors
def dashboard(
    scheme_id: str,
    request: Request,
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """The last 30 complete days by default; today, which has not ended, beside them on its own."""
    _ = translator(lang)
    first, last, today = reports.complete_days(store, scheme_id)
    asked_from, asked_to = request.query_params.get("from") or None, request.query_params.get("to") or None
    default = asked_from is None and asked_to is None
    day_from = asked_from or first.isoformat()
    day_to = asked_to or (last.isoformat() if day_from <= last.isoformat() else day_from)
    period = reports.overview(store, scheme_id, day_from, day_to)
    st, health = period.stats, {"partners": period.partners}
    done = reports.activity(store, scheme_id, st["from"], st["to"])
    now_period = reports.overview(store, scheme_id, today, today).stats
    now_done = reports.activity(store, scheme_id, today, today)
    owed = liability.points_liability(store, scheme_id)
    with store.unit_of_work(write=False) as uow:
        scheme = uow.schemes.get(scheme_id)
    series = st["series"]
    scen = list(st["by_scenario"].items())
    partners = sorted((p for p in health["partners"] if p["carbon_g"] > 0), key=lambda p: -p["carbon_g"])
    shown = {
        "carbon": charts.line_chart(
            [(d["date"][5:], d["carbon_g"] / 1000) for d in series], label=_("Reduction per day"), unit="kg"
        ),
        "active": charts.line_chart(
            [(d["date"][5:], d["active_users"]) for d in series], label=_("Active users per day"), color=charts.PALETTE[1]
        ),
        "scenarios": charts.bar_chart(
            [(scenario_name(lang)(k), v["carbon_g"] / 1000) for k, v in scen],
            label=_("By scenario"),
            value_text=[f"{grams_as_kg(v['carbon_g'])} kg · {v['events']:,}" for _k, v in scen],
        ),
        "partners": charts.bar_chart(
            [(p["name"], p["carbon_g"] / 1000) for p in partners],
            label=_("By partner"),
            value_text=[f"{grams_as_kg(p['carbon_g'])} kg" for p in partners],
        ),
    }
    qs = "?" + urlencode({"from": st["from"], "to": st["to"]})

    def spark(p: reports.PartnerHealth) -> str:
        return charts.sparkline(p["series"], label=f"{p['name']}: {_('Events')} / {_('per day')}")

    return render(
        request,
        "dashboard.html",
        admin=scope,
        scheme=scheme,
        st=st,
        default=default,
        partial=date.fromisoformat(st["to"]) >= today,
        headline=headline_figures(st, done, lang),
        today=today_figures(now_period, now_done, lang),
        today_day=today,
        day=lambda iso: times.day_text(date.fromisoformat(iso), lang),
        owed=owed,
        health=health,
        charts=shown,
        spark=spark,
        base=f"/admin/schemes/{scheme_id}",
        qs=qs,
    )


def headline_figures(st: reports.Stats, done: reports.Activity, lang: str) -> list[tuple[str, list[dict[str, object]]]]:
    """The period's figures in groups that say what they cover: behaviours by the day they happened
    on, the ledger and the market by the moment they were recorded, people at the period's end."""
    _ = translator(lang)
    days = len(st["series"]) or 1
    active = sum(d["active_users"] for d in st["series"])
    earned = sum(v["points"] for v in st["by_scenario"].values())
    pending = done.orders_by_status.get("pending", 0)
    registered_end = done.registered_before + done.registered_in - done.erased_in
    behaviours = [
        _figure("carbon_g", st["carbon_g_total"], grams_as_tonnes(st["carbon_g_total"]), _("Reduction (t CO₂e)")),
        _figure("events_credited", st["events_credited"], f"{st['events_credited']:,}", _("Behaviours credited")),
        _figure("points_earned", earned, f"{earned:,}", _("Points for these behaviours")),
        _figure(
            "active_per_day",
            round(active / days, 1),
            f"{active / days:,.0f}",
            _("Active people per day (average)"),
            f"{_('last day')} {st['series'][-1]['active_users']:,}" if st["series"] else None,
        ),
    ]
    recorded = [
        _figure("points_issued", st["points_issued"], f"{st['points_issued']:,}", _("Points issued")),
        _figure("points_redeemed", st["points_redeemed"], f"{st['points_redeemed']:,}", _("Points redeemed")),
        _figure("checkins", done.checkins, f"{done.checkins:,}", _("Check-ins"), f"{done.checkin_points:,} {_('points')}"),
        _figure("orders", done.orders, f"{done.orders:,}", _("Orders placed"), f"{_('awaiting shipment')} {pending:,}"),
    ]
    people = [
        _figure(
            "registered",
            registered_end,
            f"{registered_end:,}",
            _("Registered people at the end of the period"),
            f"{_('new in the period')} {done.registered_in:,}",
        ),
        _figure(
            "organisations",
            done.organisations,
            f"{done.organisations:,}",
            _("Organisations (now)"),
            f"{done.members:,} {_('members')}",
        ),
    ]
    return [
        (_("Behaviours, by the day they happened"), behaviours),
        (_("Ledger and market, by the moment they were recorded"), recorded),
        (_("People and organisations"), people),
    ]


def today_figures(st: reports.Stats, done: reports.Activity, lang: str) -> list[dict[str, object]]:
    _ = translator(lang)
    active = st["series"][-1]["active_users"] if st["series"] else 0
    return [
        _figure("carbon_g", st["carbon_g_total"], grams_as_tonnes(st["carbon_g_total"]), _("Reduction (t CO₂e)")),
        _figure("events_credited", st["events_credited"], f"{st['events_credited']:,}", _("Behaviours credited")),
        _figure("active", active, f"{active:,}", _("Active people")),
        _figure("points_issued", st["points_issued"], f"{st['points_issued']:,}", _("Points issued")),
        _figure("checkins", done.checkins, f"{done.checkins:,}", _("Check-ins")),
        _figure("orders", done.orders, f"{done.orders:,}", _("Orders placed")),
    ]


def _figure(key: str, value: object, text: str, label_text: str, note: str | None = None) -> dict[str, object]:
    return {"key": key, "value": value, "text": text, "label": label_text, "note": note}


@router.get("/admin/schemes/{scheme_id}/review")
@html_errors
def review_page(
    scheme_id: str,
    request: Request,
    reason: str | None = None,
    state: str = "open",
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """The review queue: rejected reports waiting for a reviewer (or confirmed, or all), 50 a page."""
    done = request.query_params.get("done")
    event = request.query_params.get("event", "")
    _ = translator(lang)
    flash = None
    if done in ("confirmed", "accepted") and event.isdigit():
        flash = (
            _("Rejection of record {event} confirmed.") if done == "confirmed" else _("Record {event} credited after review.")
        ).format(event=event)
    return _review_page(request, scope, lang, store, reason or None, state, flash=flash)


def _review_page(
    request: Request,
    scope: OperatorScope,
    lang: str,
    store: Store,
    reason: str | None,
    state: str,
    *,
    status: int = 200,
    flash: str | None = None,
    error: str | None = None,
) -> Response:
    _ = translator(lang)
    named = label(lang)
    page_no = page_number(request)
    found = review.queue(store, scope.scheme_id, reason=reason, state=state, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    base = f"/admin/schemes/{scope.scheme_id}/review"

    def href(state_: str, reason_: str | None) -> str:
        query = [*([("state", state_)] if state_ != "open" else []), *([("reason", reason_)] if reason_ else [])]
        return base + (f"?{urlencode(query)}" if query else "")

    states = [
        (href(code, reason), text, state == code)
        for code, text in (("open", _("To review")), ("confirmed", _("Rejection confirmed")), ("all", _("All")))
    ]
    reasons = [(href(state, None), f"{_('All reasons')} {sum(found.by_reason.values()):,}", reason is None)] + [
        (href(state, r), f"{named('reason', r)} {n:,}", reason == r)
        for r, n in sorted(found.by_reason.items(), key=lambda kv: -kv[1])
    ]
    params = tuple((k, v) for k, v in (("state", state if state != "open" else ""), ("reason", reason or "")) if v)
    paging = Paging(page_no, PAGE_SIZE, found.total, base, params)
    items = [
        {
            "id": i.id,
            "reason": named("reason", i.reason),
            "why": review_reason(i.reason, i.details, i.data, i.scenario, i.methodology, lang),
            "scenario": scenario_name(lang)(i.scenario),
            "partner": i.partner_name,
            "person": i.name or (f"{_('Person')} #{i.account_id}" if i.account_id is not None else _("unknown person")),
            "occurred_at": i.occurred_at,
            "received_at": i.received_at,
            "confirmed": i.confirmed,
            "confirmed_by": actor_name(i.confirmed.actor, lang) if i.confirmed else None,
            "acceptable": i.acceptable,
            "purged": i.reason in review.ACCEPTABLE and i.data is None,
        }
        for i in found.items
    ]
    return render(
        request,
        "review.html",
        status=status,
        admin=scope,
        states=states,
        reasons=reasons,
        items=items,
        paging=paging,
        shown=paging.shown(lang, len(items)),
        can_act=scope.role == "operator",
        back=path_qs(request),
        base=base,
        export=f"/admin/schemes/{scope.scheme_id}/export/review",
        flash=flash,
        error=error,
    )


@router.post("/admin/schemes/{scheme_id}/review/{event_pk}/{decision}")
@html_errors
def review_decide(
    scheme_id: str,
    event_pk: int,
    decision: str,
    request: Request,
    f: dict[str, str] = Depends(checked_form),
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """Confirm a rejection, or accept an implausible report after review; the reviewer is the actor."""
    if decision not in ("confirm", "accept"):
        raise NotFound("not_found")
    if scope.role != "operator":
        return forbidden(request, admin=scope)
    base = f"/admin/schemes/{scheme_id}/review"
    back = security.safe_next(f.get("back"), base)
    back = back if back.startswith(base) else base
    actor = audit.operator_actor(scope)
    try:
        if decision == "confirm":
            review.confirm(store, scheme_id, event_pk, actor=actor)
        else:
            review.accept(store, scheme_id, event_pk, actor=actor)
    except TanhuiError as refused:
        query = dict(parse_qsl(back.partition("?")[2]))
        return _review_page(
            request, scope, lang, store, query.get("reason"), query.get("state", "open"), status=refused.http_status,
            error=refused.message(lang),
        )  # fmt: skip
    kept = [(k, v) for k, v in parse_qsl(back.partition("?")[2]) if k not in ("done", "event")]
    done = [("done", "confirmed" if decision == "confirm" else "accepted"), ("event", str(event_pk))]
    return redirect(f"{base}?{urlencode([*kept, *done])}")


@router.get("/admin/schemes/{scheme_id}/catalog")
@html_errors
def catalog_page(
    scheme_id: str,
    request: Request,
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    _ = translator(lang)
    return table_page(
        request,
        scope,
        _("Catalog"),
        "catalog",
        ["item", "title", "category", "kind", "points", "stock", "merchant", "status"],
        catalog_rows(store, scheme_id, lang),
        numeric=("points", "stock"),
    )


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
    parcels = market.shipments(
        store, scope.scheme_id, [o.public_id for o in found.orders if o.status in ("shipped", "delivered")]
    )
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


@router.get("/admin/schemes/{scheme_id}/audit")
@html_errors
def audit_page(
    scheme_id: str,
    request: Request,
    action: str | None = None,
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """Who did what to this scheme, newest first; viewers may read it (it holds ids, never personal data)."""
    _ = translator(lang)
    base = f"/admin/schemes/{scheme_id}/audit"
    filters = (
        [(base, _("All"), False), (request.url.path + "?" + request.url.query, label(lang)("action", action), True)]
        if action
        else None
    )
    rows, total = audit_rows(
        store, scheme_id, action, lang, base, times.for_request(request, lang, scheme_id), page_number(request)
    )
    return table_page(
        request,
        scope,
        _("Audit log"),
        None,
        ["time", "actor", "action", "target", "details"],
        rows,
        total=total,
        filters=filters,
        links={"action": "href"},
        nowrap=("actor", "action"),
    )


@router.get("/admin/schemes/{scheme_id}/export/{name}")
@html_errors
def export_table(
    scheme_id: str, name: str, request: Request, scope: OperatorScope = Depends(scheme_scope), store: Store = Depends(store_of)
) -> Response:
    table, _dot, fmt = name.rpartition(".")
    if table not in EXPORT_TABLES or fmt not in ("csv", "xlsx"):
        raise NotFound("not_found")
    if table in PERSONAL_TABLES and scope.role != "operator":
        return forbidden(request, admin=scope)
    header, rows = export_rows(store, scheme_id, table, request.query_params.get("from"), request.query_params.get("to"))
    return file_response(f"{scheme_id}-{table}.{fmt}", header, rows, fmt)
