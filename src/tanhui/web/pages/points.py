"""My points: the statement (积分明细) — every change of my points balance with its cause, the totals and
what is about to expire.

The page shows what `services.statements` read from the ledger and adds only words and links; it
computes no figure of its own, so what it shows cannot drift from the balance on the account page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui.services import statements
from tanhui.services.principal import Principal
from tanhui.store import Store
from tanhui.web.deps import language, signed_in_as, store_of
from tanhui.web.i18n import scenario_name, translator
from tanhui.web.render import html_errors, own
from tanhui.web.times import day_text

router = APIRouter(include_in_schema=False)

ORDER_STATE = {"pending": "in escrow", "shipped": "in escrow", "fulfilled": "complete", "delivered": "complete"}


def labelled(label: str, value: str, lang: str) -> str:
    return f"{label}: {value}" if lang == "en" else f"{label}：{value}"


def describe(line: statements.Line, lang: str) -> tuple[str, str | None]:
    """(what a person reads, where it links) for one statement line."""
    _ = translator(lang)
    ref = line.ref
    if line.cause == "behaviour":
        if not ref.get("scenario"):
            return _("Low-carbon behaviour reported by another source"), None
        link = f"/me/events/{ref['event']}" if ref.get("event") else None
        return labelled(_("Low-carbon behaviour"), scenario_name(lang)(ref["scenario"]), lang), link
    if line.cause == "checkin":
        text = _("Daily check-in") + f" · {_('day streak')} {ref.get('streak')}"
        if ref.get("bonus"):
            text += f" · {_('streak bonus')} {ref['bonus']}"
        return text, "/me/checkins?month=" + str(ref.get("day") or "")[:7]
    if line.cause in ("order_hold", "order_void"):
        title = (ref.get("title_en") if lang == "en" else "") or ref.get("title_zh") or ref.get("order", "")
        if line.cause == "order_void":
            return labelled(_("Order cancelled, points returned"), title, lang), f"/me/orders/{ref['order']}"
        state = _(ORDER_STATE.get(ref.get("status", ""), "cancelled, returned"))
        return f"{labelled(_('Redemption'), title, lang)} · {state}", f"/me/orders/{ref['order']}"
    if line.cause == "expiry":
        return _("Points expired (earned in {year})").format(year=ref.get("cutoff_year")), "#expiry"
    if line.cause == "correction":
        return _("Correction of an earlier entry"), None
    if line.cause == "reward":
        return _("Reward from the scheme"), None
    return _("Other change"), None


@router.get("/me/points")
@html_errors
def points_page(
    request: Request,
    cursor: str | None = None,
    who: Principal = Depends(signed_in_as),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    found = statements.statement(store, who, cursor)
    lines = []
    for line in found.lines:
        text, link = describe(line, lang)
        lines.append({"line": line, "text": text, "link": link})
    schedule = [{"year": y, "until": day_text(d, lang), "points": p} for y, d, p in found.expiry.schedule]
    return own(
        request,
        "points.html",
        t=found.totals,
        expiry=found.expiry,
        schedule=schedule,
        lines=lines,
        first=found.first,
        last=found.first + len(lines) - 1,
        next_cursor=found.next_cursor,
        paged=cursor is not None,
    )
