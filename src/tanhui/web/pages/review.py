"""The review queue of rejected reports and the reviewer's two decisions (docs/web.md, "The review queue")."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui.errors import NotFound, TanhuiError
from tanhui.services import audit
from tanhui.services import review as reviews
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web import security
from tanhui.web.deps import checked_form, language, scheme_scope, store_of
from tanhui.web.i18n import label, scenario_name, translator
from tanhui.web.labels import actor_name, review_reason
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
    found = reviews.queue(store, scope.scheme_id, reason=reason, state=state, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
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
    items = [_shown(i, lang) for i in found.items]
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


def _shown(i: reviews.ReviewItem, lang: str) -> dict[str, object]:
    """One queued report as the page shows it: the reason in a sentence, the person by name."""
    _ = translator(lang)
    return {
        "id": i.id,
        "reason": label(lang)("reason", i.reason),
        "why": review_reason(i.reason, i.details, i.data, i.scenario, i.methodology, lang),
        "scenario": scenario_name(lang)(i.scenario),
        "partner": i.partner_name,
        "person": i.name or (f"{_('Person')} #{i.account_id}" if i.account_id is not None else _("unknown person")),
        "occurred_at": i.occurred_at,
        "received_at": i.received_at,
        "confirmed": i.confirmed,
        "confirmed_by": actor_name(i.confirmed.actor, lang) if i.confirmed else None,
        "acceptable": i.acceptable,
        "purged": i.reason in reviews.ACCEPTABLE and i.data is None,
    }


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
            reviews.confirm(store, scheme_id, event_pk, actor=actor)
        else:
            reviews.accept(store, scheme_id, event_pk, actor=actor)
    except TanhuiError as refused:
        query = dict(parse_qsl(back.partition("?")[2]))
        return _review_page(
            request, scope, lang, store, query.get("reason"), query.get("state", "open"), status=refused.http_status,
            error=refused.message(lang),
        )  # fmt: skip
    kept = [(k, v) for k, v in parse_qsl(back.partition("?")[2]) if k not in ("done", "event")]
    done = [("done", "confirmed" if decision == "confirm" else "accepted"), ("event", str(event_pk))]
    return redirect(f"{base}?{urlencode([*kept, *done])}")
