"""The operator dashboard: sign-in, the scheme's overview, review, catalog, orders, audit log and exports.

Every page under /admin/schemes/{scheme_id} checks the scheme in the URL against the operator's scope
(deps.scheme_scope) and answers 404 for any other scheme. The organisation pages are in organisations.py.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tanhui import sign_in
from tanhui.errors import NotFound, TanhuiError
from tanhui.services import identity, liability, reports
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web import charts, security, times
from tanhui.web.deps import checked_form, language, operator, scheme_scope, store_of
from tanhui.web.i18n import label, scenario_name, translator
from tanhui.web.render import (
    client_host,
    forbidden,
    grams_as_kg,
    grams_as_tonnes,
    html_errors,
    redirect,
    refused,
    render,
    web_lang,
)
from tanhui.web.tables import (
    EXPORT_TABLES,
    PERSONAL_TABLES,
    audit_rows,
    catalog_rows,
    export_rows,
    file_response,
    order_rows,
    review_rows,
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
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    _ = translator(lang)
    rows = review_rows(store, scheme_id, reason, lang, times.for_request(request, lang, scheme_id))
    base = f"/admin/schemes/{scheme_id}/review"
    filters = [(base, _("All"), reason is None)] + [
        (f"{base}?reason={r}", label(lang)("reason", r), reason == r) for r in reports.REVIEW_REASONS
    ]
    return table_page(
        request,
        scope,
        _("Rejected events to review"),
        "review",
        ["received", "partner", "scenario", "reason", "account", "details"],
        rows,
        filters=filters,
    )


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
    _ = translator(lang)
    base = f"/admin/schemes/{scheme_id}/orders"
    filters = [(base, _("All"), status is None)] + [
        (f"{base}?status={s}", label(lang)("order_status", s), status == s) for s in ORDER_STATUSES
    ]
    return table_page(
        request,
        scope,
        _("Orders"),
        "orders",
        ["order", "created", "account", "item", "quantity", "points", "status"],
        order_rows(store, scheme_id, status, times.for_request(request, lang, scheme_id)),
        filters=filters,
        numeric=("quantity", "points"),
    )


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
    return table_page(
        request,
        scope,
        _("Audit log"),
        None,
        ["time", "actor", "action", "target", "details"],
        audit_rows(store, scheme_id, action, lang, base, times.for_request(request, lang, scheme_id)),
        filters=filters,
        links={"action": "href"},
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
