"""The web application's routes: people's pages and the operator dashboard (their JSON companions are tanhui.http).

`register(app, store)` adds the pages to the one FastAPI app (tanhui.app.create_app). Pages are rendered on the
server with Jinja2 (templates/), charts are inline SVG (charts.py), texts come from i18n.py. Every
page that shows a person's data loads it by the signed-in account only; every operator page checks
the scheme in the URL against the operator's scope and answers 404 for any other scheme.
"""

from __future__ import annotations

import functools
import secrets as random_secrets
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tanhui.errors import InvalidInput, NotFound, TanhuiError
from tanhui.lang import request_lang
from tanhui.services import accounts, audit, consent, engagement, identity, market, organisations, privacy, reports
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.repositories.web import OperatorScope
from tanhui.web import charts, security
from tanhui.web.equivalents import equivalents
from tanhui.web.i18n import scenario_name, translator

HERE = Path(__file__).parent
ENV = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True), auto_reload=False)
EXPORT_TABLES = ("scenarios", "series", "partners", "review", "catalog", "orders", "organisations")
PERSONAL_TABLES = ("review", "orders")  # viewers may look, not download (docs/web.md, "Roles")
HISTORY_PAGE = 50


def grams_as_kg(grams: int) -> str:
    """Integer grams shown as kilograms with three decimals, without a float in between."""
    sign = "-" if grams < 0 else ""
    whole, rest = divmod(abs(grams), 1000)
    return f"{sign}{whole:,}.{rest:03d}"


def grams_as_tonnes(grams: int) -> str:
    kg = (abs(grams) + 500) // 1000
    return f"{'-' if grams < 0 else ''}{kg // 1000:,}.{kg % 1000:03d}"


def web_lang(request: Request) -> str:
    """The `lang` cookie set by the switch link, else Accept-Language, else zh-CN."""
    chosen = request.cookies.get(security.LANG_COOKIE)
    if chosen in ("en", "zh-CN"):
        return chosen
    return request_lang(request)


def _path_qs(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = web_lang(request)
    context.setdefault("admin", None)
    context.setdefault("signed_in", False)
    html = ENV.get_template(name).render(
        _=translator(lang), lang=lang, csrf=security.csrf_token(request), path=request.url.path, path_qs=_path_qs(request),
        kg=grams_as_kg, tonnes=grams_as_tonnes, scenario=scenario_name(lang), **context,
    )
    response = HTMLResponse(html, status_code=status)
    security.attach_csrf_cookie(request, response)
    return response


def error_page(request: Request, status: int, message: str, **context: Any) -> HTMLResponse:
    _ = translator(web_lang(request))
    heading = {404: _("Not found"), 401: _("Please sign in"), 403: _("Not allowed")}.get(status, _("Something went wrong"))
    context.setdefault("signed_in", context.get("admin") is None and security.session_token(request) is not None)
    return render(request, "error.html", status=status, heading=heading, message=message, **context)


def pages(function: Callable[..., Any]) -> Callable[..., Any]:
    """A page handler's TanhuiError becomes an HTML page with the error's status and words."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request: Request = kwargs["request"]
        try:
            return function(*args, **kwargs)
        except TanhuiError as error:
            return error_page(request, error.http_status, error.message(web_lang(request)))

    return wrapper


async def form_fields(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the only kind our forms send)."""
    if request.method != "POST":
        return {}
    body = await request.body()
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=50)
    return {k: v[0] for k, v in parsed.items()}


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


def _csrf_refused(request: Request) -> HTMLResponse:
    from tanhui.messages import render as message

    return error_page(request, 403, message("csrf_failed", web_lang(request)))


def register(app: FastAPI, store: Store) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # -- who is asking -------------------------------------------------------------------
    def person(request: Request) -> int | None:
        token = security.session_token(request)
        return consent.account_for_web_session(store, token) if token else None

    def operator(request: Request) -> OperatorScope | None:
        token = security.session_token(request, security.ADMIN_COOKIE)
        return identity.operator_scope(store, token, "web") if token else None

    def sign_in_first(request: Request) -> RedirectResponse:
        return _redirect("/login?" + urlencode({"next": _path_qs(request)}))

    def scoped(request: Request, scheme_id: str) -> OperatorScope | Response:
        scope = operator(request)
        if scope is None:
            return _redirect("/admin/login?" + urlencode({"next": _path_qs(request)}))
        if scope.scheme_id != scheme_id:  # another scheme's pages do not exist for this operator
            return error_page(request, 404, translator(web_lang(request))("Not found"), admin=scope)
        return scope

    def own(request: Request, **context: Any) -> HTMLResponse:
        return render(request, signed_in=True, **context)  # type: ignore[arg-type]

    # -- language, home, sign-in ----------------------------------------------------------
    @app.get("/lang/{code}", include_in_schema=False)
    def switch_language(code: str, request: Request, next: str | None = None) -> Response:
        response = _redirect(security.safe_next(next))
        if code in ("en", "zh-CN"):
            response.set_cookie(security.LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", secure=request.url.scheme == "https", path="/")
        return response

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        if person(request) is not None:
            return _redirect("/me")
        return render(request, "home.html")

    @app.get("/login/ticket/{ticket}", include_in_schema=False)
    def login_ticket(ticket: str, request: Request) -> Response:
        """A partner session's one-time login_url (api-v1.md): cookie session, then the account page."""
        account_id = consent.use_login_ticket(store, ticket)
        if account_id is None:
            _ = translator(web_lang(request))
            return error_page(request, 401, _("This sign-in link has expired or was used already. Open Tanhui from your app again."))
        response = _redirect("/me")
        security.start_session(request, response, consent.web_session(store, account_id))
        return response

    def _login_form(request: Request, status: int = 200, error: str | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
        _ = translator(web_lang(request))
        next_ = security.safe_next(request.query_params.get("next"), "/me")
        return render(
            request, "login.html", status=status, title=_("Sign in"), button=_("Sign in"), error=error, form=form or {},
            action="/login?" + urlencode({"next": next_}), alt=f'<a href="/register">{_("No account yet? Register")}</a>',
        )

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request) -> Response:
        return _login_form(request)

    @app.post("/login", include_in_schema=False)
    def login(request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        try:
            account_id = identity.authenticate(store, f.get("username", ""), f.get("password", ""))
        except TanhuiError as error:
            return _login_form(request, 401, error.message(web_lang(request)), {"username": f.get("username", "")})
        response = _redirect(security.safe_next(request.query_params.get("next"), "/me"))
        security.start_session(request, response, consent.web_session(store, account_id))
        return response

    def _register_form(request: Request, status: int = 200, error: str | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
        _ = translator(web_lang(request))
        with store.unit_of_work(write=False) as uow:
            schemes = uow.schemes.list()
        return render(
            request, "login.html", status=status, title=_("Register"), button=_("Create my carbon account"), error=error,
            form=form or {"scheme": schemes[0].id if schemes else ""}, schemes=schemes, action="/register",
            alt=f'<a href="/login">{_("Already registered? Sign in")}</a>',
        )

    @app.get("/register", include_in_schema=False)
    def register_page(request: Request) -> Response:
        return _register_form(request)

    @app.post("/register", include_in_schema=False)
    def register_person(request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        try:
            account_id = identity.register(store, f.get("scheme", ""), f.get("username", ""), f.get("password", ""), f.get("display_name"))
        except TanhuiError as error:
            kept = {k: f.get(k, "") for k in ("scheme", "username", "display_name")}
            return _register_form(request, error.http_status, error.message(web_lang(request)), kept)
        response = _redirect("/me")
        security.start_session(request, response, consent.web_session(store, account_id))
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        token = security.session_token(request)
        if token:
            identity.end_web_session(store, token)
        response = _redirect("/")
        response.delete_cookie(security.SESSION_COOKIE, path="/")
        return response

    # -- my carbon account ------------------------------------------------------------------
    @app.get("/me", include_in_schema=False)
    @pages
    def account_page(request: Request) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        lang = web_lang(request)
        _ = translator(lang)
        summary = accounts.summary(store, account_id)
        history = accounts.history(store, account_id, None, 8)
        series = reports.account_series(store, account_id)
        with store.unit_of_work(write=False) as uow:
            scheme = uow.schemes.get(str(summary["scheme_id"]))
            people = uow.memberships.scheme_people(str(summary["scheme_id"]))
            names = {p.id: p.name for p in uow.partners.list(str(summary["scheme_id"]))}
        tz = ZoneInfo(scheme.timezone if scheme else "Asia/Shanghai")
        today = utcnow().astimezone(tz).date()
        last = engagement.account_engagement(store, account_id)["last_checkin"]
        by_scenario = sorted(summary["by_scenario"].items(), key=lambda kv: -kv[1]["carbon_g"])  # type: ignore[attr-defined]
        chart_scen = charts.bar_chart(
            [(scenario_name(lang)(k), v["carbon_g"] / 1000) for k, v in by_scenario], label=_("By scenario"), unit="kg", width=440,
            value_text=[f"{grams_as_kg(v['carbon_g'])} kg" for _k, v in by_scenario],
        )
        consents = [{**c, "partner_name": names.get(c["partner_id"], c["partner_id"])} for c in consent.consents_of(store, account_id)]
        return own(
            request, name="account.html", s=summary, eq=equivalents(int(summary["carbon_g_total"]), lang),  # type: ignore[arg-type]
            checked_in=last == today.isoformat(), orgs=organisations.of_account(store, account_id), people=people,
            chart_time=_cumulative_chart(series, today, _("My reduction over time")), chart_scen=chart_scen,
            recent=[_shown_event(e, tz) for e in history["events"]], consents=consents,  # type: ignore[attr-defined]
        )

    @app.post("/me/checkin", include_in_schema=False)
    @pages
    def check_in(request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        engagement.checkin(store, account_id)
        return _redirect("/me")

    @app.get("/me/history", include_in_schema=False)
    @pages
    def history_page(request: Request, cursor: str | None = None) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        found = accounts.history(store, account_id, cursor, HISTORY_PAGE)
        tz = _zone_of(store, account_id)
        return own(request, name="history.html", events=[_shown_event(e, tz) for e in found["events"]], next_cursor=found["next_cursor"])  # type: ignore[attr-defined]

    @app.get("/me/events/{event_id}", include_in_schema=False)
    @pages
    def calculation_page(event_id: str, request: Request) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        if not event_id.isdigit():
            raise NotFound("event_not_found", partner_id="-", event_id=event_id)
        with store.unit_of_work(write=False) as uow:
            row = uow.reports.event_of_account(int(event_id), account_id)  # only the signed-in person's own
        if row is None:
            raise NotFound("event_not_found", partner_id="-", event_id=event_id)
        tz = _zone_of(store, account_id)
        shown = {
            **_shown_event({"id": str(row.id), "scenario": row.scenario, "occurred_at": row.occurred_at.isoformat() if row.occurred_at else None,
                            "received_at": row.received_at.isoformat(), "carbon_g": row.carbon_g, "points": row.points,
                            "methodology": row.methodology}, tz),
            "partner_name": row.partner_name, "event_id": row.event_id,
        }
        return own(request, name="calculation.html", e=shown, x=row.explanation or {})

    @app.post("/me/consents/{consent_id}/revoke", include_in_schema=False)
    @pages
    def revoke_consent_page(consent_id: str, request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        consent.revoke_by_person(store, account_id, consent_id)
        return _redirect("/me")

    @app.get("/me/export", include_in_schema=False)
    @pages
    def export_page(request: Request) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        return JSONResponse(
            privacy.export_person(store, account_id),
            headers={"Content-Disposition": f'attachment; filename="tanhui-my-data-{date.today().isoformat()}.json"'},
        )

    @app.get("/me/delete", include_in_schema=False)
    def delete_page(request: Request) -> Response:
        if person(request) is None:
            return sign_in_first(request)
        return own(request, name="delete.html")

    @app.post("/me/delete", include_in_schema=False)
    @pages
    def delete_account(request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        if not security.csrf_ok(request, f.get("csrf")) or f.get("confirm") != "yes":
            return _csrf_refused(request)
        privacy.erase_person(store, account_id)
        response = _redirect("/")
        response.delete_cookie(security.SESSION_COOKIE, path="/")
        return response

    # -- marketplace ------------------------------------------------------------------------
    def _points(account_id: int) -> int:
        with store.unit_of_work(write=False) as uow:
            return uow.ledger.balance(uow.ledger.holdings(account_id)["POINTS"].id)

    @app.get("/market", include_in_schema=False)
    @pages
    def market_page(request: Request, category: str | None = None) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        scheme_id = accounts.scheme_of(store, account_id)
        every = market.list_items(store, scheme_id, only_active=True)
        categories = sorted({i.category for i in every})
        shown = [i for i in every if not category or i.category == category]
        return own(request, name="market.html", items=shown, categories=categories, category=category, points=_points(account_id))

    def _item_of(account_id: int, item_id: str) -> Any:
        item = market.get_item(store, item_id)
        if item.scheme_id != accounts.scheme_of(store, account_id) or item.status != "active":
            raise NotFound("item_not_found", item_id=item_id)
        return item

    @app.get("/market/items/{item_id}", include_in_schema=False)
    @pages
    def item_page(item_id: str, request: Request) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        return own(request, name="item.html", item=_item_of(account_id, item_id), points=_points(account_id), confirm=False)

    @app.get("/market/items/{item_id}/confirm", include_in_schema=False)
    @pages
    def confirm_page(item_id: str, request: Request, quantity: int = 1) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        item = _item_of(account_id, item_id)
        # the idempotency key rides in the form: a double submit places one order
        return own(request, name="item.html", item=item, points=_points(account_id), confirm=True,
                   quantity=max(1, min(quantity, 99)), key="web-" + random_secrets.token_urlsafe(12))

    @app.post("/market/items/{item_id}/redeem", include_in_schema=False)
    @pages
    def redeem(item_id: str, request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        quantity = int(f["quantity"]) if f.get("quantity", "").isdigit() else 1
        _created, order = market.place_order(store, account_id, item_id, quantity, f.get("key") or None)
        return _redirect(f"/me/orders/{order['order_id']}")

    @app.get("/me/orders", include_in_schema=False)
    @pages
    def orders_page(request: Request) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        return own(request, name="orders.html", orders=market.orders_of(store, account_id))

    @app.get("/me/orders/{order_id}", include_in_schema=False)
    @pages
    def order_page(order_id: str, request: Request) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        with store.unit_of_work(write=False) as uow:
            row = uow.market.order(order_id)
        if row is None or row.account_id != account_id:  # another person's order does not exist for you
            raise NotFound("order_not_found", order_id=order_id)
        found = [row.to_dict()]
        _ = translator(web_lang(request))
        return own(request, name="orders.html", orders=found, flash=_("Redeemed.") if found[0]["status"] == "fulfilled" else None)

    @app.post("/me/orders/{order_id}/cancel", include_in_schema=False)
    @pages
    def cancel(order_id: str, request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        market.cancel_order(store, order_id, account_id=account_id)
        return _redirect("/me/orders")

    # -- organisations ----------------------------------------------------------------------
    @app.get("/orgs", include_in_schema=False)
    @pages
    def orgs_page(request: Request, error: str | None = None) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        lang = web_lang(request)
        scheme_id = accounts.scheme_of(store, account_id)
        board = organisations.scheme_board(store, scheme_id)
        top = board[:10]
        chart = charts.bar_chart([(o.name or o.key, o.carbon_g / 1000) for o in top], label=translator(lang)("Organisations in the scheme"),  # type: ignore[attr-defined]
                                 value_text=[f"{grams_as_kg(o.carbon_g)} kg" for o in top]) if top else ""  # type: ignore[attr-defined]
        return own(request, name="orgs.html", mine=organisations.of_account(store, account_id), board=board, chart=chart, error=error)

    @app.post("/orgs/join", include_in_schema=False)
    @pages
    def join(request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        try:
            org = organisations.join(store, account_id, f.get("invite_code", ""))
        except InvalidInput as error:
            return orgs_page(request=request, error=error.message(web_lang(request)))
        return _redirect(f"/orgs/{org.public_id}")

    @app.get("/orgs/{org_id}", include_in_schema=False)
    @pages
    def org_page(org_id: str, request: Request) -> Response:
        account_id = person(request)
        if account_id is None:
            return sign_in_first(request)
        lang = web_lang(request)
        found = organisations.page(store, org_id, accounts.scheme_of(store, account_id))
        board = [{"key": m.key, "shown": _masked(m.name, m.key, lang), "carbon_g": m.carbon_g} for m in found["board"]]  # type: ignore[attr-defined]
        top = board[:10]
        chart = charts.bar_chart([(m["shown"], m["carbon_g"] / 1000) for m in top], label=translator(lang)("Leaderboard of members"),
                                 value_text=[f"{grams_as_kg(m['carbon_g'])} kg" for m in top]) if top else ""
        return own(request, name="org.html", p={**found, "board": board}, chart=chart, me=str(account_id))

    # -- the operator dashboard -----------------------------------------------------------------
    @app.get("/admin", include_in_schema=False)
    def admin_home(request: Request) -> Response:
        scope = operator(request)
        return _redirect(f"/admin/schemes/{scope.scheme_id}" if scope else "/admin/login")

    def _admin_login_form(request: Request, status: int = 200, error: str | None = None, username: str = "") -> HTMLResponse:
        _ = translator(web_lang(request))
        next_ = security.safe_next(request.query_params.get("next"), "/admin")
        return render(request, "login.html", status=status, title=_("Operator sign-in"), button=_("Sign in"), error=error,
                      form={"username": username}, action="/admin/login?" + urlencode({"next": next_}), alt=None)

    @app.get("/admin/login", include_in_schema=False)
    def admin_login_page(request: Request) -> Response:
        return _admin_login_form(request)

    @app.post("/admin/login", include_in_schema=False)
    def admin_login(request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        try:
            token, scope = identity.operator_sign_in(store, f.get("username", ""), f.get("password", ""))
        except TanhuiError as error:
            return _admin_login_form(request, 401, error.message(web_lang(request)), f.get("username", ""))
        target = security.safe_next(request.query_params.get("next"), "/admin")
        response = _redirect(target if target.startswith("/admin/schemes/") else f"/admin/schemes/{scope.scheme_id}")
        security.start_session(request, response, token, security.ADMIN_COOKIE)
        return response

    @app.post("/admin/logout", include_in_schema=False)
    def admin_logout(request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        token = security.session_token(request, security.ADMIN_COOKIE)
        if token:
            identity.end_operator_session(store, token)
        response = _redirect("/admin/login")
        response.delete_cookie(security.ADMIN_COOKIE, path="/")
        return response

    @app.get("/admin/schemes/{scheme_id}", include_in_schema=False)
    @pages
    def dashboard(scheme_id: str, request: Request) -> Response:
        scope = scoped(request, scheme_id)
        if not isinstance(scope, OperatorScope):
            return scope
        lang = web_lang(request)
        _ = translator(lang)
        day_from, day_to = request.query_params.get("from"), request.query_params.get("to")
        period = reports.overview(store, scheme_id, day_from, day_to)
        st, health = period.stats, {"partners": period.partners}
        with store.unit_of_work(write=False) as uow:
            scheme = uow.schemes.get(scheme_id)
        series = st["series"]
        scen = list(st["by_scenario"].items())
        partners = sorted((p for p in health["partners"] if p["carbon_g"] > 0), key=lambda p: -p["carbon_g"])
        shown = {
            "carbon": charts.line_chart([(d["date"][5:], d["carbon_g"] / 1000) for d in series], label=_("Reduction per day"), unit="kg"),
            "active": charts.line_chart([(d["date"][5:], d["active_users"]) for d in series], label=_("Active users per day"), color=charts.PALETTE[1]),
            "scenarios": charts.bar_chart([(scenario_name(lang)(k), v["carbon_g"] / 1000) for k, v in scen], label=_("By scenario"),
                                          value_text=[f"{grams_as_kg(v['carbon_g'])} kg · {v['events']:,}" for _k, v in scen]),
            "partners": charts.bar_chart([(p["name"], p["carbon_g"] / 1000) for p in partners], label=_("By partner"),
                                         value_text=[f"{grams_as_kg(p['carbon_g'])} kg" for p in partners]),
        }
        qs = "?" + urlencode({"from": st["from"], "to": st["to"]})

        def spark(p: dict[str, Any]) -> str:
            return charts.sparkline(p["series"], label=f"{p['name']}: {_('Events')} / {_('per day')}")

        return render(request, "dashboard.html", admin=scope, scheme=scheme, st=st, health=health, charts=shown, spark=spark,
                      base=f"/admin/schemes/{scheme_id}", qs=qs)

    def _table_page(request: Request, scope: OperatorScope, title: str, export: str | None, columns: list[str], rows: list[dict[str, Any]], **extra: Any) -> HTMLResponse:
        return render(
            request, "admin_table.html", admin=scope, title=title, columns=columns, rows=rows,
            export=f"/admin/schemes/{scope.scheme_id}/export/{export}" if export else None,
            can_export=scope.role == "operator" or export not in PERSONAL_TABLES, qs="", numeric=extra.pop("numeric", ()), **extra,
        )

    @app.get("/admin/schemes/{scheme_id}/review", include_in_schema=False)
    @pages
    def review_page(scheme_id: str, request: Request, reason: str | None = None) -> Response:
        scope = scoped(request, scheme_id)
        if not isinstance(scope, OperatorScope):
            return scope
        _ = translator(web_lang(request))
        rows = _review_rows(store, scheme_id, reason, web_lang(request))
        base = f"/admin/schemes/{scheme_id}/review"
        filters = [(base, _("All"), reason is None)] + [(f"{base}?reason={r}", _(r), reason == r) for r in reports.REVIEW_REASONS]
        return _table_page(request, scope, _("Rejected events to review"), "review",
                           ["received", "partner", "scenario", "reason", "account", "details"], rows, filters=filters)

    @app.get("/admin/schemes/{scheme_id}/catalog", include_in_schema=False)
    @pages
    def catalog_page(scheme_id: str, request: Request) -> Response:
        scope = scoped(request, scheme_id)
        if not isinstance(scope, OperatorScope):
            return scope
        _ = translator(web_lang(request))
        return _table_page(request, scope, _("Catalog"), "catalog", ["item", "title", "category", "kind", "points", "stock", "merchant", "status"],
                           _catalog_rows(store, scheme_id, web_lang(request)), numeric=("points", "stock"))

    @app.get("/admin/schemes/{scheme_id}/orders", include_in_schema=False)
    @pages
    def scheme_orders_page(scheme_id: str, request: Request, status: str | None = None) -> Response:
        scope = scoped(request, scheme_id)
        if not isinstance(scope, OperatorScope):
            return scope
        _ = translator(web_lang(request))
        base = f"/admin/schemes/{scheme_id}/orders"
        filters = [(base, _("All"), status is None)] + [(f"{base}?status={s}", _(s), status == s) for s in ("pending", "shipped", "delivered", "fulfilled", "cancelled")]
        return _table_page(request, scope, _("Orders"), "orders", ["order", "created", "account", "item", "quantity", "points", "status"],
                           _order_rows(store, scheme_id, status), filters=filters, numeric=("quantity", "points"))

    @app.get("/admin/schemes/{scheme_id}/organisations", include_in_schema=False)
    @pages
    def scheme_orgs_page(scheme_id: str, request: Request, error: str | None = None) -> Response:
        scope = scoped(request, scheme_id)
        if not isinstance(scope, OperatorScope):
            return scope
        _ = translator(web_lang(request))
        form = None
        if scope.role == "operator":
            form = ENV.from_string(
                '<form method="post" action="/admin/schemes/{{ s }}/organisations" class="card row" style="margin-bottom:1rem">'
                '<input type="hidden" name="csrf" value="{{ csrf }}">'
                '<div style="flex:2"><label for="name">{{ _("Name") }}</label><input id="name" name="name" type="text" required maxlength="200"></div>'
                '<div style="flex:1"><label for="kind">{{ _("Kind") }}</label><select id="kind" name="kind">{% for k in kinds %}<option value="{{ k }}">{{ _(k) }}</option>{% endfor %}</select></div>'
                '<div><button type="submit">{{ _("Create organisation") }}</button></div></form>'
            ).render(s=scheme_id, csrf=security.csrf_token(request), _=_, kinds=organisations.KINDS)
        rows = _organisation_rows(store, scheme_id, scope)
        return _table_page(request, scope, _("Organisations"), "organisations", ["organisation", "name", "kind", "members", "kg", "invite_code"], rows,
                           form=form, error=error, links={"name": "href"}, numeric=("members", "kg"))

    @app.post("/admin/schemes/{scheme_id}/organisations", include_in_schema=False)
    @pages
    def create_org(scheme_id: str, request: Request, f: dict[str, str] = Depends(form_fields)) -> Response:
        scope = scoped(request, scheme_id)
        if not isinstance(scope, OperatorScope):
            return scope
        if not security.csrf_ok(request, f.get("csrf")):
            return _csrf_refused(request)
        if scope.role != "operator":
            from tanhui.messages import render as message

            return error_page(request, 403, message("forbidden", web_lang(request)), admin=scope)
        try:
            org = organisations.create(store, scheme_id, f.get("name", ""), f.get("kind", "company"), actor=audit.operator_actor(scope))
        except InvalidInput as error:
            return scheme_orgs_page(scheme_id=scheme_id, request=request, error=error.message(web_lang(request)))
        return _redirect(f"/admin/schemes/{scheme_id}/organisations/{org.public_id}")

    @app.get("/admin/schemes/{scheme_id}/organisations/{org_id}", include_in_schema=False)
    @pages
    def employee_accounts(scheme_id: str, org_id: str, request: Request) -> Response:
        """The employer's "employee carbon account" view: every member and their reduction."""
        scope = scoped(request, scheme_id)
        if not isinstance(scope, OperatorScope):
            return scope
        _ = translator(web_lang(request))
        found = organisations.page(store, org_id, scheme_id)
        members = organisations.members_of(store, org_id, scheme_id)
        rows = [{"#": i, "account": m.key, "name": m.name or "—", "kg": grams_as_kg(m.carbon_g)} for i, m in enumerate(members, 1)]  # type: ignore[attr-defined]
        org = found["organisation"]
        title = f"{org.name} · {_('Employee carbon accounts')} · {found['members']} · {grams_as_kg(int(found['carbon_g_total']))} kg CO₂e"  # type: ignore[attr-defined]
        code = organisations.invite_code(store, org_id, scheme_id)
        return _table_page(request, scope, title, None, ["#", "account", "name", "kg"], rows, numeric=("#", "kg"),
                           flash=f"{_('Invite code')}: {code}" if scope.role == "operator" else None)

    @app.get("/admin/schemes/{scheme_id}/audit", include_in_schema=False)
    @pages
    def audit_page(scheme_id: str, request: Request, action: str | None = None) -> Response:
        """Who did what to this scheme, newest first; viewers may read it (it holds ids, never personal data)."""
        scope = scoped(request, scheme_id)
        if not isinstance(scope, OperatorScope):
            return scope
        lang = web_lang(request)
        _ = translator(lang)
        base = f"/admin/schemes/{scheme_id}/audit"
        filters = [(base, _("All"), False), (request.url.path + "?" + request.url.query, _(action), True)] if action else None
        return _table_page(request, scope, _("Audit log"), None, ["time", "actor", "action", "target", "details"],
                           _audit_rows(store, scheme_id, action, lang, base), filters=filters, links={"action": "href"})

    @app.get("/admin/schemes/{scheme_id}/export/{name}", include_in_schema=False)
    @pages
    def export_table(scheme_id: str, name: str, request: Request) -> Response:
        scope = scoped(request, scheme_id)
        if not isinstance(scope, OperatorScope):
            return scope
        table, _dot, fmt = name.rpartition(".")
        if table not in EXPORT_TABLES or fmt not in ("csv", "xlsx"):
            raise NotFound("not_found")
        if table in PERSONAL_TABLES and scope.role != "operator":
            from tanhui.messages import render as message

            return error_page(request, 403, message("forbidden", web_lang(request)), admin=scope)
        header, rows = _export_rows(store, scheme_id, table, request.query_params.get("from"), request.query_params.get("to"))
        return _file(f"{scheme_id}-{table}.{fmt}", header, rows, fmt)


# -- helpers ---------------------------------------------------------------------------------


def _zone_of(store: Store, account_id: int) -> ZoneInfo:
    with store.unit_of_work(write=False) as uow:
        account = uow.accounts.get(account_id)
        scheme = uow.schemes.get(account.scheme_id) if account else None
    return ZoneInfo(scheme.timezone if scheme else "Asia/Shanghai")


def _shown_event(e: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    from datetime import datetime

    moment = datetime.fromisoformat(e["occurred_at"] or e["received_at"]).astimezone(tz)
    return {**e, "when": moment.strftime("%Y-%m-%d %H:%M")}


def _cumulative_chart(series: list[tuple[date, int]], today: date, label: str) -> str:
    """The person's running total (kg) for the last 60 days, one point a day."""
    start = today - timedelta(days=59)
    if series and series[0][0] > start:
        start = max(series[0][0] - timedelta(days=1), today - timedelta(days=59))
    running = sum(g for d, g in series if d < start)
    by_day = dict(series)
    points = []
    day = start
    while day <= today:
        running += by_day.get(day, 0)
        points.append((day.strftime("%m-%d"), running / 1000))
        day += timedelta(days=1)
    return charts.line_chart(points, label=label, unit="kg", width=440, height=200)


def _masked(name: str | None, key: str, lang: str) -> str:
    """Leaderboards show a first character and a mask, never a full name (the brief: can hide individuals)."""
    if name:
        return name[0] + "*" * min(2, max(1, len(name) - 1))
    return ("Member " if lang == "en" else "成员 ") + key[-4:]


def _review_rows(store: Store, scheme_id: str, reason: str | None, lang: str) -> list[dict[str, Any]]:
    out = []
    for r in reports.review(store, scheme_id, reason, limit=200):
        details = r["details"] or {}
        out.append({
            "received": r["received_at"][:16].replace("T", " "), "partner": r["partner_id"], "scenario": scenario_name(lang)(r["scenario"]),
            "reason": translator(lang)(r["reason"] or ""), "account": r["account_id"],
            "details": ", ".join(f"{k}: {v}" for k, v in details.items()) if isinstance(details, dict) else str(details),
        })
    return out


def _catalog_rows(store: Store, scheme_id: str, lang: str) -> list[dict[str, Any]]:
    return [
        {"item": i.public_id, "title": i.title(lang), "category": i.category, "kind": i.kind, "points": i.points_price,
         "stock": i.stock, "merchant": i.merchant, "status": i.status}
        for i in market.list_items(store, scheme_id)
    ]


def _order_rows(store: Store, scheme_id: str, status: str | None) -> list[dict[str, Any]]:
    return [
        {"order": o.public_id, "created": o.created_at.isoformat()[:16].replace("T", " "), "account": str(o.account_id),
         "item": o.item_title, "quantity": o.quantity, "points": o.points, "status": o.status}
        for o in reversed(market.scheme_orders(store, scheme_id, status))
    ][:1000]


def _organisation_rows(store: Store, scheme_id: str, scope: OperatorScope | None) -> list[dict[str, Any]]:
    board = {s.key: s for s in organisations.scheme_board(store, scheme_id)}  # type: ignore[attr-defined]
    rows = []
    with store.unit_of_work(write=False) as uow:
        for org in uow.organisations.list(scheme_id):
            s = board.get(org.public_id)
            rows.append({
                "organisation": org.public_id, "name": org.name, "kind": org.kind, "members": s.members if s else 0,  # type: ignore[attr-defined]
                "kg": grams_as_kg(s.carbon_g if s else 0),  # type: ignore[attr-defined]
                "invite_code": uow.memberships.invite_code(org.id) if scope is None or scope.role == "operator" else "—",
                "href": f"/admin/schemes/{scheme_id}/organisations/{org.public_id}",
            })
    return rows


AUDIT_PAGE = 200


def _audit_rows(store: Store, scheme_id: str, action: str | None, lang: str, base: str) -> list[dict[str, Any]]:
    """The newest entries in the scheme's local time; an action links to the entries of that action."""
    with store.unit_of_work(write=False) as uow:
        scheme = uow.schemes.get(scheme_id)
    tz = ZoneInfo(scheme.timezone if scheme else "Asia/Shanghai")
    _ = translator(lang)
    return [
        {"time": e.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), "actor": e.actor, "action": _(e.action),
         "href": f"{base}?{urlencode({'action': e.action})}", "target": e.target,
         "details": audit.details_text(e.details)}
        for e in audit.list_entries(store, scheme_id, action, AUDIT_PAGE)
    ]


def _export_rows(store: Store, scheme_id: str, table: str, day_from: str | None, day_to: str | None) -> tuple[list[str], list[list[Any]]]:
    if table in ("scenarios", "series"):
        st = reports.stats(store, scheme_id, day_from, day_to)
        if table == "scenarios":
            return ["scenario", "events", "carbon_g", "points"], [[k, v["events"], v["carbon_g"], v["points"]] for k, v in st["by_scenario"].items()]
        return ["date", "carbon_g", "events", "active_users"], [[d["date"], d["carbon_g"], d["events"], d["active_users"]] for d in st["series"]]
    if table == "partners":
        health = reports.partners_health(store, scheme_id, day_from, day_to)
        return (["partner_id", "name", "events", "credited", "rejected", "rejected_share", "events_per_day", "carbon_g", "points", "rejected_by_reason"],
                [[p["partner_id"], p["name"], p["events"], p["credited"], p["rejected"], round(p["rejected_share"], 4), round(p["events_per_day"], 2),
                  p["carbon_g"], p["points"], "; ".join(f"{k}={v}" for k, v in p["reasons"].items())] for p in health["partners"]])
    if table == "review":
        rows = reports.review(store, scheme_id, None, limit=100_000)
        return (["id", "received_at", "partner_id", "event_id", "account_id", "scenario", "occurred_at", "reason", "details"],
                [[r["id"], r["received_at"], r["partner_id"], r["event_id"], r["account_id"], r["scenario"], r["occurred_at"], r["reason"],
                  str(r["details"] or "")] for r in rows])
    if table == "catalog":
        rows = _catalog_rows(store, scheme_id, "zh-CN")
        return list(rows[0].keys()) if rows else ["item"], [list(r.values()) for r in rows]
    if table == "orders":
        found = market.scheme_orders(store, scheme_id)
        return (["order_id", "created_at", "account_id", "item_id", "item_title", "quantity", "points", "status", "coupon_codes"],
                [[o.public_id, o.created_at.isoformat(), o.account_id, o.item_public_id, o.item_title, o.quantity, o.points, o.status,
                  " ".join(o.coupon_codes or [])] for o in found])
    rows = _organisation_rows(store, scheme_id, None)
    return ["organisation", "name", "kind", "members", "kg", "invite_code"], [[r[k] for k in ("organisation", "name", "kind", "members", "kg", "invite_code")] for r in rows]


def _file(filename: str, header: list[str], rows: list[list[Any]], fmt: str) -> Response:
    from tanhui.services.export import write_table

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / filename
        write_table(path, header, rows, fmt)
        content = path.read_bytes()
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
