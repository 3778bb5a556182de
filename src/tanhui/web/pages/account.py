"""My carbon account: the account page, check-in, history, one event's calculation, consents, my data and erasure.

Every page loads the signed-in person's own data only (deps.signed_in); another person's event is a 404.
A session from a partner's login ticket (deps.signed_in_as: a Principal with that partner) sees only that
partner's events, consent and part of the export, and may not erase the account (403).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from tanhui.errors import NotFound
from tanhui.services import accounts, consent, engagement, interop, market, organisations, portable_statements, privacy, reports
from tanhui.services.clock import utcnow
from tanhui.services.principal import Principal
from tanhui.store import Store
from tanhui.web import charts, security, times
from tanhui.web.calculation import explained
from tanhui.web.deps import checked_form, language, signed_in, signed_in_as, store_of
from tanhui.web.equivalents import equivalents
from tanhui.web.i18n import scenario_name, translator
from tanhui.web.pages.checkins import BACK, checkin_message
from tanhui.web.render import csrf_refused, grams_as_kg, html_errors, own, redirect

router = APIRouter(include_in_schema=False)
HISTORY_PAGE = 50


@router.get("/me")
@html_errors
def account_page(
    request: Request,
    checkin: str | None = None,
    who: Principal = Depends(signed_in_as),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    _ = translator(lang)
    account_id = who.account_id
    summary = accounts.summary(store, account_id)
    history = accounts.history(store, who, None, 8)
    series = reports.account_series(store, account_id)
    with store.unit_of_work(write=False) as uow:
        people = uow.memberships.scheme_people(str(summary["scheme_id"]))
        names = {p.id: p.name for p in uow.partners.list(str(summary["scheme_id"]))}
    today = utcnow().astimezone(times.for_request(request, lang).zone).date()
    last = engagement.account_engagement(store, account_id)["last_checkin"]
    by_scenario = sorted(summary["by_scenario"].items(), key=lambda kv: -kv[1]["carbon_g"])
    chart_scen = charts.bar_chart(
        [(scenario_name(lang)(k), v["carbon_g"] / 1000) for k, v in by_scenario],
        label=_("By scenario"),
        unit="kg",
        width=440,
        value_text=[f"{grams_as_kg(v['carbon_g'])} kg" for _k, v in by_scenario],
    )
    latest = {c["partner_id"]: c for c in consent.consents_of(store, who)}  # one line an app, its newest consent
    consents = [{**c, "partner_name": names.get(c["partner_id"], "—")} for c in latest.values()]
    return own(
        request,
        "account.html",
        s=summary,
        eq=equivalents(int(summary["carbon_g_total"]), lang),
        checked_in=last == today.isoformat(),
        orgs=organisations.of_account(store, account_id),
        people=people,
        chart_time=_cumulative_chart(series, today, _("My reduction over time")),
        chart_scen=chart_scen,
        recent=[_shown_event(e) for e in history["events"]],
        consents=consents,
        flash=checkin_message(store, account_id, checkin, lang),
        signed_statement=interop.is_initialised(store),
    )


@router.post("/me/checkin")
@html_errors
def check_in(
    request: Request,
    account_id: int = Depends(signed_in),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    created, _day = engagement.checkin(store, account_id)
    back = BACK.get(f.get("back", ""), "/me")  # only our own pages, never an address from the form
    return redirect(f"{back}?checkin={'new' if created else 'again'}")


@router.get("/me/history")
@html_errors
def history_page(
    request: Request, cursor: str | None = None, who: Principal = Depends(signed_in_as), store: Store = Depends(store_of)
) -> Response:
    found = accounts.history(store, who, cursor, HISTORY_PAGE)
    return own(request, "history.html", events=[_shown_event(e) for e in found["events"]], next_cursor=found["next_cursor"])


@router.get("/me/events/{event_id}")
@html_errors
def calculation_page(
    event_id: str,
    request: Request,
    who: Principal = Depends(signed_in_as),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    if not (event_id.isascii() and event_id.isdigit() and len(event_id) <= 18):
        raise NotFound("behaviour_not_found")  # the same words whether it is another's or none at all
    account_id = who.account_id
    with store.unit_of_work(write=False) as uow:
        row = uow.reports.event_of_account(int(event_id), account_id)  # only the signed-in person's own
    if row is None or (who.scoped and row.partner_pk != who.partner_pk):  # a partner's session: its own events only
        raise NotFound("behaviour_not_found")  # the same words whether it is another's or none at all
    shown = {
        **_shown_event(
            {
                "id": str(row.id),
                "scenario": row.scenario,
                "occurred_at": row.occurred_at.isoformat() if row.occurred_at else None,
                "received_at": row.received_at.isoformat(),
                "carbon_g": row.carbon_g,
                "points": row.points,
                "methodology": row.methodology,
            }
        ),
        "partner_name": row.partner_name,
        "event_id": row.event_id,
    }
    x = row.explanation or {}
    return own(request, "calculation.html", e=shown, x=x, t=explained(x, row.scenario, row.carbon_g, lang))


@router.get("/me/export")
@html_errors
def export_page(request: Request, who: Principal = Depends(signed_in_as), store: Store = Depends(store_of)) -> Response:
    return JSONResponse(
        privacy.export_person(store, who),
        headers={"Content-Disposition": f'attachment; filename="tanhui-my-data-{date.today().isoformat()}.json"'},
    )


@router.get("/me/signed-statement")
@html_errors
def signed_statement(
    request: Request, year: str | None = None, who: Principal = Depends(signed_in_as), store: Store = Depends(store_of)
) -> Response:
    """My signed statement of a year (GET /v1/me/statement's answer) as a file a bank can check (docs/interop.md)."""
    made = portable_statements.issue(store, who, year)
    chosen = made["payload"]["period"]["year"]
    return JSONResponse(made, headers={"Content-Disposition": f'attachment; filename="tanhui-statement-{chosen}.json"'})


@router.get("/me/delete")
@html_errors
def delete_page(
    request: Request, who: Principal = Depends(signed_in_as), lang: str = Depends(language), store: Store = Depends(store_of)
) -> Response:
    """Before agreeing, the person reads what happens to their orders and points (nothing is taken
    without a word): orders awaiting shipment are cancelled and their points returned, the balance
    can no longer be spent, shipped orders still arrive."""
    who.require_own_sign_in("erase the account")
    titles = {i.public_id: i.title(lang) for i in market.list_items(store, accounts.scheme_of(store, who.account_id))}
    return own(request, "delete.html", what=privacy.before_erasure(store, who), titles=titles)


@router.post("/me/delete")
@html_errors
def delete_account(
    request: Request,
    who: Principal = Depends(signed_in_as),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    if f.get("confirm") != "yes":
        return csrf_refused(request)
    privacy.erase_person(store, who)
    response = redirect("/")
    response.delete_cookie(security.SESSION_COOKIE, path="/")
    return response


# -- helpers ---------------------------------------------------------------------------------


def _shown_event(e: Mapping[str, Any]) -> dict[str, Any]:
    """The instant a behaviour is shown at: when it happened, else when it was reported (the page formats it)."""
    return {**e, "at": e["occurred_at"] or e["received_at"]}


def _cumulative_chart(series: list[tuple[date, int]], today: date, label: str) -> str:
    """The person's running total for the last 60 days, one point a day: in kg, or whole grams under 1 kg."""
    start = today - timedelta(days=59)
    if series and series[0][0] > start:
        start = max(series[0][0] - timedelta(days=1), today - timedelta(days=59))
    running = sum(g for d, g in series if d < start)
    by_day = dict(series)
    points = []
    day = start
    while day <= today:
        running += by_day.get(day, 0)
        points.append((day.strftime("%m-%d"), running))
        day += timedelta(days=1)
    if running < 1000:  # under a kilogram: whole grams read better than 0.25 kg (and a newcomer's 0 g axis is whole)
        return charts.line_chart(points, label=label, unit="g", width=440, height=200, whole=True)
    return charts.line_chart([(d, g / 1000) for d, g in points], label=label, unit="kg", width=440, height=200)
