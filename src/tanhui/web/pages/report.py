"""My annual carbon report (年度碳账单) and its share image.

`/me/report?year=YYYY` shows the year as `services.annual` reads it: totals with everyday equivalents
(web/equivalents.py, with their sources), by scenario and by month, the best streak, the place in the
scheme, in a bank statement's order — the headline first, then the detail. `/me/report/YYYY.png` is
the poster (web/poster.py) with nothing personal but a masked name.
"""

from __future__ import annotations

import calendar
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui.errors import InvalidInput
from tanhui.services import annual
from tanhui.store import Store
from tanhui.web import charts, poster
from tanhui.web.deps import language, signed_in, store_of
from tanhui.web.equivalents import equivalents
from tanhui.web.i18n import scenario_name, translator
from tanhui.web.names import mask_name
from tanhui.web.render import grams_as_kg, html_errors, own
from tanhui.web.times import day_text

router = APIRouter(include_in_schema=False)


def month_name(month: int, lang: str) -> str:
    return calendar.month_abbr[month] if lang == "en" else f"{month}月"


def _charts(report: annual.AnnualReport, lang: str) -> dict[str, str]:
    _ = translator(lang)
    scen = charts.bar_chart(
        [(scenario_name(lang)(s), g / 1000) for s, _n, g in report.by_scenario],
        label=_("By scenario"),
        unit="kg",
        width=440,
        value_text=[f"{grams_as_kg(g)} kg" for _s, _n, g in report.by_scenario],
    )
    months = charts.bar_chart(
        [(month_name(m, lang), g / 1000) for m, _n, g in report.by_month],
        label=_("By month"),
        unit="kg",
        width=440,
        value_text=[f"{grams_as_kg(g)} kg" for _m, _n, g in report.by_month],
    )
    return {"scenarios": scen, "months": months}


def _highlights(report: annual.AnnualReport, lang: str) -> list[str]:
    """The year in a few sentences, like a bank's yearly bill."""
    _ = translator(lang)
    said = []
    if report.first_day is not None:
        said.append(_("Your first low-carbon behaviour of the year was on {day}.").format(day=day_text(report.first_day, lang)))
    if report.by_scenario:
        scenario, events, grams = report.by_scenario[0]
        said.append(
            _("You chose {scenario} most often: {n} times, {kg} kg CO₂e.").format(
                scenario=scenario_name(lang)(scenario), n=events, kg=grams_as_kg(grams)
            )
        )
    best = report.best_month
    if best is not None:
        said.append(
            _("{month} was your greenest month: {kg} kg CO₂e.").format(month=month_name(best[0], lang), kg=grams_as_kg(best[2]))
        )
    share = poster.share_ahead(report)
    if share:
        said.append(
            _("You reduced more than {share}% of the people who reduced anything in the scheme this year.").format(share=share)
        )
    return said


@router.get("/me/report")
@html_errors
def report_page(
    request: Request,
    year: str | None = None,
    account_id: int = Depends(signed_in),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    report = annual.annual_report(store, account_id, year, wait=False)
    return own(
        request,
        "report.html",
        r=report,
        shown_name=mask_name(report.display_name),
        eq=equivalents(report.carbon_g, lang),
        chart=_charts(report, lang) if report.events else None,
        highlights=_highlights(report, lang),
    )


@router.get("/me/report/{name}")
@html_errors
def share_image(
    name: str,
    request: Request,
    account_id: int = Depends(signed_in),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    if not (name.endswith(".png") and name[:-4].isdigit()):
        raise InvalidInput("invalid_request", details={"year": "YYYY.png"})
    report = annual.annual_report(store, account_id, name[:-4], wait=False)
    headers: dict[str, Any] = {
        "Cache-Control": "private, max-age=300",
        "Content-Disposition": f'inline; filename="tanhui-{report.year}.png"',
    }
    return Response(poster.render(poster.poster_lines(report, lang)), media_type="image/png", headers=headers)
