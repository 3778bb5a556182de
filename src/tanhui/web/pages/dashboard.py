"""The operator's overview of a scheme: the last 30 complete days, today apart, the points owed, the
charts and the partners' health (docs/web.md, "The dashboard").
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui.services import interop_sync, liability, reports
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web import charts, times
from tanhui.web.deps import language, scheme_scope, store_of
from tanhui.web.i18n import scenario_name, translator
from tanhui.web.i18n_operators import UNTRUSTED_EXPLAINED
from tanhui.web.render import (
    grams_as_kg,
    grams_as_tonnes,
    html_errors,
    render,
)

router = APIRouter(include_in_schema=False)


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
    shown = period_charts(period, lang)
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
        peers=[p.to_dict() for p in interop_sync.peer_statuses(store)],
        untrusted_why=lambda reason: UNTRUSTED_EXPLAINED.get(reason, (reason, reason))[0 if lang == "zh-CN" else 1],
        base=f"/admin/schemes/{scheme_id}",
        qs=qs,
    )


def period_charts(period: reports.Period, lang: str) -> dict[str, str]:
    """The period's charts: reduction and active people per day, by scenario and by partner."""
    _ = translator(lang)
    st, series = period.stats, period.stats["series"]
    scen = list(st["by_scenario"].items())
    partners = sorted((p for p in period.partners if p["carbon_g"] > 0), key=lambda p: -p["carbon_g"])
    return {
        "carbon": charts.line_chart(
            [(d["date"][5:], d["carbon_g"] / 1000) for d in series], label=_("Reduction per day"), unit="kg"
        ),
        "active": charts.line_chart(
            [(d["date"][5:], d["active_users"]) for d in series],
            label=_("Active users per day"),
            color=charts.PALETTE[1],
            whole=True,  # people: whole gridlines
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
